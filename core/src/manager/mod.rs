//! [`ConnManager`]: the state machine.
//!
//! The work is split by concern: `outbound` (requests, addresses, dials,
//! retries, replacement), `inbound` (admission and listener pauses),
//! `lifecycle` (start, stop, disconnect, remove, closed). This file holds the
//! entry points, the queries and the bookkeeping they share.

mod addr_fetch;
mod addresses;
mod anchors;
mod bans;
mod book;
mod conn;
mod eviction;
mod feelers;
mod groups;
mod inbound;
mod inbound_index;
mod lifecycle;
mod network_peer;
mod outbound;
mod stale_tip;

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;

use crate::ban_score::BanScore;
use crate::group::GroupKey;
use crate::timers::{Entry, Owner, Timers};
use crate::{
    Action, BookCounts, Config, ConfigError, ConnId, ConnInfo, ConnKind, ConnState, Counts,
    Ignored, Input, Instant, ListenerId, Network, PeerAddr, PeerCounts, Rng, Stats,
};

use crate::ids::IdMap;
use addresses::{ReadyPeers, SampleCache};
use bans::Bans;
use book::Book;
use conn::{tally, Conn, Phase};
use feelers::Periodic;
use groups::GroupCounts;
use inbound::ListenerPause;
use inbound_index::InboundIndex;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lifecycle {
    Idle,
    Running,
    Stopped,
}

/// The connection manager: a pure state machine driven by [`Input`]s and
/// drained of [`Action`]s. See the crate documentation for the contract.
#[derive(Debug)]
pub struct ConnManager {
    config: Config,
    now: Instant,
    lifecycle: Lifecycle,
    next_id: u64,
    conns: IdMap<Conn>,
    /// Requests made before `Start`, in the order they were made.
    queued: Vec<ConnId>,
    timers: Timers,
    listeners: BTreeMap<ListenerId, ListenerPause>,
    groups: GroupCounts,
    /// Consecutive dial and address failures of non-permanent requests since
    /// the last successful dial (btcd's `failedAttempts`).
    failed_attempts: u32,
    counts: Counts,
    stats: Stats,
    actions: VecDeque<Action>,
    inbound: InboundIndex,
    bans: Bans,
    /// Misbehaviour scores of the connections that have one.
    scores: IdMap<BanScore>,
    rng: Rng,
    /// The manager's own timers, while running.
    periodic: Periodic,
    /// Whether the address source came up empty since it last gave an
    /// address (reported once, at warn level).
    short_of_addresses: bool,
    /// The address book inside, unless the application keeps its own.
    book: Option<Book>,
    /// Requests waiting for the book inside to answer, before `handle`
    /// returns.
    lookups: VecDeque<ConnId>,
    /// The answer to `getaddr`, reused for a day.
    sample: SampleCache,
    /// Established connections whose handshake completed.
    ready: ReadyPeers,
    /// Keys the choice of the peers an address is relayed to.
    relay_key: u64,
    /// The tip is stale: keep one full-relay outbound above the target.
    extra_full_relay: bool,
    /// The extra full-relay connection to a network below its minimum,
    /// while it is being made.
    network_peer: Option<ConnId>,
    /// The last clean run's block-relay-only peers, to dial at `Start`.
    anchors: Vec<PeerAddr>,
}

impl ConnManager {
    /// A stopped-before-started manager; nothing happens until `Start`.
    /// Fails if the config does not [validate](Config::validate) or has no
    /// [`rng_seed`](Config::rng_seed) (the core draws no randomness itself:
    /// the runtimes' builders draw the seed from the operating system).
    pub fn new(config: Config, now: Instant) -> Result<ConnManager, ConfigError> {
        config.validate()?;
        let keys = config.rng_seed.ok_or(ConfigError::NoSeed)?.keys();
        Ok(ConnManager {
            book: Book::new(&config, &keys),
            lookups: VecDeque::new(),
            sample: SampleCache::default(),
            ready: ReadyPeers::default(),
            relay_key: keys.relay,
            extra_full_relay: false,
            network_peer: None,
            anchors: Vec::new(),
            inbound: InboundIndex::new(keys.eviction),
            bans: Bans::default(),
            scores: IdMap::default(),
            rng: Rng::new(keys.jitter),
            periodic: Periodic::default(),
            short_of_addresses: false,
            config,
            now,
            lifecycle: Lifecycle::Idle,
            next_id: 1,
            conns: IdMap::default(),
            queued: Vec::new(),
            timers: Timers::default(),
            listeners: BTreeMap::new(),
            groups: GroupCounts::default(),
            failed_attempts: 0,
            counts: Counts::default(),
            stats: Stats::default(),
            actions: VecDeque::new(),
        })
    }

