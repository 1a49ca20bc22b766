//! Tests of the book as a whole: the table mechanics against btcd, the
//! internal invariants after any sequence of operations, and determinism.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use proptest::prelude::*;

use super::known::Place;
use super::*;

/// btcd's table sizes.
const NEW_BUCKETS: usize = Flavor::Btcd.geometry().new_buckets;
const NEW_BUCKET_SIZE: usize = Flavor::Btcd.geometry().new_bucket_size;
const TRIED_BUCKETS: usize = Flavor::Btcd.geometry().tried_buckets;
const TRIED_BUCKET_SIZE: usize = Flavor::Btcd.geometry().tried_bucket_size;

/// Every internal invariant of the book, or the first one broken.
pub(crate) fn check(book: &AddrBook) -> Result<(), String> {
    book.new.check().map_err(|e| format!("new table: {e}"))?;
    book.tried
        .check()
        .map_err(|e| format!("tried table: {e}"))?;
    let live: Vec<(u32, &KnownAddress)> = book
        .slots
        .iter()
        .enumerate()
        .filter_map(|(i, s)| Some((u32::try_from(i).ok()?, s.as_ref()?)))
        .collect();
    if live.len() != book.index.len() || live.len() != book.len() {
        return Err(format!(
            "{} live slots, {} indexed, len {}",
            live.len(),
            book.index.len(),
            book.len()
        ));
    }
    let free: BTreeSet<u32> = book.free.iter().copied().collect();
    if free.len() != book.free.len() || free.len() + live.len() != book.slots.len() {
        return Err("free list disagrees with the slots".into());
    }
    let (mut n_new, mut n_tried, mut refs_total) = (0, 0, 0);
    for (id, entry) in &live {
        if book.index.get(&IndexKey::new(entry.addr)) != Some(id) {
            return Err(format!("{} not indexed as {id}", entry.addr));
        }
        if free.contains(id) {
            return Err(format!("live slot {id} is on the free list"));
        }
        match entry.place {
            Place::Tried(b) => {
                n_tried += 1;
                if !book.tried.entries(b).contains(id) {
                    return Err(format!("{} not in tried bucket {b}", entry.addr));
                }
            }
            Place::New { buckets, refs } => {
                n_new += 1;
                let used = usize::from(refs);
                if used == 0 || used > book.geometry.new_per_address {
                    return Err(format!("{} has {refs} refs", entry.addr));
                }
                let set: BTreeSet<u16> = buckets[..used].iter().copied().collect();
                if set.len() != used {
                    return Err(format!("{} lists a bucket twice", entry.addr));
                }
                for b in set {
                    if !book.new.entries(b).contains(id) {
                        return Err(format!("{} not in new bucket {b}", entry.addr));
                    }
                }
                refs_total += used;
            }
        }
    }
    if (n_new, n_tried) != (book.n_new, book.n_tried) {
        return Err(format!(
            "counted {n_new} new / {n_tried} tried, book says {} / {}",
            book.n_new, book.n_tried
        ));
    }
    let in_new: usize = book.new.iter().map(|(_, b)| b.len()).sum();
    let in_tried: usize = book.tried.iter().map(|(_, b)| b.len()).sum();
    if in_new != refs_total || in_tried != n_tried {
        return Err(format!(
            "{in_new} new slots for {refs_total} refs, {in_tried} tried slots for {n_tried}"
        ));
    }
    let g = &book.geometry;
    if n_new > g.new_buckets * g.new_bucket_size || n_tried > g.tried_buckets * g.tried_bucket_size
    {
        return Err("a table is over its size".into());
    }
    Ok(())
}

pub(crate) fn t(secs: u64) -> Instant {
    Instant::from_secs(1_000_000 + secs)
}

