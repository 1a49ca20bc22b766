//! Bitcoin Core's `src/test/net_peer_eviction_tests.cpp`, ported: the same
//! cases, under the same names, against [`connmgr::eviction`].
//!
//! Core draws its random candidates from a seeded `FastRandomContext`;
//! these draw them from a small seeded generator of their own, and shuffle
//! the candidates before every decision as Core does, so that nothing
//! depends on their order.

use std::collections::HashSet;
use std::time::Duration;

use connmgr::eviction::{protect_by_ratio, select_to_evict, Candidate};
use connmgr::{ConnId, Instant, Network, PeerFacts};

/// A seeded SplitMix64: reproducible candidates without a dependency.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn coin(&mut self) -> bool {
        self.next() & 1 == 1
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

fn id(n: u64) -> ConnId {
    ConnId::from_raw(n)
}

fn secs(n: u64) -> Instant {
    Instant::from_secs(n)
}

/// Core's `GetRandomNodeEvictionCandidates`: every field random.
fn random_candidates(n: u64, random: &mut Random) -> Vec<Candidate> {
    (0..n)
        .map(|n| Candidate {
            id: id(n),
            connected: secs(random.below(100)),
            keyed_group: random.below(100),
            is_local: random.coin(),
            network: Network::ALL[random.below(Network::ALL.len() as u64) as usize],
            facts: PeerFacts {
                min_ping: Some(Duration::from_micros(random.below(100))),
                last_block: Some(secs(random.below(100))),
                last_tx: Some(secs(random.below(100))),
                relevant_services: random.coin(),
                relays_txs: random.coin(),
                bloom_filter: random.coin(),
                prefer_evict: random.coin(),
                noban: false,
            },
        })
        .collect()
}

/// Core's `IsProtected`: after `protect_by_ratio`, half the candidates
/// remain, none of `protected` and all of `unprotected`.
fn is_protected(
    peers: u64,
    setup: impl Fn(&mut Candidate),
    protected: &[u64],
    unprotected: &[u64],
    random: &mut Random,
) -> bool {
    let mut candidates = random_candidates(peers, random);
    candidates.iter_mut().for_each(setup);
    random.shuffle(&mut candidates);
    let size = candidates.len();
    protect_by_ratio(&mut candidates);
    assert_eq!(candidates.len(), size - size / 2, "half are protected");
    let left: HashSet<u64> = candidates.iter().map(|c| c.id.raw()).collect();
    protected.iter().all(|n| !left.contains(n)) && unprotected.iter().all(|n| left.contains(n))
}

/// Core's `IsEvicted`: whether the peer evicted is one of `ids`.
fn is_evicted(
    peers: u64,
    setup: impl Fn(&mut Candidate),
    ids: &[u64],
    random: &mut Random,
) -> bool {
    let mut candidates = random_candidates(peers, random);
    candidates.iter_mut().for_each(setup);
    random.shuffle(&mut candidates);
    select_to_evict(candidates).is_some_and(|evicted| ids.contains(&evicted.raw()))
}

/// A combined case of `peer_protection_test`: how many peers, which are
/// local, on which network each is, which must be protected and which not.
type Case = (
    u64,
    fn(u64) -> bool,
    fn(u64) -> Network,
    &'static [u64],
    &'static [u64],
);

/// Uptime by id (the lower, the longer connected), on the given networks.
fn uptime(c: &mut Candidate, local: bool, network: Network) {
    c.connected = secs(c.id.raw());
    c.is_local = local;
    c.network = network;
}

