//! Bitcoin Core's address manager through its public API: properties over
//! arbitrary operation sequences (Core's own unit tests are ported inside
//! the crate, `src/addrman/tests.rs`).

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use connmgr::addrman::{AddrMan, BucketKey, MAX_ADDRESSES};
use connmgr::{Host, Instant, Network, PeerAddr};
use proptest::prelude::*;

const START: Instant = Instant::from_secs(1_700_000_000);

/// One call on the book, over a small space of addresses so that
/// operations meet: the same address added twice, made good, collided.
#[derive(Clone, Debug)]
enum Op {
    Add {
        addrs: Vec<(u16, i64)>,
        source: u16,
        penalty_secs: u32,
    },
    Good(u16),
    Attempt(u16, bool),
    Connected(u16),
    Select(bool, Option<bool>),
    GetAddr(usize, usize),
    ResolveCollisions,
    SelectTriedCollision,
    Wait(u32),
}

/// Addresses from a few /16s, both families, ports 8333 and 8334, some
/// unroutable ones, and onion and I2P ones.
fn addr(n: u16) -> PeerAddr {
    let port = 8333 + (n & 1);
    let mut key = [0x5a; 32];
    key[..2].copy_from_slice(&n.to_be_bytes());
    match n % 13 {
        5 => return PeerAddr::new(Host::Onion(key), port),
        6 => return PeerAddr::new(Host::I2p(key), 0),
        _ => {}
    }
    let ip: IpAddr = match n % 7 {
        0 => Ipv6Addr::new(0x2a01, 0x4f8, n >> 3, 0, 0, 0, 0, 1).into(),
        1 => Ipv4Addr::new(10, 0, (n >> 8) as u8, n as u8).into(),
        k => Ipv4Addr::new(40 + k as u8, (n >> 10) as u8, (n >> 3) as u8, n as u8).into(),
    };
    SocketAddr::new(ip, port).into()
}

fn op() -> impl Strategy<Value = Op> {
    let a = 0u16..2000;
    prop_oneof![
        4 => (prop::collection::vec((a.clone(), -100_000i64..100_000), 1..20), a.clone(), 0u32..7200)
            .prop_map(|(addrs, source, penalty_secs)| Op::Add { addrs, source, penalty_secs }),
        3 => a.clone().prop_map(Op::Good),
        2 => (a.clone(), any::<bool>()).prop_map(|(n, c)| Op::Attempt(n, c)),
        1 => a.prop_map(Op::Connected),
        2 => (any::<bool>(), any::<Option<bool>>()).prop_map(|(n, v4)| Op::Select(n, v4)),
        1 => (0usize..50, 0usize..101).prop_map(|(m, p)| Op::GetAddr(m, p)),
        1 => Just(Op::ResolveCollisions),
        1 => Just(Op::SelectTriedCollision),
        1 => (0u32..100_000).prop_map(Op::Wait),
    ]
}

