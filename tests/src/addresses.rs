//! Addresses for simulated nodes.
//!
//! Real networks are lumpy: a few hosting providers hold many nodes in one
//! /16, most groups hold one or two. The simulator reproduces that so that
//! group diversity and per-group limits are really exercised, and it only
//! hands out routable-looking addresses, since local and unroutable ones are
//! exempt from group limits.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use connmgr::group::is_routable;
use connmgr::{GroupKey, Host, PeerAddr, Rng};

/// The port most simulated nodes listen on (btcd's mainnet port).
pub const DEFAULT_PORT: u16 = 8333;

/// Share of nodes in one of the crowded /16 groups.
const CROWDED_SHARE: f64 = 0.3;
/// Number of crowded /16 groups.
const CROWDED_GROUPS: usize = 6;
/// Share of nodes on IPv6 (one /32 each, mostly).
const IPV6_SHARE: f64 = 0.1;
/// Share of nodes listening on a port other than the default.
const ODD_PORT_SHARE: f64 = 0.05;

/// `n` distinct, routable, non-exempt addresses drawn from `rng`.
pub fn node_addresses(n: usize, rng: &mut Rng) -> Vec<PeerAddr> {
    let crowded: Vec<[u8; 2]> = (0..CROWDED_GROUPS)
        .map(|_| routable_v4_prefix(rng))
        .collect();
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let roll = rng.unit();
        let ip = if roll < CROWDED_SHARE {
            let [a, b] = crowded[rng.below(CROWDED_GROUPS as u64) as usize];
            IpAddr::V4(Ipv4Addr::new(a, b, byte(rng), byte(rng).max(1)))
        } else if roll < CROWDED_SHARE + IPV6_SHARE {
            let segment = |rng: &mut Rng| rng.below(1 << 16) as u16;
            let v6 = Ipv6Addr::new(
                0x2a00 + rng.below(0x100) as u16,
                segment(rng),
                segment(rng),
                0,
                0,
                0,
                0,
                segment(rng).max(1),
            );
            IpAddr::V6(v6)
        } else {
            let [a, b] = routable_v4_prefix(rng);
            IpAddr::V4(Ipv4Addr::new(a, b, byte(rng), byte(rng).max(1)))
        };
        if !is_routable(ip) || GroupKey::of(ip).is_exempt() || !seen.insert(ip) {
            continue;
        }
        let port = if rng.unit() < ODD_PORT_SHARE {
            10_000 + rng.below(50_000) as u16
        } else {
            DEFAULT_PORT
        };
        out.push(PeerAddr::new(Host::Ip(ip), port));
    }
    out
}

pub(crate) fn byte(rng: &mut Rng) -> u8 {
    rng.below(256) as u8
}

/// A /16 whose addresses are routable.
pub(crate) fn routable_v4_prefix(rng: &mut Rng) -> [u8; 2] {
    loop {
        let prefix = [1 + rng.below(223) as u8, byte(rng)];
        let probe = IpAddr::V4(Ipv4Addr::new(prefix[0], prefix[1], 1, 1));
        if is_routable(probe) && !GroupKey::of(probe).is_exempt() {
            return prefix;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn addresses_are_distinct_routable_and_lumpy() {
        let addrs = node_addresses(2_000, &mut Rng::new(9));
        let distinct: BTreeSet<_> = addrs.iter().map(|a| a.host()).collect();
        assert_eq!(distinct.len(), 2_000);
        let mut groups: BTreeMap<GroupKey, usize> = BTreeMap::new();
        for a in &addrs {
            assert!(
                a.host().ip().is_some_and(is_routable) && !GroupKey::of_host(a.host()).is_exempt(),
                "{a}"
            );
            *groups.entry(GroupKey::of_host(a.host())).or_default() += 1;
        }
        let crowded = groups.values().filter(|&&n| n >= 50).count();
        let sparse = groups.values().filter(|&&n| n <= 2).count();
        assert!(crowded >= 4, "only {crowded} crowded groups");
        assert!(sparse > 500, "only {sparse} sparse groups");
    }

    #[test]
    fn same_seed_same_addresses() {
        assert_eq!(
            node_addresses(100, &mut Rng::new(1)),
            node_addresses(100, &mut Rng::new(1))
        );
        assert_ne!(
            node_addresses(100, &mut Rng::new(1)),
            node_addresses(100, &mut Rng::new(2))
        );
    }
}
