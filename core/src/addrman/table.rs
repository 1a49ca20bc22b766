//! One of the book's two tables: buckets of slots, stored sparsely, and the
//! list of buckets holding anything, so that picking a random non-empty
//! bucket costs one draw however empty the table is.
//!
//! Core keeps each table as a fixed array (1 024 × 64 slots for new, 256 ×
//! 64 for tried): 320 KiB of four-byte slots per book whatever it holds.
//! A node's book is rarely full, and a simulated network holds one book per
//! node, so here only the occupied slots are stored (a map from slot to
//! entry) beside an occupancy mask per non-empty bucket. A slot is still the slot Core
//! computes; only the storage differs, so placement stays bit-exact.
//!
//! Core's `Select` draws random buckets until it finds a non-empty one: with
//! a handful of addresses in 1 024 buckets that is hundreds of draws, each
//! scanning 64 slots. Drawing uniformly from the non-empty buckets gives
//! the same distribution (every non-empty bucket equally likely) at once.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use super::{BUCKET_SIZE, EMPTY};
use crate::ids::IdHasher;

#[derive(Clone)]
pub(crate) struct Table {
    /// The occupied slots. Lookup only: never iterated in hash order, so
    /// its order cannot reach a result. Slots are keyed hashes already, so
    /// a multiplicative mix spreads them as well as SipHash at a fraction
    /// of the cost (a `select` may look up dozens).
    slots: HashMap<u32, u32, BuildHasherDefault<IdHasher>>,
    /// The buckets with at least one entry, in no particular order...
    filled: Vec<u16>,
    /// ...and, beside each, which of its slots are occupied (bit `p` for
    /// position `p`), so that scanning a bucket looks up only its entries.
    masks: Vec<u64>,
    /// Each bucket's index in `filled`; meaningful only when
    /// `filled[filled_at[b]] == b`.
    filled_at: Box<[u16]>,
}

impl Table {
    pub(crate) fn new(buckets: usize) -> Table {
        Table {
            slots: HashMap::default(),
            filled: Vec::new(),
            masks: Vec::new(),
            filled_at: vec![0; buckets].into_boxed_slice(),
        }
    }

    /// How many slots the table has.
    fn len(&self) -> usize {
        self.filled_at.len() * BUCKET_SIZE
    }

    /// Where `bucket` is in `filled`, if it holds anything.
    fn filled_index(&self, bucket: usize) -> Option<usize> {
        let at = usize::from(*self.filled_at.get(bucket)?);
        (self.filled.get(at).map(|&b| usize::from(b)) == Some(bucket)).then_some(at)
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
        let (bucket, bit) = (slot / BUCKET_SIZE, 1u64 << (slot % BUCKET_SIZE));
        match (old.is_none(), id == EMPTY) {
            (true, false) => match self.filled_index(bucket) {
                Some(at) => self.masks[at] |= bit,
                None => {
                    self.filled_at[bucket] = self.filled.len() as u16;
                    self.filled.push(bucket as u16);
                    self.masks.push(bit);
                }
            },
            (false, true) => {
                let Some(at) = self.filled_index(bucket) else {
                    return;
                };
                self.masks[at] &= !bit;
                if self.masks[at] == 0 {
                    self.filled.swap_remove(at);
                    self.masks.swap_remove(at);
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

    /// The entries of `bucket` in slot order from position `start`,
    /// wrapping: what Core's scan from a random slot visits, without
    /// visiting the free slots.
    pub(crate) fn bucket_from(
        &self,
        bucket: usize,
        start: usize,
    ) -> impl Iterator<Item = u32> + '_ {
        let mask = self.filled_index(bucket).map_or(0, |at| self.masks[at]);
        let start = start % BUCKET_SIZE;
        let mut rest = mask.rotate_right(start as u32);
        std::iter::from_fn(move || {
            if rest == 0 {
                return None;
            }
            let i = rest.trailing_zeros() as usize;
            rest &= rest - 1;
            Some(self.get(bucket * BUCKET_SIZE + (start + i) % BUCKET_SIZE))
        })
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
        let buckets = self.filled_at.len();
        let mut counted = vec![0u64; buckets];
        for &slot in self.slots.keys() {
            match counted.get_mut(slot as usize / BUCKET_SIZE) {
                Some(mask) => *mask |= 1 << (slot as usize % BUCKET_SIZE),
                None => return false,
            }
        }
        self.filled.len() == self.masks.len()
            && (0..buckets).all(|b| {
                let mask = self.filled_index(b).map_or(0, |at| self.masks[at]);
                mask == counted[b]
            })
    }

    /// Heap bytes held: the occupied-slot map and the per-bucket
    /// bookkeeping.
    pub(crate) fn heap_bytes(&self) -> usize {
        crate::heap::hash_map_bytes(self.slots.len(), 8)
            + self.filled_at.len() * 2
            + self.filled.capacity() * 2
            + self.masks.capacity() * 8
    }
}
