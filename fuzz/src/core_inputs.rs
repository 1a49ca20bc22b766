//! Target `core_inputs`: a valid `Config` and a sequence of inputs driven
//! through a `ConnManager`, under the shared invariant checker.

use std::collections::BTreeSet;
use std::net::{Ipv6Addr, SocketAddr};

use connmgr::{Host, Network, PeerAddr, Proxy};
use std::time::Duration;

use arbitrary::{Arbitrary, Result as DecodeResult, Unstructured};
use connmgr::{
    AcceptError, Action, AddressBook, AddressError, Advertised, Backoff, Config, ConnId,
    ConnManager, DialError, Ignored, Input, Instant, ListenerId, PeerEvent, PeerFact, Seed, Subnet,
};
use connmgr_sim::Checker;

/// Most steps one input decodes to; beyond that the rest is ignored.
const MAX_STEPS: usize = 1_000;

/// The addresses the runtime answers with: the IP pool, and an onion and an
/// I2P address, which only a proxy reaches.
fn pool_addr(i: u8) -> PeerAddr {
    match i % 10 {
        8 => PeerAddr::new(Host::Onion([0x79; 32]), 8333),
        9 => PeerAddr::new(Host::I2p([0xa2; 32]), 0),
        i => PeerAddr::from(pool_ip(i)),
    }
}

/// The IP pool, which is also where inbound peers come from: two in one
/// /16, a local one, a private one, two IPv6 ones, so group limits and
/// exemptions come into play.
fn pool_ip(i: u8) -> SocketAddr {
    match i % 8 {
        0 => SocketAddr::from(([203, 0, 1, 1], 8333)),
        1 => SocketAddr::from(([203, 0, 2, 2], 8333)),
        2 => SocketAddr::from(([203, 0, 2, 3], 8333)),
        3 => SocketAddr::from(([198, 51, 7, 1], 18333)),
        4 => SocketAddr::from(([127, 0, 0, 1], 8333)),
        5 => SocketAddr::from(([10, 0, 0, 1], 8333)),
        6 => SocketAddr::from((Ipv6Addr::new(0x2001, 0x470, 1, 0, 0, 0, 0, 1), 8333)),
        _ => SocketAddr::from((Ipv6Addr::new(0x2a00, 0x1450, 0, 0, 0, 0, 0, 1), 8333)),
    }
}

