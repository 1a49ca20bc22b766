//! Bitcoin Core's address manager's cost: `add`, `select` and `good` on
//! books fed 10 k, 100 k and 1 M gossiped addresses, and the memory per
//! stored address. The same workload as `addrbook.rs` (btcd's book), so the
//! two can be set side by side.
//!
//! Core's tables cap a book at 81 920 addresses (65 536 new + 16 384
//! tried), and an address has one possible slot per table, so "1 M" is a
//! million addresses *offered*: the book keeps what fits. The number
//! actually stored is printed.
//!
//! - `add`: one fresh address from one of 2 000 sources (the book full or
//!   filling, as gossip keeps it);
//! - `select`: a pick, as the manager makes for each automatic outbound
//!   connection (no attempt recorded, so the book does not drift);
//! - `select_and_good`: the pick, then its handshake (Core's `Good`):
//!   moved to tried, or parked as a collision when its tried slot is taken.
//!   `good` alone is the difference of the two.
//!
//! Memory is computed: [`AddrMan::heap_bytes`] sums the capacities of the
//! book's vectors and index times their element sizes.
//!
//! Run with `cargo bench -p connmgr --bench addrman`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use connmgr::addrman::{AddrMan, BucketKey};
use connmgr::{Host, Instant, PeerAddr, Rng};
use divan::Bencher;

const SIZES: [usize; 3] = [10_000, 100_000, 1_000_000];

fn main() {
    for offered in SIZES {
        let started = std::time::Instant::now();
        let (book, _) = build(offered);
        let took = started.elapsed();
        let stored = book.new_len() + book.tried_len();
        println!(
            "offered {offered:>9}: stored {stored:>6} ({} new, {} tried) in {took:.2?}; heap {:.1} MiB = {:.0} B/address (computed)",
            book.new_len(),
            book.tried_len(),
            book.heap_bytes() as f64 / (1024.0 * 1024.0),
            book.heap_bytes() as f64 / stored.max(1) as f64,
        );
    }
    divan::main();
}

fn start() -> Instant {
    Instant::from_secs(1_700_000_000)
}

/// A book fed `offered` random routable IPv4 addresses, 90 % on the default
/// port, from 2 000 gossiping sources, last seen up to a week ago, with
/// every tenth reported good as it arrives; and the generator, to draw
/// more of the same.
fn build(offered: usize) -> (AddrMan, Feed) {
    let mut feed = Feed::new(offered as u64);
    let mut book = AddrMan::new(BucketKey::from_bytes([42; 32]), 42);
    let now = start();
    for i in 0..offered {
        let (addr, seen, source) = feed.next();
        book.add(now, &[(addr, seen)], source, Duration::ZERO);
        if i % 10 == 0 {
            book.good(now, addr);
        }
    }
    (book, feed)
}

/// Gossip: random addresses from a fixed set of sources.
struct Feed {
    rng: Rng,
    sources: Vec<IpAddr>,
}

impl Feed {
    fn new(seed: u64) -> Feed {
        let mut rng = Rng::new(seed);
        let sources = (0..2000).map(|_| random_ip(&mut rng)).collect();
        Feed { rng, sources }
    }

    fn next(&mut self) -> (PeerAddr, Instant, Host) {
        let ip = random_ip(&mut self.rng);
        let port = if self.rng.below(10) == 0 { 18333 } else { 8333 };
        let source = self.sources[self.rng.below(self.sources.len() as u64) as usize];
        let seen = start() - Duration::from_secs(self.rng.below(7 * 24 * 3600));
        (SocketAddr::new(ip, port).into(), seen, source.into())
    }
}

fn random_ip(rng: &mut Rng) -> IpAddr {
    loop {
        let ip = IpAddr::V4(Ipv4Addr::from(rng.next_u64() as u32));
        if connmgr::group::is_routable(ip) {
            return ip;
        }
    }
}

#[divan::bench(args = SIZES, sample_count = 100, sample_size = 1000)]
fn add(bencher: Bencher<'_, '_>, offered: usize) {
    let (mut book, mut feed) = build(offered);
    let now = start();
    bencher.bench_local(move || {
        let (addr, seen, source) = feed.next();
        book.add(now, &[(addr, seen)], source, Duration::ZERO)
    });
}

#[divan::bench(args = SIZES, sample_count = 100, sample_size = 1000)]
fn select(bencher: Bencher<'_, '_>, offered: usize) {
    let (mut book, _) = build(offered);
    let now = start() + Duration::from_secs(3600);
    bencher.bench_local(move || book.select(now, false, &[]));
}

#[divan::bench(args = SIZES, sample_count = 100, sample_size = 1000)]
fn select_and_good(bencher: Bencher<'_, '_>, offered: usize) {
    let (mut book, _) = build(offered);
    let mut now = start() + Duration::from_secs(3600);
    bencher.bench_local(move || {
        now = now + Duration::from_secs(60);
        let picked = book.select(now, false, &[]);
        if let Some(addr) = picked {
            book.good(now, addr);
        }
        picked
    });
}