pub(crate) fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn add_refuses_what_cannot_be_dialled_unless_told() {
    let mut book = AddrBook::new(1);
    assert!(!book.add(t(0), sa("10.0.0.1:8333"), ip("1.1.1.1")));
    assert!(!book.add(t(0), sa("127.0.0.1:8333"), ip("1.1.1.1")));
    assert!(!book.add(t(0), sa("1.2.3.4:0"), ip("1.1.1.1")));
    assert!(book.is_empty());
    book.set_accept_unroutable(true);
    assert!(book.add(t(0), sa("10.0.0.1:8333"), ip("1.1.1.1")));
    assert!(
        !book.add(t(0), sa("1.2.3.4:0"), ip("1.1.1.1")),
        "port 0 never"
    );
    assert_eq!(book.len(), 1);
    check(&book).unwrap();
}

#[test]
fn add_is_idempotent_and_keeps_the_latest_timestamp() {
    let mut book = AddrBook::new(2);
    let a = sa("1.2.3.4:8333");
    assert!(book.add_seen(t(0), a, ip("5.5.5.5"), t(100)));
    assert!(!book.add_seen(t(0), a, ip("5.5.5.5"), t(50)));
    assert_eq!(book.get(a).unwrap().timestamp(), t(100));
    assert!(!book.add_seen(t(0), a, ip("5.5.5.5"), t(200)));
    assert_eq!(book.get(a).unwrap().timestamp(), t(200));
    assert_eq!(book.len(), 1);
    assert_eq!(book.get(a).unwrap().source(), ip("5.5.5.5"));
    check(&book).unwrap();
}

#[test]
fn mapped_and_plain_ipv4_are_one_address() {
    let mut book = AddrBook::new(3);
    assert!(book.add(t(0), sa("1.2.3.4:8333"), ip("::ffff:5.5.5.5")));
    assert!(!book.add(t(0), sa("[::ffff:1.2.3.4]:8333"), ip("5.5.5.5")));
    assert!(book.contains(sa("[::ffff:1.2.3.4]:8333")));
    assert_eq!(
        book.get(sa("1.2.3.4:8333")).unwrap().source(),
        ip("5.5.5.5")
    );
    assert_eq!(book.len(), 1);
}

#[test]
fn an_address_heard_from_many_sources_gets_up_to_eight_buckets() {
    let mut book = AddrBook::new(4);
    let a = sa("1.2.3.4:8333");
    for round in 0..50u8 {
        for s in 0..=255u8 {
            book.add(t(0), a, IpAddr::from([s, round, 9, 9]));
        }
    }
    let Place::New { refs, .. } = book.get(a).unwrap().place else {
        panic!("not new");
    };
    assert_eq!(refs, 8);
    assert_eq!(book.len(), 1);
    check(&book).unwrap();
    // good() takes it out of all eight.
    book.good(t(1), a);
    assert_eq!((book.new_len(), book.tried_len()), (0, 1));
    check(&book).unwrap();
}

#[test]
fn a_full_new_bucket_expires_its_bad_entries_and_its_oldest() {
    let mut book = AddrBook::new(5);
    let src = ip("5.5.5.5");
    // One address group and one source group: all in one new bucket.
    for i in 0..64u8 {
        book.add_seen(
            t(0),
            SocketAddr::from(([1, 2, 3, i], 8333)),
            src,
            t(u64::from(i)),
        );
    }
    assert_eq!(book.len(), 64);
    // Address 10 becomes bad: 3 failures, never a success, not just now.
    let bad = SocketAddr::from(([1, 2, 3, 10], 8333));
    for _ in 0..3 {
        book.attempt(t(0), bad);
    }
    book.add_seen(t(3600), sa("1.2.3.200:8333"), src, t(3600));
    assert!(!book.contains(bad), "the bad one went");
    assert!(!book.contains(sa("1.2.3.0:8333")), "and the oldest");
    assert!(book.contains(sa("1.2.3.200:8333")));
    assert_eq!(book.len(), 63);
    check(&book).unwrap();
    // Without bad ones, only the oldest goes.
    book.add_seen(t(3600), sa("1.2.3.201:8333"), src, t(3600));
    book.add_seen(t(3600), sa("1.2.3.202:8333"), src, t(3600));
    assert_eq!(book.len(), 64);
    assert!(!book.contains(sa("1.2.3.1:8333")));
    check(&book).unwrap();
}

