//! The timer queue.
//!
//! A binary heap ordered by `(deadline, sequence)` with lazy cancellation:
//! cancelling only forgets the sequence number on the owner's side, and a
//! popped entry whose owner no longer holds that number is skipped. When
//! cancelled entries outnumber live ones the heap is compacted in place, so
//! memory stays proportional to live timers and a steady state allocates
//! nothing. Sequence numbers also order equal deadlines by scheduling order,
//! which keeps firing order deterministic.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::{ConnId, Instant, ListenerId};

/// Whose timer an entry is. Each owner has at most one live timer; what it
/// means is decided by the owner's state when it fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Owner {
    Conn(ConnId),
    Listener(ListenerId),
    /// The periodic `Persist`.
    Persist,
    /// The next feeler connection.
    Feeler,
}

/// A handle to a scheduled timer, kept by its owner to recognise it.
pub(crate) type TimerSeq = u64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Entry {
    pub at: Instant,
    pub seq: TimerSeq,
    pub owner: Owner,
}

#[derive(Debug, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<Entry>>,
    next_seq: TimerSeq,
    live: usize,
    /// Whether anything was cancelled (or fired) since the owner last
    /// looked, i.e. whether the head may be stale.
    cancelled_since_check: bool,
}

impl Timers {
    pub fn schedule(&mut self, at: Instant, owner: Owner) -> TimerSeq {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.live += 1;
        self.heap.push(Reverse(Entry { at, seq, owner }));
        seq
    }

    /// Records that the owner dropped a timer it had scheduled.
    pub fn cancelled(&mut self) {
        self.live = self.live.saturating_sub(1);
        self.cancelled_since_check = true;
    }

    /// Records that a popped entry was live and has fired.
    fn fired(&mut self) {
        self.live = self.live.saturating_sub(1);
        self.cancelled_since_check = true;
    }

    /// Whether a timer was cancelled or fired since the last call; if not,
    /// the head is as live as it was.
    pub fn take_cancelled_flag(&mut self) -> bool {
        std::mem::take(&mut self.cancelled_since_check)
    }

    /// The sequence number the next scheduled timer will get; timers
    /// scheduled while a `Tick` is being handled are at or above it.
    pub fn next_seq(&self) -> TimerSeq {
        self.next_seq
    }

    pub fn peek(&self) -> Option<Entry> {
        self.heap.peek().map(|r| r.0)
    }

    /// Pops the head; `is_live` tells whether its owner still holds it.
    pub fn pop(&mut self, is_live: bool) -> Option<Entry> {
        let entry = self.heap.pop()?.0;
        if is_live {
            self.fired();
        }
        Some(entry)
    }

    /// Drops cancelled entries once they outnumber live ones.
    pub fn compact_if_needed(&mut self, is_live: impl Fn(&Entry) -> bool) {
        if self.heap.len() > 2 * self.live + 64 {
            self.heap.retain(|r| is_live(&r.0));
            self.live = self.heap.len();
        }
    }

    pub fn clear(&mut self) {
        self.heap.clear();
        self.live = 0;
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(n: u64) -> Owner {
        Owner::Conn(ConnId::from_raw(n))
    }

    #[test]
    fn equal_deadlines_fire_in_scheduling_order() {
        let mut t = Timers::default();
        let at = Instant::from_secs(1);
        t.schedule(at, conn(3));
        t.schedule(at, conn(1));
        t.schedule(Instant::from_millis(10), conn(2));
        let order: Vec<_> = std::iter::from_fn(|| t.pop(true))
            .map(|e| e.owner)
            .collect();
        assert_eq!(order, vec![conn(2), conn(3), conn(1)]);
    }

    #[test]
    fn compaction_keeps_memory_proportional_to_live_timers() {
        let mut t = Timers::default();
        let mut live = None;
        for i in 0..10_000 {
            let seq = t.schedule(Instant::from_secs(i), conn(i));
            if live.is_some() {
                t.cancelled();
            }
            live = Some(seq);
            let keep = live;
            t.compact_if_needed(|e| Some(e.seq) == keep);
        }
        assert!(t.len() <= 2 + 64 + 1, "heap holds {} entries", t.len());
        let seqs: Vec<_> = std::iter::from_fn(|| t.pop(false)).map(|e| e.seq).collect();
        assert!(
            seqs.contains(&live.unwrap()),
            "compaction dropped the live timer"
        );
    }
}
