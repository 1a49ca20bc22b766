//! The core alone, with no sockets: a pretend runtime that answers every
//! request at once.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use connmgr::{
    Action, Config, ConnId, ConnManager, Host, Ignored, Input, Instant, ListenerId, PeerAddr,
    PeerEvent,
};

use crate::alloc;

/// What the pretend runtime drives: the core alone, or the core inside the
/// wrapper every runtime drives it through (`connmgr_net::Core`: trace
/// recording, metrics).
pub trait Driven {
    fn handle(&mut self, now: Instant, input: Input) -> Result<Option<ConnId>, Ignored>;
    fn poll_action(&mut self) -> Option<Action>;
}

impl Driven for ConnManager {
    fn handle(&mut self, now: Instant, input: Input) -> Result<Option<ConnId>, Ignored> {
        ConnManager::handle(self, now, input)
    }
    fn poll_action(&mut self) -> Option<Action> {
        ConnManager::poll_action(self)
    }
}

impl Driven for connmgr_net::Core {
    fn handle(&mut self, now: Instant, input: Input) -> Result<Option<ConnId>, Ignored> {
        connmgr_net::Core::handle(self, now, input)
    }
    fn poll_action(&mut self) -> Option<Action> {
        connmgr_net::Core::poll_action(self)
    }
}

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
    mgr: &mut impl Driven,
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
/// The bench's config: btcd's, with `target` automatic slots and a fixed
/// secret, so every run makes the same choices.
fn config(target: u32, max_inbound: u32) -> Config {
    Config {
        target_outbound: target,
        max_inbound,
        rng_seed: Some(connmgr::Seed::from_u64(1)),
        ..Config::btcd()
    }
}

fn started(target: u32, max_inbound: u32, clock: &mut Clock) -> (ConnManager, Vec<ConnId>) {
    let mgr = ConnManager::new(config(target, max_inbound), Instant::ZERO)
        .expect("the bench config is valid");
    start(mgr, clock)
}

/// Starts `mgr` and settles its first connections.
fn start<D: Driven>(mut mgr: D, clock: &mut Clock) -> (D, Vec<ConnId>) {
    let mut slots = Vec::new();
    settle(&mut mgr, clock, Input::Start, &mut slots);
    (mgr, slots)
}

/// A runtime that takes nothing over: `Builder::build` hands back the
/// prepared manager, wrapped as every runtime drives it.
#[derive(Default)]
struct Bare;

impl connmgr_net::Launch for Bare {
    type Built = connmgr_net::Prepared;
    type Error = connmgr_net::BuildError;
    fn launch(self, prepared: connmgr_net::Prepared) -> Result<Self::Built, Self::Error> {
        Ok(prepared)
    }
}

/// The manager as the runtimes drive it, reporting metrics or not (with
/// `metrics`, install a recorder first, or the handles do nothing).
pub fn wrapped(target: u32, metrics: bool) -> connmgr_net::Core {
    let builder = connmgr_net::Builder::<Bare>::new(config(target, 0));
    #[cfg(feature = "metrics")]
    let builder = builder.metrics(metrics);
    #[cfg(not(feature = "metrics"))]
    assert!(!metrics, "built without the metrics feature");
    builder.build().expect("the bench config builds").core
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
    let (mgr, slots) = started(n, 0, &mut clock);
    churn_of(mgr, slots, clock, conns, timeout)
}

/// [`churn`] through the runtimes' wrapper (see [`wrapped`]).
pub fn churn_wrapped(core: connmgr_net::Core, conns: u64, timeout: Duration) -> Churn {
    let mut clock = Clock::new();
    // The builder made the manager at the wall clock's Unix time.
    clock.now = core.manager().now();
    let (core, slots) = start(core, &mut clock);
    churn_of(core, slots, clock, conns, timeout)
}

fn churn_of<D: Driven>(
    mut mgr: D,
    mut slots: Vec<ConnId>,
    mut clock: Clock,
    conns: u64,
    timeout: Duration,
) -> Churn {
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
        let wrapped = churn_wrapped(wrapped(8, false), 2_000, Duration::from_secs(60));
        assert_eq!(wrapped.conns, 2_000);
    }
}