#[test]
fn gossip_from_one_source_group_fills_at_most_64_buckets() {
    let mut book = AddrBook::new(6);
    for i in 0..200_000u32 {
        let [_, b, c, d] = i.to_be_bytes();
        book.add(
            t(0),
            SocketAddr::from(([11 + b, c, d, 1], 8333)),
            ip("5.5.7.7"),
        );
    }
    assert!(book.len() <= 64 * NEW_BUCKET_SIZE, "{}", book.len());
    assert!(book.len() > 32 * NEW_BUCKET_SIZE, "{}", book.len());
    check(&book).unwrap();
}

#[test]
fn gossip_from_everywhere_stays_within_the_tables() {
    let mut book = AddrBook::new(7);
    let mut rng = crate::Rng::new(99);
    for i in 0..150_000u32 {
        let a = rng.next_u64();
        let addr = SocketAddr::from((std::net::Ipv4Addr::from(a as u32 | 0x0100_0000), 8333));
        let src = IpAddr::from(std::net::Ipv4Addr::from((a >> 32) as u32));
        book.add(t(u64::from(i % 1000)), addr, src);
        if i % 5 == 0 {
            book.good(t(0), addr);
        }
    }
    assert!(book.new_len() <= NEW_BUCKETS * NEW_BUCKET_SIZE);
    assert!(book.tried_len() <= TRIED_BUCKETS * TRIED_BUCKET_SIZE);
    assert!(book.len() <= MAX_ADDRESSES);
    assert!(book.tried_len() > 10_000, "{}", book.tried_len());
    check(&book).unwrap();
}

#[test]
fn good_moves_to_tried_and_forgives_failures() {
    let mut book = AddrBook::new(8);
    let a = sa("1.2.3.4:8333");
    book.add(t(0), a, ip("5.5.5.5"));
    book.attempt(t(1), a);
    book.attempt(t(2), a);
    book.good(t(3), a);
    let ka = book.get(a).unwrap();
    assert!(ka.is_tried());
    assert_eq!(ka.attempts(), 0);
    assert_eq!(ka.last_success(), Some(t(3)));
    assert_eq!(ka.last_attempt(), Some(t(3)));
    assert_eq!((book.new_len(), book.tried_len()), (0, 1));
    // Again: still tried, counters updated, nothing moves.
    book.attempt(t(4), a);
    book.good(t(5), a);
    assert_eq!(book.get(a).unwrap().attempts(), 0);
    assert_eq!((book.new_len(), book.tried_len()), (0, 1));
    // A tried address heard of again stays tried.
    assert!(!book.add(t(6), a, ip("6.6.6.6")));
    assert!(book.get(a).unwrap().is_tried());
    // Unknown addresses are ignored.
    book.good(t(7), sa("9.9.9.9:8333"));
    book.attempt(t(7), sa("9.9.9.9:8333"));
    book.connected(t(7), sa("9.9.9.9:8333"));
    assert_eq!(book.len(), 1);
    check(&book).unwrap();
}

#[test]
fn a_full_tried_bucket_sends_its_oldest_back_to_new() {
    let mut book = AddrBook::new(9);
    // Find 257 addresses sharing one tried bucket, each from its own source
    // group so they spread over the new table.
    let target = book.key.tried_bucket(&book.geometry, sa("1.2.0.1:8333"));
    let mut same = Vec::new();
    for i in 0..=u16::MAX {
        let [c, d] = i.to_be_bytes();
        let a = SocketAddr::from(([1, 2, c, d], 8333));
        if book.key.tried_bucket(&book.geometry, a) == target {
            same.push(a);
            if same.len() == TRIED_BUCKET_SIZE + 1 {
                break;
            }
        }
    }
    assert_eq!(same.len(), TRIED_BUCKET_SIZE + 1);
    for (i, &a) in same.iter().enumerate() {
        let i = u32::try_from(i).unwrap();
        let src = IpAddr::from(std::net::Ipv4Addr::from(0x2000_0000 + (i << 16)));
        assert!(book.add_seen(t(0), a, src, t(u64::from(i))), "{a}");
    }
    for &a in &same[..TRIED_BUCKET_SIZE] {
        book.good(t(10_000), a);
    }
    assert_eq!(book.tried_len(), TRIED_BUCKET_SIZE);
    assert_eq!(book.new_len(), 1);
    let last = same[TRIED_BUCKET_SIZE];
    book.good(t(10_000), last);
    assert!(book.get(last).unwrap().is_tried());
    // The oldest timestamp was same[0]'s.
    let evicted = book.get(same[0]).unwrap();
    assert!(!evicted.is_tried());
    assert_eq!(evicted.last_success(), Some(t(10_000)), "history kept");
    assert_eq!((book.new_len(), book.tried_len()), (1, TRIED_BUCKET_SIZE));
    check(&book).unwrap();
}

