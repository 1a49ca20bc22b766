//! The oracle: what must hold after every input, whatever the inputs were.
//!
//! A [`Checker`] watches one manager from the outside, through the inputs it
//! is fed and the actions it emits, and keeps its own books. It is shared by
//! the simulator, the property tests and the fuzzer, so the three judge by
//! the same rules (`docs/ARCHITECTURE.md`, "Invariants"):
//!
//! - every `Dial` is answered or cancelled, once;
//! - each kind stays within its target (full-relay, one more after a stale
//!   tip; block-relay-only; at most one feeler), inbound within
//!   `max_inbound`;
//! - automatic outbound per network group stays within its limit (so no two
//!   full-relay or block-relay-only peers share a group by default);
//! - an eviction happens only for a newcomer when inbound is full, and
//!   never takes an allow-listed or `noban` peer;
//! - anchors are dialled only if given (the runtime gives them only after
//!   a clean stop), and no more than were given;
//! - no action names an id that has ended, except the `Close` of a late socket;
//! - events are causal: `Connected` before `Ready` (at most once) before
//!   `Disconnected`, nothing after `GaveUp`;
//! - a backoff never exceeds its maximum, a retry never dials early, and a
//!   pending retry always has a timer armed no later than it is due;
//! - the address book inside, if any, stays within its tables (every
//!   address in at most eight new buckets or one tried slot, at most ten
//!   waiting collisions, the book's own consistency check), and its tried
//!   table holds only addresses whose outbound handshake completed (or that
//!   were tried in the book it started from).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use connmgr::{
    Action, AddressBook, Config, ConnId, ConnKind, ConnManager, Direction, GroupKey, Ignored,
};
use connmgr::{Input, Instant, Network, PeerAddr, PeerEvent, PeerFact, Reason};

/// Most addresses a book holds (both books: 81 920 slots).
const BOOK_CAPACITY: usize = connmgr::addrman::MAX_ADDRESSES;
/// The full book check (a pass over every slot, a hash per entry) runs
/// every this many steps, and at the end of a run.
const BOOK_CHECK_EVERY: u64 = 1024;

/// A broken promise, with what is needed to understand it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// What was broken.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Violation {}

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(Violation { message: format!($($msg)+) });
        }
    };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LastEvent {
    Connected,
    /// Connected, and its handshake reported.
    Ready,
    Disconnected,
}

/// Watches one manager; call [`Checker::observe`] after every input.
#[derive(Debug)]
pub struct Checker {
    config: Config,
    outstanding_dials: BTreeSet<(ConnId, u32)>,
    dialled: BTreeSet<(ConnId, u32)>,
    automatic: BTreeSet<ConnId>,
    /// Each automatic connection's group and network, while it holds them.
    automatic_groups: BTreeMap<ConnId, (GroupKey, Network)>,
    group_counts: BTreeMap<GroupKey, u32>,
    /// Automatic connections per network.
    network_counts: BTreeMap<Network, u32>,
    last_event: BTreeMap<ConnId, LastEvent>,
    ended: BTreeSet<ConnId>,
    /// The ids `ended` gained in the step being observed (a few).
    ended_in_step: Vec<ConnId>,
    retry_due: BTreeMap<ConnId, Instant>,
    largest_backoff: std::time::Duration,
    checks: u64,
    /// Addresses an outbound handshake completed with (or any handshake,
    /// for bitcoind 0.9.3's book, which trusts inbound peers), and those
    /// tried in the book the manager started from: the only ones that may
    /// be tried.
    proven: BTreeSet<PeerAddr>,
    /// The tip was reported stale at some point: one full-relay outbound
    /// may be above the target (until the application evicts it).
    tip_went_stale: bool,
    /// Live inbound connections and their peers' addresses.
    inbound: BTreeMap<ConnId, PeerAddr>,
    /// Connections whose peer was reported `noban`.
    noban: BTreeSet<ConnId>,
    /// The anchors this manager was given (`Input::Anchors`, taken): the
    /// only ones it may dial as anchors.
    anchors_given: BTreeSet<PeerAddr>,
}

impl Checker {
    /// A checker for `mgr`, which must not have handled an input yet: its
    /// config, and the tried addresses of the book it starts with.
    pub fn for_manager(mgr: &ConnManager) -> Checker {
        let mut checker = Checker::new(mgr.config());
        checker.proven = mgr.book_tried_addresses().into_iter().collect();
        checker
    }

