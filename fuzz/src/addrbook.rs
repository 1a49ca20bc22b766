//! Target `addrbook`: sequences of add / attempt / connected / good /
//! select / get_address / reload on an `AddrBook`, each checked against its
//! documented effect and the book's bounds, and run twice for determinism.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use arbitrary::{Arbitrary, Result as DecodeResult, Unstructured};
use connmgr::addrbook::{AddrBook, SelectPolicy, MAX_ADDRESSES};
use connmgr::{AddressError, GroupKey, Instant};

use super::skip_known;

/// The largest number of addresses one `AddRange` or `GoodRange` touches:
/// enough to overflow a group's eight tried buckets (8 × 256).
const MAX_RANGE: u16 = 2_500;
/// The most addresses all the ranges of one input touch together, which
/// bounds the time one input takes.
const RANGE_BUDGET: u32 = 2_500;
/// The most operations one input decodes to.
const MAX_OPS: usize = 200;

/// A range length: mostly small (a bucket is 64), sometimes a few hundred,
/// rarely up to [`MAX_RANGE`].
fn range_count(u: &mut Unstructured<'_>) -> DecodeResult<u16> {
    Ok(match u.int_in_range(0u8..=15)? {
        0 => u.int_in_range(1..=MAX_RANGE)?,
        1..=3 => u.int_in_range(1..=300)?,
        _ => u.int_in_range(1..=70)?,
    })
}
/// The module documentation's table sizes: 1 024 new buckets of 64, 64
/// tried buckets of 256.
const NEW_SLOTS: usize = 1_024 * 64;
const TRIED_SLOTS: usize = 64 * 256;

/// Which address an operation is about.
#[derive(Clone, Copy, Debug)]
pub(crate) enum AddrRef {
    /// One mentioned before (by position in the list of mentioned ones).
    Known(u16),
    /// The IPv4-mapped IPv6 spelling of one mentioned before: the book must
    /// treat it as the same address.
    Mapped(u16),
    /// A new one.
    Fresh(SocketAddr),
}

impl<'a> Arbitrary<'a> for AddrRef {
    fn arbitrary(u: &mut Unstructured<'a>) -> DecodeResult<AddrRef> {
        Ok(match u.int_in_range(0u8..=7)? {
            0..=3 => AddrRef::Known(u.arbitrary()?),
            4 => AddrRef::Mapped(u.arbitrary()?),
            5 => AddrRef::Fresh(u.arbitrary()?),
            // Mostly routable IPv4 on the default port, in a few groups.
            _ => {
                let [a, b, c, d]: [u8; 4] = u.arbitrary()?;
                let port = if u.arbitrary()? { 8333 } else { u.arbitrary()? };
                AddrRef::Fresh(SocketAddr::from(([a % 8 + 1, b % 4, c, d], port)))
            }
        })
    }
}

#[derive(Clone, Debug)]
pub(crate) enum BookOp {
    Add {
        addr: AddrRef,
        source: IpAddr,
        /// Seconds from now the gossip says it was last seen (may be future).
        seen: i32,
    },
    /// `count` consecutive IPv4 addresses from `base`, each from a source
    /// in its own /16 when `spread`, so they land in many new buckets; each
    /// made `good` at once when `good`, which fills tried buckets cheaply.
    AddRange {
        base: Ipv4Addr,
        count: u16,
        port: u16,
        source: Ipv4Addr,
        spread: bool,
        good: bool,
    },
    Attempt(AddrRef),
    Connected(AddrRef),
    Good(AddrRef),
    /// `good` on `count` mentioned addresses from position `from`.
    GoodRange {
        from: u16,
        count: u16,
    },
    Select {
        policy: SelectPolicy,
        /// Bit j: the group of mentioned address j already has `busy_count`
        /// outbound connections.
        busy: u8,
        busy_count: u32,
    },
    GetAddress,
    Advance(u32),
    Rewind(u16),
    /// Snapshot, rebuild from it with this seed, and carry on with the copy.
    Reload(u8),
    AcceptUnroutable(bool),
}

