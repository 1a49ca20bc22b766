//! One of the book's two tables: fixed buckets of fixed slots, and the list
//! of buckets holding anything, so that picking a random non-empty bucket
//! costs one draw however empty the table is.
//!
//! Core's `Select` draws random buckets until it finds a non-empty one: with
//! a handful of addresses in 1 024 buckets that is hundreds of draws, each
//! scanning 64 slots. Drawing uniformly from the non-empty buckets gives
//! the same distribution (every non-empty bucket equally likely) at once.

use super::{BUCKET_SIZE, EMPTY};

#[derive(Clone)]
pub(crate) struct Table {
    slots: Box<[u32]>,
    /// Entries per bucket.
    fill: Box<[u8]>,
    /// The buckets with at least one entry, in no particular order.
    filled: Vec<u16>,
    /// Each bucket's index in `filled` (meaningless when it is empty).
    filled_at: Box<[u16]>,
}

impl Table {
    pub(crate) fn new(buckets: usize) -> Table {
        Table {
            slots: vec![EMPTY; buckets * BUCKET_SIZE].into_boxed_slice(),
            fill: vec![0; buckets].into_boxed_slice(),
            filled: Vec::new(),
            filled_at: vec![0; buckets].into_boxed_slice(),
        }
    }

    /// The entry in `slot`, or [`EMPTY`].
    pub(crate) fn get(&self, slot: usize) -> u32 {
        self.slots.get(slot).copied().unwrap_or(EMPTY)
    }

    /// Puts `id` (or [`EMPTY`]) in `slot`.
    pub(crate) fn set(&mut self, slot: usize, id: u32) {
        let Some(old) = self.slots.get_mut(slot).map(|s| std::mem::replace(s, id)) else {
            return;
        };
        let bucket = slot / BUCKET_SIZE;
        match (old == EMPTY, id == EMPTY) {
            (true, false) => {
                if self.fill[bucket] == 0 {
                    self.filled_at[bucket] = self.filled.len() as u16;
                    self.filled.push(bucket as u16);
                }
                self.fill[bucket] += 1;
            }
            (false, true) => {
                self.fill[bucket] -= 1;
                if self.fill[bucket] == 0 {
                    let at = usize::from(self.filled_at[bucket]);
                    self.filled.swap_remove(at);
                    if let Some(&moved) = self.filled.get(at) {
                        self.filled_at[usize::from(moved)] = at as u16;
                    }
                }
            }
            _ => {}
        }
    }

    /// The `n`-th non-empty bucket (`n < filled_buckets()`).
    pub(crate) fn filled_bucket(&self, n: usize) -> Option<usize> {
        self.filled.get(n).map(|&b| usize::from(b))
    }

    /// How many buckets hold at least one entry.
    pub(crate) fn filled_buckets(&self) -> usize {
        self.filled.len()
    }

    /// The slots of `bucket`.
    pub(crate) fn bucket(&self, bucket: usize) -> &[u32] {
        self.slots
            .get(bucket * BUCKET_SIZE..(bucket + 1) * BUCKET_SIZE)
            .unwrap_or(&[])
    }

    /// Every slot, in order.
    pub(crate) fn slots(&self) -> &[u32] {
        &self.slots
    }

    /// Whether the filled-bucket bookkeeping agrees with the slots.
    pub(crate) fn consistent(&self) -> bool {
        let buckets = self.fill.len();
        (0..buckets).all(|b| {
            let n = self.bucket(b).iter().filter(|&&id| id != EMPTY).count();
            usize::from(self.fill[b]) == n
                && (n == 0 || self.filled.get(usize::from(self.filled_at[b])) == Some(&(b as u16)))
        }) && self.filled.len() == (0..buckets).filter(|&b| self.fill[b] > 0).count()
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.slots.len() * 4 + self.fill.len() * 3 + self.filled.capacity() * 2
    }
}
