//! The address book through its public API: btcd's `newAddressFunc`
//! selection scenarios, the book as the manager's address source, and
//! properties over arbitrary operation sequences.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use connmgr::addrbook::{AddrBook, SelectPolicy, MAX_ADDRESSES};
use connmgr::{
    Action, AddressError, Config, ConnManager, GroupKey, Input, Instant, PeerAddr, PeerEvent, Seed,
};
use proptest::prelude::*;

fn now() -> Instant {
    Instant::from_secs(1_700_000_000)
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn src() -> IpAddr {
    "198.51.100.7".parse().unwrap()
}

fn no_outbound(_: &GroupKey) -> u32 {
    0
}

#[test]
fn an_empty_book_is_an_address_failure() {
    let mut book = AddrBook::new(1);
    assert_eq!(
        book.select(now(), &SelectPolicy::default(), no_outbound),
        Err(AddressError::Empty)
    );
}

#[test]
fn a_used_group_is_skipped() {
    let mut book = AddrBook::new(2);
    let used = [sa("1.2.3.4:8333"), sa("1.2.200.9:8333")];
    let free = sa("5.6.7.8:8333");
    for a in used.iter().chain([&free]) {
        book.add(now(), *a, src());
    }
    let used_group = GroupKey::of(used[0].ip());
    let one_in_used = |g: &GroupKey| u32::from(*g == used_group);
    let mut t = now();
    for _ in 0..100 {
        assert_eq!(
            book.select(t, &SelectPolicy::default(), one_in_used),
            Ok(free)
        );
        // It connected; without this its failed attempts would pile up
        // until its chance was too small for 100 tries (as in btcd).
        book.good(t, free);
        t = t + Duration::from_secs(11 * 60);
    }
    // With room for two per group, the used group is eligible again.
    let two = SelectPolicy {
        max_per_group: 2,
        ..SelectPolicy::default()
    };
    let picks: BTreeSet<SocketAddr> = (0..200)
        .filter_map(|_| {
            t = t + Duration::from_secs(11 * 60);
            book.select(t, &two, one_in_used).ok()
        })
        .collect();
    assert!(picks.contains(&used[0]) || picks.contains(&used[1]));
    // And when every group is full, nothing is suitable.
    assert_eq!(
        book.select(t, &SelectPolicy::default(), |_| 1),
        Err(AddressError::NoneSuitable)
    );
}

#[test]
fn a_recently_attempted_address_comes_back_after_30_tries() {
    let mut book = AddrBook::new(3);
    let only = sa("1.2.3.4:8333");
    book.add(now(), only, src());
    book.attempt(now(), only);
    let t = now() + Duration::from_secs(9 * 60);
    let tries = |n| SelectPolicy {
        max_tries: n,
        ..SelectPolicy::default()
    };
    // Tries 0..30 skip it; the 31st (tries == 30) takes it.
    assert_eq!(
        book.select(t, &tries(30), no_outbound),
        Err(AddressError::NoneSuitable)
    );
    assert_eq!(
        book.get(only).unwrap().attempts(),
        1,
        "a failed select attempts nothing"
    );
    assert_eq!(book.select(t, &tries(31), no_outbound), Ok(only));
    assert_eq!(book.get(only).unwrap().attempts(), 2);
    // Ten minutes after the last attempt it is no longer recent.
    let later = t + Duration::from_secs(10 * 60);
    assert_eq!(book.select(later, &tries(1), no_outbound), Ok(only));
}

#[test]
fn a_non_default_port_is_taken_only_after_50_tries() {
    let mut book = AddrBook::new(4);
    let odd = sa("1.2.3.4:18333");
    book.add(now(), odd, src());
    let tries = |n| SelectPolicy {
        max_tries: n,
        ..SelectPolicy::default()
    };
    assert_eq!(
        book.select(now(), &tries(50), no_outbound),
        Err(AddressError::NoneSuitable)
    );
    assert_eq!(book.select(now(), &tries(51), no_outbound), Ok(odd));
    // On a network whose default port it is, it is fine at once.
    let testnet = SelectPolicy {
        default_port: 18333,
        max_tries: 1,
        ..SelectPolicy::default()
    };
    let later = now() + Duration::from_secs(3600);
    assert_eq!(book.select(later, &testnet, no_outbound), Ok(odd));
}

#[test]
fn default_ports_win_while_both_are_available() {
    let mut book = AddrBook::new(5);
    let odd = sa("1.2.3.4:18333");
    let usual = sa("5.6.7.8:8333");
    book.add(now(), odd, src());
    book.add(now(), usual, src());
    let mut t = now();
    for _ in 0..50 {
        t = t + Duration::from_secs(11 * 60);
        assert_eq!(
            book.select(t, &SelectPolicy::default(), no_outbound),
            Ok(usual)
        );
        book.good(t, usual);
    }
}

/// btcd: a failing address source makes connmgr replace the request at once
/// 24 times, and throttle from the 25th failure in a row.
#[test]
fn an_always_failing_book_engages_the_managers_throttle_after_25() {
    let config = Config {
        rng_seed: Some(Seed::from_u64(6)),
        ..Config::btcd()
    };
    let mut mgr = ConnManager::new(config.clone(), Instant::ZERO).unwrap();
    let mut book = AddrBook::new(6);
    let policy = SelectPolicy::default();
    let t = Instant::from_secs(1);
    mgr.start(t).unwrap();
    let mut queue: Vec<Action> = std::iter::from_fn(|| mgr.poll_action()).collect();
    let mut failures = 0u32;
    let mut throttled_at = None;
    while let Some(pos) = queue
        .iter()
        .position(|a| matches!(a, Action::RequestAddress { .. }))
    {
        let Action::RequestAddress { id } = queue.remove(pos) else {
            unreachable!()
        };
        let result = book
            .select(t, &policy, |g| mgr.outbound_group_count(g))
            .map(PeerAddr::from);
        assert_eq!(result, Err(AddressError::Empty));
        mgr.handle(t, Input::AddressResult { id, result }).unwrap();
        failures += 1;
        let after: Vec<Action> = std::iter::from_fn(|| mgr.poll_action()).collect();
        let asks_again = after
            .iter()
            .any(|a| matches!(a, Action::RequestAddress { .. }));
        let waits = after.iter().any(|a| matches!(a, Action::RetryAfter { .. }));
        if failures < config.max_failed_attempts {
            assert!(asks_again && !waits, "failure {failures}: {after:?}");
        } else {
            assert!(!asks_again && waits, "failure {failures}: {after:?}");
            throttled_at.get_or_insert(failures);
        }
        queue.extend(after);
        assert!(failures < 1000, "the manager keeps asking");
    }
    assert_eq!(throttled_at, Some(25));
    assert_eq!(mgr.failed_attempts(), failures);
}

/// The book as the manager's source with the group limit: eight outbound
/// connections, eight different groups, then `good` moves them to tried.
#[test]
fn the_book_feeds_the_manager_diverse_groups() {
    let config = Config {
        rng_seed: Some(Seed::from_u64(7)),
        // The book is the application's here.
        address_book: connmgr::AddressBook::External,
        ..Config::default()
    };
    let mut mgr = ConnManager::new(config, Instant::ZERO).unwrap();
    let mut book = AddrBook::new(7);
    let t = now();
    // 40 addresses in 5 /16s of 8 each, plus 20 in /16s of their own.
    for g in 0..5u8 {
        for h in 0..8u8 {
            book.add(t, SocketAddr::from(([20 + g, 1, h, 1], 8333)), src());
        }
    }
    for g in 0..20u8 {
        book.add(t, SocketAddr::from(([40 + g, 9, 9, 9], 8333)), src());
    }
    assert_eq!(book.len(), 60);
    mgr.start(t).unwrap();
    let policy = SelectPolicy::default();
    let mut connected = Vec::new();
    for _ in 0..1000 {
        let Some(action) = mgr.poll_action() else {
            break;
        };
        match action {
            Action::RequestAddress { id } => {
                let result = book
                    .select(t, &policy, |g| mgr.outbound_group_count(g))
                    .map(PeerAddr::from);
                mgr.handle(t, Input::AddressResult { id, result }).unwrap();
            }
            Action::Dial { id, attempt, .. } => {
                mgr.handle(
                    t,
                    Input::DialResult {
                        id,
                        attempt,
                        result: Ok(()),
                    },
                )
                .unwrap();
            }
            Action::NotifyPeer(PeerEvent::Connected { addr, .. }) => {
                let addr = addr.socket_addr().expect("an IP peer");
                book.connected(t, addr);
                book.good(t, addr);
                connected.push(addr);
            }
            _ => {}
        }
    }
    // 8 full-relay and 2 block-relay-only, all in different groups.
    assert_eq!(connected.len(), 10);
    let groups: BTreeSet<GroupKey> = connected.iter().map(|a| GroupKey::of(a.ip())).collect();
    assert_eq!(groups.len(), 10, "one per group: {connected:?}");
    assert_eq!(book.tried_len(), 10);
    assert_eq!(book.len(), 60);
}

#[cfg(feature = "serde")]
#[test]
fn snapshot_through_json_preserves_every_address() {
    use connmgr::addrbook::Snapshot;
    let mut book = AddrBook::new(8);
    for i in 0..2000u32 {
        let [_, b, c, d] = i.to_be_bytes();
        let a = SocketAddr::from(([30 + b, c, d, 1], 8333));
        book.add(now(), a, IpAddr::from([c, d, 0, 1]));
        if i % 4 == 0 {
            book.good(now(), a);
        }
    }
    let json = serde_json::to_string(&book.snapshot()).unwrap();
    let snap: Snapshot = serde_json::from_str(&json).unwrap();
    let loaded = AddrBook::from_snapshot(&snap, 1).unwrap();
    assert_eq!(loaded.len(), book.len());
    for saved in &snap.addresses {
        assert_eq!(loaded.get(saved.addr), book.get(saved.addr));
    }
}

// ---- properties ----

#[derive(Clone, Debug)]
enum Op {
    Add {
        addr: SocketAddr,
        source: IpAddr,
        seen: u64,
    },
    Attempt(SocketAddr),
    Connected(SocketAddr),
    Good(SocketAddr),
    Select {
        limit: u32,
        full: Option<IpAddr>,
        port: u16,
        tries: u32,
    },
    GetAddress,
    Time(u64),
    AcceptUnroutable(bool),
}

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<u32>().prop_map(|v| IpAddr::V4(Ipv4Addr::from(v))),
        // A crowded corner, so operations hit known addresses.
        (0u8..4, 0u8..8).prop_map(|(b, d)| IpAddr::V4(Ipv4Addr::new(1, b, 0, d))),
        any::<u128>().prop_map(|v| IpAddr::V6(Ipv6Addr::from(v))),
        (0u8..8).prop_map(|d| IpAddr::V6(Ipv6Addr::new(
            0x2602,
            0x100,
            0,
            0,
            0,
            0,
            0,
            u16::from(d)
        ))),
        Just(IpAddr::V6(Ipv4Addr::new(1, 0, 0, 1).to_ipv6_mapped())),
    ]
}