impl<'a> Arbitrary<'a> for BookOp {
    fn arbitrary(u: &mut Unstructured<'a>) -> DecodeResult<BookOp> {
        Ok(match u.int_in_range(0u8..=23)? {
            0..=5 => BookOp::Add {
                addr: u.arbitrary()?,
                source: if u.ratio(3u8, 4)? {
                    IpAddr::from([20, u.int_in_range(0..=15)?, 1, 1])
                } else {
                    u.arbitrary()?
                },
                seen: if u.ratio(3u8, 4)? { 0 } else { u.arbitrary()? },
            },
            6 => BookOp::AddRange {
                base: u.arbitrary()?,
                count: range_count(u)?,
                port: if u.arbitrary()? { 8333 } else { u.arbitrary()? },
                source: u.arbitrary()?,
                spread: u.arbitrary()?,
                good: u.ratio(1u8, 4)?,
            },
            7..=8 => BookOp::Attempt(u.arbitrary()?),
            9 => BookOp::Connected(u.arbitrary()?),
            10..=12 => BookOp::Good(u.arbitrary()?),
            13 => BookOp::GoodRange {
                from: u.arbitrary()?,
                count: range_count(u)?,
            },
            14..=16 => BookOp::Select {
                policy: SelectPolicy {
                    max_per_group: u.int_in_range(0..=2)?,
                    default_port: if u.ratio(3u8, 4)? {
                        8333
                    } else {
                        u.arbitrary()?
                    },
                    max_tries: u.int_in_range(0..=150)?,
                    skip_recent_tries: u.int_in_range(0..=50)?,
                    recent_window: Duration::from_secs(u.int_in_range(0..=1_200)?),
                    other_port_after: u.int_in_range(0..=60)?,
                },
                busy: u.arbitrary()?,
                busy_count: u.int_in_range(1..=2)?,
            },
            17 => BookOp::GetAddress,
            18 | 19 => BookOp::Advance(u.int_in_range(0..=60 * 24 * 3600)?),
            20 => BookOp::Rewind(u.arbitrary()?),
            21 => BookOp::Reload(u.arbitrary()?),
            _ => BookOp::AcceptUnroutable(u.arbitrary()?),
        })
    }
}

pub(crate) fn decode_book(data: &[u8]) -> (u64, Vec<BookOp>) {
    let mut u = Unstructured::new(data);
    let seed = u.arbitrary::<u64>().unwrap_or(0);
    let mut ops = Vec::new();
    let mut budget = RANGE_BUDGET;
    while !u.is_empty() && ops.len() < MAX_OPS {
        match BookOp::arbitrary(&mut u) {
            Ok(mut op) => {
                if let BookOp::AddRange { count, .. } | BookOp::GoodRange { count, .. } = &mut op {
                    *count = (*count).min(u16::try_from(budget).unwrap_or(u16::MAX));
                    budget -= u32::from(*count);
                }
                ops.push(op)
            }
            Err(_) => break,
        }
    }
    (seed, ops)
}

/// What one operation returned, for the determinism check.
#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    Added(bool),
    AddedMany(usize),
    Selected(Result<SocketAddr, AddressError>),
    Got(Option<SocketAddr>),
    /// A reload refused the book's own snapshot (only the unchecked run
    /// records this; the checked one panics).
    Refused(String),
    Len(usize, usize),
}

/// The book's public bounds: its counts add up and stay within the tables.
pub(crate) fn check_bounds(book: &AddrBook, op: usize) {
    let (len, new, tried) = (book.len(), book.new_len(), book.tried_len());
    assert_eq!(
        len,
        new + tried,
        "addrbook op {op}: len {len} != {new} new + {tried} tried"
    );
    assert!(
        new <= NEW_SLOTS,
        "addrbook op {op}: {new} new addresses, max {NEW_SLOTS}"
    );
    assert!(
        tried <= TRIED_SLOTS,
        "addrbook op {op}: {tried} tried addresses, max {TRIED_SLOTS}"
    );
    assert!(
        len <= MAX_ADDRESSES,
        "addrbook op {op}: {len} addresses, max {MAX_ADDRESSES}"
    );
    assert_eq!(
        book.is_empty(),
        len == 0,
        "addrbook op {op}: is_empty disagrees with len"
    );
}