    /// A checker for a new manager built with `config`.
    pub fn new(config: &Config) -> Checker {
        Checker {
            config: config.clone(),
            outstanding_dials: BTreeSet::new(),
            dialled: BTreeSet::new(),
            automatic: BTreeSet::new(),
            automatic_groups: BTreeMap::new(),
            group_counts: BTreeMap::new(),
            network_counts: BTreeMap::new(),
            last_event: BTreeMap::new(),
            ended: BTreeSet::new(),
            ended_in_step: Vec::new(),
            retry_due: BTreeMap::new(),
            largest_backoff: std::time::Duration::ZERO,
            checks: 0,
            proven: BTreeSet::new(),
            tip_went_stale: false,
            inbound: BTreeMap::new(),
            noban: BTreeSet::new(),
            anchors_given: BTreeSet::new(),
        }
    }

    /// Dials emitted and neither answered nor cancelled yet.
    pub fn outstanding_dials(&self) -> &BTreeSet<(ConnId, u32)> {
        &self.outstanding_dials
    }

    /// Invariant checks run so far.
    pub fn checks(&self) -> u64 {
        self.checks
    }

    /// The largest backoff (`RetryAfter` delay) seen.
    pub fn largest_backoff(&self) -> std::time::Duration {
        self.largest_backoff
    }

    /// Checks one step: `input` was fed at `now`, `handle` returned `result`,
    /// and draining gave `actions`. `mgr` is the manager after the step.
    pub fn observe(
        &mut self,
        now: Instant,
        input: &Input,
        result: &Result<Option<ConnId>, Ignored>,
        actions: &[Action],
        mgr: &ConnManager,
    ) -> Result<(), Violation> {
        let now = now.max(mgr.now());
        self.checks += 1;
        if let Input::TipStale { stale: true } = input {
            self.tip_went_stale = true;
        }
        if let (
            Input::PeerFact {
                id,
                fact: PeerFact::NoBan,
            },
            Ok(_),
        ) = (input, result)
        {
            self.noban.insert(*id);
        }
        if let (Input::Anchors { addrs }, Ok(_)) = (input, result) {
            self.anchors_given.extend(addrs.iter().copied());
        }
        for action in actions {
            if let Action::Close {
                id,
                reason: Reason::Evicted,
            } = action
            {
                self.evicted(*id, input, mgr)?;
            }
        }
        if let Input::DialResult { id, attempt, .. } = input {
            let outstanding = self.outstanding_dials.contains(&(*id, *attempt));
            ensure!(
                result.is_ok() == outstanding,
                "the result of dial {id}/{attempt} was {} but the dial was {}outstanding",
                if result.is_ok() { "taken" } else { "ignored" },
                if outstanding { "" } else { "not " }
            );
            self.outstanding_dials.remove(&(*id, *attempt));
        }
        self.ended_in_step.clear();
        for action in actions {
            self.action(now, action, mgr)?;
        }
        // A Disconnected not followed by a retry ends its id.
        for action in actions {
            if let Action::NotifyPeer(PeerEvent::Disconnected { id, .. }) = action {
                if !self.retry_due.contains_key(id) {
                    self.end(*id);
                }
            }
        }
        self.state(now, mgr)
    }

