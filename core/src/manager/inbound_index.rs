//! What inbound admission needs to know, kept up to date so that each
//! decision is O(1): connections per host and per network group, and one
//! token bucket per group.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::net::{IpAddr, Ipv6Addr};

use crate::group::GroupKey;
use crate::token_bucket::TokenBucket;
use crate::{Instant, Network};

use crate::ids::{keyed_hash, IdHasher};

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// Buckets are forgotten once full, but only checked when there are many.
const BUCKETS_BEFORE_PRUNING: usize = 1024;

#[derive(Debug, Default)]
pub(crate) struct InboundIndex {
    /// Connections per host ([`host_of`]).
    per_host: FastMap<IpAddr, u32>,
    per_group: FastMap<GroupKey, u32>,
    /// Per network, in `Network::ALL` order.
    per_network: [u32; Network::ALL.len()],
    buckets: FastMap<GroupKey, TokenBucket>,
    /// The secret eviction key, which hides which groups eviction protects.
    key: u64,
}

/// The host an address belongs to, for the per-IP limit: an IPv4 address
/// is one host, an IPv6 address's /64 is one. A single machine or customer
/// is routinely given a whole /64, so counting IPv6 addresses one by one
/// would let one host through the limit 2^64 times over; counting the /64
/// is what Bitcoin Core's eviction and most rate limiters do.
pub(crate) fn host_of(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !(u128::from(u64::MAX));
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
        v4 => v4,
    }
}

impl InboundIndex {
    pub fn new(key: u64) -> InboundIndex {
        InboundIndex {
            key,
            ..InboundIndex::default()
        }
    }

    /// Connections from the host of `ip`.
    pub fn count_host(&self, ip: IpAddr) -> u32 {
        self.per_host.get(&host_of(ip)).copied().unwrap_or(0)
    }

    pub fn count_group(&self, group: GroupKey) -> u32 {
        self.per_group.get(&group).copied().unwrap_or(0)
    }

    /// Connections over `network`.
    pub fn count_network(&self, network: Network) -> u32 {
        self.per_network[network.index()]
    }

    pub fn add(&mut self, ip: IpAddr, network: Network) {
        *self.per_host.entry(host_of(ip)).or_insert(0) += 1;
        *self.per_group.entry(GroupKey::of(ip)).or_insert(0) += 1;
        self.per_network[network.index()] += 1;
    }

    pub fn remove(&mut self, ip: IpAddr, network: Network) {
        decrement(&mut self.per_host, host_of(ip));
        decrement(&mut self.per_group, GroupKey::of(ip));
        let n = &mut self.per_network[network.index()];
        *n = n.saturating_sub(1);
    }

    /// `ip`'s network group, hashed with the eviction key.
    pub fn keyed_group(&self, ip: IpAddr) -> u64 {
        keyed_hash(self.key, &GroupKey::of(ip))
    }

    /// Takes one arrival token from `group`'s bucket.
    pub fn take_token(&mut self, group: GroupKey, now: Instant, rate: u32, burst: u32) -> bool {
        if self.buckets.len() > BUCKETS_BEFORE_PRUNING {
            self.buckets.retain(|_, b| !b.is_full(now, rate, burst));
        }
        self.buckets
            .entry(group)
            .or_insert_with(|| TokenBucket::full(burst, now))
            .try_take(now, rate, burst)
    }
}

fn decrement<K: std::hash::Hash + Eq>(map: &mut FastMap<K, u32>, key: K) {
    if let Some(n) = map.get_mut(&key) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            map.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn hosts_groups_and_networks_are_counted_until_removed() {
        let mut index = InboundIndex::new(1);
        index.add(ip("203.0.1.1"), Network::Ipv4);
        index.add(ip("203.0.1.1"), Network::Ipv4);
        index.add(ip("203.0.7.2"), Network::Ipv4);
        index.add(ip("127.0.0.1"), Network::Onion);
        assert_eq!(index.count_host(ip("203.0.1.1")), 2);
        assert_eq!(index.count_group(GroupKey::of(ip("203.0.9.9"))), 3);
        assert_eq!(index.count_network(Network::Ipv4), 3);
        assert_eq!(index.count_network(Network::Onion), 1);
        index.remove(ip("203.0.1.1"), Network::Ipv4);
        assert_eq!(index.count_host(ip("203.0.1.1")), 1);
        assert_eq!(index.count_group(GroupKey::of(ip("203.0.9.9"))), 2);
        assert_eq!(index.count_network(Network::Ipv4), 2);
    }

    #[test]
    fn an_ipv6_host_is_its_slash_64() {
        let mut index = InboundIndex::new(1);
        index.add(ip("2001:db8:1:2::1"), Network::Ipv6);
        assert_eq!(index.count_host(ip("2001:db8:1:2:ffff::9")), 1);
        assert_eq!(index.count_host(ip("2001:db8:1:3::1")), 0);
    }

    #[test]
    fn the_keyed_group_depends_on_the_key() {
        let (a, b) = (InboundIndex::new(1), InboundIndex::new(2));
        let one = ip("203.0.1.1");
        assert_eq!(a.keyed_group(one), a.keyed_group(ip("203.0.200.9")));
        assert_ne!(a.keyed_group(one), b.keyed_group(one));
    }
}
