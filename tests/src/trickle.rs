//! Bitcoin Core's address trickle, on the application's side of a
//! simulated node: what the manager shares with a peer (a `getaddr` answer,
//! a relayed announcement, the node's own address) waits in that peer's
//! outbox and leaves in one `addr` message when the peer's timer fires.
//!
//! Core (`net_processing.cpp`, `MaybeSendAddr`) sends a peer's queue the
//! first time it can and then at exponential intervals of 30 seconds on
//! average, at most 1 000 addresses a message; a queue already full has a
//! random entry replaced. Batching matters beyond cost: a receiver relays
//! only the fresh addresses of messages of at most 10, so a node that hears
//! much at once passes little on, which is what keeps a network's flood of
//! announcements from growing with its size squared.

use std::collections::BTreeMap;
use std::time::Duration;

use connmgr::{Advertised, ConnId, Instant, Rng};

/// Core `MAX_ADDR_TO_SEND`: most addresses one message (and one queue)
/// holds.
const MAX_QUEUED: usize = 1000;

/// A node's outboxes, one per connection that has had something queued.
#[derive(Debug, Default)]
pub struct Outboxes {
    boxes: BTreeMap<ConnId, Outbox>,
}

#[derive(Debug)]
struct Outbox {
    queued: Vec<Advertised>,
    /// When the next message may leave.
    next_send: Instant,
    /// Whether a flush is scheduled.
    flushing: bool,
}

impl Outboxes {
    /// Queues `addrs` for connection `id`. Returns when to flush it if no
    /// flush is scheduled yet: now for a connection that never sent, else
    /// its next send time.
    pub fn push(
        &mut self,
        id: ConnId,
        addrs: Vec<Advertised>,
        now: Instant,
        rng: &mut Rng,
    ) -> Option<Instant> {
        let outbox = self.boxes.entry(id).or_insert_with(|| Outbox {
            queued: Vec::new(),
            next_send: now,
            flushing: false,
        });
        for addr in addrs {
            if outbox.queued.len() < MAX_QUEUED {
                outbox.queued.push(addr);
            } else {
                let victim = rng.below(MAX_QUEUED as u64) as usize;
                outbox.queued[victim] = addr;
            }
        }
        if outbox.flushing || outbox.queued.is_empty() {
            return None;
        }
        outbox.flushing = true;
        Some(outbox.next_send.max(now))
    }

    /// Empties the outbox of `id` into one message and draws when the next
    /// may leave: exponential with mean `every`.
    pub fn take(
        &mut self,
        id: ConnId,
        now: Instant,
        every: Duration,
        rng: &mut Rng,
    ) -> Vec<Advertised> {
        let Some(outbox) = self.boxes.get_mut(&id) else {
            return Vec::new();
        };
        outbox.flushing = false;
        outbox.next_send = now + exponential(every, rng);
        std::mem::take(&mut outbox.queued)
    }

    /// Forgets connection `id`: it closed.
    pub fn forget(&mut self, id: ConnId) {
        self.boxes.remove(&id);
    }

    /// Forgets every connection: the node restarted.
    pub fn clear(&mut self) {
        self.boxes.clear();
    }
}

/// An exponentially distributed duration with mean `mean` (Core's
/// `rand_exp_duration`), capped at 20 means so that one draw cannot stall a
/// peer for the rest of a run.
fn exponential(mean: Duration, rng: &mut Rng) -> Duration {
    let u = 1.0 - rng.unit(); // in (0, 1]
    mean.mul_f64((-u.ln()).min(20.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn addrs(n: u16) -> Vec<Advertised> {
        let at = Instant::from_secs(1_000);
        (0..n)
            .map(|i| Advertised::new(SocketAddr::from(([1, 2, 3, 4], 1000 + i)), at))
            .collect()
    }

    #[test]
    fn the_first_message_leaves_at_once_and_the_next_waits_for_the_timer() {
        let (mut boxes, mut rng) = (Outboxes::default(), Rng::new(1));
        let (id, now) = (ConnId::from_raw(7), Instant::from_secs(1_000));
        assert_eq!(boxes.push(id, addrs(3), now, &mut rng), Some(now));
        assert_eq!(boxes.push(id, addrs(2), now, &mut rng), None, "already due");
        assert_eq!(
            boxes.take(id, now, Duration::from_secs(30), &mut rng).len(),
            5
        );
        let due = boxes.push(id, addrs(1), now, &mut rng).expect("a flush");
        assert!(due > now, "the second message waits for the timer");
    }

    #[test]
    fn a_queue_holds_at_most_one_message_and_replaces_at_random() {
        let (mut boxes, mut rng) = (Outboxes::default(), Rng::new(2));
        let (id, now) = (ConnId::from_raw(1), Instant::from_secs(1_000));
        boxes.push(id, addrs(1500), now, &mut rng);
        let sent = boxes.take(id, now, Duration::from_secs(30), &mut rng);
        assert_eq!(sent.len(), MAX_QUEUED);
        assert!(
            sent.iter()
                .any(|a| a.addr.port() >= 1000 + MAX_QUEUED as u16),
            "late addresses replace queued ones"
        );
    }

    #[test]
    fn the_interval_averages_its_mean() {
        let mut rng = Rng::new(3);
        let mean = Duration::from_secs(30);
        let total: Duration = (0..10_000).map(|_| exponential(mean, &mut rng)).sum();
        let avg = total.as_secs_f64() / 10_000.0;
        assert!((28.0..32.0).contains(&avg), "mean {avg:.2} s");
    }

    #[test]
    fn a_forgotten_connection_sends_nothing() {
        let (mut boxes, mut rng) = (Outboxes::default(), Rng::new(4));
        let (id, now) = (ConnId::from_raw(3), Instant::from_secs(1_000));
        boxes.push(id, addrs(4), now, &mut rng);
        boxes.forget(id);
        assert!(boxes
            .take(id, now, Duration::from_secs(30), &mut rng)
            .is_empty());
    }
}
