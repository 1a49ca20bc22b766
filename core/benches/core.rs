//! The core's cost, with no sockets: one full automatic cycle, the same
//! cycle with 1 k, 100 k and 1 M other live connections, and the cycle with
//! Bitcoin Core's address book inside the manager.
//!
//! A cycle is what a churning outbound slot costs the manager: `Closed` →
//! `Disconnected` + `RequestAddress` (the replacement) → `AddressResult` →
//! `Dial` → `DialResult` ok → `Connected`. Run with
//! `cargo bench -p connmgr --bench core`; divan prints the time per cycle and
//! (with its allocation profiler) the heap allocations per cycle.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use connmgr::{
    Action, Advertised, Config, ConnId, ConnManager, Input, Instant, ListenerId, PeerEvent, Seed,
};
use divan::{AllocProfiler, Bencher};

#[global_allocator]
static ALLOC: AllocProfiler = AllocProfiler::system();

fn main() {
    divan::main();
}

const PEER: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 1), 8333));

/// A running manager at its target of 8, plus `live` inbound connections.
fn manager(live: u32) -> (ConnManager, Instant, Vec<ConnId>) {
    let config = Config {
        max_inbound: live,
        rng_seed: Some(Seed::from_u64(1)),
        ..Config::btcd()
    };
    let mut mgr = ConnManager::new(config, Instant::ZERO).expect("valid config");
    let now = Instant::from_secs(1);
    mgr.handle(now, Input::Start).expect("start");
    let outbound = connect_all(&mut mgr, now);
    for i in 0..live {
        let remote = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(0x0A00_0000 + i), 1));
        mgr.handle(
            now,
            Input::Accepted {
                listener: ListenerId(0),
                remote,
                network: None,
            },
        )
        .expect("accept");
        while mgr.poll_action().is_some() {}
    }
    (mgr, now, outbound)
}

/// Answers everything the manager asks until it is idle: addresses with
/// `PEER`, dials as connected, and (with the book inside) each connection
/// as handshaked. Returns the connections made.
fn connect_all(mgr: &mut ConnManager, now: Instant) -> Vec<ConnId> {
    let handshake = mgr.book_counts().is_some();
    let mut pending: Vec<Action> = std::iter::from_fn(|| mgr.poll_action()).collect();
    let mut connected = Vec::new();
    while let Some(action) = pending.pop() {
        let reply = match action {
            Action::RequestAddress { id } => Input::AddressResult {
                id,
                result: Ok(PEER.into()),
            },
            Action::Dial { id, attempt, .. } => Input::DialResult {
                id,
                attempt,
                result: Ok(()),
            },
            Action::NotifyPeer(PeerEvent::Connected { id, .. }) => {
                connected.push(id);
                if !handshake {
                    continue;
                }
                Input::Handshaked { id }
            }
            _ => continue,
        };
        mgr.handle(now, reply).expect("reply");
        pending.extend(std::iter::from_fn(|| mgr.poll_action()));
    }
    connected
}

/// Closes `slot`'s connection and answers everything until its replacement
/// is connected (and, with the book inside, handshaked); returns the
/// replacement's id.
fn cycle(mgr: &mut ConnManager, now: Instant, slot: ConnId) -> ConnId {
    let handshake = mgr.book_counts().is_some();
    let mut next = slot;
    let mut input = Some(Input::Closed { id: slot });
    while let Some(current) = input.take() {
        let _ = mgr.handle(now, current);
        while let Some(action) = mgr.poll_action() {
            match action {
                Action::RequestAddress { id } => {
                    input = Some(Input::AddressResult {
                        id,
                        result: Ok(PEER.into()),
                    });
                }
                Action::Dial { id, attempt, .. } => {
                    input = Some(Input::DialResult {
                        id,
                        attempt,
                        result: Ok(()),
                    });
                }
                Action::NotifyPeer(PeerEvent::Connected { id, .. }) => {
                    next = id;
                    if handshake {
                        input = Some(Input::Handshaked { id });
                    }
                }
                _ => {}
            }
        }
    }
    next
}

/// Cycles the slots of a `running` manager in turn, `step` apart.
fn bench_cycles(
    bencher: Bencher<'_, '_>,
    running: (ConnManager, Instant, Vec<ConnId>),
    step: Duration,
) {
    let (mut mgr, mut now, mut slots) = running;
    let mut i = 0;
    bencher.bench_local(move || {
        now = now + step;
        let slot = i % slots.len();
        slots[slot] = cycle(&mut mgr, now, slots[slot]);
        i += 1;
    });
}

/// One full automatic cycle at the target, nothing else live.
#[divan::bench]
fn automatic_cycle(bencher: Bencher<'_, '_>) {
    bench_cycles(bencher, manager(0), Duration::from_micros(1));
}