/// A valid config from a few small numbers, like `config()` in
/// `tests/tests/properties.rs`: small targets, limits and intervals make runs
/// reach throttling, backoff caps, group limits, inbound limits, eviction and
/// bans in a few steps. (The derived `Config: Arbitrary` mostly gives
/// configs that fail validation.) Fields not set here keep their default, so
/// a new field does not break the target.
fn arbitrary_config(u: &mut Unstructured<'_>) -> DecodeResult<Config> {
    let mut c = Config::default();
    let retry_ms: u64 = u.int_in_range(1..=2_000)?;
    c.retry_interval = ms(retry_ms);
    c.max_retry_interval = ms(retry_ms * u.int_in_range(1..=4)?);
    let pause_ms: u64 = u.int_in_range(0..=10)?;
    c.accept_pause_initial = ms(pause_ms);
    c.accept_pause_max = ms(pause_ms * u.int_in_range(1..=200)?);
    c.target_outbound = u.int_in_range(1..=4)?;
    c.block_relay_outbound = u.int_in_range(0..=2)?;
    c.automatic_outbound = u.arbitrary()?;
    c.max_failed_attempts = u.int_in_range(1..=4)?;
    c.throttle_interval = ms(u.int_in_range(1..=2_000)?);
    c.dial_timeout = ms(u.int_in_range(1..=4_000)?);
    c.max_outbound_per_group = u.int_in_range(0..=2)?;
    // Bitcoin Core's eviction chooses only among more than 20.
    c.max_inbound = match u.ratio(1u8, 8)? {
        true => u.int_in_range(21..=32)?,
        false => u.int_in_range(0..=4)?,
    };
    // btcd forgives on every success (zero); half the runs do that.
    c.stable_after = if u.arbitrary()? {
        Duration::ZERO
    } else {
        ms(u.int_in_range(1..=3_000)?)
    };
    c.max_address_retries = u.int_in_range(0..=2)?;
    // Which book, from a value already decoded: every kind is exercised.
    c.address_book = match c.max_address_retries {
        0 => AddressBook::External,
        1 => AddressBook::Btcd,
        _ => AddressBook::Core,
    };
    let seed: u8 = u.arbitrary()?;
    c.rng_seed = Some(Seed::from_u64(u64::from(seed)));
    // Half the runs with btcd's book use bitcoind 0.9.3's rules (inbound
    // peers to tried, no addr limit); from the seed, so that committed
    // inputs decode as before.
    if c.address_book == AddressBook::Btcd && seed % 2 == 1 {
        c.address_book = AddressBook::Bitcoind093;
    }
    c.backoff = if u.arbitrary()? {
        Backoff::Linear
    } else {
        Backoff::ExponentialJitter
    };
    // Half the runs wait for handshakes (three dial timeouts); derived from
    // a value already decoded, so that committed inputs decode as before.
    c.handshake_timeout = match c.backoff {
        Backoff::Linear => Duration::ZERO,
        Backoff::ExponentialJitter => c.dial_timeout * 3,
    };
    c.max_inbound_per_ip = u.int_in_range(0..=2)?;
    c.max_inbound_per_group = u.int_in_range(0..=3)?;
    c.inbound_rate_per_group = u.int_in_range(0..=3)?;
    c.inbound_burst_per_group = u.int_in_range(1..=3)?;
    c.evict_when_full = u.arbitrary()?;
    c.allowlist = match u.int_in_range(0u8..=3)? {
        0 => vec![Subnet::host(pool_ip(u.arbitrary()?).ip())],
        1 => vec![pool_subnet(u.arbitrary()?, true)],
        _ => Vec::new(),
    };
    c.ban_threshold = if u.arbitrary()? {
        0
    } else {
        u.int_in_range(1..=100)?
    };
    c.ban_duration = ms(u.int_in_range(1..=5_000)?);
    // Network policy, last so that earlier fields decode as before: Tor
    // through a proxy (reachable or for manual connections only), the
    // one-per-network rule, and small per-network quotas.
    let policy: u8 = u.arbitrary()?;
    if policy & 1 == 1 {
        c.networks.onion.proxy = Some(Proxy::new(SocketAddr::from(([127, 0, 0, 1], 9050))));
        c.networks.onion.reachable = policy & 2 == 2;
        c.networks.onion.min_outbound = u32::from(policy & 16 == 16);
    }
    c.networks.one_per_network = policy & 4 == 4;
    if policy & 8 == 8 {
        c.networks.ipv4.max_outbound = Some(u32::from(policy >> 6));
    }
    if policy & 32 == 32 {
        c.networks.ipv4.max_inbound = Some(1);
        c.networks.onion.max_inbound = Some(1);
    }
    Ok(c)
}

/// The pool address `i` alone, or its /16 (/32 for IPv6) when `wide`.
fn pool_subnet(i: u8, wide: bool) -> Subnet {
    let ip = pool_ip(i).ip();
    if wide {
        let prefix = if ip.is_ipv4() { 16 } else { 32 };
        Subnet::new(ip, prefix).unwrap_or(Subnet::host(ip))
    } else {
        Subnet::host(ip)
    }
}

/// How the clock moves before a step.
#[derive(Clone, Copy, Debug)]
pub(crate) enum TimeStep {
    Forward(Duration),
    /// Time going backwards, which the manager must clamp.
    Back(Duration),
    /// The clock jumps anywhere, to the end of time included.
    Jump(Instant),
}

impl TimeStep {
    fn apply(self, now: Instant) -> Instant {
        match self {
            TimeStep::Forward(d) => now + d,
            TimeStep::Back(d) => now - d,
            TimeStep::Jump(at) => at,
        }
    }
}

impl<'a> Arbitrary<'a> for TimeStep {
    fn arbitrary(u: &mut Unstructured<'a>) -> DecodeResult<TimeStep> {
        Ok(match u.int_in_range(0u8..=31)? {
            0 | 1 => TimeStep::Back(ms(u.int_in_range(0..=1_000)?)),
            2 | 3 => TimeStep::Forward(ms(u.int_in_range(0..=600_000)?)),
            4 => TimeStep::Jump(Instant::from_nanos(u.arbitrary()?)),
            _ => TimeStep::Forward(ms(u.int_in_range(0..=500)?)),
        })
    }
}

