//! One simulated node: a real `ConnManager` (with its address book inside,
//! or btcd's `AddrBook` beside it when the config keeps the book outside),
//! the sockets a runtime would hold for it, and the checker that watches it.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::time::Duration;

use connmgr::addrbook::{AddrBook, SelectPolicy};
use connmgr::addrman::AddressTable;
use connmgr::trace::TraceWriter;
use connmgr::{
    Action, BookSnapshot, Config, ConnId, ConnManager, Ignored, Input, Instant, PeerAddr, Seed,
};

use crate::invariants::{Checker, Violation};
use crate::trickle::Outboxes;

/// Index of a node in the simulation.
pub type NodeIdx = usize;
/// Index of a simulated TCP connection.
pub type LinkId = u64;

/// What one input produced: `handle`'s answer and the actions drained.
pub type Handled = (Result<Option<ConnId>, Ignored>, Vec<Action>);

/// How many recent steps a node remembers, to explain a violation.
const HISTORY: usize = 12;

/// What one node did, for the report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeStats {
    /// Virtual time from start to the first moment all automatic outbound
    /// slots were connected.
    pub time_to_target: Option<Duration>,
    /// Dials made.
    pub dials: u64,
    /// Dials and address lookups that failed.
    pub failures: u64,
    /// Retries and throttled replacements scheduled.
    pub retries: u64,
    /// Largest backoff seen.
    pub largest_backoff: Duration,
    /// Distinct network groups among established automatic (full-relay and
    /// block-relay-only) connections at the end.
    pub outbound_groups: usize,
    /// Automatic (full-relay) outbound connections established at the end.
    pub outbound: u32,
    /// Block-relay-only connections established at the end.
    pub block_relay: u32,
    /// Invariant checks run.
    pub checks: u64,
    /// Crashes suffered.
    pub crashes: u32,
    /// Clean stops (`Stop`, anchors saved).
    pub clean_stops: u32,
    /// Anchors dialled at a start.
    pub anchors_dialled: u64,
    /// Block-relay-only connections made to an anchor of the last life.
    pub anchors_reconnected: u64,
    /// Addresses in its book at the end (the book inside, or the
    /// application's): what the simulator's memory grows with.
    pub book_entries: u64,
    /// The heap its book holds, in bytes, without the network's shared
    /// address table (an estimate: allocator overhead aside).
    pub book_bytes: u64,
    /// The network of its own address.
    pub network: Option<connmgr::Network>,
    /// Established automatic (full-relay and block-relay-only) outbound
    /// connections at the end, per network in `Network::ALL` order.
    pub outbound_by_network: [u32; 5],
}

/// One step of a node, kept to explain a violation.
#[derive(Clone, Debug)]
pub struct Step {
    /// When.
    pub at: Instant,
    /// What was fed.
    pub input: Input,
    /// What came out.
    pub actions: Vec<Action>,
}

pub(crate) struct Node {
    pub addr: PeerAddr,
    pub config: Config,
    pub mgr: ConnManager,
    /// The application's book, when the config keeps none inside.
    pub book: Option<AddrBook>,
    pub alive: bool,
    /// Bumped at every restart, so events for a previous life are dropped.
    pub incarnation: u32,
    pub started_at: Instant,
    pub checker: Checker,
    pub history: VecDeque<Step>,
    /// Traces of each life, if this node is traced.
    pub traces: Option<Vec<TraceWriter<Vec<u8>>>>,
    /// The socket (link) behind each id the runtime holds.
    pub sockets: BTreeMap<ConnId, LinkId>,
    /// Dials in flight: (id, attempt).
    pub dials: BTreeMap<(ConnId, u32), ()>,
    pub listening: bool,
    /// Whether others can connect to it at all (not behind a NAT).
    pub reachable: bool,
    pub paused: bool,
    /// The tick currently scheduled for this node.
    pub next_tick: Option<Instant>,
    pub stats: NodeStats,
    pub steps: u64,
    /// The anchors saved at the last clean stop (the anchors file).
    pub anchors: Vec<PeerAddr>,
    /// The anchors this life was started with, not yet reconnected.
    pub restored_anchors: Vec<PeerAddr>,
    /// The network's addresses, which the book inside stores its own in.
    pub addresses: AddressTable,
    /// What waits to be sent to each peer (Core's address trickle).
    pub(crate) outboxes: Outboxes,
}

