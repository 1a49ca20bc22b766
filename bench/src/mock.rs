//! The core alone, with no sockets: a pretend runtime that answers every
//! request at once.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use connmgr::{
    Action, Config, ConnId, ConnManager, Host, Input, Instant, ListenerId, PeerAddr, PeerEvent,
};

use crate::alloc;

const PEER: PeerAddr = PeerAddr::new(Host::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)), 8333);

/// The pretend runtime's state: a clock for the core that moves one
/// microsecond per input, so timers and uptime behave as in a real run
/// without reading the system clock, and a reused queue of answers, so the
/// harness allocates nothing in a steady state either.
struct Clock {
    now: Instant,
    scratch: Vec<Input>,
}

impl Clock {
    fn new() -> Clock {
        Clock {
            now: Instant::ZERO,
            scratch: Vec::new(),
        }
    }

    fn tick(&mut self) -> Instant {
        self.now = self.now + Duration::from_micros(1);
        self.now
    }
}

/// Feeds `input`, then answers every address request and dial it causes until
/// nothing is asked. Returns the number of inputs fed and the ids connected.
fn settle(
    mgr: &mut ConnManager,
    clock: &mut Clock,
    input: Input,
    connected: &mut Vec<ConnId>,
) -> u64 {
    let mut inputs = 0;
    let mut queue = std::mem::take(&mut clock.scratch);
    queue.push(input);
    while let Some(input) = queue.pop() {
        inputs += 1;
        let _ = mgr.handle(clock.tick(), input);
        while let Some(action) = mgr.poll_action() {
            match action {
                Action::RequestAddress { id } => {
                    queue.push(Input::AddressResult {
                        id,
                        result: Ok(PEER),
                    });
                }
                Action::Dial { id, attempt, .. } => {
                    queue.push(Input::DialResult {
                        id,
                        attempt,
                        result: Ok(()),
                    });
                }
                Action::NotifyPeer(PeerEvent::Connected { id, .. }) => connected.push(id),
                _ => {}
            }
        }
    }
    clock.scratch = queue;
    inputs
}

/// A running manager with `target` automatic connections established.
fn started(target: u32, max_inbound: u32, clock: &mut Clock) -> (ConnManager, Vec<ConnId>) {
    let config = Config {
        target_outbound: target,
        max_inbound,
        // A fixed secret: every run makes the same choices.
        rng_seed: Some(connmgr::Seed::from_u64(1)),
        ..Config::btcd()
    };
    let mut mgr = ConnManager::new(config, Instant::ZERO).expect("the bench config is valid");
    let mut slots = Vec::new();
    settle(&mut mgr, clock, Input::Start, &mut slots);
    (mgr, slots)
}

/// What a churn run did.
pub struct Churn {
    pub conns: u64,
    pub secs: f64,
}

/// Closes connections round-robin over `n` slots; each is replaced and
/// reconnected. Stops after `conns` connections or `timeout`.
pub fn churn(n: u32, conns: u64, timeout: Duration) -> Churn {
    let mut clock = Clock::new();
    let (mut mgr, mut slots) = started(n, 0, &mut clock);
    let mut replaced = Vec::with_capacity(1);
    let start = std::time::Instant::now();
    let mut done = 0;
    'run: while done < conns {
        for slot in slots.iter_mut() {
            replaced.clear();
            settle(
                &mut mgr,
                &mut clock,
                Input::Closed { id: *slot },
                &mut replaced,
            );
            if let Some(&id) = replaced.first() {
                *slot = id;
            }
            done += 1;
            if done >= conns || (done % 65_536 == 0 && start.elapsed() > timeout) {
                break 'run;
            }
        }
    }
    Churn {
        conns: done,
        secs: start.elapsed().as_secs_f64(),
    }
}

/// What a scale run measured.
pub struct Scale {
    pub ns_per_input: f64,
    pub bytes_per_conn: f64,
}

/// Holds `live` inbound connections, then measures the churn cycle of 8
/// automatic slots among them.
pub fn scale(live: u32, timeout: Duration) -> Scale {
    let mut clock = Clock::new();
    let before = alloc::live_bytes();
    let (mut mgr, mut slots) = started(8, live, &mut clock);
    let mut ignore = Vec::new();
    for i in 0..live {
        let remote = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(0x0A00_0000 + i), 1));
        settle(
            &mut mgr,
            &mut clock,
            Input::Accepted {
                listener: ListenerId(0),
                remote,
                network: None,
            },
            &mut ignore,
        );
    }
    let bytes = alloc::live_bytes().saturating_sub(before);
    let bytes_per_conn = bytes as f64 / f64::from(live.max(1));

    let mut replaced = Vec::with_capacity(1);
    let mut inputs = 0u64;
    let start = std::time::Instant::now();
    for round in 0..200_000u32 {
        let slot = &mut slots[round as usize % 8];
        replaced.clear();
        inputs += settle(
            &mut mgr,
            &mut clock,
            Input::Closed { id: *slot },
            &mut replaced,
        );
        if let Some(&id) = replaced.first() {
            *slot = id;
        }
        if round % 4096 == 0 && start.elapsed() > timeout {
            break;
        }
    }
    let ns_per_input = start.elapsed().as_nanos() as f64 / inputs as f64;
    Scale {
        ns_per_input,
        bytes_per_conn,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A short run of each mode: the benchmark's own set-up must stay
    /// valid as the core's rules change (a missing seed once made every
    /// run panic).
    #[test]
    fn churn_and_scale_run_to_the_end() {
        let churn = churn(8, 2_000, Duration::from_secs(60));
        assert_eq!(churn.conns, 2_000);
        let scale = scale(1_000, Duration::from_secs(60));
        assert!(scale.ns_per_input > 0.0 && scale.bytes_per_conn > 0.0);
    }
}