    fn action(
        &mut self,
        now: Instant,
        action: &Action,
        mgr: &ConnManager,
    ) -> Result<(), Violation> {
        if let Some(id) = named_id(action) {
            let late_close = matches!(
                action,
                Action::Close {
                    reason: Reason::StaleDial,
                    ..
                }
            );
            ensure!(
                late_close || !self.ended_before_this_step(id),
                "{action:?} names {id}, which had already ended"
            );
        }
        match *action {
            Action::RequestAddress { id } => {
                self.automatic.insert(id);
                // A throttled replacement acts by asking for its address.
                if let Some(due) = self.retry_due.remove(&id) {
                    ensure!(
                        now >= due,
                        "{id} asked for an address at {now}, before {due}"
                    );
                }
            }
            Action::Dial {
                id,
                attempt,
                addr,
                kind,
                route,
            } => {
                let networks = &self.config.networks;
                let network = addr.network();
                ensure!(
                    route == networks.route(network),
                    "dial {id}/{attempt} to {addr} takes {route:?}, its network's route is {:?}",
                    networks.route(network)
                );
                ensure!(
                    !kind.is_automatic() || networks.reachable(network),
                    "{kind:?} dial {id}/{attempt} to {addr}, whose network is unreachable"
                );
                ensure!(
                    self.dialled.insert((id, attempt)),
                    "dial {id}/{attempt} was emitted twice"
                );
                let record = mgr.info(id).map(|info| info.kind);
                ensure!(
                    record.is_none_or(|k| k == kind),
                    "dial {id}/{attempt} says {kind:?}, its record {record:?}"
                );
                // With the book inside, no RequestAddress says it is automatic.
                if kind.is_automatic() {
                    self.automatic.insert(id);
                }
                self.outstanding_dials.insert((id, attempt));
                if let Some(due) = self.retry_due.remove(&id) {
                    ensure!(
                        now >= due,
                        "{id} was redialled at {now}, before its retry at {due}"
                    );
                }
                if self.automatic.contains(&id) && !self.automatic_groups.contains_key(&id) {
                    let group = GroupKey::of_host(addr.host());
                    self.automatic_groups.insert(id, (group, network));
                    let count = self.group_counts.entry(group).or_insert(0);
                    *count += 1;
                    let limit = self.config.max_outbound_per_group;
                    ensure!(
                        limit == 0 || group.is_exempt() || *count <= limit,
                        "group {group} holds {count} automatic outbound connections, limit {limit}"
                    );
                    let on_network = self.network_counts.entry(network).or_insert(0);
                    *on_network += 1;
                    let max = self.config.networks.get(network).max_outbound;
                    ensure!(
                        max.is_none_or(|max| *on_network <= max),
                        "{network} holds {on_network} automatic outbound connections, most {max:?}"
                    );
                }
            }
            Action::CancelDial { id, attempt } => {
                ensure!(
                    self.outstanding_dials.remove(&(id, attempt)),
                    "cancelled dial {id}/{attempt}, which was not outstanding"
                );
            }
            Action::RetryAfter { id, at } => {
                let delay = at - now;
                let cap = self
                    .config
                    .max_retry_interval
                    .max(self.config.throttle_interval);
                ensure!(
                    delay <= cap,
                    "backoff of {id} is {delay:?}, above its maximum {cap:?}"
                );
                self.largest_backoff = self.largest_backoff.max(delay);
                self.retry_due.insert(id, at);
            }
            Action::NotifyPeer(PeerEvent::Connected { id, addr, kind, .. }) => {
                if kind == ConnKind::Inbound {
                    self.inbound.insert(id, addr);
                }
                ensure!(
                    !matches!(
                        self.last_event.get(&id),
                        Some(LastEvent::Connected | LastEvent::Ready)
                    ),
                    "{id} connected twice without a Disconnected"
                );
                self.last_event.insert(id, LastEvent::Connected);
            }
            Action::NotifyPeer(PeerEvent::Ready {
                id,
                addr,
                direction,
            }) => {
                ensure!(
                    self.last_event.get(&id) == Some(&LastEvent::Connected),
                    "{id} ready without being connected, or ready twice"
                );
                self.last_event.insert(id, LastEvent::Ready);
                let inbound_proves = self.config.address_book == AddressBook::Bitcoind093;
                if direction == Direction::Outbound || inbound_proves {
                    self.proven.insert(addr);
                }
            }
            Action::NotifyPeer(PeerEvent::Disconnected { id, .. }) => {
                ensure!(
                    matches!(
                        self.last_event.get(&id),
                        Some(LastEvent::Connected | LastEvent::Ready)
                    ),
                    "{id} disconnected without being connected"
                );
                self.last_event.insert(id, LastEvent::Disconnected);
                self.retry_due.remove(&id);
                // Its group slot is free at once: a replacement may take it
                // in the same step.
                self.release_group(id);
            }
            Action::NotifyPeer(PeerEvent::GaveUp { id, .. }) => {
                ensure!(
                    !matches!(
                        self.last_event.get(&id),
                        Some(LastEvent::Connected | LastEvent::Ready)
                    ),
                    "{id} gave up while connected"
                );
                self.end(id);
            }
            _ => {}
        }
        Ok(())
    }

    /// An eviction makes room for the newcomer of an `Accepted` when
    /// inbound is full, and takes an inbound peer that is neither
    /// allow-listed nor `noban`.
    fn evicted(&self, id: ConnId, input: &Input, mgr: &ConnManager) -> Result<(), Violation> {
        ensure!(
            matches!(input, Input::Accepted { .. }),
            "{id} evicted on {input:?}, not for a newcomer"
        );
        let addr = self.inbound.get(&id);
        ensure!(addr.is_some(), "{id} evicted but not inbound");
        ensure!(!self.noban.contains(&id), "{id} evicted though noban");
        let allowed = addr
            .and_then(|a| a.host().ip())
            .is_some_and(|ip| self.config.allowlist.iter().any(|s| s.contains(ip)));
        ensure!(!allowed, "{id} evicted though allow-listed ({addr:?})");
        let inbound = mgr.counts().inbound;
        ensure!(
            inbound == self.config.max_inbound,
            "{id} evicted with {inbound} inbound of {}",
            self.config.max_inbound
        );
        Ok(())
    }