impl Node {
    pub fn new(
        addr: PeerAddr,
        config: Config,
        book: Option<AddrBook>,
        now: Instant,
        traced: bool,
        addresses: &AddressTable,
    ) -> Node {
        let mut mgr =
            ConnManager::new(config.clone(), now).expect("the simulator's config is valid");
        mgr.share_addresses(addresses);
        let mut node = Node {
            addr,
            checker: Checker::for_manager(&mgr),
            config,
            mgr,
            book,
            alive: true,
            incarnation: 0,
            started_at: now,
            history: VecDeque::with_capacity(HISTORY),
            traces: traced.then(Vec::new),
            sockets: BTreeMap::new(),
            dials: BTreeMap::new(),
            listening: true,
            reachable: true,
            paused: false,
            next_tick: None,
            stats: NodeStats::default(),
            steps: 0,
            anchors: Vec::new(),
            restored_anchors: Vec::new(),
            addresses: addresses.clone(),
            outboxes: Outboxes::default(),
        };
        node.begin_trace(now);
        node
    }

    fn begin_trace(&mut self, now: Instant) {
        if let Some(traces) = &mut self.traces {
            let book = self.mgr.book_snapshot();
            let writer = TraceWriter::with_book(Vec::new(), &self.config, now, book.as_ref())
                .expect("writing to memory cannot fail");
            traces.push(writer);
        }
    }

    /// The seed of this node's next life: a function of the current one.
    pub fn next_life_seed(&self) -> Seed {
        let current = self.config.rng_seed.unwrap_or(Seed::from_u64(0));
        Seed::from_u64(current.keys().jitter)
    }

    /// What a node saves of its book (as a runtime does on `Persist`): the
    /// book inside, or the application's own.
    pub fn saved_book(&self) -> Option<BookSnapshot> {
        match &self.book {
            Some(book) => Some(BookSnapshot::Btcd(book.snapshot())),
            None => self.mgr.book_snapshot(),
        }
    }

    /// A new life after a crash: a fresh manager (on `seed`) and checker,
    /// the book it had saved, no sockets.
    pub fn restart(&mut self, now: Instant, seed: Seed, saved: Option<BookSnapshot>) {
        self.stats.checks += self.checker.checks();
        self.stats.largest_backoff = self
            .stats
            .largest_backoff
            .max(self.checker.largest_backoff());
        let old = self.mgr.stats();
        self.stats.dials += old.dials;
        self.stats.failures += old.dial_failures + old.address_failures;
        self.stats.anchors_dialled += old.anchors_dialled;
        self.config.rng_seed = Some(seed);
        let key = seed.keys().book;
        let config = self.config.clone();
        let fresh = || ConnManager::new(config.clone(), now).expect("valid config");
        match (&mut self.book, saved) {
            (Some(book), Some(BookSnapshot::Btcd(saved))) => {
                *book = AddrBook::from_snapshot(&saved, key).unwrap_or_else(|_| AddrBook::new(key));
                self.mgr = fresh();
            }
            (Some(book), _) => {
                *book = AddrBook::new(key);
                self.mgr = fresh();
            }
            (None, Some(saved)) => {
                self.mgr = ConnManager::with_book(config.clone(), now, &saved)
                    .map_or_else(|_| fresh(), |(mgr, _)| mgr);
            }
            (None, None) => self.mgr = fresh(),
        }
        self.mgr.share_addresses(&self.addresses);
        self.checker = Checker::for_manager(&self.mgr);
        self.alive = true;
        self.incarnation += 1;
        self.started_at = now;
        self.sockets.clear();
        self.outboxes.clear();
        self.dials.clear();
        self.listening = true;
        self.paused = false;
        self.next_tick = None;
        self.begin_trace(now);
    }