/// The address as the book stores it: IPv4-mapped becomes IPv4, no flow
/// label.
fn canonical(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V4(_) => addr,
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::from((v4, v6.port())),
            None => SocketAddr::V6(std::net::SocketAddrV6::new(
                *v6.ip(),
                v6.port(),
                0,
                v6.scope_id(),
            )),
        },
    }
}

/// A snapshot rebuilds an equal book: same addresses, same entries, same
/// snapshot again.
pub(crate) fn check_reload(book: &AddrBook, seed: u64, op: usize) -> AddrBook {
    let snap = book.snapshot();
    assert_eq!(
        snap.addresses.len(),
        book.len(),
        "addrbook op {op}: snapshot size"
    );
    let tried = snap.addresses.iter().filter(|a| a.tried).count();
    assert_eq!(
        tried,
        book.tried_len(),
        "addrbook op {op}: tried addresses in the snapshot"
    );
    let loaded = AddrBook::from_snapshot(&snap, seed)
        .unwrap_or_else(|e| panic!("addrbook op {op}: a book's own snapshot is refused: {e}"));
    assert_eq!(
        loaded.snapshot(),
        snap,
        "addrbook op {op}: snapshot round trip"
    );
    assert_eq!(
        (loaded.len(), loaded.new_len(), loaded.tried_len()),
        (book.len(), book.new_len(), book.tried_len()),
        "addrbook op {op}: reloaded counts"
    );
    for saved in &snap.addresses {
        assert!(
            book.contains(saved.addr),
            "addrbook op {op}: {} in snapshot, not in book",
            saved.addr
        );
        let entry = book.get(saved.addr).expect("contained");
        let copy = loaded
            .get(saved.addr)
            .unwrap_or_else(|| panic!("addrbook op {op}: {} lost on reload", saved.addr));
        let seen = |e: &connmgr::addrbook::KnownAddress| {
            let history = (
                e.timestamp(),
                e.attempts(),
                e.last_attempt(),
                e.last_success(),
            );
            (e.addr(), e.source(), history, e.is_tried())
        };
        assert_eq!(
            seen(copy),
            seen(entry),
            "addrbook op {op}: {} changed on reload",
            saved.addr
        );
        // Bug "bucket-tail" (reported): an entry that lost a new bucket keeps
        // the removed bucket in the unused tail of its bucket array, which
        // the derived PartialEq compares, while a reloaded one has a clean
        // tail: equal entries compare unequal.
        if !skip_known("bucket-tail") {
            assert_eq!(
                Some(copy),
                Some(entry),
                "addrbook op {op}: reloaded entry != original"
            );
        }
        assert_eq!(
            entry.addr(),
            saved.addr,
            "addrbook op {op}: stored spelling"
        );
        assert_eq!(
            entry.is_tried(),
            saved.tried,
            "addrbook op {op}: {} tried flag",
            saved.addr
        );
    }
    loaded
}

