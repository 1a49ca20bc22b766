//! btcd's address book's cost: `add`, `select` and `get_address` on books
//! fed 10 k, 100 k and 1 M gossiped addresses, and the memory per stored
//! address. (`addrman.rs` measures Bitcoin Core's book the same way.)
//!
//! btcd's table sizes cap a book at 81 920 addresses (65 536 new + 16 384
//! tried), so "1 M" is a million addresses *offered*: the book keeps what
//! fits, evicting as btcd does. The number actually stored is printed.
//!
//! `select` records an attempt on every pick, so a long run changes the
//! book it measures (chances decay). It is measured twice: alone over
//! 10 000 picks, where the drift is small, and followed by a `good` on the
//! pick (a node whose dials succeed), which is a steady state however long
//! it runs. `get_address` alone has no side effect but the RNG.
//!
//! Memory is computed, not measured: [`AddrBook::heap_bytes`] sums the
//! capacities of the book's vectors and index times their element sizes
//! (allocator overhead excluded). On Linux the resident-set growth while
//! building is printed next to it as a cross-check.
//!
//! Run with `cargo bench -p connmgr --bench addrbook`.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use connmgr::addrbook::{AddrBook, SelectPolicy};
use connmgr::{GroupKey, Instant, Rng};
use divan::Bencher;

const SIZES: [usize; 3] = [10_000, 100_000, 1_000_000];

fn main() {
    println!(
        "size_of::<KnownAddress>() = {} B",
        std::mem::size_of::<connmgr::addrbook::KnownAddress>()
    );
    for offered in SIZES {
        let rss_before = rss_bytes();
        let started = std::time::Instant::now();
        let book = build(offered);
        let took = started.elapsed();
        let rss_after = rss_bytes();
        let per_addr = book.heap_bytes() as f64 / book.len().max(1) as f64;
        let rss = match (rss_before, rss_after) {
            (Some(b), Some(a)) => format!(
                ", RSS growth {:.0} B/address",
                a.saturating_sub(b) as f64 / book.len().max(1) as f64
            ),
            _ => String::new(),
        };
        println!(
            "offered {offered:>9}: stored {:>6} ({} new, {} tried) in {:.2?}; heap {:.1} MiB = {per_addr:.0} B/address (computed){rss}",
            book.len(),
            book.new_len(),
            book.tried_len(),
            took,
            book.heap_bytes() as f64 / (1024.0 * 1024.0),
        );
        drop(book);
    }
    divan::main();
}

/// The moment the book is built at (Unix-epoch nanoseconds, as a runtime
/// that persists its book would use).
fn start() -> Instant {
    Instant::from_secs(1_700_000_000)
}

/// A book fed `offered` random routable IPv4 addresses, 90 % on the default
/// port, from 2 000 gossiping sources, last seen up to a week ago, with
/// every tenth reported good (connected) as it arrives.
fn build(offered: usize) -> AddrBook {
    let mut rng = Rng::new(offered as u64);
    let mut book = AddrBook::new(42);
    let sources: Vec<IpAddr> = (0..2000).map(|_| random_ip(&mut rng)).collect();
    let now = start();
    for i in 0..offered {
        let ip = random_ip(&mut rng);
        let port = if rng.below(10) == 0 { 18333 } else { 8333 };
        let source = sources[rng.below(sources.len() as u64) as usize];
        let seen = now - Duration::from_secs(rng.below(7 * 24 * 3600));
        let addr = SocketAddr::new(ip, port);
        book.add_seen(now, addr, source, seen);
        if i % 10 == 0 {
            book.good(now, addr);
        }
    }
    book
}

fn random_ip(rng: &mut Rng) -> IpAddr {
    loop {
        let ip = IpAddr::V4(Ipv4Addr::from(rng.next_u64() as u32));
        if connmgr::group::is_routable(ip) {
            return ip;
        }
    }
}

/// Eight groups "in use" by outbound connections, as a running node has.
fn used_groups(book: &mut AddrBook) -> BTreeSet<GroupKey> {
    (0..8)
        .filter_map(|_| book.get_address(start()))
        .map(|a| GroupKey::of(a.ip()))
        .collect()
}

/// `select` alone: each pick records a failed attempt, so the book drifts
/// (chances decay); 10 000 picks keep that to about one attempt per address
/// in the 10 k book and well under one in the others.
#[divan::bench(args = SIZES, sample_count = 100, sample_size = 100)]
fn select(bencher: Bencher<'_, '_>, offered: usize) {
    let mut book = build(offered);
    let used = used_groups(&mut book);
    let policy = SelectPolicy::default();
    let mut now = start() + Duration::from_secs(3600);
    bencher.bench_local(move || {
        now = now + Duration::from_secs(60);
        book.select(now, &policy, |g| u32::from(used.contains(g)))
    });
}

/// `select` then `good` on the pick: a node whose dials succeed, a steady
/// state however long it runs. Includes `good`'s move to the tried table
/// (and, once a tried bucket is full, its scan for the oldest of 256).
#[divan::bench(args = SIZES, sample_count = 100, sample_size = 1000)]
fn select_and_good(bencher: Bencher<'_, '_>, offered: usize) {
    let mut book = build(offered);
    let used = used_groups(&mut book);
    let policy = SelectPolicy::default();
    let mut now = start() + Duration::from_secs(3600);
    bencher.bench_local(move || {
        // Picks a minute apart; the address connects.
        now = now + Duration::from_secs(60);
        let picked = book.select(now, &policy, |g| u32::from(used.contains(g)));
        if let Ok(addr) = picked {
            book.good(now, addr);
        }
        picked
    });
}

/// One fresh gossiped address into the book (full or filling).
#[divan::bench(args = SIZES, sample_count = 100, sample_size = 1000)]
fn add(bencher: Bencher<'_, '_>, offered: usize) {
    let mut book = build(offered);
    let mut rng = Rng::new(u64::MAX - offered as u64);
    let sources: Vec<IpAddr> = (0..2000).map(|_| random_ip(&mut rng)).collect();
    let now = start();
    bencher.bench_local(move || {
        let addr = SocketAddr::new(random_ip(&mut rng), 8333);
        let source = sources[rng.below(sources.len() as u64) as usize];
        book.add_seen(now, addr, source, now - Duration::from_secs(3600))
    });
}

#[divan::bench(args = SIZES, sample_count = 100, sample_size = 1000)]
fn get_address(bencher: Bencher<'_, '_>, offered: usize) {
    let mut book = build(offered);
    // An hour on, so the tried addresses' last attempt (their `good`) is no
    // longer recent.
    let now = start() + Duration::from_secs(3600);
    bencher.bench_local(move || book.get_address(now));
}

/// Resident memory from /proc/self/statm, where there is one.
fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}
