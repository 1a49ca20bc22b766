//! What inbound admission and eviction need to know, kept up to date so
//! that each decision is O(log n): connections per host and per network group,
//! the evictable connections by age overall and within each group, group
//! sizes in order, and one token bucket per group.

use std::collections::{BTreeSet, HashMap};
use std::hash::BuildHasherDefault;
use std::net::{IpAddr, Ipv6Addr};

use crate::group::GroupKey;
use crate::token_bucket::TokenBucket;
use crate::{ConnId, Instant};

use super::ids::{keyed_hash, IdHasher};

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// Buckets are forgotten once full, but only checked when there are many.
const BUCKETS_BEFORE_PRUNING: usize = 1024;

#[derive(Debug, Default)]
pub(crate) struct InboundIndex {
    /// Connections per host ([`host_of`]).
    per_host: FastMap<IpAddr, u32>,
    per_group: FastMap<GroupKey, u32>,
    /// Evictable (not allow-listed) connections, oldest first.
    by_age: BTreeSet<(Instant, ConnId)>,
    members: FastMap<GroupKey, BTreeSet<(Instant, ConnId)>>,
    /// Groups with evictable members by size, ties broken by keyed hash.
    sizes: BTreeSet<(u32, u64, GroupKey)>,
    /// Groups with evictable members in keyed-hash order, for protection.
    keyed: BTreeSet<(u64, GroupKey)>,
    buckets: FastMap<GroupKey, TokenBucket>,
    key: u64,
}

/// One inbound connection as the index knows it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Entry {
    pub id: ConnId,
    pub ip: IpAddr,
    pub group: GroupKey,
    pub since: Instant,
    pub evictable: bool,
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

    pub fn add(&mut self, e: Entry) {
        *self.per_host.entry(host_of(e.ip)).or_insert(0) += 1;
        *self.per_group.entry(e.group).or_insert(0) += 1;
        if e.evictable {
            self.by_age.insert((e.since, e.id));
            let members = self.members.entry(e.group).or_default();
            let before = members.len() as u32;
            members.insert((e.since, e.id));
            self.resize(e.group, before, before + 1);
        }
    }

    pub fn remove(&mut self, e: Entry) {
        decrement(&mut self.per_host, host_of(e.ip));
        decrement(&mut self.per_group, e.group);
        if e.evictable && self.by_age.remove(&(e.since, e.id)) {
            if let Some(members) = self.members.get_mut(&e.group) {
                let before = members.len() as u32;
                members.remove(&(e.since, e.id));
                if members.is_empty() {
                    self.members.remove(&e.group);
                }
                self.resize(e.group, before, before.saturating_sub(1));
            }
        }
    }

    fn resize(&mut self, group: GroupKey, before: u32, after: u32) {
        let k = keyed_hash(self.key, &group);
        if before > 0 {
            self.sizes.remove(&(before, k, group));
        }
        if after > 0 {
            self.sizes.insert((after, k, group));
            self.keyed.insert((k, group));
        } else {
            self.keyed.remove(&(k, group));
        }
    }

    /// Whom to evict for a newcomer (Bitcoin Core's `SelectNodeToEvict`,
    /// without the ping and relay criteria we do not see): protect the
    /// `longest` longest-connected, and the longest-connected of `groups`
    /// groups picked by keyed hash; then take the group with the most
    /// connections and evict its youngest unprotected member.
    pub fn victim(&self, longest: u32, groups: u32) -> Option<ConnId> {
        let oldest_protected = match longest {
            0 => None,
            // The n-th oldest (or the youngest, if fewer), walking n entries
            // from the front: `take(n).next_back()` walks from the far end.
            n => {
                let k = (n as usize).min(self.by_age.len());
                k.checked_sub(1)
                    .and_then(|i| self.by_age.iter().nth(i))
                    .copied()
            }
        };
        let group_protected: Vec<ConnId> = self
            .keyed
            .iter()
            .take(groups as usize)
            .filter_map(|(_, g)| self.members.get(g)?.first().map(|(_, id)| *id))
            .collect();
        let protected = |entry: &(Instant, ConnId)| {
            oldest_protected.is_some_and(|p| *entry <= p) || group_protected.contains(&entry.1)
        };
        self.sizes.iter().rev().find_map(|(_, _, group)| {
            let members = self.members.get(group)?;
            members
                .iter()
                .rev()
                .find(|e| !protected(e))
                .map(|(_, id)| *id)
        })
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

    fn entry(n: u64, ip: &str, since: u64) -> Entry {
        let ip: IpAddr = ip.parse().unwrap();
        Entry {
            id: ConnId::from_raw(n),
            ip,
            group: GroupKey::of(ip),
            since: Instant::from_secs(since),
            evictable: true,
        }
    }

    #[test]
    fn the_youngest_of_the_largest_group_goes() {
        let mut index = InboundIndex::new(1);
        index.add(entry(1, "203.0.1.1", 1));
        index.add(entry(2, "203.0.1.2", 2));
        index.add(entry(3, "203.0.1.3", 3));
        index.add(entry(4, "198.51.1.1", 4));
        assert_eq!(index.victim(0, 0), Some(ConnId::from_raw(3)));
        assert_eq!(
            index.count_group(GroupKey::of("203.0.9.9".parse().unwrap())),
            3
        );
        index.remove(entry(3, "203.0.1.3", 3));
        assert_eq!(index.victim(0, 0), Some(ConnId::from_raw(2)));
    }

    #[test]
    fn the_longest_connected_are_protected() {
        let mut index = InboundIndex::new(1);
        index.add(entry(1, "203.0.1.1", 1));
        index.add(entry(2, "203.0.1.2", 2));
        assert_eq!(index.victim(2, 0), None, "everyone is protected");
        assert_eq!(index.victim(1, 0), Some(ConnId::from_raw(2)));
    }

    #[test]
    fn a_protected_group_keeps_its_oldest() {
        let mut index = InboundIndex::new(1);
        index.add(entry(1, "203.0.1.1", 1));
        assert_eq!(index.victim(0, 1), None);
        index.add(entry(2, "203.0.1.2", 2));
        assert_eq!(index.victim(0, 1), Some(ConnId::from_raw(2)));
    }
}