/// Runs `ops` on a fresh book. With `checked`, every operation's effect,
/// the bounds and every snapshot round trip are verified; without, the run
/// only records what happened, for the determinism comparison (the checks
/// are pure, so a second checked run would repeat the first's work).
fn run_book(
    seed: u64,
    ops: &[BookOp],
    checked: bool,
) -> (Vec<Outcome>, connmgr::addrbook::Snapshot) {
    let mut book = AddrBook::new(seed);
    let mut now = Instant::from_secs(1_700_000_000);
    let mut mentioned: Vec<SocketAddr> = Vec::new();
    let mut outcomes = Vec::with_capacity(ops.len());
    let resolve = |mentioned: &Vec<SocketAddr>, r: AddrRef| -> SocketAddr {
        let nth = |i: u16| {
            mentioned
                .get(usize::from(i) % mentioned.len().max(1))
                .copied()
                .unwrap_or_else(|| SocketAddr::from(([1, 2, 3, 4], 8333)))
        };
        match r {
            AddrRef::Known(i) => nth(i),
            AddrRef::Mapped(i) => match nth(i) {
                SocketAddr::V4(v4) => SocketAddr::from((v4.ip().to_ipv6_mapped(), v4.port())),
                other => other,
            },
            AddrRef::Fresh(a) => a,
        }
    };
    for (i, op) in ops.iter().enumerate() {
        let len_before = book.len();
        match *op {
            BookOp::Add { addr, source, seen } => {
                let addr = resolve(&mentioned, addr);
                mentioned.push(addr);
                let known_before = book.contains(addr);
                let seen_at = if seen >= 0 {
                    now + Duration::from_secs(seen.unsigned_abs().into())
                } else {
                    now - Duration::from_secs(seen.unsigned_abs().into())
                };
                let added = book.add_seen(now, addr, source, seen_at);
                let contained = book.contains(addr);
                if added {
                    assert!(!known_before, "addrbook op {i}: {addr} added twice");
                    assert!(contained, "addrbook op {i}: {addr} added but not contained");
                    assert!(addr.port() != 0, "addrbook op {i}: port 0 added");
                    assert_eq!(
                        book.get(addr).map(|e| e.addr()),
                        Some(canonical(addr)),
                        "addrbook op {i}: stored spelling of {addr}"
                    );
                } else if known_before {
                    assert!(contained, "addrbook op {i}: re-adding {addr} lost it");
                } else {
                    assert!(!contained, "addrbook op {i}: {addr} refused yet contained");
                }
                assert!(
                    book.len() <= len_before + 1,
                    "addrbook op {i}: add grew by more than one"
                );
                outcomes.push(Outcome::Added(added));
            }
            BookOp::AddRange {
                base,
                count,
                port,
                source,
                spread,
                good,
            } => {
                let mut added = 0;
                for k in 0..u32::from(count) {
                    let addr =
                        SocketAddr::from((Ipv4Addr::from(u32::from(base).wrapping_add(k)), port));
                    let src = if spread {
                        Ipv4Addr::from(u32::from(source).wrapping_add(k << 16))
                    } else {
                        source
                    };
                    mentioned.push(addr);
                    added += usize::from(book.add(now, addr, IpAddr::V4(src)));
                    if good {
                        good_checked(&mut book, now, addr, i);
                    }
                }
                assert!(
                    book.len() <= len_before + added,
                    "addrbook op {i}: range grew too much"
                );
                outcomes.push(Outcome::AddedMany(added));
            }
            BookOp::Attempt(r) => {
                let addr = resolve(&mentioned, r);
                let before = book.get(addr).map(|e| e.attempts());
                book.attempt(now, addr);
                if let Some(n) = before {
                    let entry = book.get(addr).expect("attempt keeps the address");
                    assert_eq!(
                        entry.attempts(),
                        n.saturating_add(1),
                        "addrbook op {i}: attempts"
                    );
                    assert_eq!(
                        entry.last_attempt(),
                        Some(now),
                        "addrbook op {i}: last attempt"
                    );
                }
                assert_eq!(
                    book.len(),
                    len_before,
                    "addrbook op {i}: attempt changed the size"
                );
            }
            BookOp::Connected(r) => {
                let addr = resolve(&mentioned, r);
                let before = book.get(addr).map(|e| e.timestamp());
                book.connected(now, addr);
                if let Some(ts) = before {
                    let after = book
                        .get(addr)
                        .expect("connected keeps the address")
                        .timestamp();
                    assert!(
                        after == ts || after == now,
                        "addrbook op {i}: connected set {after}"
                    );
                }
                assert_eq!(
                    book.len(),
                    len_before,
                    "addrbook op {i}: connected changed the size"
                );
            }
            BookOp::Good(r) => {
                let addr = resolve(&mentioned, r);
                good_checked(&mut book, now, addr, i);
            }
            BookOp::GoodRange { from, count } => {
                if !mentioned.is_empty() {
                    for k in 0..usize::from(count) {
                        let addr = mentioned[(usize::from(from) + k) % mentioned.len()];
                        good_checked(&mut book, now, addr, i);
                    }
                }
            }
            BookOp::Select {
                ref policy,
                busy,
                busy_count,
            } => {
                let busy_groups: BTreeSet<GroupKey> = (0..8u16)
                    .filter(|j| busy & (1 << j) != 0)
                    .filter_map(|j| mentioned.get(usize::from(j)))
                    .map(|a| GroupKey::of(a.ip()))
                    .collect();
                let in_group = |g: &GroupKey| {
                    if busy_groups.contains(g) {
                        busy_count
                    } else {
                        0
                    }
                };
                let empty = book.is_empty();
                let picked = book.select(now, policy, in_group);
                match picked {
                    Ok(addr) => {
                        let entry = book
                            .get(addr)
                            .unwrap_or_else(|| panic!("addrbook op {i}: selected unknown {addr}"));
                        assert_eq!(
                            entry.last_attempt(),
                            Some(now),
                            "addrbook op {i}: not recorded"
                        );
                        let group = GroupKey::of(addr.ip());
                        assert!(
                            policy.max_per_group == 0
                                || group.is_exempt()
                                || in_group(&group) < policy.max_per_group,
                            "addrbook op {i}: selected {addr} from full group {group}"
                        );
                    }
                    Err(AddressError::Empty) => {
                        assert!(empty, "addrbook op {i}: Empty, len {len_before}")
                    }
                    Err(e) => assert!(!empty, "addrbook op {i}: {e} from an empty book"),
                }
                assert_eq!(
                    book.len(),
                    len_before,
                    "addrbook op {i}: select changed the size"
                );
                outcomes.push(Outcome::Selected(picked));
            }
            BookOp::GetAddress => {
                let got = book.get_address(now);
                assert_eq!(
                    got.is_none(),
                    book.is_empty(),
                    "addrbook op {i}: get_address"
                );
                if let Some(addr) = got {
                    assert!(book.contains(addr), "addrbook op {i}: got unknown {addr}");
                }
                outcomes.push(Outcome::Got(got));
            }
            BookOp::Advance(secs) => now = now + Duration::from_secs(secs.into()),
            BookOp::Rewind(secs) => now = now - Duration::from_secs(secs.into()),
            BookOp::Reload(seed) if checked => {
                book = check_reload(&book, u64::from(seed), i);
            }
            BookOp::Reload(seed) => {
                // The checked run accepted this snapshot; a refusal here is
                // a difference the comparison reports.
                match AddrBook::from_snapshot(&book.snapshot(), u64::from(seed)) {
                    Ok(loaded) => book = loaded,
                    Err(e) => outcomes.push(Outcome::Refused(e.to_string())),
                }
            }
            BookOp::AcceptUnroutable(accept) => book.set_accept_unroutable(accept),
        }
        if checked {
            check_bounds(&book, i);
        }
        outcomes.push(Outcome::Len(book.new_len(), book.tried_len()));
    }
    if checked {
        check_reload(&book, 0, ops.len());
    }
    (outcomes, book.snapshot())
}