    /// A manager whose book inside starts as `snapshot` saved it (a book
    /// file, or a trace header): rebuilt if it is of the configured kind,
    /// its addresses moved into a new book otherwise. Says what was kept.
    #[cfg(feature = "serde")]
    pub fn with_book(
        config: Config,
        now: Instant,
        snapshot: &crate::BookSnapshot,
    ) -> Result<(ConnManager, crate::Restored), crate::RestoreError> {
        let mut mgr = ConnManager::new(config, now).map_err(crate::RestoreError::Config)?;
        let keys = mgr.config.rng_seed.ok_or(ConfigError::NoSeed);
        let keys = keys.map_err(crate::RestoreError::Config)?.keys();
        let (book, restored) = Book::restore(&mgr.config, &keys, snapshot, now)
            .map_err(crate::RestoreError::Snapshot)?;
        mgr.book = book;
        Ok((mgr, restored))
    }

    /// The book inside as it would be saved; `None` without one.
    #[cfg(feature = "serde")]
    pub fn book_snapshot(&self) -> Option<crate::BookSnapshot> {
        self.book.as_ref().map(Book::snapshot)
    }

    /// Feeds one input at time `now`; then drain [`poll_action`](Self::poll_action).
    ///
    /// Returns the id the input created (`Connect`, `NewConnReq`,
    /// `Accepted`), `Ok(None)` for the others, or why the input was ignored.
    /// An ignored input is harmless: count it, log it, carry on. A `now`
    /// earlier than one already seen is treated as the latest time seen.
    pub fn handle(&mut self, now: Instant, input: Input) -> Result<Option<ConnId>, Ignored> {
        if now < self.now {
            self.stats.time_went_backwards += 1;
        } else {
            self.now = now;
        }
        self.stats.inputs += 1;
        let result = match input {
            Input::Start => self.on_start().map(|()| None),
            Input::Stop => self.on_stop().map(|()| None),
            Input::Connect { addr, permanent } => self.on_connect(addr, permanent).map(Some),
            Input::FetchAddresses { addr } => self.on_fetch_addresses(addr).map(Some),
            Input::NewConnReq => self.on_new_conn_req().map(Some),
            Input::Disconnect { id } => self.on_disconnect(id).map(|()| None),
            Input::Remove { id } => self.on_remove(id).map(|()| None),
            Input::AddressResult { id, result } => {
                self.on_address_result(id, result).map(|()| None)
            }
            Input::DialResult {
                id,
                attempt,
                result,
            } => self.on_dial_result(id, attempt, result).map(|()| None),
            Input::Accepted {
                listener,
                remote,
                network,
            } => Ok(Some(self.on_accepted(listener, remote, network))),
            Input::AcceptFailed { listener, error } => {
                self.on_accept_failed(listener, error).map(|()| None)
            }
            Input::Closed { id } => self.on_closed(id).map(|()| None),
            Input::Tick => {
                self.on_tick();
                Ok(None)
            }
            Input::Ban { subnet, until } => self.on_ban(subnet, until).map(|()| None),
            Input::Unban { subnet } => self.on_unban(subnet).map(|()| None),
            Input::Misbehaved {
                id,
                persistent,
                transient,
            } => self.on_misbehaved(id, persistent, transient).map(|()| None),
            Input::Handshaked { id } => self.on_handshaked(id).map(|()| None),
            Input::Learned { from, addrs } => self.on_learned(from, addrs).map(|()| None),
            Input::AddressesRequested { id } => self.on_addresses_requested(id).map(|()| None),
            Input::Anchors { addrs } => self.on_anchors(addrs).map(|()| None),
            Input::TipStale { stale } => self.on_tip_stale(stale).map(|()| None),
            Input::LeastUseful { id } => self.on_least_useful(id).map(|()| None),
            Input::PeerFact { id, fact } => self.on_peer_fact(id, fact).map(|()| None),
        };
        self.answer_lookups();
        if let Err(ignored) = &result {
            self.stats.ignored_inputs += 1;
            tracing::debug!(%ignored, "input ignored");
        }
        self.drop_stale_timers();
        result
    }