#[test]
fn peer_protection_test() {
    use Network::{Cjdns, I2p, Ipv4, Ipv6, Onion};
    let r = &mut Random(1);
    let n = |c: &Candidate| c.id.raw();

    // Half of the peers with the greatest uptime are protected...
    assert!(is_protected(
        12,
        |c| uptime(c, false, Ipv4),
        &[0, 1, 2, 3, 4, 5],
        &[6, 7, 8, 9, 10, 11],
        r
    ));
    // ...in the opposite direction too.
    assert!(is_protected(
        12,
        |c| {
            c.connected = secs(12 - n(c));
            c.is_local = false;
            c.network = Ipv6;
        },
        &[6, 7, 8, 9, 10, 11],
        &[0, 1, 2, 3, 4, 5],
        r
    ));

    // One network of disadvantaged peers at a time: a quarter of the
    // peers protected by network, whatever their uptime...
    for (network, ids) in [(Onion, [3, 8, 9]), (I2p, [2, 7, 10]), (Cjdns, [2, 7, 10])] {
        assert!(
            is_protected(
                12,
                |c| {
                    c.is_local = false;
                    c.network = if ids.contains(&n(c)) { network } else { Ipv4 };
                },
                &ids,
                &[],
                r
            ),
            "{network}"
        );
    }
    assert!(is_protected(
        12,
        |c| {
            c.is_local = [1, 9, 11].contains(&n(c));
            c.network = Ipv4;
        },
        &[1, 9, 11],
        &[],
        r
    ));
    // ...and a quarter of the others by uptime.
    assert!(is_protected(
        12,
        |c| uptime(c, false, if n(c) == 3 || n(c) > 7 { Onion } else { Ipv6 }),
        &[0, 1, 2, 3, 8, 9],
        &[4, 5, 6, 7, 10, 11],
        r
    ));
    assert!(is_protected(
        12,
        |c| uptime(c, n(c) > 6, Ipv6),
        &[0, 1, 2, 7, 8, 9],
        &[3, 4, 5, 6, 10, 11],
        r
    ));
    for network in [I2p, Cjdns] {
        assert!(
            is_protected(
                12,
                |c| uptime(c, false, if n(c) == 4 || n(c) > 8 { network } else { Ipv6 }),
                &[0, 1, 2, 4, 9, 10],
                &[3, 5, 6, 7, 8, 11],
                r
            ),
            "{network}"
        );
    }

    // Two networks. Localhost before onion on equal counts (the order of
    // the networks), recovering unused slots, fewer candidates first.
    let two: [Case; 9] = [
        (
            4,
            |i| i == 4,
            |i| if i == 3 { Onion } else { Ipv4 },
            &[0, 4],
            &[1, 2],
        ),
        (
            7,
            |i| i == 6,
            |i| if i == 5 { Onion } else { Ipv4 },
            &[0, 1, 6],
            &[2, 3, 4, 5],
        ),
        (
            8,
            |i| i == 6,
            |i| if i == 5 { Onion } else { Ipv4 },
            &[0, 1, 5, 6],
            &[2, 3, 4, 7],
        ),
        (
            12,
            |i| i == 6 || i == 9 || i == 11,
            |i| if [7, 8, 10].contains(&i) { Onion } else { Ipv6 },
            &[0, 1, 2, 6, 7, 9],
            &[3, 4, 5, 8, 10, 11],
        ),
        (
            12,
            |i| i > 4 && i < 9,
            |i| if i == 10 { Onion } else { Ipv4 },
            &[0, 1, 2, 5, 6, 10],
            &[3, 4, 7, 8, 9, 11],
        ),
        (
            16,
            |i| [6, 9, 11, 12].contains(&i),
            |i| if i == 8 || i == 10 { Onion } else { Ipv6 },
            &[0, 1, 2, 3, 6, 8, 9, 10],
            &[4, 5, 7, 11, 12, 13, 14, 15],
        ),
        (
            16,
            |i| i > 10,
            |i| if i == 10 { Onion } else { Ipv4 },
            &[0, 1, 2, 3, 10, 11, 12, 13],
            &[4, 5, 6, 7, 8, 9, 14, 15],
        ),
        (
            16,
            |i| i == 15,
            |i| if i > 6 && i < 11 { Onion } else { Ipv6 },
            &[0, 1, 2, 3, 7, 8, 9, 15],
            &[5, 6, 10, 11, 12, 13, 14],
        ),
        (
            12,
            |_| false,
            |i| match i {
                8 | 10 => Onion,
                6 | 9 | 11 | 12 => I2p,
                _ => Ipv4,
            },
            &[0, 1, 2, 6, 8, 10],
            &[3, 4, 5, 7, 9, 11],
        ),
    ];
    // Three networks: I2P, then localhost, first on equal counts.
    let three: [Case; 8] = [
        (
            4,
            |i| i == 2,
            |i| match i {
                3 => I2p,
                1 => Onion,
                _ => Ipv6,
            },
            &[0, 3],
            &[1, 2],
        ),
        (
            7,
            |i| i == 4,
            |i| match i {
                6 => I2p,
                5 => Onion,
                _ => Ipv6,
            },
            &[0, 1, 6],
            &[2, 3, 4, 5],
        ),
        (
            8,
            |i| i == 6,
            |i| match i {
                5 => I2p,
                4 => Onion,
                _ => Ipv6,
            },
            &[0, 1, 5, 6],
            &[2, 3, 4, 7],
        ),
        (
            16,
            |i| i == 6 || i > 11,
            |i| match i {
                7 | 11 => I2p,
                9 | 10 => Onion,
                _ => Ipv4,
            },
            &[0, 1, 2, 3, 6, 7, 9, 11],
            &[4, 5, 8, 10, 12, 13, 14, 15],
        ),
        (
            24,
            |i| i == 12,
            |i| match i {
                15..=22 => I2p,
                23 => Onion,
                _ => Ipv6,
            },
            &[0, 1, 2, 3, 4, 5, 12, 15, 16, 17, 18, 23],
            &[6, 7, 8, 9, 10, 11, 13, 14, 19, 20, 21, 22],
        ),
        (
            24,
            |i| i == 15,
            |i| match i {
                12 | 14 | 17 => I2p,
                18.. => Onion,
                _ => Ipv4,
            },
            &[0, 1, 2, 3, 4, 5, 12, 14, 15, 17, 18, 19],
            &[6, 7, 8, 9, 10, 11, 13, 16, 20, 21, 22, 23],
        ),
        (
            24,
            |i| i == 13,
            |i| match i {
                17.. => I2p,
                12 | 14 | 15 | 16 => Onion,
                _ => Ipv6,
            },
            &[0, 1, 2, 3, 4, 5, 12, 13, 14, 15, 17, 18],
            &[6, 7, 8, 9, 10, 11, 16, 19, 20, 21, 22, 23],
        ),
        (
            24,
            |i| i > 15,
            |i| match i {
                11..=14 => Cjdns,
                7..=9 => Onion,
                _ => Ipv4,
            },
            &[0, 1, 2, 3, 4, 5, 7, 8, 11, 12, 16, 17],
            &[6, 9, 10, 13, 14, 15, 18, 19, 20, 21, 22, 23],
        ),
    ];
    // Four networks: CJDNS first on equal counts.
    let four: [Case; 5] = [
        (
            5,
            |i| i == 3,
            |i| match i {
                4 => Cjdns,
                1 => I2p,
                2 => Onion,
                _ => Ipv6,
            },
            &[0, 4],
            &[1, 2, 3],
        ),
        (
            7,
            |i| i == 4,
            |i| match i {
                6 => Cjdns,
                5 => I2p,
                3 => Onion,
                _ => Ipv4,
            },
            &[0, 1, 6],
            &[2, 3, 4, 5],
        ),
        (
            8,
            |i| i == 3,
            |i| match i {
                5 => Cjdns,
                6 => I2p,
                3 => Onion,
                _ => Ipv6,
            },
            &[0, 1, 5, 6],
            &[2, 3, 4, 7],
        ),
        (
            16,
            |i| i > 5,
            |i| match i {
                11 | 15 => Cjdns,
                10 | 14 => I2p,
                8 | 9 => Onion,
                _ => Ipv4,
            },
            &[0, 1, 2, 3, 6, 8, 10, 11],
            &[4, 5, 7, 9, 12, 13, 14, 15],
        ),
        (
            24,
            |i| i == 13,
            |i| match i {
                18.. => Cjdns,
                17 => I2p,
                12 | 14 | 15 | 16 => Onion,
                _ => Ipv6,
            },
            &[0, 1, 2, 3, 4, 5, 12, 13, 14, 17, 18, 19],
            &[6, 7, 8, 9, 10, 11, 15, 16, 20, 21, 22, 23],
        ),
    ];
    let cases = two.iter().chain(&three).chain(&four);
    for (i, &(peers, local, network, protected, unprotected)) in cases.enumerate() {
        assert!(
            is_protected(
                peers,
                |c| uptime(c, local(n(c)), network(n(c))),
                protected,
                unprotected,
                r
            ),
            "combined case {i}"
        );
    }
}

