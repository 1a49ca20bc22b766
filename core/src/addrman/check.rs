//! The book's consistency check (Core `CheckAddrman`): every table, count
//! and index agrees with every other. Tests, the simulator's invariant
//! checker and the fuzzers run it; a failure is a bug in this crate.

use std::collections::HashMap;

use super::{AddrMan, NewTried, BUCKET_SIZE, NEW_BUCKETS_PER_ADDRESS};
use crate::Network;

/// What [`AddrMan::check`] found wrong, with Core's error code where Core
/// has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckError {
    /// The shuffle vector does not hold every entry exactly once (-7, -14).
    RandomVector,
    /// A tried entry never succeeded, or holds new-table references (-1, -2).
    TriedEntry,
    /// A new entry is in no bucket or in more than eight (-3, -4).
    NewRefCount,
    /// The address index does not point back at an entry (-5).
    Index,
    /// The new or tried count is wrong (-9, -10).
    Counts,
    /// A slot holds an unknown entry, one of the other table, or one whose
    /// bucket or position is not where its key puts it (-11, -12, -17, -18,
    /// -19).
    Slot,
    /// A new entry's reference count differs from the slots holding it, or a
    /// tried entry is in no tried slot (-13, -15).
    References,
    /// The per-network counts are wrong (-20, -21).
    NetworkCounts,
    /// The collision set is too large or names an entry that is gone.
    Collisions,
}

impl std::fmt::Display for CheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CheckError::RandomVector => "the shuffle vector and the entries disagree",
            CheckError::TriedEntry => "a tried entry never succeeded or is also in the new table",
            CheckError::NewRefCount => "a new entry is in no bucket or in more than eight",
            CheckError::Index => "the address index and the entries disagree",
            CheckError::Counts => "the new or tried count is wrong",
            CheckError::Slot => "a slot holds an entry that does not belong there",
            CheckError::References => {
                "an entry's reference count disagrees with the slots holding it"
            }
            CheckError::NetworkCounts => "the per-network counts are wrong",
            CheckError::Collisions => "the collision set is too large or holds a stale entry",
        })
    }
}

impl std::error::Error for CheckError {}

impl AddrMan {
    /// Checks every internal invariant (Core `CheckAddrman`). Costs a pass
    /// over both tables and every entry.
    pub fn check(&self) -> Result<(), CheckError> {
        let live = self.entries.iter().flatten().count();
        if self.random.len() != live || live != self.n_new + self.n_tried {
            return Err(CheckError::RandomVector);
        }
        let mut refs: HashMap<u32, u8> = HashMap::new();
        let mut tried_seen: HashMap<u32, u8> = HashMap::new();
        let mut counts = [NewTried::default(); Network::ALL.len()];
        for (id, info) in self.entries.iter().enumerate() {
            let Some(info) = info else { continue };
            let id = id as u32;
            if info.network != self.addr_of(info).network() {
                return Err(CheckError::NetworkCounts);
            }
            let net = &mut counts[info.network.index()];
            if info.in_tried {
                if info.last_success.get().is_none() || info.ref_count != 0 {
                    return Err(CheckError::TriedEntry);
                }
                net.tried += 1;
                tried_seen.insert(id, 0);
            } else {
                if info.ref_count == 0 || info.ref_count > NEW_BUCKETS_PER_ADDRESS {
                    return Err(CheckError::NewRefCount);
                }
                net.new += 1;
                refs.insert(id, info.ref_count);
            }
            if self.index.get(&info.addr) != Some(&id) {
                return Err(CheckError::Index);
            }
            if self.random.get(info.random_pos as usize) != Some(&id) {
                return Err(CheckError::RandomVector);
            }
        }
        if tried_seen.len() != self.n_tried || refs.len() != self.n_new {
            return Err(CheckError::Counts);
        }
        if self.index.len() != live {
            return Err(CheckError::Index);
        }
        for (slot, id) in self.tried.occupied() {
            let (bucket, pos) = (slot / BUCKET_SIZE, slot % BUCKET_SIZE);
            let addr = self.addr_of(self.entry(id).ok_or(CheckError::Slot)?);
            let placed = tried_seen.get_mut(&id).ok_or(CheckError::Slot)?;
            if self.key.tried_bucket(addr) != bucket
                || self.key.position(addr, false, bucket) != pos
            {
                return Err(CheckError::Slot);
            }
            *placed += 1;
        }
        for (slot, id) in self.new.occupied() {
            let (bucket, pos) = (slot / BUCKET_SIZE, slot % BUCKET_SIZE);
            let addr = self.addr_of(self.entry(id).ok_or(CheckError::Slot)?);
            let left = refs.get_mut(&id).ok_or(CheckError::Slot)?;
            if self.key.position(addr, true, bucket) != pos {
                return Err(CheckError::Slot);
            }
            *left = left.checked_sub(1).ok_or(CheckError::References)?;
        }
        if refs.values().any(|&left| left != 0) || tried_seen.values().any(|&n| n != 1) {
            return Err(CheckError::References);
        }
        if !self.new.consistent() || !self.tried.consistent() {
            return Err(CheckError::Slot);
        }
        if counts != self.by_network {
            return Err(CheckError::NetworkCounts);
        }
        let gone = |id: &u32| self.entry(*id).is_none();
        if self.collisions.len() > super::COLLISIONS_MAX || self.collisions.iter().any(gone) {
            return Err(CheckError::Collisions);
        }
        Ok(())
    }
}