fn addr() -> impl Strategy<Value = SocketAddr> {
    (ip(), prop_oneof![Just(8333u16), Just(0), any::<u16>()])
        .prop_map(|(ip, port)| SocketAddr::new(ip, port))
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (addr(), ip(), any::<u64>()).prop_map(|(addr, source, seen)| Op::Add { addr, source, seen }),
        2 => addr().prop_map(Op::Attempt),
        1 => addr().prop_map(Op::Connected),
        2 => addr().prop_map(Op::Good),
        2 => (0u32..3, proptest::option::of(ip()), prop_oneof![Just(8333u16), any::<u16>()], 0u32..120)
            .prop_map(|(limit, full, port, tries)| Op::Select { limit, full, port, tries }),
        1 => Just(Op::GetAddress),
        1 => any::<u64>().prop_map(Op::Time),
        1 => any::<bool>().prop_map(Op::AcceptUnroutable),
    ]
}

/// Runs `ops` and returns everything the book answered.
fn run(seed: u64, ops: &[Op]) -> (Vec<String>, AddrBook) {
    let mut book = AddrBook::new(seed);
    let mut t = Instant::ZERO;
    let mut out = Vec::new();
    for op in ops {
        match op {
            Op::Add { addr, source, seen } => {
                out.push(
                    book.add_seen(t, *addr, *source, Instant::from_nanos(*seen))
                        .to_string(),
                );
            }
            Op::Attempt(a) => book.attempt(t, *a),
            Op::Connected(a) => book.connected(t, *a),
            Op::Good(a) => book.good(t, *a),
            Op::Select {
                limit,
                full,
                port,
                tries,
            } => {
                let full = full.map(GroupKey::of);
                let policy = SelectPolicy {
                    max_per_group: *limit,
                    default_port: *port,
                    max_tries: *tries,
                    ..SelectPolicy::default()
                };
                out.push(format!(
                    "{:?}",
                    book.select(t, &policy, |g| u32::from(Some(*g) == full))
                ));
            }
            Op::GetAddress => out.push(format!("{:?}", book.get_address(t))),
            // Time mostly moves forward, sometimes wildly, sometimes back.
            Op::Time(n) => t = Instant::from_nanos(*n),
            Op::AcceptUnroutable(on) => book.set_accept_unroutable(*on),
        }
        assert!(book.len() <= MAX_ADDRESSES);
        assert_eq!(book.len(), book.new_len() + book.tried_len());
        assert_eq!(book.is_empty(), book.new_len() + book.tried_len() == 0);
    }
    (out, book)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn no_operation_sequence_panics_or_breaks_the_bounds(
        seed in any::<u64>(),
        ops in proptest::collection::vec(op(), 0..250),
    ) {
        let (_, book) = run(seed, &ops);
        // Every address the book returns is one it knows.
        let mut book = book;
        if let Some(a) = book.get_address(Instant::ZERO) {
            prop_assert!(book.contains(a));
        }
    }

    #[test]
    fn the_same_seed_and_operations_give_the_same_results(
        seed in any::<u64>(),
        ops in proptest::collection::vec(op(), 0..200),
    ) {
        let (a, book_a) = run(seed, &ops);
        let (b, book_b) = run(seed, &ops);
        prop_assert_eq!(a, b);
        prop_assert_eq!(book_a.len(), book_b.len());
        #[cfg(feature = "serde")]
        prop_assert_eq!(book_a.snapshot(), book_b.snapshot());
    }

    #[cfg(feature = "serde")]
    #[test]
    fn a_snapshot_round_trip_preserves_every_address(
        seed in any::<u64>(),
        ops in proptest::collection::vec(op(), 0..200),
    ) {
        use connmgr::addrbook::Snapshot;
        let (_, book) = run(seed, &ops);
        let snap = book.snapshot();
        let json = serde_json::to_string(&snap).unwrap();
        let back: Snapshot = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&back, &snap);
        let loaded = AddrBook::from_snapshot(&back, seed ^ 1).unwrap();
        prop_assert_eq!(loaded.len(), book.len());
        prop_assert_eq!(loaded.tried_len(), book.tried_len());
        for saved in &snap.addresses {
            prop_assert_eq!(loaded.get(saved.addr), book.get(saved.addr));
        }
        prop_assert_eq!(loaded.snapshot(), snap);
    }
}