#[test]
fn peer_eviction_test() {
    let r = &mut Random(2);
    for nodes in 0..200u64 {
        let back = |c: &Candidate| secs(nodes - c.id.raw());
        // The four peers with the highest keyed group are protected.
        assert!(!is_evicted(
            nodes,
            |c| c.keyed_group = nodes - c.id.raw(),
            &[0, 1, 2, 3],
            r
        ));
        // The eight with the lowest ping.
        assert!(!is_evicted(
            nodes,
            |c| c.facts.min_ping = Some(Duration::from_micros(c.id.raw())),
            &[0, 1, 2, 3, 4, 5, 6, 7],
            r
        ));
        // The four that most recently sent a novel transaction.
        assert!(!is_evicted(
            nodes,
            |c| c.facts.last_tx = Some(back(c)),
            &[0, 1, 2, 3],
            r
        ));
        // Up to eight block-relay-only peers that most recently sent a
        // novel block.
        let block_relay = |c: &mut Candidate| {
            c.facts.last_block = Some(back(c));
            if c.id.raw() <= 7 {
                c.facts.relays_txs = false;
                c.facts.relevant_services = true;
            }
        };
        assert!(!is_evicted(
            nodes,
            block_relay,
            &[0, 1, 2, 3, 4, 5, 6, 7],
            r
        ));
        // The four that most recently sent a novel block.
        assert!(!is_evicted(
            nodes,
            |c| c.facts.last_block = Some(back(c)),
            &[0, 1, 2, 3],
            r
        ));
        // The two before together.
        assert!(!is_evicted(
            nodes,
            block_relay,
            &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
            r
        ));
        // All of the above but block-relay-only together.
        assert!(!is_evicted(
            nodes,
            |c| {
                c.keyed_group = nodes - c.id.raw();
                c.facts.min_ping = Some(Duration::from_micros(c.id.raw()));
                c.facts.last_tx = Some(back(c));
                c.facts.last_block = Some(back(c));
            },
            &(0..20).collect::<Vec<_>>(),
            r
        ));
        // Someone is evicted from 29 random candidates or more: at most
        // 4 + 8 + 4 + 8 + 4 are protected before the uptime half.
        if nodes >= 29 {
            assert!(select_to_evict(random_candidates(nodes, r)).is_some());
        }
        // No one is evicted from 20 or fewer: at least 4 + 8 + 4 + 4 are.
        if nodes <= 20 {
            assert!(select_to_evict(random_candidates(nodes, r)).is_none());
        }
    }
}