/// One step of a run. Most answer what the manager really asked for, so
/// runs go deep; the rest are plausible misuse or raw arbitrary inputs
/// (unknown ids, duplicates, results nobody asked for).
#[derive(Clone, Debug)]
pub(crate) enum Step {
    /// Answer one pending `RequestAddress` from the pool, or with an error.
    AnswerAddress {
        pick: u8,
        result: Result<u8, AddressError>,
    },
    /// Answer one pending `RequestAddress` with any address at all.
    AnswerAddressAnywhere { pick: u8, addr: PeerAddr },
    /// Answer one outstanding `Dial`.
    AnswerDial {
        pick: u8,
        result: Result<(), DialError>,
    },
    /// An established connection ends.
    CloseConnected { pick: u8 },
    /// Move the clock to `poll_timeout` and tick.
    TickAtTimeout,
    /// `Disconnect` or `Remove` an id the manager has named.
    Drop { pick: u8, remove: bool },
    /// `Connect` to a pool address.
    Connect { addr: u8, permanent: bool },
    /// A listener accepted a connection from a pool address.
    Accept { listener: u8, addr: u8 },
    /// A listener's accept failed.
    AcceptFailed { listener: u8, error: AcceptError },
    /// A result for any dial ever emitted: late, duplicate or cancelled.
    Stale {
        pick: u8,
        result: Result<(), DialError>,
    },
    /// `Start`, `Stop` or `NewConnReq`.
    Lifecycle(u8),
    /// Ban a pool address (or its /16) for a while.
    Ban { addr: u8, wide: bool, millis: u16 },
    /// Lift such a ban.
    Unban { addr: u8, wide: bool },
    /// A connected peer misbehaved.
    Misbehave {
        pick: u8,
        persistent: u8,
        transient: u8,
    },
    /// A connected peer completed its handshake.
    Handshake { pick: u8 },
    /// Addresses advertised by a connected peer (or the application), with
    /// claimed times around now; `flood` sends one more than a message may
    /// carry.
    Learn {
        from: Option<u8>,
        addrs: Vec<(u16, i32)>,
        flood: bool,
    },
    /// A connected peer asks for addresses.
    AskAddresses { pick: u8 },
    /// The chain tip goes stale, or advances again.
    TipStale { stale: bool },
    /// A connected peer is named the least useful.
    LeastUseful { pick: u8 },
    /// Something is learned about a connected peer.
    Fact { pick: u8, fact: PeerFact },
    /// An address fetch to a pool address.
    FetchAddresses { addr: u8 },
    /// Any input at all.
    Raw(Input),
}