#[test]
fn connected_refreshes_a_stale_timestamp_only() {
    let mut book = AddrBook::new(10);
    let a = sa("1.2.3.4:8333");
    book.add(t(0), a, ip("5.5.5.5"));
    book.connected(t(20 * 60), a);
    assert_eq!(book.get(a).unwrap().timestamp(), t(0));
    book.connected(t(20 * 60 + 1), a);
    assert_eq!(book.get(a).unwrap().timestamp(), t(20 * 60 + 1));
}

#[test]
fn debug_is_a_summary_without_the_key() {
    let mut book = AddrBook::new(12);
    book.add(t(0), sa("1.2.3.4:8333"), ip("5.5.5.5"));
    let shown = format!("{book:?}");
    assert_eq!(
        shown,
        "AddrBook { new: 1, tried: 0, accept_unroutable: false, .. }"
    );
    assert!(!shown.contains(&book.key.0[0].to_string()));
}

#[test]
fn heap_bytes_grows_with_the_book() {
    let mut book = AddrBook::new(11);
    let empty = book.heap_bytes();
    for i in 0..1000u32 {
        let [_, b, c, d] = i.to_be_bytes();
        book.add(
            t(0),
            SocketAddr::from(([1, b, c, d], 8333)),
            IpAddr::from([d, c, 1, 1]),
        );
    }
    assert!(book.heap_bytes() > empty + 1000 * 64);
}

// ---- properties ----

#[derive(Clone, Debug)]
enum Op {
    Add {
        addr: u8,
        port: bool,
        source: u8,
        seen_back: u16,
    },
    /// 80 addresses of one /16 from one source: fills a new bucket fast.
    Flood {
        group: bool,
        source: bool,
        start: u8,
        seen_back: u16,
    },
    Attempt(u16),
    Connected(u16),
    Good(u16),
    Select {
        used_group: Option<u8>,
        max_tries: u8,
    },
    GetAddress,
    Advance(u32),
}

/// A small pool, so operations keep hitting the same addresses; spread over
/// a few /16s and an IPv6 /32, some mapped.
fn pool(i: u8) -> SocketAddr {
    match i % 4 {
        0 => SocketAddr::from(([1, i % 3, i, 1], 8333)),
        1 => SocketAddr::from(([2, 7, 0, i], 8333)),
        2 => format!("[2602:100::{i:x}]:8333").parse().unwrap(),
        _ => format!("[::ffff:3.{}.0.{i}]:8333", i % 5).parse().unwrap(),
    }
}

/// An address crowded into a few new buckets by `Op::Flood`.
fn flood(group: bool, k: u8) -> SocketAddr {
    SocketAddr::from(([4, u8::from(group), 0, k], 8333))
}

