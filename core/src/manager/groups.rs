//! Outbound connections per network group, per network, and per address.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use crate::group::GroupKey;
use crate::{Network, PeerAddr};

use crate::ids::{IdHasher, MixHasher};

/// How many outbound connections (pending with an address, or established)
/// each group and each address holds. Entries at zero are removed, so the
/// maps are as large as the number of groups and addresses in use.
#[derive(Debug, Default)]
pub(crate) struct GroupCounts {
    counts: HashMap<GroupKey, u32, BuildHasherDefault<IdHasher>>,
    /// Per network, in `Network::ALL` order.
    networks: [u32; Network::ALL.len()],
    /// Lookup only: never iterated. As large as the outbound connections,
    /// so a fast hasher is safe (see [`MixHasher`]).
    addrs: HashMap<PeerAddr, u32, BuildHasherDefault<MixHasher>>,
}

impl GroupCounts {
    pub fn get(&self, group: &GroupKey) -> u32 {
        self.counts.get(group).copied().unwrap_or(0)
    }

    /// Outbound connections on `network`.
    pub fn on_network(&self, network: Network) -> u32 {
        self.networks[network.index()]
    }

    /// Whether an outbound connection to `addr` is pending or established.
    pub fn has(&self, addr: PeerAddr) -> bool {
        self.addrs.contains_key(&addr)
    }

    /// Counts a connection to `addr`; returns its group.
    pub fn add(&mut self, addr: PeerAddr) -> GroupKey {
        self.add_in(addr, GroupKey::of_host(addr.host()))
    }

    /// [`add`](GroupCounts::add) for a caller that has `addr`'s group at
    /// hand already.
    pub fn add_in(&mut self, addr: PeerAddr, group: GroupKey) -> GroupKey {
        *self.counts.entry(group).or_insert(0) += 1;
        self.networks[addr.network().index()] += 1;
        *self.addrs.entry(addr).or_insert(0) += 1;
        group
    }

    /// Uncounts a connection to `addr`, counted in `group`.
    pub fn release(&mut self, addr: PeerAddr, group: GroupKey) {
        decrement(&mut self.counts, group);
        let on_network = &mut self.networks[addr.network().index()];
        *on_network = on_network.saturating_sub(1);
        decrement(&mut self.addrs, addr);
    }

    pub fn clear(&mut self) {
        self.counts.clear();
        self.networks = Default::default();
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