impl<'a> Arbitrary<'a> for Step {
    fn arbitrary(u: &mut Unstructured<'a>) -> DecodeResult<Step> {
        let dial_result = |u: &mut Unstructured<'a>| -> DecodeResult<Result<(), DialError>> {
            Ok(if u.arbitrary()? {
                Ok(())
            } else {
                Err(u.arbitrary()?)
            })
        };
        Ok(match u.int_in_range(0u8..=28)? {
            0..=3 => Step::AnswerAddress {
                pick: u.arbitrary()?,
                result: if u.ratio(9u8, 10)? {
                    Ok(u.arbitrary()?)
                } else {
                    Err(u.arbitrary()?)
                },
            },
            4 => Step::AnswerAddressAnywhere {
                pick: u.arbitrary()?,
                addr: u.arbitrary()?,
            },
            5..=8 => Step::AnswerDial {
                pick: u.arbitrary()?,
                result: dial_result(u)?,
            },
            9 => Step::CloseConnected {
                pick: u.arbitrary()?,
            },
            10 | 11 => Step::TickAtTimeout,
            12 => Step::Drop {
                pick: u.arbitrary()?,
                remove: u.arbitrary()?,
            },
            13 => Step::Connect {
                addr: u.arbitrary()?,
                permanent: u.arbitrary()?,
            },
            14 => Step::Accept {
                listener: u.arbitrary()?,
                addr: u.arbitrary()?,
            },
            15 => Step::AcceptFailed {
                listener: u.arbitrary()?,
                error: u.arbitrary()?,
            },
            16 => Step::Stale {
                pick: u.arbitrary()?,
                result: dial_result(u)?,
            },
            17 => Step::Lifecycle(u.arbitrary()?),
            18 => Step::Ban {
                addr: u.arbitrary()?,
                wide: u.arbitrary()?,
                millis: u.arbitrary()?,
            },
            19 => Step::Unban {
                addr: u.arbitrary()?,
                wide: u.arbitrary()?,
            },
            20 => Step::Misbehave {
                pick: u.arbitrary()?,
                persistent: u.arbitrary()?,
                transient: u.arbitrary()?,
            },
            21 => Step::Handshake {
                pick: u.arbitrary()?,
            },
            23 => Step::Learn {
                from: u.arbitrary()?,
                addrs: (0..u.int_in_range(0..=12)?)
                    .map(|_| Ok((u.arbitrary()?, u.arbitrary()?)))
                    .collect::<DecodeResult<_>>()?,
                flood: u.ratio(1u8, 16)?,
            },
            24 => Step::AskAddresses {
                pick: u.arbitrary()?,
            },
            25 => Step::TipStale {
                stale: u.arbitrary()?,
            },
            26 => Step::LeastUseful {
                pick: u.arbitrary()?,
            },
            27 => Step::Fact {
                pick: u.arbitrary()?,
                fact: u.arbitrary()?,
            },
            28 => Step::FetchAddresses {
                addr: u.arbitrary()?,
            },
            _ => Step::Raw(u.arbitrary()?),
        })
    }
}

pub(crate) fn decode_core(data: &[u8]) -> (Config, Vec<(TimeStep, Step)>) {
    let mut u = Unstructured::new(data);
    // An empty Unstructured decodes to the smallest values, never an error.
    let config = arbitrary_config(&mut u).unwrap_or_default();
    let mut steps = Vec::new();
    while !u.is_empty() && steps.len() < MAX_STEPS {
        match (TimeStep::arbitrary(&mut u), Step::arbitrary(&mut u)) {
            (Ok(dt), Ok(step)) => steps.push((dt, step)),
            _ => break,
        }
    }
    (config, steps)
}

/// What the pretend runtime knows, to turn steps into meaningful inputs.
#[derive(Default)]
struct Runtime {
    asked_address: BTreeSet<ConnId>,
    connected: BTreeSet<ConnId>,
    /// Every id the manager has named.
    named: BTreeSet<ConnId>,
    /// Every dial ever emitted.
    dialled: BTreeSet<(ConnId, u32)>,
}

fn pick<T: Copy>(set: &BTreeSet<T>, i: u8) -> Option<T> {
    if set.is_empty() {
        None
    } else {
        set.iter().nth(usize::from(i) % set.len()).copied()
    }
}

