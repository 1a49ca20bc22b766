//! The logic of every fuzz target, one function per target.
//!
//! Each `fuzz_targets/<name>.rs` is one line: `fuzz_target!(|data: &[u8]|
//! connmgr_fuzz::<name>(data))`. The functions decode the bytes themselves
//! with [`arbitrary::Unstructured`], so the same bytes give the same run
//! under libFuzzer and anywhere else.
//!
//! This file is also compiled into the main workspace, as the module
//! `fuzz_logic` of `tests/tests/fuzz_corpus.rs` (by `#[path]`), which replays
//! every file of `fuzz/seeds/<target>/` and `fuzz/artifacts/<target>/` through
//! these functions in a plain `cargo test`. It may therefore use only crates
//! that `connmgr-sim` and its dev-dependencies provide: `connmgr` (features
//! `serde` and `arbitrary`), `connmgr-sim`, `connmgr-store` and `arbitrary`.
//!
//! A target fails by panicking, with a message saying which promise broke.
//! The oracles are the invariants of ARCHITECTURE.md §7 (through the shared
//! [`Checker`]), determinism, and each API's documented contract; "does not
//! panic" is only the least of them.

#![forbid(unsafe_code)]

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use arbitrary::{Arbitrary, Result as DecodeResult, Unstructured};
use connmgr::addrbook::{AddrBook, SelectPolicy, MAX_ADDRESSES};
use connmgr::group::{is_local, is_routable};
use connmgr::trace::{self, Record, TraceReader, TraceWriter};
use connmgr::{
    AcceptError, Action, AddressError, Backoff, Config, ConnId, ConnManager, DialError, GroupKey,
    Ignored, Input, Instant, ListenerId, PeerEvent, Subnet,
};
use connmgr_sim::Checker;