/// The address an `Attempt`, `Connected` or `Good` is about: one of the
/// pool or one of the flooded.
fn target(x: u16) -> SocketAddr {
    let [hi, lo] = x.to_be_bytes();
    if hi % 2 == 0 {
        pool(lo)
    } else {
        flood(hi % 4 == 1, lo)
    }
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<u8>(), any::<bool>(), any::<u8>(), any::<u16>())
            .prop_map(|(addr, port, source, seen_back)| Op::Add { addr, port, source, seen_back }),
        1 => (any::<bool>(), any::<bool>(), any::<u8>(), any::<u16>())
            .prop_map(|(group, source, start, seen_back)| Op::Flood { group, source, start, seen_back }),
        3 => any::<u16>().prop_map(Op::Attempt),
        1 => any::<u16>().prop_map(Op::Connected),
        2 => any::<u16>().prop_map(Op::Good),
        2 => (proptest::option::of(any::<u8>()), any::<u8>())
            .prop_map(|(used_group, max_tries)| Op::Select { used_group, max_tries }),
        1 => Just(Op::GetAddress),
        1 => (0u32..2_000_000).prop_map(Op::Advance),
    ]
}

/// Runs `ops`, checking the invariants after each, and returns every
/// result the book gave.
fn run(seed: u64, ops: &[Op]) -> Result<Vec<String>, TestCaseError> {
    let mut book = AddrBook::new(seed);
    let mut now = t(0);
    let mut out = Vec::new();
    for op in ops {
        match *op {
            Op::Add {
                addr,
                port,
                source,
                seen_back,
            } => {
                let mut a = pool(addr);
                if port {
                    a.set_port(18333);
                }
                let src = IpAddr::from([source % 9 + 1, source, 0, 1]);
                let seen = now.saturating_sub(Duration::from_secs(u64::from(seen_back) * 60));
                out.push(format!("{}", book.add_seen(now, a, src, seen)));
            }
            Op::Flood {
                group,
                source,
                start,
                seen_back,
            } => {
                let src = IpAddr::from([5, u8::from(source), 0, 1]);
                let seen = now.saturating_sub(Duration::from_secs(u64::from(seen_back) * 60));
                for k in 0..80u8 {
                    book.add_seen(now, flood(group, start.wrapping_add(k)), src, seen);
                }
            }
            Op::Attempt(a) => book.attempt(now, target(a)),
            Op::Connected(a) => book.connected(now, target(a)),
            Op::Good(a) => book.good(now, target(a)),
            Op::Select {
                used_group,
                max_tries,
            } => {
                let used = used_group.map(|g| GroupKey::of(pool(g).ip()));
                let policy = SelectPolicy {
                    max_tries: u32::from(max_tries),
                    ..SelectPolicy::default()
                };
                let got = book.select(now, &policy, |g| u32::from(Some(*g) == used));
                out.push(format!("{got:?}"));
            }
            Op::GetAddress => out.push(format!("{:?}", book.get_address(now))),
            Op::Advance(secs) => now = now + Duration::from_secs(u64::from(secs)),
        }
        if let Err(e) = check(&book) {
            return Err(TestCaseError::fail(format!("after {op:?}: {e}")));
        }
        prop_assert!(book.new_len() <= NEW_BUCKETS * NEW_BUCKET_SIZE);
        prop_assert!(book.tried_len() <= TRIED_BUCKETS * TRIED_BUCKET_SIZE);
    }
    #[cfg(feature = "serde")]
    {
        let snap = book.snapshot();
        let loaded =
            AddrBook::from_snapshot(&snap, seed).map_err(|e| TestCaseError::fail(e.to_string()))?;
        check(&loaded).map_err(TestCaseError::fail)?;
        prop_assert_eq!(loaded.snapshot(), snap.clone());
        out.push(serde_json::to_string(&snap).unwrap_or_default());
    }
    out.push(format!(
        "{} {} {}",
        book.len(),
        book.new_len(),
        book.tried_len()
    ));
    Ok(out)
}

proptest! {
    // Each case checks every invariant after every step: fewer, longer cases.
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn any_operations_keep_the_invariants(seed in any::<u64>(), ops in proptest::collection::vec(op(), 0..300)) {
        run(seed, &ops)?;
    }

    #[test]
    fn same_seed_same_operations_same_results(seed in any::<u64>(), ops in proptest::collection::vec(op(), 0..150)) {
        prop_assert_eq!(run(seed, &ops)?, run(seed, &ops)?);
    }
}
