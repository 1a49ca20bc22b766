//! The core's cost, with no sockets: one full automatic cycle, and the same
//! cycle with 1 k, 100 k and 1 M other live connections.
//!
//! A cycle is what a churning outbound slot costs the manager: `Closed` →
//! `Disconnected` + `RequestAddress` (the replacement) → `AddressResult` →
//! `Dial` → `DialResult` ok → `Connected`. Run with
//! `cargo bench -p connmgr --bench core`; divan prints the time per cycle and
//! (with its allocation profiler) the heap allocations per cycle.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use connmgr::{Action, Config, ConnId, ConnManager, Input, Instant, ListenerId, PeerEvent};
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
        ..Config::btcd()
    };
    let mut mgr = ConnManager::new(config, Instant::ZERO).expect("valid config");
    let now = Instant::from_secs(1);
    mgr.handle(now, Input::Start).expect("start");
    let mut outbound = Vec::new();
    let mut pending = Vec::new();
    while let Some(action) = mgr.poll_action() {
        pending.push(action);
    }
    while let Some(action) = pending.pop() {
        let reply = match action {
            Action::RequestAddress { id } => Input::AddressResult {
                id,
                result: Ok(PEER),
            },
            Action::Dial { id, attempt, .. } => Input::DialResult {
                id,
                attempt,
                result: Ok(()),
            },
            Action::NotifyPeer(PeerEvent::Connected { id, .. }) => {
                outbound.push(id);
                continue;
            }
            _ => continue,
        };
        mgr.handle(now, reply).expect("reply");
        while let Some(action) = mgr.poll_action() {
            pending.push(action);
        }
    }
    for i in 0..live {
        let remote = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(0x0A00_0000 + i), 1));
        mgr.handle(
            now,
            Input::Accepted {
                listener: ListenerId(0),
                remote,
            },
        )
        .expect("accept");
        while mgr.poll_action().is_some() {}
    }
    (mgr, now, outbound)
}

/// Closes `slot`'s connection and answers everything until its replacement
/// is connected; returns the replacement's id.
fn cycle(mgr: &mut ConnManager, now: Instant, slot: ConnId) -> ConnId {
    let mut next = slot;
    let mut input = Some(Input::Closed { id: slot });
    while let Some(current) = input.take() {
        let _ = mgr.handle(now, current);
        while let Some(action) = mgr.poll_action() {
            match action {
                Action::RequestAddress { id } => {
                    input = Some(Input::AddressResult {
                        id,
                        result: Ok(PEER),
                    });
                }
                Action::Dial { id, attempt, .. } => {
                    input = Some(Input::DialResult {
                        id,
                        attempt,
                        result: Ok(()),
                    });
                }
                Action::NotifyPeer(PeerEvent::Connected { id, .. }) => next = id,
                _ => {}
            }
        }
    }
    next
}

fn bench_cycles(bencher: Bencher<'_, '_>, live: u32) {
    let (mut mgr, mut now, mut slots) = manager(live);
    let mut i = 0;
    bencher.bench_local(move || {
        now = now + Duration::from_micros(1);
        let slot = i % slots.len();
        slots[slot] = cycle(&mut mgr, now, slots[slot]);
        i += 1;
    });
}

/// One full automatic cycle at the target, nothing else live.
#[divan::bench]
fn automatic_cycle(bencher: Bencher<'_, '_>) {
    bench_cycles(bencher, 0);
}

/// The same cycle with `live` other connections held.
#[divan::bench(args = [1_000, 100_000, 1_000_000])]
fn automatic_cycle_with_live(bencher: Bencher<'_, '_>, live: u32) {
    bench_cycles(bencher, live);
}