    /// The next action for the runtime, in the order decided.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When the manager next needs a `Tick`; `None` if no timer is set.
    /// A `Tick` at or after this time always makes progress.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|entry| entry.at)
    }

    // ----- convenience commands: each only builds an `Input` -----

    /// `handle(now, Input::Start)`.
    pub fn start(&mut self, now: Instant) -> Result<(), Ignored> {
        self.handle(now, Input::Start).map(drop)
    }

    /// `handle(now, Input::Stop)`.
    pub fn stop(&mut self, now: Instant) -> Result<(), Ignored> {
        self.handle(now, Input::Stop).map(drop)
    }

    /// `handle(now, Input::Connect { addr, permanent })`.
    pub fn connect(
        &mut self,
        now: Instant,
        addr: impl Into<PeerAddr>,
        permanent: bool,
    ) -> Result<ConnId, Ignored> {
        let addr = addr.into();
        let id = self.handle(now, Input::Connect { addr, permanent })?;
        id.ok_or(Ignored::Stopped)
    }

    /// `handle(now, Input::NewConnReq)`.
    pub fn new_conn_req(&mut self, now: Instant) -> Result<ConnId, Ignored> {
        let id = self.handle(now, Input::NewConnReq)?;
        id.ok_or(Ignored::Stopped)
    }

    /// `handle(now, Input::Disconnect { id })`.
    pub fn disconnect(&mut self, now: Instant, id: ConnId) -> Result<(), Ignored> {
        self.handle(now, Input::Disconnect { id }).map(drop)
    }

    /// `handle(now, Input::Remove { id })`.
    pub fn remove(&mut self, now: Instant, id: ConnId) -> Result<(), Ignored> {
        self.handle(now, Input::Remove { id }).map(drop)
    }

    // ----- queries -----

    /// The config in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The latest time seen.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Where `id` is in its life.
    pub fn state(&self, id: ConnId) -> ConnState {
        match self.conns.get(&id) {
            Some(conn) => conn.state(),
            None if id.raw() >= 1 && id.raw() < self.next_id => ConnState::Finished,
            None => ConnState::Unknown,
        }
    }

    /// A snapshot of a live connection or request; `None` once it ended.
    pub fn info(&self, id: ConnId) -> Option<ConnInfo> {
        self.conns.get(&id).map(|conn| ConnInfo {
            kind: conn.kind,
            state: conn.state(),
            addr: conn.addr,
            retry_count: conn.retry_count,
        })
    }

    /// Live connections by kind.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Established connections by kind and network. Walks every
    /// connection: for a periodic report (metrics), not for every input.
    pub fn peer_counts(&self) -> PeerCounts {
        let mut counts = PeerCounts::default();
        for conn in self.conns.values() {
            if let (Phase::Established, Some(network)) = (conn.phase, conn.network()) {
                counts.add(conn.kind, network);
            }
        }
        counts
    }

    /// Outbound connections (pending with an address, or established)
    /// counted in `group`.
    pub fn outbound_group_count(&self, group: &GroupKey) -> u32 {
        self.groups.get(group)
    }

    /// Consecutive non-permanent failures since the last successful dial.
    pub fn failed_attempts(&self) -> u32 {
        self.failed_attempts
    }

    /// Whether `Start` has been handled and `Stop` has not.
    pub fn is_running(&self) -> bool {
        self.lifecycle == Lifecycle::Running
    }

    /// Counters of every decision since construction.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// How full the address book inside is; `None` without one.
    pub fn book_counts(&self) -> Option<BookCounts> {
        self.book.as_ref().map(Book::counts)
    }

    /// Stores the addresses of the book inside in `table`, shared with
    /// other managers' books, so that a simulated network keeps each
    /// address once (see [`AddressTable`](crate::addrman::AddressTable)).
    /// Changes no decision. Only Core's book stores addresses this way;
    /// btcd's, or no book, ignores it.
    pub fn share_addresses(&mut self, table: &crate::addrman::AddressTable) {
        if let Some(book) = &mut self.book {
            book.share_addresses(table);
        }
    }

    /// An estimate of the heap the book inside holds, in bytes (0 without
    /// one), not counting an [`AddressTable`](crate::addrman::AddressTable)
    /// it shares with other books.
    pub fn book_heap_bytes(&self) -> usize {
        self.book.as_ref().map_or(0, Book::heap_bytes)
    }

    /// The addresses in the tried table of the book inside (each one
    /// completed a handshake); empty without a book.
    pub fn book_tried_addresses(&self) -> Vec<PeerAddr> {
        self.book
            .as_ref()
            .map_or_else(Vec::new, Book::tried_addresses)
    }

    /// Checks the address book inside against all its invariants (a pass
    /// over its tables: for tests, the simulator and fuzzing).
    pub fn check_book(&self) -> Result<(), String> {
        self.book.as_ref().map_or(Ok(()), Book::check)
    }

    // ----- shared bookkeeping -----

    fn emit(&mut self, action: Action) {
        self.actions.push_back(action);
    }

    /// The next id; ids are never reused.
    fn fresh_id(&mut self) -> ConnId {
        let id = ConnId::from_raw(self.next_id);
        self.next_id = self.next_id.saturating_add(1);
        id
    }

    fn insert(&mut self, conn: Conn) -> ConnId {
        let id = self.fresh_id();
        tally(&mut self.counts, &conn, true);
        if let Some((ip, network)) = inbound_ip(&conn) {
            self.inbound.add(ip, network);
        }
        self.conns.insert(id, conn);
        id
    }

    /// Removes a record with all it holds: its counts, its group, its timer.
    fn take(&mut self, id: ConnId) -> Option<Conn> {
        let conn = self.conns.remove(&id)?;
        self.network_peer_gone(id);
        tally(&mut self.counts, &conn, false);
        if let Some((ip, network)) = inbound_ip(&conn) {
            self.inbound.remove(ip, network);
        }
        if !self.scores.is_empty() {
            self.scores.remove(&id);
        }
        self.ready.remove(id);
        if let (Some(group), Some(addr)) = (conn.group, conn.addr) {
            self.groups.release(addr, group);
        }
        if conn.timer.is_some() {
            self.timers.cancelled();
        }
        Some(conn)
    }

    /// Why an input naming `id` cannot apply: it never existed or it ended.
    fn missing(&self, id: ConnId) -> Ignored {
        if self.state(id) == ConnState::Finished {
            Ignored::Finished(id)
        } else {
            Ignored::UnknownId(id)
        }
    }

    fn timer_is_live(&self, entry: &Entry) -> bool {
        is_live(&self.conns, &self.listeners, self.periodic, entry)
    }

    /// Fires every timer due at `now` that was set before this tick began;
    /// timers set while firing wait for the next tick, so a tick always ends.
    fn on_tick(&mut self) {
        let horizon = self.timers.next_seq();
        while let Some(head) = self.timers.peek() {
            if head.at > self.now || head.seq >= horizon {
                break;
            }
            let live = self.timer_is_live(&head);
            self.timers.pop(live);
            if !live {
                continue;
            }
            match head.owner {
                Owner::Conn(id) => {
                    if let Some(conn) = self.conns.get_mut(&id) {
                        conn.timer = None;
                    }
                    self.conn_timer_fired(id);
                }
                Owner::Listener(listener) => self.listener_timer_fired(listener),
                Owner::Persist => self.persist_timer_fired(),
                Owner::Feeler => self.feeler_timer_fired(),
            }
        }
    }

    /// Keeps the heap's head live, so `poll_timeout` never reports a
    /// cancelled deadline, and the heap small.
    fn drop_stale_timers(&mut self) {
        if !self.timers.take_cancelled_flag() {
            return;
        }
        while let Some(head) = self.timers.peek() {
            if self.timer_is_live(&head) {
                break;
            }
            self.timers.pop(false);
        }
        let (conns, listeners, periodic) = (&self.conns, &self.listeners, self.periodic);
        self.timers
            .compact_if_needed(|entry| is_live(conns, listeners, periodic, entry));
    }
}

/// The address and network the inbound index counts a connection under,
/// if inbound.
fn inbound_ip(conn: &Conn) -> Option<(IpAddr, Network)> {
    match conn.kind {
        ConnKind::Inbound => Some((conn.addr?.host().ip()?, conn.network()?)),
        _ => None,
    }
}

fn is_live(
    conns: &IdMap<Conn>,
    listeners: &BTreeMap<ListenerId, ListenerPause>,
    periodic: Periodic,
    entry: &Entry,
) -> bool {
    let held = match entry.owner {
        Owner::Conn(id) => conns.get(&id).and_then(|c| c.timer).map(|(seq, _)| seq),
        Owner::Listener(l) => listeners.get(&l).and_then(|p| p.timer),
        Owner::Persist => periodic.persist,
        Owner::Feeler => periodic.feeler,
    };
    held == Some(entry.seq)
}