impl Runtime {
    /// The input for `step`; may move the clock (`TickAtTimeout`).
    fn input(&self, step: &Step, checker: &Checker, mgr: &ConnManager, now: &mut Instant) -> Input {
        match *step {
            Step::AnswerAddress { pick: i, result } => match pick(&self.asked_address, i) {
                Some(id) => Input::AddressResult {
                    id,
                    result: result.map(pool_addr),
                },
                None => Input::Tick,
            },
            Step::AnswerAddressAnywhere { pick: i, addr } => match pick(&self.asked_address, i) {
                Some(id) => Input::AddressResult {
                    id,
                    result: Ok(addr),
                },
                None => Input::Tick,
            },
            Step::AnswerDial { pick: i, result } => match pick(checker.outstanding_dials(), i) {
                Some((id, attempt)) => Input::DialResult {
                    id,
                    attempt,
                    result,
                },
                None => Input::Tick,
            },
            Step::CloseConnected { pick: i } => match pick(&self.connected, i) {
                Some(id) => Input::Closed { id },
                None => Input::Tick,
            },
            Step::TickAtTimeout => {
                if let Some(at) = mgr.poll_timeout() {
                    *now = (*now).max(at);
                }
                Input::Tick
            }
            Step::Drop { pick: i, remove } => match pick(&self.named, i) {
                Some(id) if remove => Input::Remove { id },
                Some(id) => Input::Disconnect { id },
                None => Input::Tick,
            },
            Step::Connect { addr, permanent } => Input::Connect {
                addr: pool_addr(addr),
                permanent,
            },
            Step::Accept { listener, addr } => Input::Accepted {
                listener: ListenerId(u32::from(listener % 3)),
                remote: pool_ip(addr),
                // Listener 2 is an onion service's target.
                network: (listener % 3 == 2).then_some(Network::Onion),
            },
            Step::AcceptFailed { listener, error } => Input::AcceptFailed {
                listener: ListenerId(u32::from(listener % 3)),
                error,
            },
            Step::Stale { pick: i, result } => match pick(&self.dialled, i) {
                Some((id, attempt)) => Input::DialResult {
                    id,
                    attempt,
                    result,
                },
                None => Input::Tick,
            },
            Step::Lifecycle(k) => match k % 5 {
                0 | 1 => Input::Start,
                2 | 3 => Input::NewConnReq,
                _ => Input::Stop,
            },
            Step::Ban { addr, wide, millis } => Input::Ban {
                subnet: pool_subnet(addr, wide),
                until: *now + ms(millis.into()),
            },
            Step::Unban { addr, wide } => Input::Unban {
                subnet: pool_subnet(addr, wide),
            },
            Step::Misbehave {
                pick: i,
                persistent,
                transient,
            } => match pick(&self.connected, i) {
                Some(id) => Input::Misbehaved {
                    id,
                    persistent: persistent.into(),
                    transient: transient.into(),
                },
                None => Input::Tick,
            },
            Step::Handshake { pick: i } => match pick(&self.connected, i) {
                Some(id) => Input::Handshaked { id },
                None => Input::Tick,
            },
            Step::TipStale { stale } => Input::TipStale { stale },
            Step::LeastUseful { pick: i } => match pick(&self.connected, i) {
                Some(id) => Input::LeastUseful { id },
                None => Input::Tick,
            },
            Step::FetchAddresses { addr } => Input::FetchAddresses {
                addr: pool_addr(addr),
            },
            Step::Fact { pick: i, fact } => match pick(&self.connected, i) {
                Some(id) => Input::PeerFact { id, fact },
                None => Input::Tick,
            },
            Step::Learn {
                from,
                ref addrs,
                flood,
            } => {
                let from = match from {
                    Some(i) => match pick(&self.connected, i) {
                        Some(id) => Some(id),
                        None => return Input::Tick,
                    },
                    None => None,
                };
                let count = if flood { 1001 } else { addrs.len() };
                let addrs = (0..count)
                    .map(|k| {
                        let (n, offset) = addrs.get(k).copied().unwrap_or((k as u16, 0));
                        let seen = if offset >= 0 {
                            *now + Duration::from_secs(offset as u64)
                        } else {
                            *now - Duration::from_secs(offset.unsigned_abs().into())
                        };
                        Advertised::new(learnt_addr(n), seen)
                    })
                    .collect();
                Input::Learned { from, addrs }
            }
            Step::AskAddresses { pick: i } => match pick(&self.connected, i) {
                Some(id) => Input::AddressesRequested { id },
                None => Input::Tick,
            },
            Step::Raw(ref input) => input.clone(),
        }
    }

    fn learn(
        &mut self,
        input: &Input,
        result: &Result<Option<ConnId>, Ignored>,
        actions: &[Action],
    ) {
        if let (Input::AddressResult { id, .. }, Ok(_)) = (input, result) {
            self.asked_address.remove(id);
        }
        if let Ok(Some(id)) = result {
            self.named.insert(*id);
        }
        for action in actions {
            match action {
                Action::RequestAddress { id } => {
                    self.asked_address.insert(*id);
                    self.named.insert(*id);
                }
                Action::Dial { id, attempt, .. } => {
                    self.dialled.insert((*id, *attempt));
                }
                Action::NotifyPeer(PeerEvent::Connected { id, .. }) => {
                    self.connected.insert(*id);
                }
                Action::NotifyPeer(
                    PeerEvent::Disconnected { id, .. } | PeerEvent::GaveUp { id, .. },
                ) => {
                    self.connected.remove(id);
                    self.asked_address.remove(id);
                }
                _ => {}
            }
        }
    }
}

