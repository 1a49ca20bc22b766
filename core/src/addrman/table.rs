//! One of the book's two tables: buckets of slots, stored sparsely, and the
//! list of buckets holding anything, so that picking a random non-empty
//! bucket costs one draw however empty the table is.
//!
//! Core keeps each table as a fixed array (1 024 × 64 slots for new, 256 ×
//! 64 for tried): 320 KiB of four-byte slots per book whatever it holds.
//! A node's book is rarely full, and a simulated network holds one book per
//! node, so here only the occupied slots are stored (a map from slot to
//! entry) beside a fill count per bucket. A slot is still the slot Core
//! computes; only the storage differs, so placement stays bit-exact.
//!
//! Core's `Select` draws random buckets until it finds a non-empty one: with
//! a handful of addresses in 1 024 buckets that is hundreds of draws, each
//! scanning 64 slots. Drawing uniformly from the non-empty buckets gives
//! the same distribution (every non-empty bucket equally likely) at once.

use std::collections::HashMap;

use super::{BUCKET_SIZE, EMPTY};

#[derive(Clone)]
pub(crate) struct Table {
    /// The occupied slots. Lookup only: never iterated in hash order, so
    /// its order cannot reach a result.
    slots: HashMap<u32, u32>,
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
            slots: HashMap::new(),
            fill: vec![0; buckets].into_boxed_slice(),
            filled: Vec::new(),
            filled_at: vec![0; buckets].into_boxed_slice(),
        }
    }

    /// How many slots the table has.
    fn len(&self) -> usize {
        self.fill.len() * BUCKET_SIZE
    }

    /// The entry in `slot`, or [`EMPTY`].
    pub(crate) fn get(&self, slot: usize) -> u32 {
        u32::try_from(slot)
            .ok()
            .and_then(|slot| self.slots.get(&slot))
            .copied()
            .unwrap_or(EMPTY)
    }

    /// Puts `id` (or [`EMPTY`]) in `slot`; a slot outside the table is
    /// ignored.
    pub(crate) fn set(&mut self, slot: usize, id: u32) {
        if slot >= self.len() {
            return;
        }
        let key = slot as u32;
        let old = if id == EMPTY {
            self.slots.remove(&key)
        } else {
            self.slots.insert(key, id)
        };
        let bucket = slot / BUCKET_SIZE;
        match (old.is_none(), id == EMPTY) {
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

    /// The slots of `bucket` ([`EMPTY`] where free); all free for a bucket
    /// outside the table.
    pub(crate) fn bucket(&self, bucket: usize) -> [u32; BUCKET_SIZE] {
        let mut slots = [EMPTY; BUCKET_SIZE];
        if self.fill.get(bucket).is_some_and(|&n| n > 0) {
            for (pos, slot) in slots.iter_mut().enumerate() {
                *slot = self.get(bucket * BUCKET_SIZE + pos);
            }
        }
        slots
    }

    /// The occupied slots and their entries, in slot order.
    pub(crate) fn occupied(&self) -> Vec<(usize, u32)> {
        let mut occupied: Vec<(usize, u32)> = self
            .slots
            .iter()
            .map(|(&slot, &id)| (slot as usize, id))
            .collect();
        occupied.sort_unstable();
        occupied
    }

    /// Whether the filled-bucket bookkeeping agrees with the slots.
    pub(crate) fn consistent(&self) -> bool {
        let buckets = self.fill.len();
        let mut counted = vec![0usize; buckets];
        for &slot in self.slots.keys() {
            match counted.get_mut(slot as usize / BUCKET_SIZE) {
                Some(n) => *n += 1,
                None => return false,
            }
        }
        (0..buckets).all(|b| {
            let n = counted[b];
            usize::from(self.fill[b]) == n
                && (n == 0 || self.filled.get(usize::from(self.filled_at[b])) == Some(&(b as u16)))
        }) && self.filled.len() == counted.iter().filter(|&&n| n > 0).count()
    }

    /// Heap bytes held: the occupied-slot map and the per-bucket
    /// bookkeeping.
    pub(crate) fn heap_bytes(&self) -> usize {
        crate::heap::hash_map_bytes(self.slots.len(), 8)
            + self.fill.len() * 3
            + self.filled.capacity() * 2
    }
}