    /// Feeds one input, checks the invariants, records the trace and history.
    pub fn feed(&mut self, now: Instant, input: Input) -> Result<Handled, Violation> {
        self.steps += 1;
        let result = self.mgr.handle(now, input.clone());
        let mut actions = Vec::new();
        while let Some(action) = self.mgr.poll_action() {
            actions.push(action);
        }
        if let Some(writer) = self.traces.as_mut().and_then(|t| t.last_mut()) {
            writer
                .record(now, &input, Some(&actions))
                .expect("writing to memory cannot fail");
        }
        let verdict = self
            .checker
            .observe(now, &input, &result, &actions, &self.mgr);
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(Step {
            at: now,
            input,
            actions: actions.clone(),
        });
        verdict.map(|()| (result, actions))
    }

    /// The address the application's book offers for an automatic request.
    pub fn choose_address(
        &mut self,
        now: Instant,
        policy: &SelectPolicy,
    ) -> Result<PeerAddr, connmgr::AddressError> {
        let mgr = &self.mgr;
        match &mut self.book {
            Some(book) => book
                .select(now, policy, |group| mgr.outbound_group_count(group))
                .map(PeerAddr::from),
            None => Err(connmgr::AddressError::Empty),
        }
    }

    /// The checks too costly for every step, on the node as it is now.
    pub fn finish_checks(&self) -> Result<(), Violation> {
        if self.alive {
            self.checker.finish(&self.mgr)
        } else {
            Ok(())
        }
    }

    /// The last steps, readable.
    pub fn recent_history(&self) -> String {
        let mut out = String::new();
        for step in &self.history {
            let at = format!("{:.3}s", (step.at - crate::sim::EPOCH).as_secs_f64());
            let _ = writeln!(out, "  {at} -> {:?}", step.input);
            for action in &step.actions {
                let _ = writeln!(out, "  {:>w$}    <- {action:?}", "", w = at.len());
            }
        }
        out
    }

    /// Folds the live checker's figures into the stats.
    pub fn final_stats(&self) -> NodeStats {
        let mut stats = self.stats.clone();
        stats.checks += self.checker.checks();
        stats.largest_backoff = stats.largest_backoff.max(self.checker.largest_backoff());
        if !self.alive {
            return stats;
        }
        stats.anchors_dialled += self.mgr.stats().anchors_dialled;
        stats.outbound = self.mgr.counts().automatic_established;
        stats.block_relay = self.mgr.counts().block_relay_established;
        let outbound: Vec<PeerAddr> = self
            .sockets
            .keys()
            .filter_map(|id| self.mgr.info(*id))
            // Feelers and address fetches hold no group slot.
            .filter(|info| {
                info.kind.is_automatic() && info.state == connmgr::ConnState::Established
            })
            .filter_map(|info| info.addr)
            .collect();
        let groups: std::collections::BTreeSet<_> = outbound
            .iter()
            .map(|addr| connmgr::GroupKey::of_host(addr.host()))
            .collect();
        stats.outbound_groups = groups.len();
        stats.network = Some(self.addr.network());
        for addr in &outbound {
            stats.outbound_by_network[addr.network().index()] += 1;
        }
        stats.book_entries = match (&self.book, self.mgr.book_counts()) {
            (Some(book), _) => book.len() as u64,
            (None, Some(counts)) => (counts.new + counts.tried) as u64,
            (None, None) => 0,
        };
        stats.book_bytes = match &self.book {
            Some(book) => book.heap_bytes(),
            None => self.mgr.book_heap_bytes(),
        } as u64;
        stats
    }
}

/// The socket address of a node's address, for the application's btcd
/// book, which knows IP peers only (an address without one is
/// `0.0.0.0:0`, which that book refuses).
pub(crate) fn socket(addr: PeerAddr) -> std::net::SocketAddr {
    addr.socket_addr()
        .unwrap_or_else(|| std::net::SocketAddr::from(([0, 0, 0, 0], 0)))
}