    /// Whether `id` had ended before the step being observed.
    fn ended_before_this_step(&self, id: ConnId) -> bool {
        self.ended.contains(&id) && !self.ended_in_step.contains(&id)
    }

    fn end(&mut self, id: ConnId) {
        if self.ended.insert(id) {
            self.ended_in_step.push(id);
        }
        self.inbound.remove(&id);
        self.noban.remove(&id);
        self.retry_due.remove(&id);
        self.automatic.remove(&id);
        self.last_event.remove(&id);
        self.release_group(id);
    }

    fn release_group(&mut self, id: ConnId) {
        if let Some((group, network)) = self.automatic_groups.remove(&id) {
            if let Some(count) = self.group_counts.get_mut(&group) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    self.group_counts.remove(&group);
                }
            }
            if let Some(count) = self.network_counts.get_mut(&network) {
                *count = count.saturating_sub(1);
            }
        }
    }

    /// Invariants of the manager's state after the step.
    fn state(&mut self, now: Instant, mgr: &ConnManager) -> Result<(), Violation> {
        let counts = mgr.counts();
        // One more while the tip is stale, and one more while an extra
        // connection to a network below its minimum is being made.
        let networks = &self.config.networks;
        let minimums = networks.one_per_network
            || Network::ALL
                .iter()
                .any(|&n| networks.get(n).min_outbound > 0);
        let target =
            self.config.target_outbound + u32::from(self.tip_went_stale) + u32::from(minimums);
        ensure!(
            counts.automatic() <= target,
            "{} automatic outbound connections, target {} (the tip {} stale)",
            counts.automatic(),
            self.config.target_outbound,
            if self.tip_went_stale {
                "went"
            } else {
                "never went"
            }
        );
        ensure!(
            counts.block_relay() <= self.config.block_relay_outbound,
            "{} block-relay-only connections, target {}",
            counts.block_relay(),
            self.config.block_relay_outbound
        );
        ensure!(
            counts.feelers <= 1,
            "{} feeler connections at once",
            counts.feelers
        );
        let anchors = mgr.stats().anchors_dialled;
        ensure!(
            anchors <= self.anchors_given.len() as u64,
            "{anchors} anchors dialled, {} given (only a clean stop saves them)",
            self.anchors_given.len()
        );
        ensure!(
            counts.inbound <= self.config.max_inbound,
            "{} inbound connections, max {}",
            counts.inbound,
            self.config.max_inbound
        );
        ensure!(
            counts.dialing as usize == self.outstanding_dials.len(),
            "the manager counts {} dials in flight, the checker {}",
            counts.dialing,
            self.outstanding_dials.len()
        );
        if let Some(book) = mgr.book_counts() {
            ensure!(
                book.new + book.tried <= BOOK_CAPACITY && book.collisions <= 10,
                "the address book holds {} new and {} tried addresses and {} collisions",
                book.new,
                book.tried,
                book.collisions
            );
            if self.checks.is_multiple_of(BOOK_CHECK_EVERY) {
                self.check_book(mgr)?;
            }
        }
        if let Some(due) = self.retry_due.values().min() {
            let armed = mgr.poll_timeout();
            ensure!(
                armed.is_some_and(|at| at <= *due) || !mgr.is_running(),
                "a retry is due at {due} but the next timer is {armed:?} (now {now})"
            );
        }
        Ok(())
    }
}

impl Checker {
    /// The book's own consistency check, and tried addresses only for
    /// proven ones. A pass over the book: run every few steps, and at the
    /// end of a run ([`Checker::finish`]).
    fn check_book(&self, mgr: &ConnManager) -> Result<(), Violation> {
        if let Err(problem) = mgr.check_book() {
            ensure!(false, "the address book is inconsistent: {problem}");
        }
        for addr in mgr.book_tried_addresses() {
            ensure!(
                self.proven.contains(&addr),
                "{addr} is in the tried table but never completed a handshake that proves it"
            );
        }
        Ok(())
    }

    /// The checks that are too costly for every step, run once more: call
    /// at the end of a run.
    pub fn finish(&self, mgr: &ConnManager) -> Result<(), Violation> {
        self.check_book(mgr)
    }
}

fn named_id(action: &Action) -> Option<ConnId> {
    match action {
        Action::RequestAddress { id }
        | Action::Dial { id, .. }
        | Action::CancelDial { id, .. }
        | Action::Close { id, .. }
        | Action::RetryAfter { id, .. }
        | Action::NotifyPeer(
            PeerEvent::Connected { id, .. }
            | PeerEvent::Ready { id, .. }
            | PeerEvent::Disconnected { id, .. }
            | PeerEvent::GaveUp { id, .. },
        ) => Some(*id),
        _ => None,
    }
}
