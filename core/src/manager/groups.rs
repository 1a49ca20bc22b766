//! Outbound connections per network group, and per address.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::net::SocketAddr;

use crate::group::GroupKey;
use crate::network::canonical;

use crate::ids::IdHasher;

/// How many outbound connections (pending with an address, or established)
/// each group and each address holds. Entries at zero are removed, so the
/// maps are as large as the number of groups and addresses in use.
#[derive(Debug, Default)]
pub(crate) struct GroupCounts {
    counts: HashMap<GroupKey, u32, BuildHasherDefault<IdHasher>>,
    /// Lookup only: never iterated.
    addrs: HashMap<SocketAddr, u32>,
}

impl GroupCounts {
    pub fn get(&self, group: &GroupKey) -> u32 {
        self.counts.get(group).copied().unwrap_or(0)
    }

    /// Whether an outbound connection to `addr` is pending or established.
    pub fn has(&self, addr: SocketAddr) -> bool {
        self.addrs.contains_key(&canonical(addr))
    }

    /// Counts a connection to `addr`; returns its group.
    pub fn add(&mut self, addr: SocketAddr) -> GroupKey {
        let group = GroupKey::of(addr.ip());
        *self.counts.entry(group).or_insert(0) += 1;
        *self.addrs.entry(canonical(addr)).or_insert(0) += 1;
        group
    }

    pub fn release(&mut self, addr: SocketAddr) {
        decrement(&mut self.counts, GroupKey::of(addr.ip()));
        decrement(&mut self.addrs, canonical(addr));
    }

    pub fn clear(&mut self) {
        self.counts.clear();
        self.addrs.clear();
    }
}

fn decrement<K: std::hash::Hash + Eq, S: std::hash::BuildHasher>(
    map: &mut HashMap<K, u32, S>,
    key: K,
) {
    if let Some(n) = map.get_mut(&key) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            map.remove(&key);
        }
    }
}