/// Runs `ops`, checking the book after each; returns everything observed.
fn run(seed: u64, ops: &[Op]) -> (Vec<String>, AddrMan) {
    let mut book = AddrMan::new(BucketKey::from_bytes([seed as u8; 32]), seed);
    let mut now = START;
    let mut seen = Vec::new();
    for op in ops {
        match op {
            Op::Add {
                addrs,
                source,
                penalty_secs,
            } => {
                let offered: Vec<_> = addrs
                    .iter()
                    .map(|&(n, offset)| {
                        let at = if offset >= 0 {
                            now + Duration::from_secs(offset as u64)
                        } else {
                            now - Duration::from_secs(offset.unsigned_abs())
                        };
                        (addr(n), at)
                    })
                    .collect();
                let added = book.add(
                    now,
                    &offered,
                    addr(*source).host(),
                    Duration::from_secs(u64::from(*penalty_secs)),
                );
                assert!(added <= offered.len());
                seen.push(format!("add {added}"));
            }
            Op::Good(n) => {
                let moved = book.good(now, addr(*n));
                if moved {
                    assert!(book.get(addr(*n)).unwrap().is_tried());
                }
                seen.push(format!("good {moved}"));
            }
            Op::Attempt(n, count) => book.attempt(now, addr(*n), *count),
            Op::Connected(n) => book.connected(now, addr(*n)),
            Op::Select(new_only, v4) => {
                let nets: Vec<Network> = match v4 {
                    None => vec![],
                    Some(true) => vec![Network::Ipv4],
                    Some(false) => vec![Network::Ipv6],
                };
                let picked = book.select(now, *new_only, &nets);
                if let Some(a) = picked {
                    let info = book.get(a).expect("selected an unknown address");
                    assert!(!new_only || !info.is_tried());
                    assert!(nets.is_empty() || nets.contains(&info.network()));
                } else {
                    let net = nets.first().copied();
                    let available = book.len_of(net, new_only.then_some(true));
                    assert_eq!(available, 0, "nothing selected from a non-empty book");
                }
                seen.push(format!("select {picked:?}"));
            }
            Op::GetAddr(max, pct) => {
                let sample = book.get_addr(now, *max, *pct, None, true);
                let unique: BTreeSet<_> = sample.iter().collect();
                assert_eq!(unique.len(), sample.len(), "a sample repeats an address");
                assert!(*max == 0 || sample.len() <= *max);
                assert!(sample.len() <= book.len());
                seen.push(format!("getaddr {sample:?}"));
            }
            Op::ResolveCollisions => book.resolve_collisions(now),
            Op::SelectTriedCollision => {
                let picked = book.select_tried_collision();
                if let Some(a) = picked {
                    assert!(book.get(a).unwrap().is_tried());
                }
                seen.push(format!("collision {picked:?}"));
            }
            Op::Wait(secs) => now = now + Duration::from_secs(u64::from(*secs)),
        }
        if let Err(e) = book.check() {
            panic!("inconsistent after {op:?}: {e}");
        }
        assert!(book.len() <= MAX_ADDRESSES);
        assert_eq!(book.len(), book.new_len() + book.tried_len());
        assert!(book.collisions_len() <= 10);
    }
    (seen, book)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_operations_keep_the_book_consistent(ops in prop::collection::vec(op(), 1..150)) {
        run(3, &ops);
    }

    #[test]
    fn same_key_same_operations_same_results(ops in prop::collection::vec(op(), 1..80)) {
        let (a, _) = run(5, &ops);
        let (b, _) = run(5, &ops);
        prop_assert_eq!(a, b);
    }
}

#[test]
fn unroutable_addresses_are_never_added() {
    let mut book = AddrMan::new(BucketKey::from_bytes([1; 32]), 1);
    let source = "198.51.100.1".parse().unwrap();
    let junk: Vec<_> = [
        "10.0.0.1:8333",
        "127.0.0.1:8333",
        "[::1]:8333",
        "0.0.0.0:8333",
    ]
    .iter()
    .map(|a| (a.parse().unwrap(), START))
    .collect();
    assert_eq!(book.add(START, &junk, source, Duration::ZERO), 0);
    assert!(book.is_empty());
}

#[test]
fn one_source_group_cannot_fill_more_than_64_new_buckets() {
    let mut book = AddrMan::new(BucketKey::from_bytes([2; 32]), 2);
    let source = "203.0.114.9".parse().unwrap();
    // 100 000 addresses from everywhere, all from one peer.
    let offered: Vec<_> = (0..100_000u32)
        .map(|n| {
            let ip = Ipv4Addr::from(0x2000_0000 + n * 7919);
            (SocketAddr::new(ip.into(), 8333).into(), START)
        })
        .collect();
    book.add(START, &offered, source, Duration::ZERO);
    assert!(book.len() <= 64 * 64, "{} addresses kept", book.len());
    book.check().unwrap();
}