/// A target: its name (the directory under `fuzz/seeds/` and
/// `fuzz/artifacts/`) and its function.
pub type Target = (&'static str, fn(&[u8]));

/// Every target.
pub const TARGETS: &[Target] = &[
    ("core_inputs", core_inputs),
    ("group_key", group_key),
    ("trace_parse", trace_parse),
    ("addrbook", addrbook),
    ("addrbook_file", addrbook_file),
];

/// What a structured target made of `data`, for a failure report: the
/// decoded config and steps, or operations. Empty for the byte-level targets.
pub fn describe(target: &str, data: &[u8]) -> String {
    let mut out = String::new();
    match target {
        "core_inputs" => {
            let (config, steps) = decode_core(data);
            let _ = writeln!(out, "{config:?}");
            for (i, (dt, step)) in steps.iter().enumerate() {
                let _ = writeln!(out, "{i:4}: {dt:?} {step:?}");
            }
        }
        "addrbook" => {
            let (seed, ops) = decode_book(data);
            let _ = writeln!(out, "seed {seed}");
            for (i, op) in ops.iter().enumerate() {
                let _ = writeln!(out, "{i:4}: {op:?}");
            }
        }
        "group_key" => {
            let _ = writeln!(out, "{:?}", decode_ips(data));
        }
        _ => {}
    }
    out
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// Whether the check for the known, reported bug `name` is switched off:
/// `CONNMGR_FUZZ_SKIP` lists names separated by commas. Only for long
/// campaigns, so that a bug already found does not stop the search for the
/// next; the regression tests and CI leave it unset, so every check runs.
fn skip_known(name: &str) -> bool {
    static SKIP: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SKIP.get_or_init(|| std::env::var("CONNMGR_FUZZ_SKIP").unwrap_or_default())
        .split(',')
        .any(|s| s.trim() == name)
}

// ---------------------------------------------------------------------------
// core_inputs: a ConnManager under the invariant checker
// ---------------------------------------------------------------------------

/// Most steps one input decodes to; beyond that the rest is ignored.
const MAX_STEPS: usize = 1_000;

/// The addresses the runtime answers with: two in one /16, a local one, a
/// private one, two IPv6 ones, so group limits and exemptions come into play.
fn pool_addr(i: u8) -> SocketAddr {
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
    c.automatic_outbound = u.arbitrary()?;
    c.max_failed_attempts = u.int_in_range(1..=4)?;
    c.throttle_interval = ms(u.int_in_range(1..=2_000)?);
    c.dial_timeout = ms(u.int_in_range(1..=4_000)?);
    c.max_outbound_per_group = u.int_in_range(0..=2)?;
    c.max_inbound = u.int_in_range(0..=4)?;
    // btcd forgives on every success (zero); half the runs do that.
    c.stable_after = if u.arbitrary()? {
        Duration::ZERO
    } else {
        ms(u.int_in_range(1..=3_000)?)
    };
    c.max_address_retries = u.int_in_range(0..=2)?;
    c.rng_seed = u64::from(u.arbitrary::<u8>()?);
    c.backoff = if u.arbitrary()? {
        Backoff::Linear
    } else {
        Backoff::ExponentialJitter
    };
    c.max_inbound_per_ip = u.int_in_range(0..=2)?;
    c.max_inbound_per_group = u.int_in_range(0..=3)?;
    c.inbound_rate_per_group = u.int_in_range(0..=3)?;
    c.inbound_burst_per_group = u.int_in_range(1..=3)?;
    c.evict_when_full = u.arbitrary()?;
    c.evict_protect_longest = u.int_in_range(0..=2)?;
    c.evict_protect_groups = u.int_in_range(0..=2)?;
    c.allowlist = match u.int_in_range(0u8..=3)? {
        0 => vec![Subnet::host(pool_addr(u.arbitrary()?).ip())],
        1 => vec![pool_subnet(u.arbitrary()?, true)],
        _ => Vec::new(),
    };
    c.ban_threshold = if u.arbitrary()? {
        0
    } else {
        u.int_in_range(1..=100)?
    };
    c.ban_duration = ms(u.int_in_range(1..=5_000)?);
    Ok(c)
}

/// The pool address `i` alone, or its /16 (/32 for IPv6) when `wide`.
fn pool_subnet(i: u8, wide: bool) -> Subnet {
    let ip = pool_addr(i).ip();
    if wide {
        let prefix = if ip.is_ipv4() { 16 } else { 32 };
        Subnet::new(ip, prefix).unwrap_or(Subnet::host(ip))
    } else {
        Subnet::host(ip)
    }
}

/// How the clock moves before a step.
#[derive(Clone, Copy, Debug)]
enum TimeStep {
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
enum Step {
    /// Answer one pending `RequestAddress` from the pool, or with an error.
    AnswerAddress {
        pick: u8,
        result: Result<u8, AddressError>,
    },
    /// Answer one pending `RequestAddress` with any address at all.
    AnswerAddressAnywhere { pick: u8, addr: SocketAddr },
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
        Ok(match u.int_in_range(0u8..=22)? {
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
            _ => Step::Raw(u.arbitrary()?),
        })
    }
}

fn decode_core(data: &[u8]) -> (Config, Vec<(TimeStep, Step)>) {
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
                remote: pool_addr(addr),
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
fn run_core(config: &Config, steps: &[(TimeStep, Step)]) -> Result<CoreLog, String> {
    let mut mgr = ConnManager::new(config.clone(), Instant::ZERO)
        .map_err(|e| format!("the fuzzer built an invalid config: {e}"))?;
    let mut checker = Checker::new(config);
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
            if effective_now >= at && actions.is_empty() {
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
    Ok(log)
}

/// Target `core_inputs`: a valid config and a sequence of (time step, step)
/// driven through a [`ConnManager`]; the invariant checker must accept every
/// step, a tick at `poll_timeout` must make progress, and a second run of the
/// same sequence must give the same log.
pub fn core_inputs(data: &[u8]) {
    let (config, steps) = decode_core(data);
    let first = run_core(&config, &steps).unwrap_or_else(|e| panic!("core_inputs: {e}"));
    let second = run_core(&config, &steps).unwrap_or_else(|e| panic!("core_inputs, run 2: {e}"));
    if first != second {
        let at = first.iter().zip(&second).position(|(a, b)| a != b);
        panic!(
            "core_inputs: two runs of the same inputs differ, first at step {at:?}: {:?} vs {:?}",
            at.and_then(|i| first.get(i)),
            at.and_then(|i| second.get(i))
        );
    }
}

// ---------------------------------------------------------------------------
// group_key: GroupKey::of on any address
// ---------------------------------------------------------------------------

fn decode_ips(data: &[u8]) -> Vec<IpAddr> {
    let mut u = Unstructured::new(data);
    let mut ips = Vec::new();
    while !u.is_empty() && ips.len() < 64 {
        match IpAddr::arbitrary(&mut u) {
            Ok(ip) => ips.push(ip),
            Err(_) => break,
        }
    }
    ips
}

/// Target `group_key`: any IP address has a group; computing it never
/// panics and gives the same answer twice; `is_exempt` agrees with
/// `is_local`/`is_routable`; an IPv4-mapped address groups as its IPv4
/// address; the display is never empty, reads back as the group it names,
/// and tells different groups apart.
pub fn group_key(data: &[u8]) {
    let ips = decode_ips(data);
    let keys: Vec<(GroupKey, String)> = ips.iter().map(|&ip| check_group(ip)).collect();
    for (i, (a, sa)) in keys.iter().enumerate() {
        for (b, sb) in keys.iter().skip(i + 1) {
            assert_eq!(
                a == b,
                sa == sb,
                "group_key: {a:?} displays as {sa:?} and {b:?} as {sb:?}"
            );
        }
    }
}

fn check_group(ip: IpAddr) -> (GroupKey, String) {
    let key = GroupKey::of(ip);
    assert_eq!(
        key,
        GroupKey::of(ip),
        "group_key: {ip} grouped twice differently"
    );
    let (local, routable) = (is_local(ip), is_routable(ip));
    assert!(
        !(local && routable),
        "group_key: {ip} is both local and routable"
    );
    assert_eq!(
        key.is_exempt(),
        local || !routable,
        "group_key: {ip} is in {key:?} (exempt: {}) but local={local} routable={routable}",
        key.is_exempt()
    );
    assert_eq!(
        key == GroupKey::Local,
        local,
        "group_key: {ip} in {key:?}, local={local}"
    );
    assert_eq!(
        key == GroupKey::Unroutable,
        !local && !routable,
        "group_key: {ip} in {key:?}, local={local} routable={routable}"
    );
    assert_eq!(
        GroupKey::of(ip.to_canonical()),
        key,
        "group_key: {ip} and its canonical form group differently"
    );
    if let IpAddr::V4(v4) = ip {
        let mapped = IpAddr::V6(v4.to_ipv6_mapped());
        assert_eq!(
            GroupKey::of(mapped),
            key,
            "group_key: {ip} and {mapped} group differently"
        );
        assert_eq!(
            is_routable(mapped),
            routable,
            "group_key: {mapped} routability"
        );
        assert_eq!(is_local(mapped), local, "group_key: {mapped} locality");
        if routable {
            let [a, b, _, _] = v4.octets();
            assert_eq!(
                key,
                GroupKey::Ipv4([a, b]),
                "group_key: {ip} is not in its /16"
            );
        }
    }
    let text = key.to_string();
    assert!(!text.is_empty(), "group_key: {key:?} displays as nothing");
    match key {
        GroupKey::Local => assert_eq!(text, "local"),
        GroupKey::Unroutable => assert_eq!(text, "unroutable"),
        GroupKey::Ipv4([a, b]) => {
            let net: Ipv4Addr = text
                .parse()
                .unwrap_or_else(|_| panic!("group_key: {key:?} displays as {text:?}"));
            assert_eq!(
                net.octets(),
                [a, b, 0, 0],
                "group_key: {key:?} displays as {text}"
            );
        }
        GroupKey::Ipv6(prefix) => {
            let net: Ipv6Addr = text
                .parse()
                .unwrap_or_else(|_| panic!("group_key: {key:?} displays as {text:?}"));
            let mut expected = [0u8; 16];
            expected[..4].copy_from_slice(&prefix);
            assert_eq!(
                net.octets(),
                expected,
                "group_key: {key:?} displays as {text}"
            );
        }
        GroupKey::HeNet(nibble) => {
            assert!(nibble < 16, "group_key: {ip} gives HeNet({nibble})");
            let net: Ipv6Addr = text
                .parse()
                .unwrap_or_else(|_| panic!("group_key: {key:?} displays as {text:?}"));
            let o = net.octets();
            assert_eq!(
                (o[..4] == [0x20, 0x01, 0x04, 0x70], o[4] >> 4, o[4] & 0x0f),
                (true, nibble, 0),
                "group_key: {key:?} displays as {text}"
            );
        }
        GroupKey::Tor(n) => {
            assert!(n < 16, "group_key: {ip} gives Tor({n})");
            assert_eq!(text, format!("tor:{n}"));
        }
    }
    (key, text)
}

// ---------------------------------------------------------------------------
// trace_parse: the trace reader and replay on any bytes
// ---------------------------------------------------------------------------

/// Target `trace_parse`: any bytes as a trace. Reading never panics; every
/// error names a line ≥ 1 and its message starts with it; after an error the
/// reader ends; record lines increase; `replay` agrees with the reader on
/// where the trace breaks; and what was read, written again with
/// [`TraceWriter`], reads back the same.
pub fn trace_parse(data: &[u8]) {
    let mut records = Vec::new();
    let mut read_error = None;
    let header = match TraceReader::new(data) {
        Ok(mut reader) => {
            let header = reader.header().clone();
            let mut last_line = 1;
            loop {
                match reader.next_record() {
                    Ok(Some(record)) => {
                        assert!(
                            record.line > last_line,
                            "trace_parse: record line {} after line {last_line}",
                            record.line
                        );
                        last_line = record.line;
                        records.push(record);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        check_trace_error(&e);
                        assert!(
                            e.line() > last_line,
                            "trace_parse: error at line {} after record line {last_line}: {e}",
                            e.line()
                        );
                        assert!(
                            matches!(reader.next_record(), Ok(None)),
                            "trace_parse: the reader goes on after an error"
                        );
                        read_error = Some(e.line());
                        break;
                    }
                }
            }
            Some(header)
        }
        Err(e) => {
            check_trace_error(&e);
            read_error = Some(e.line());
            None
        }
    };

    // Bug "replay-unbounded" (reported): the reader accepts any
    // `target_outbound`, and replaying `Start` queues that many actions at
    // once, so a trace of a few hundred bytes can exhaust memory. Checked
    // before replaying, so the regression test fails cleanly instead of
    // running out of memory; the bound is the largest target this check
    // lets a trace replay (btcd's is 8).
    if let Some(h) = &header {
        let target = h.config.target_outbound;
        if target > REPLAYABLE_TARGET {
            if skip_known("replay-unbounded") {
                return;
            }
            panic!(
                "trace_parse: a {}-byte trace with target_outbound {target} is accepted, and \
                 replaying its Start would queue {target} actions at once (more than \
                 {REPLAYABLE_TARGET}): replay of an untrusted trace can exhaust memory",
                data.len()
            );
        }
    }

    match (trace::replay(data), read_error) {
        (Ok(report), None) => assert!(!report.to_string().is_empty()),
        (Err(e), Some(line)) => {
            check_trace_error(&e);
            assert_eq!(
                e.line(),
                line,
                "trace_parse: replay and the reader disagree: {e}"
            );
        }
        // Replay stops at the first divergence, before a later bad line.
        (Ok(report), Some(line)) => match &report {
            trace::ReplayReport::Diverged(d) if d.line < line => {}
            _ => panic!("trace_parse: the reader fails at line {line}, replay says {report}"),
        },
        (Err(e), None) => panic!("trace_parse: the reader reads it all, replay fails: {e}"),
    }

    // What was read survives being written again.
    let Some(header) = header else {
        return;
    };
    let mut writer = TraceWriter::new(Vec::new(), &header.config, header.start)
        .expect("writing to memory does not fail");
    for r in &records {
        writer
            .record(r.t, &r.input, r.actions.as_deref())
            .expect("writing to memory does not fail");
    }
    let bytes = writer
        .into_inner()
        .expect("writing to memory does not fail");
    let mut again = TraceReader::new(&bytes[..])
        .unwrap_or_else(|e| panic!("trace_parse: a rewritten trace does not read: {e}"));
    assert_eq!(
        (again.header().start, &again.header().config),
        (header.start, &header.config),
        "trace_parse: the header changed when written again"
    );
    for (i, r) in records.iter().enumerate() {
        let back: Option<Record> = again
            .next_record()
            .unwrap_or_else(|e| panic!("trace_parse: a rewritten record does not read: {e}"));
        let back = back.expect("as many records as written");
        assert_eq!(
            back.line,
            i as u64 + 2,
            "trace_parse: rewritten line numbers"
        );
        assert_eq!(
            (back.t, &back.input, &back.actions),
            (r.t, &r.input, &r.actions),
            "trace_parse: a record changed when written again"
        );
    }
    assert!(matches!(again.next_record(), Ok(None)));
}

/// The largest `target_outbound` a trace may carry for `trace_parse` to
/// replay it; see bug "replay-unbounded".
const REPLAYABLE_TARGET: u32 = 100_000;

fn check_trace_error(e: &connmgr::trace::TraceError) {
    let message = e.to_string();
    assert!(e.line() >= 1, "trace_parse: error at line 0: {message}");
    assert!(
        message.starts_with(&format!("line {}", e.line())),
        "trace_parse: the message does not start with its line: {message}"
    );
}

// ---------------------------------------------------------------------------
// addrbook: sequences of operations on an AddrBook
// ---------------------------------------------------------------------------

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
enum AddrRef {
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
enum BookOp {
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

fn decode_book(data: &[u8]) -> (u64, Vec<BookOp>) {
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
    Len(usize, usize),
}

/// The book's public bounds: its counts add up and stay within the tables.
fn check_bounds(book: &AddrBook, op: usize) {
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
fn check_reload(book: &AddrBook, seed: u64, op: usize) -> AddrBook {
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
                book = AddrBook::from_snapshot(&book.snapshot(), u64::from(seed))
                    .expect("the checked run accepted this snapshot");
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

// ---------------------------------------------------------------------------
// addrbook_file: any bytes as an address-book file
// ---------------------------------------------------------------------------

/// A directory of this process and thread for scratch files, created on
/// demand. The caller may remove it when done.
pub fn scratch_dir() -> PathBuf {
    let thread = format!("{:?}", std::thread::current().id());
    let thread: String = thread.chars().filter(char::is_ascii_digit).collect();
    std::env::temp_dir().join(format!("connmgr-fuzz-{}-{thread}", std::process::id()))
}

/// Target `addrbook_file`: any bytes as an address-book file, loaded the way
/// the node loads it ([`connmgr_store::load`]). A clean error naming the file
/// (and for corrupt JSON a line ≥ 1), or a book within its bounds whose
/// snapshot rebuilds it, and the same result twice; never a panic.
pub fn addrbook_file(data: &[u8]) {
    let dir = scratch_dir();
    std::fs::create_dir_all(&dir).expect("the scratch directory can be made");
    let path = dir.join("peers.json");
    std::fs::write(&path, data).expect("the scratch file can be written");
    let first = connmgr_store::load(&path, 7);
    let second = connmgr_store::load(&path, 7);
    let _ = std::fs::remove_file(&path);
    match (first, second) {
        (Ok(Some(book)), Ok(Some(again))) => {
            check_bounds(&book, 0);
            assert_eq!(
                book.snapshot(),
                again.snapshot(),
                "addrbook_file: two loads differ"
            );
            check_reload(&book, 3, 0);
        }
        (Ok(None), _) => panic!("addrbook_file: the file exists, yet load says there is none"),
        (Err(e), Err(again)) => {
            let message = e.to_string();
            assert_eq!(
                message,
                again.to_string(),
                "addrbook_file: two loads differ"
            );
            assert_eq!(
                e.path(),
                path,
                "addrbook_file: the error names another file: {message}"
            );
            assert!(
                message.contains(&path.display().to_string()),
                "addrbook_file: the message does not name the file: {message}"
            );
            if let connmgr_store::StoreError::Corrupt { line, .. } = e {
                assert!(
                    line >= 1,
                    "addrbook_file: corrupt at line {line}: {message}"
                );
            }
        }
        (first, second) => panic!(
            "addrbook_file: two loads differ: {:?} vs {:?}",
            first.map(|b| b.map(|b| b.len())),
            second.map(|b| b.map(|b| b.len()))
        ),
    }
}