/// The same cycle with `live` other connections held.
#[divan::bench(args = [1_000, 100_000, 1_000_000])]
fn automatic_cycle_with_live(bencher: Bencher<'_, '_>, live: u32) {
    bench_cycles(bencher, manager(live), Duration::from_micros(1));
}

/// A running manager at its target of 8 with Bitcoin Core's book inside,
/// fed `known` addresses in distinct /16s; each connection handshaked.
fn manager_with_book(known: u32) -> (ConnManager, Instant, Vec<ConnId>) {
    let config = Config {
        rng_seed: Some(Seed::from_u64(1)),
        // The full-relay slot's cycle alone: no block-relay-only peers and
        // no feelers dialling in between.
        block_relay_outbound: 0,
        feeler_interval: Duration::ZERO,
        ..Config::default()
    };
    let mut mgr = ConnManager::new(config, Instant::ZERO).expect("valid config");
    let now = Instant::from_secs(1_700_000_000);
    let addrs = (0..known)
        .map(|i| {
            let ip = Ipv4Addr::from(0x0B00_0000 + i * 0x1_0000 + i % 251 + 1);
            Advertised::new(SocketAddr::V4(SocketAddrV4::new(ip, 8333)), now)
        })
        .collect();
    mgr.handle(now, Input::Learned { from: None, addrs })
        .expect("learned");
    mgr.handle(now, Input::Start).expect("start");
    let outbound = connect_all(&mut mgr, now);
    assert_eq!(outbound.len(), 8);
    (mgr, now, outbound)
}

/// The cycle with the book inside: `Closed` → `Disconnected` + `Dial` (the
/// book picks) → `DialResult` ok → `Connected` → `Handshaked` → `Ready`
/// (the book's `Good`), with a book of `known` addresses.
#[divan::bench(args = [1_000, 10_000, 60_000])]
fn automatic_cycle_with_book_inside(bencher: Bencher<'_, '_>, known: u32) {
    // A second apart: the book skips addresses tried in the last 10
    // minutes, and a real node does not cycle a slot a million times a
    // second.
    bench_cycles(bencher, manager_with_book(known), Duration::from_secs(1));
}

/// A manager holding `live` inbound connections from distinct addresses,
/// with eviction on and no other limit, so admission does its full work.
fn inbound_manager(live: u32, max_inbound: u32) -> (ConnManager, Instant, Vec<ConnId>) {
    let config = Config {
        automatic_outbound: false,
        max_inbound,
        evict_when_full: true,
        rng_seed: Some(Seed::from_u64(1)),
        ..Config::btcd()
    };
    let mut mgr = ConnManager::new(config, Instant::ZERO).expect("valid config");
    let now = Instant::from_secs(1);
    mgr.handle(now, Input::Start).expect("start");
    let mut ids = Vec::new();
    for i in 0..live {
        let remote = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(0x0B00_0000 + i * 7), 1));
        let id = mgr.handle(
            now,
            Input::Accepted {
                listener: ListenerId(0),
                remote,
                network: None,
            },
        );
        ids.extend(id.ok().flatten());
        while mgr.poll_action().is_some() {}
    }
    (mgr, now, ids)
}

/// One admission decision (and its connection's end) with `live` inbound
/// connections and room to spare: `Accepted` then `Closed`.
#[divan::bench(args = [1_000, 100_000])]
fn inbound_admission(bencher: Bencher<'_, '_>, live: u32) {
    let (mut mgr, now, _) = inbound_manager(live, 2 * live);
    let mut n = 0u32;
    bencher.bench_local(move || {
        n = n.wrapping_add(1);
        let remote = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(0x2000_0000 + n), 1));
        let id = mgr.handle(
            now,
            Input::Accepted {
                listener: ListenerId(0),
                remote,
                network: None,
            },
        );
        while mgr.poll_action().is_some() {}
        if let Ok(Some(id)) = id {
            let _ = mgr.handle(now, Input::Closed { id });
        }
        while mgr.poll_action().is_some() {}
    });
}

/// One eviction: inbound is full at `live`, so every `Accepted` weighs
/// every inbound peer (Bitcoin Core's protections) and evicts one.
#[divan::bench(args = [1_000, 100_000])]
fn inbound_eviction_when_full(bencher: Bencher<'_, '_>, live: u32) {
    let (mut mgr, mut now, _) = inbound_manager(live, live);
    let mut n = 0u32;
    bencher.bench_local(move || {
        n = n.wrapping_add(1);
        now = now + Duration::from_micros(1);
        let remote = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(0x3000_0000 + n * 13), 1));
        let _ = mgr.handle(
            now,
            Input::Accepted {
                listener: ListenerId(0),
                remote,
                network: None,
            },
        );
        while mgr.poll_action().is_some() {}
    });
}
