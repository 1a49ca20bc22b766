//! Property tests over random input sequences, nonsense included: unknown
//! ids, duplicate and late results, results before requests, time going
//! backwards. After every step the shared invariant checker judges the
//! manager, a tick at `poll_timeout` must make progress, and every sequence is
//! run twice to check determinism.

use std::collections::BTreeSet;
use std::time::Duration;

use std::net::SocketAddr;

use connmgr::{
    AcceptError, Action, AddressError, Config, ConnId, ConnManager, ConnState, DialError, Input,
    Instant, ListenerId, PeerAddr, PeerEvent, Seed, Subnet,
};
use connmgr_sim::Checker;
use proptest::prelude::*;

/// One step of a generated run. Most steps answer something the manager
/// really asked for, so runs go deep; the rest are raw, possibly nonsensical
/// inputs.
#[derive(Clone, Debug)]
enum Step {
    AnswerAddress { pick: usize, addr: Option<usize> },
    AnswerDial { pick: usize, ok: bool },
    CloseConnected { pick: usize },
    TickAtTimeout,
    Raw(Input),
}

const ADDRS: [&str; 8] = [
    "203.0.1.1:8333",
    "203.0.2.2:8333",
    "203.0.2.3:8333",
    "198.51.7.1:18333",
    "127.0.0.1:8333",
    "10.0.0.1:8333",
    "[2001:470:1::1]:8333",
    "[2a00:1450::1]:8333",
];

/// Pool address `i`, as the context wants it (`SocketAddr` for an
/// accepted peer, `PeerAddr` for a dial).
fn addr<A: std::str::FromStr>(i: usize) -> A
where
    A::Err: std::fmt::Debug,
{
    ADDRS[i % ADDRS.len()].parse().unwrap()
}

fn config() -> impl Strategy<Value = Config> {
    (
        1u32..5,
        any::<bool>(),
        1u32..5,
        1u64..2_000,
        0u32..3,
        0u32..4,
        0u64..3_000,
        any::<bool>(),
    )
        .prop_map(
            |(target, auto, failures, retry_ms, per_group, max_inbound, stable_ms, btcd)| {
                let base = if btcd {
                    Config::btcd()
                } else {
                    Config::default()
                };
                Config {
                    target_outbound: target,
                    automatic_outbound: auto,
                    max_failed_attempts: failures,
                    retry_interval: Duration::from_millis(retry_ms),
                    max_retry_interval: Duration::from_millis(retry_ms * 3),
                    throttle_interval: Duration::from_millis(retry_ms),
                    dial_timeout: Duration::from_millis(retry_ms * 2),
                    max_outbound_per_group: per_group,
                    max_inbound,
                    stable_after: Duration::from_millis(stable_ms),
                    max_address_retries: 2,
                    ..base
                }
            },
        )
}

fn id() -> impl Strategy<Value = ConnId> {
    (0u64..24).prop_map(ConnId::from_raw)
}

fn raw_input() -> impl Strategy<Value = Input> {
    let dial_error = prop_oneof![Just(DialError::Refused), Just(DialError::TimedOut)];
    prop_oneof![
        Just(Input::Start),
        Just(Input::Stop),
        (0usize..8, any::<bool>()).prop_map(|(a, permanent)| Input::Connect {
            addr: addr(a),
            permanent
        }),
        Just(Input::NewConnReq),
        id().prop_map(|id| Input::Disconnect { id }),
        id().prop_map(|id| Input::Remove { id }),
        (id(), proptest::option::of(0usize..8)).prop_map(|(id, a)| Input::AddressResult {
            id,
            result: a.map(addr).ok_or(AddressError::Empty),
        }),
        (id(), 0u32..4, proptest::option::of(dial_error)).prop_map(|(id, attempt, e)| {
            Input::DialResult {
                id,
                attempt,
                result: e.map_or(Ok(()), Err),
            }
        }),
        (0u32..3, 0usize..8).prop_map(|(l, a)| Input::Accepted {
            listener: ListenerId(l),
            remote: addr(a),
            network: None,
        }),
        (0u32..3).prop_map(|l| Input::AcceptFailed {
            listener: ListenerId(l),
            error: AcceptError::TooManyOpenFiles,
        }),
        id().prop_map(|id| Input::Closed { id }),
        Just(Input::Tick),
        (0usize..8, 0u64..5_000).prop_map(|(a, ms)| Input::Ban {
            subnet: Subnet::host(addr::<SocketAddr>(a).ip()),
            until: Instant::from_millis(ms),
        }),
        (0usize..8).prop_map(|a| Input::Unban {
            subnet: Subnet::host(addr::<SocketAddr>(a).ip())
        }),
        (id(), 0u32..80, 0u32..80).prop_map(|(id, persistent, transient)| Input::Misbehaved {
            id,
            persistent,
            transient
        }),
        id().prop_map(|id| Input::Handshaked { id }),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (any::<usize>(), proptest::option::weighted(0.9, 0usize..8))
            .prop_map(|(pick, addr)| Step::AnswerAddress { pick, addr }),
        3 => (any::<usize>(), any::<bool>()).prop_map(|(pick, ok)| Step::AnswerDial { pick, ok }),
        1 => any::<usize>().prop_map(|pick| Step::CloseConnected { pick }),
        2 => Just(Step::TickAtTimeout),
        3 => raw_input().prop_map(Step::Raw),
    ]
}