/// Everything a run produced, step by step: the time, what `handle`
/// returned, and the actions drained.
type CoreLog = Vec<(Instant, Result<Option<ConnId>, Ignored>, Vec<Action>)>;

/// Runs the steps under the shared invariant checker; the log, or the first
/// broken promise.
/// Drives `steps` through a new manager under the checker; with
/// `check_book_at_end`, the book's full check runs once more at the end
/// (the second, identical run skips it: its log is compared instead).
fn run_core(
    config: &Config,
    steps: &[(TimeStep, Step)],
    check_book_at_end: bool,
) -> Result<CoreLog, String> {
    let mut mgr = ConnManager::new(config.clone(), Instant::ZERO)
        .map_err(|e| format!("the fuzzer built an invalid config: {e}"))?;
    let mut checker = Checker::for_manager(&mgr);
    let mut rt = Runtime::default();
    let mut now = Instant::ZERO;
    let mut log = Vec::with_capacity(steps.len());
    for (i, (dt, step)) in steps.iter().enumerate() {
        now = dt.apply(now);
        let input = rt.input(step, &checker, &mgr, &mut now);
        let timeout_before = mgr.poll_timeout();
        let effective_now = now.max(mgr.now());
        let result = mgr.handle(now, input.clone());
        let actions: Vec<Action> = std::iter::from_fn(|| mgr.poll_action()).collect();
        if let (Input::Tick, Some(at)) = (&input, timeout_before) {
            // Progress: something to do, or the deadline moved on (a
            // feeler's timer may fire, find no reason to dial, and re-arm).
            let moved_on = mgr.poll_timeout().is_none_or(|next| next > at);
            if effective_now >= at && actions.is_empty() && !moved_on {
                return Err(format!(
                    "step {i}: a Tick at {effective_now}, at or after poll_timeout {at}, made no progress"
                ));
            }
        }
        checker
            .observe(now, &input, &result, &actions, &mgr)
            .map_err(|v| format!("step {i}: {v} (after {input:?} at {now}, giving {actions:?})"))?;
        rt.learn(&input, &result, &actions);
        log.push((now, result, actions));
    }
    if check_book_at_end {
        checker
            .finish(&mgr)
            .map_err(|v| format!("at the end: {v}"))?;
    }
    Ok(log)
}

/// Addresses peers advertise: the pool, and many in a few /16s (some
/// unroutable, port 0 for one in 64) and onion names, so buckets fill and
/// collide.
fn learnt_addr(n: u16) -> PeerAddr {
    if n < 64 {
        return pool_addr(n as u8);
    }
    let [hi, lo] = n.to_be_bytes();
    let port = if n.is_multiple_of(64) { 0 } else { 8333 };
    if lo % 16 == 7 {
        let mut key = [0x33; 32];
        key[..2].copy_from_slice(&n.to_be_bytes());
        return PeerAddr::new(Host::Onion(key), port);
    }
    PeerAddr::from(SocketAddr::from(([45 + (hi % 4) * 50, hi, lo, 1], port)))
}

/// Target `core_inputs`: a valid config and a sequence of (time step, step)
/// driven through a [`ConnManager`]; the invariant checker must accept every
/// step, a tick at `poll_timeout` must make progress, and a second run of the
/// same sequence must give the same log.
pub fn core_inputs(data: &[u8]) {
    let (config, steps) = decode_core(data);
    let first = run_core(&config, &steps, true).unwrap_or_else(|e| panic!("core_inputs: {e}"));
    let second =
        run_core(&config, &steps, false).unwrap_or_else(|e| panic!("core_inputs, run 2: {e}"));
    if first != second {
        let at = first.iter().zip(&second).position(|(a, b)| a != b);
        panic!(
            "core_inputs: two runs of the same inputs differ, first at step {at:?}: {:?} vs {:?}",
            at.and_then(|i| first.get(i)),
            at.and_then(|i| second.get(i))
        );
    }
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}