fn good_checked(book: &mut AddrBook, now: Instant, addr: SocketAddr, op: usize) {
    let len_before = book.len();
    let known = book.contains(addr);
    book.good(now, addr);
    assert_eq!(
        book.len(),
        len_before,
        "addrbook op {op}: good changed the size"
    );
    if known {
        let entry = book
            .get(addr)
            .unwrap_or_else(|| panic!("addrbook op {op}: good lost {addr}"));
        assert!(
            entry.is_tried(),
            "addrbook op {op}: {addr} not tried after good"
        );
        assert_eq!(
            entry.attempts(),
            0,
            "addrbook op {op}: good kept the failures"
        );
        assert_eq!(
            entry.last_success(),
            Some(now),
            "addrbook op {op}: last success"
        );
    }
}

/// Target `addrbook`: sequences of add / attempt / connected / good / select
/// / get_address / reload on an [`AddrBook`]. Every operation keeps its
/// documented effect and the book's bounds; a snapshot rebuilds the same
/// book; the same seed and operations give the same results.
pub fn addrbook(data: &[u8]) {
    let (seed, ops) = decode_book(data);
    let first = run_book(seed, &ops, true);
    let second = run_book(seed, &ops, false);
    if first != second {
        let at = first.0.iter().zip(&second.0).position(|(a, b)| a != b);
        panic!(
            "addrbook: two runs of the same operations differ, first at outcome {at:?}: {:?} vs {:?}",
            at.and_then(|i| first.0.get(i)),
            at.and_then(|i| second.0.get(i))
        );
    }
}