/// Time steps in milliseconds; negative ones go backwards.
fn steps() -> impl Strategy<Value = Vec<(i64, Step)>> {
    proptest::collection::vec((-50i64..500, step()), 1..150)
}

/// What the pretend runtime knows, to turn steps into meaningful inputs.
#[derive(Default)]
struct Runtime {
    asked_address: BTreeSet<ConnId>,
    connected: BTreeSet<ConnId>,
}

fn pick<T: Copy>(set: &BTreeSet<T>, i: usize) -> Option<T> {
    if set.is_empty() {
        None
    } else {
        set.iter().nth(i % set.len()).copied()
    }
}

/// Runs the steps under the shared invariant checker; returns the action log.
fn run(config: &Config, steps: &[(i64, Step)]) -> Result<Vec<(Instant, Action)>, TestCaseError> {
    let mut seeded = config.clone();
    seeded.rng_seed.get_or_insert(Seed::from_u64(0));
    let mut mgr = ConnManager::new(seeded, Instant::ZERO).unwrap();
    let mut checker = Checker::new(config);
    let mut now = Instant::ZERO;
    let mut rt = Runtime::default();
    let mut log = Vec::new();
    for (delta, step) in steps {
        now = if *delta >= 0 {
            now + Duration::from_millis(*delta as u64)
        } else {
            now - Duration::from_millis(delta.unsigned_abs())
        };
        let input = match step {
            Step::AnswerAddress { pick: i, addr: a } => match pick(&rt.asked_address, *i) {
                Some(id) => Input::AddressResult {
                    id,
                    result: a.map(addr).ok_or(AddressError::Empty),
                },
                None => Input::Tick,
            },
            Step::AnswerDial { pick: i, ok } => match pick(checker.outstanding_dials(), *i) {
                Some((id, attempt)) => Input::DialResult {
                    id,
                    attempt,
                    result: if *ok { Ok(()) } else { Err(DialError::Refused) },
                },
                None => Input::Tick,
            },
            Step::CloseConnected { pick: i } => match pick(&rt.connected, *i) {
                Some(id) => Input::Closed { id },
                None => Input::Tick,
            },
            Step::TickAtTimeout => {
                if let Some(at) = mgr.poll_timeout() {
                    now = now.max(at);
                }
                Input::Tick
            }
            Step::Raw(input) => input.clone(),
        };
        let timeout_before = mgr.poll_timeout();
        let effective_now = now.max(mgr.now());
        let result = mgr.handle(now, input.clone());
        let mut actions = Vec::new();
        while let Some(action) = mgr.poll_action() {
            actions.push(action);
        }
        if let (Input::Tick, Some(at)) = (&input, timeout_before) {
            if effective_now >= at {
                prop_assert!(
                    !actions.is_empty(),
                    "a tick at or after poll_timeout made no progress"
                );
            }
        }
        if let Err(violation) = checker.observe(now, &input, &result, &actions, &mgr) {
            return Err(TestCaseError::fail(format!(
                "{violation} (after {input:?})"
            )));
        }
        if let (Input::AddressResult { id, .. }, Ok(_)) = (&input, &result) {
            rt.asked_address.remove(id);
        }
        for action in &actions {
            match action {
                Action::RequestAddress { id } => {
                    rt.asked_address.insert(*id);
                }
                Action::NotifyPeer(PeerEvent::Connected { id, .. }) => {
                    rt.connected.insert(*id);
                }
                Action::NotifyPeer(
                    PeerEvent::Disconnected { id, .. } | PeerEvent::GaveUp { id, .. },
                ) => {
                    rt.connected.remove(id);
                    rt.asked_address.remove(id);
                }
                _ => {}
            }
            log.push((now, action.clone()));
        }
    }
    Ok(log)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_and_runs_are_deterministic(config in config(), steps in steps()) {
        let first = run(&config, &steps)?;
        let second = run(&config, &steps)?;
        prop_assert_eq!(first, second);
    }
}

/// The state query agrees with the events: finished ids report `Finished`.
#[test]
fn finished_ids_report_finished_and_unknown_ids_unknown() {
    let config = Config {
        rng_seed: Some(Seed::from_u64(0)),
        ..Config::btcd()
    };
    let mut mgr = ConnManager::new(config, Instant::ZERO).unwrap();
    assert_eq!(mgr.state(ConnId::from_raw(1)), ConnState::Unknown);
    let id = mgr
        .connect(Instant::ZERO, addr::<PeerAddr>(0), false)
        .unwrap();
    mgr.remove(Instant::ZERO, id).unwrap();
    assert_eq!(mgr.state(id), ConnState::Finished);
    assert_eq!(mgr.state(ConnId::from_raw(0)), ConnState::Unknown);
}
