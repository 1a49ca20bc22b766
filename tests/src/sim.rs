//! The simulator: many nodes over a simulated network, in virtual time.
//!
//! Events sit in a `BTreeMap` keyed by `(time, sequence)`, so equal times
//! keep the order they were scheduled in and a run is a pure function of its
//! seed. The network is modelled at the level a connection manager sees: a
//! dial is refused, never answered, or reaches a listener that admits or
//! refuses it; an established connection carries nothing but its own end
//! (EOF or reset), delivered after the latency. Every input to every node is
//! judged by the [`Checker`](crate::Checker).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use connmgr::addrbook::{AddrBook, SelectPolicy};
use connmgr::addrman::AddressTable;
use connmgr::{
    AcceptError, Action, AddressBook, Advertised, BookSnapshot, Config, ConnId, ConnKind,
};
use connmgr::{DialError, Direction, Input, Instant, ListenerId, PeerAddr, PeerEvent, Rng, Seed};

use crate::addresses::node_addresses;
use crate::attack::{attacker_addresses, trash_address, Attack, EclipseReport, MESSAGE};
use crate::faults::{FaultProfile, Shutdown};
use crate::node::{socket, Handled, LinkId, Node, NodeIdx, NodeStats};
use crate::overlay;
use crate::report::{Report, Sample};

/// When every simulated run begins: 2023-11-14, on the Unix-epoch clock
/// the runtimes use. Not 0: the manager disbelieves a gossiped time before
/// 1973 (Bitcoin Core's rule), so a clock from 0 would make every learned
/// address "5 days old" and every book's ages meaningless.
pub const EPOCH: Instant = Instant::from_secs(1_700_000_000);

/// Everything a run depends on.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Decides everything else.
    pub seed: u64,
    /// Number of nodes.
    pub nodes: usize,
    /// Virtual time simulated.
    pub duration: Duration,
    /// What goes wrong.
    pub faults: FaultProfile,
    /// Each node's manager config (its seed is varied per node).
    pub node_config: Config,
    /// How many of the first nodes form the seed list everybody starts from.
    pub seed_nodes: usize,
    /// How many other nodes' addresses a DNS seeder adds to each node's
    /// seed list: a random sample of the network per node, as a crawler's
    /// seeder answers. Without it every node starts from the same few seed
    /// nodes, which then spend their lives evicting newcomers.
    pub dns_answer: usize,
    /// Nodes whose inputs are recorded as traces.
    pub traced: Vec<NodeIdx>,
    /// How often outbound counts are sampled for the report's plot.
    pub sample_every: Duration,
    /// How many individual nodes the samples follow (the mean covers all).
    pub sampled_nodes: usize,
    /// `(a, b)`: node `a` keeps a permanent connection to node `b`.
    pub permanent_peers: Vec<(NodeIdx, NodeIdx)>,
    /// An eclipse attack on the last node, if any: its nodes come on top
    /// of `nodes` and stay out of the report's per-node figures.
    pub attack: Option<Attack>,
    /// The share of honest nodes that accept connections, in percent. The
    /// others only dial out: they never announce themselves and are in no
    /// seeder's answer, as most of Bitcoin's nodes (Bitnodes, 2018: about
    /// 11 800 reachable, 98 000 not). The seed nodes and an attack's
    /// victim are always reachable.
    pub reachable_percent: u8,
    /// The mean interval of Bitcoin Core's address trickle: what a node
    /// shares with a peer leaves in one message per (exponentially drawn)
    /// interval. Zero sends every share at once.
    pub addr_trickle: Duration,
    /// The share of nodes, in percent, on Tor alone (an onion address,
    /// `onlynet` onion); with any overlay in the run, every second IP node
    /// also reaches Tor and I2P through proxies, at most two connections
    /// each. The seed nodes stay on IP.
    pub onion_percent: u8,
    /// The share of nodes, in percent, on I2P alone.
    pub i2p_percent: u8,
}

impl SimConfig {
    /// A run of `nodes` nodes for `duration` under `faults`, with
    /// `Config::default()` nodes (target 8) and 5 seed nodes.
    pub fn new(seed: u64, nodes: usize, duration: Duration, faults: FaultProfile) -> SimConfig {
        SimConfig {
            seed,
            nodes,
            duration,
            faults,
            node_config: Config::default(),
            seed_nodes: 5,
            dns_answer: 20,
            traced: Vec::new(),
            sample_every: Duration::from_secs(5),
            sampled_nodes: 4,
            permanent_peers: Vec::new(),
            attack: None,
            reachable_percent: 100,
            addr_trickle: Duration::ZERO,
            onion_percent: 0,
            i2p_percent: 0,
        }
    }

    /// The command line that reproduces this run.
    pub fn command(&self) -> String {
        format!("connmgr sim --seed {} {}", self.seed, self.options())
    }

    /// The options of [`command`](SimConfig::command) but the seed: what
    /// makes one experiment of a sweep.
    pub fn options(&self) -> String {
        let preset = match crate::preset_name(&self.node_config) {
            Some(name) if name != crate::PRESETS[0] => format!(" --preset {name}"),
            _ => String::new(),
        };
        let attack = self.attack.as_ref().map_or(String::new(), |a| {
            let clean = match a.restart {
                Shutdown::Clean => " --clean-restart",
                Shutdown::Crash => "",
            };
            let round = a.round.map_or(String::new(), |r| {
                format!(" --attack-round {}s", r.as_secs())
            });
            format!(
                " --attack {} --attack-period {}s{round}{clean}",
                a.model,
                a.period.as_secs()
            )
        });
        let mut gossip = String::new();
        if self.reachable_percent < 100 {
            gossip += &format!(" --reachable {}", self.reachable_percent);
        }
        if !self.addr_trickle.is_zero() {
            gossip += &format!(" --addr-trickle {}s", self.addr_trickle.as_secs());
        }
        if self.onion_percent > 0 {
            gossip += &format!(" --onion {}", self.onion_percent);
        }
        if self.i2p_percent > 0 {
            gossip += &format!(" --i2p {}", self.i2p_percent);
        }
        format!(
            "--nodes {} --duration {}s --faults {}{preset}{gossip}{attack}",
            self.nodes,
            self.duration.as_secs(),
            self.faults.name
        )
    }
}

/// An invariant broke: everything needed to understand and reproduce it.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The run's seed.
    pub seed: u64,
    /// Inputs fed to all nodes before the failing one.
    pub step: u64,
    /// The node that broke a promise.
    pub node: NodeIdx,
    /// When, since the run began.
    pub at: Duration,
    /// What broke.
    pub message: String,
    /// The node's last inputs and actions.
    pub history: String,
    /// The command that reproduces the run.
    pub command: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invariant violated: {}", self.message)?;
        writeln!(
            f,
            "  seed {}, step {}, node {}, at {:.3}s",
            self.seed,
            self.step,
            self.node,
            self.at.as_secs_f64()
        )?;
        writeln!(f, "  last inputs and actions of node {}:", self.node)?;
        write!(f, "{}", self.history)?;
        write!(f, "  reproduce with: {}", self.command)
    }
}

impl std::error::Error for Failure {}

#[derive(Clone, Copy, Debug)]
struct End {
    node: NodeIdx,
    incarnation: u32,
    /// The id this end's manager knows the connection by, once it took it.
    id: Option<ConnId>,
    open: bool,
    /// The other end closed before this end was registered.
    peer_gone: bool,
}

/// A simulated TCP connection: end 0 dialled, end 1 accepted.
#[derive(Clone, Copy, Debug)]
struct Link {
    ends: [End; 2],
}

#[derive(Clone, Debug)]
enum Event {
    Tick {
        node: NodeIdx,
        incarnation: u32,
    },
    Deliver {
        node: NodeIdx,
        incarnation: u32,
        input: Input,
    },
    Syn {
        from: NodeIdx,
        incarnation: u32,
        id: ConnId,
        attempt: u32,
        to: NodeIdx,
    },
    SynAck {
        node: NodeIdx,
        incarnation: u32,
        id: ConnId,
        attempt: u32,
        link: LinkId,
    },
    DialFailed {
        node: NodeIdx,
        incarnation: u32,
        id: ConnId,
        attempt: u32,
        error: DialError,
    },
    PeerClosed {
        link: LinkId,
        side: usize,
    },
    Faults,
    Crash {
        node: NodeIdx,
    },
    Restart {
        node: NodeIdx,
        book: Option<Box<BookSnapshot>>,
    },
    RestartAll(Shutdown),
    PartitionStart,
    PartitionEnd,
    SeedsArrive {
        node: NodeIdx,
    },
    Sample,
    /// The attacker's nodes connect to the victim.
    AttackStart,
    /// The victim goes down, to restart.
    VictimDown,
    /// An attacker node visits the victim (attacks in rounds).
    AttackRound {
        node: NodeIdx,
    },
    /// An attacker node advertises over one of its connections (the link
    /// it had when this was scheduled: a redial keeps the id, not the link).
    Advertise {
        node: NodeIdx,
        incarnation: u32,
        id: ConnId,
        link: LinkId,
    },
    /// A connection's address outbox is due (Core's trickle).
    FlushAddresses {
        node: NodeIdx,
        incarnation: u32,
        id: ConnId,
    },
    /// Addresses reach a node whose book is the application's.
    AppLearned {
        node: NodeIdx,
        incarnation: u32,
        source: IpAddr,
        addrs: Vec<PeerAddr>,
    },
}

/// An attack under way: who is attacked, with which addresses.
struct AttackState {
    attack: Attack,
    victim: NodeIdx,
    addrs: HashSet<PeerAddr>,
    list: Vec<PeerAddr>,
    /// Its own randomness (what to advertise), so that honest runs draw as
    /// they did before attacks existed.
    rng: Rng,
    /// Whether the attacker's nodes have begun connecting to the victim.
    started: bool,
    restarted_at: Option<Instant>,
    /// Since when the victim has been eclipsed without a break.
    eclipsed_since: Option<Instant>,
    /// The attacker's share of the victim's tables, a sample a minute.
    over_time: Vec<(Duration, f64, f64)>,
    /// The attacker's entries in the victim's tried table, and its size,
    /// as the victim went down.
    tried_at_restart: Option<(usize, usize)>,
}

/// A simulation in progress.
pub struct Sim {
    cfg: SimConfig,
    now: Instant,
    seq: u64,
    queue: BTreeMap<(Instant, u64), Event>,
    rng: Rng,
    nodes: Vec<Node>,
    /// Only looked up, never iterated.
    by_addr: HashMap<PeerAddr, NodeIdx>,
    links: BTreeMap<LinkId, Link>,
    next_link: LinkId,
    partition: Option<Vec<bool>>,
    seed_addrs: Vec<PeerAddr>,
    /// The honest nodes that accept connections: what seeders answer with.
    reachable: Vec<NodeIdx>,
    /// Nodes that know the seed list before they start.
    seeded: Vec<NodeIdx>,
    policy: SelectPolicy,
    samples: Vec<Sample>,
    steps: u64,
    on_sample: Option<SampleHook>,
    /// Nodes `0..honest` are the honest network; the attacker's follow.
    honest: usize,
    attack: Option<AttackState>,
    /// The addresses every node's book stores its own in.
    addresses: AddressTable,
}

/// Called with every sample as it is taken.
type SampleHook = Box<dyn FnMut(&Sample)>;

type Step<T> = Result<T, Box<Failure>>;

impl Sim {
    /// Builds the network: addresses, books seeded from the seed list, nodes.
    pub fn new(cfg: SimConfig) -> Sim {
        let mut rng = Rng::new(cfg.seed);
        let mut addrs = node_addresses(cfg.nodes, &mut rng);
        let (onion, i2p) = (cfg.onion_percent, cfg.i2p_percent);
        let mut overlay_rng = Rng::new(cfg.seed ^ 0x0E1A_7000);
        overlay::assign(&mut addrs, cfg.seed_nodes, onion, i2p, &mut overlay_rng);
        let overlays = onion > 0 || i2p > 0;
        let seed_addrs: Vec<PeerAddr> = addrs.iter().take(cfg.seed_nodes.max(1)).copied().collect();
        let mut nodes = Vec::with_capacity(cfg.nodes);
        let mut queue = BTreeMap::new();
        let mut seq = 0;
        let mut seeded = Vec::new();
        // One table for every book: an address the network knows is stored
        // once, not once per node.
        let addresses = AddressTable::new();
        for (i, addr) in addrs.iter().enumerate() {
            let node_seed =
                Seed::from_u64(cfg.seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let config = Config {
                rng_seed: Some(node_seed),
                networks: overlay::networks(*addr, i, overlays, &cfg.node_config.networks),
                ..cfg.node_config.clone()
            };
            // The seed list is known from the start, or (an empty book)
            // arrives a while later.
            if rng.unit() < cfg.faults.empty_books {
                let at = EPOCH + Duration::from_secs(30 + rng.below(90));
                queue.insert((at, seq), Event::SeedsArrive { node: i });
                seq += 1;
            } else {
                seeded.push(i);
            }
            let outside = config.address_book == AddressBook::External;
            let book = outside.then(|| AddrBook::new(node_seed.keys().book));
            nodes.push(Node::new(
                *addr,
                config,
                book,
                EPOCH,
                cfg.traced.contains(&i),
                &addresses,
            ));
        }
        let mut by_addr: HashMap<PeerAddr, NodeIdx> =
            addrs.iter().enumerate().map(|(i, a)| (*a, i)).collect();
        let honest = nodes.len();
        let reachable = reachable_nodes(&cfg, honest);
        for (i, node) in nodes.iter_mut().enumerate() {
            node.reachable = reachable.binary_search(&i).is_ok();
        }
        let attack = cfg.attack.clone().filter(|_| honest > 0).map(|attack| {
            let mut rng = Rng::new(cfg.seed ^ 0xA77A_C4ED);
            let taken = addrs.iter().copied().collect();
            let list = attacker_addresses(attack.model, &mut rng, &taken);
            for (k, addr) in list.iter().enumerate() {
                let seed = Seed::from_u64(rng.below(u64::MAX) ^ k as u64);
                by_addr.insert(*addr, nodes.len());
                nodes.push(Node::new(
                    *addr,
                    attacker_config(seed),
                    None,
                    EPOCH,
                    false,
                    &addresses,
                ));
            }
            AttackState {
                attack,
                victim: honest - 1,
                addrs: list.iter().copied().collect(),
                list,
                rng,
                started: false,
                restarted_at: None,
                eclipsed_since: None,
                tried_at_restart: None,
                over_time: Vec::new(),
            }
        });
        Sim {
            policy: SelectPolicy {
                max_per_group: cfg.node_config.max_outbound_per_group,
                ..SelectPolicy::default()
            },
            cfg,
            now: EPOCH,
            seq,
            queue,
            rng,
            nodes,
            by_addr,
            links: BTreeMap::new(),
            next_link: 0,
            partition: None,
            seed_addrs,
            reachable,
            seeded,
            samples: Vec::new(),
            steps: 0,
            on_sample: None,
            honest,
            attack,
            addresses,
        }
    }

    /// Calls `f` with every sample as it is taken (every
    /// `SimConfig::sample_every` of virtual time): for progress reports on
    /// long runs.
    pub fn on_sample(mut self, f: impl FnMut(&Sample) + 'static) -> Sim {
        self.on_sample = Some(Box::new(f));
        self
    }

    /// Runs to the end, then stops every node and checks that no connection
    /// was leaked.
    pub fn run(mut self) -> Result<Report, Box<Failure>> {
        self.schedule_faults();
        if let Some(state) = &self.attack {
            let (start, period) = (state.attack.start, state.attack.period);
            self.schedule(EPOCH + start, Event::AttackStart);
            self.schedule(EPOCH + start + period, Event::VictimDown);
        }
        self.schedule(self.now, Event::Sample);
        for (a, b) in self.cfg.permanent_peers.clone() {
            let addr = self.nodes[b].addr;
            self.feed(
                a,
                Input::Connect {
                    addr,
                    permanent: true,
                },
            )?;
        }
        for node in std::mem::take(&mut self.seeded) {
            self.dispatch(Event::SeedsArrive { node })?;
        }
        for node in 0..self.nodes.len() {
            self.feed(node, Input::Start)?;
        }
        let end = EPOCH + self.cfg.duration;
        while let Some((&(at, seq), _)) = self.queue.first_key_value() {
            if at > end {
                break;
            }
            let Some(event) = self.queue.remove(&(at, seq)) else {
                break;
            };
            self.now = at;
            self.dispatch(event)?;
        }
        self.now = end;
        for node in 0..self.nodes.len() {
            if let Err(violation) = self.nodes[node].finish_checks() {
                return Err(Box::new(Failure {
                    seed: self.cfg.seed,
                    step: self.steps,
                    node,
                    at: self.now - EPOCH,
                    message: violation.message,
                    history: self.nodes[node].recent_history(),
                    command: self.cfg.command(),
                }));
            }
        }
        self.watch_victim();
        let at_end = self.node_stats();
        let eclipse = self.eclipse_report();
        self.shut_down()?;
        Ok(self.report(at_end, eclipse))
    }

    fn schedule(&mut self, at: Instant, event: Event) {
        self.queue.insert((at, self.seq), event);
        self.seq += 1;
    }

    fn latency(&mut self) -> Duration {
        let (lo, hi) = self.cfg.faults.latency_ms;
        Duration::from_millis(lo + self.rng.below(hi.saturating_sub(lo) + 1))
    }

    fn schedule_faults(&mut self) {
        let f = self.cfg.faults.clone();
        let stochastic = f.resets_per_conn_minute > 0.0
            || f.crashes_per_node_hour > 0.0
            || f.accept_errors_per_node_minute > 0.0;
        if stochastic {
            self.schedule(self.now + Duration::from_secs(1), Event::Faults);
        }
        if let Some(every) = f.partition_every {
            self.schedule(self.now + every, Event::PartitionStart);
        }
        if let Some(shutdown) = f.everybody_restarts {
            let at = self.now + self.cfg.duration / 2;
            self.schedule(at, Event::RestartAll(shutdown));
        }
    }

    fn dispatch(&mut self, event: Event) -> Step<()> {
        match event {
            Event::Tick { node, incarnation } => {
                let n = &mut self.nodes[node];
                if n.alive
                    && n.incarnation == incarnation
                    && n.next_tick.is_some_and(|t| t <= self.now)
                {
                    n.next_tick = None;
                    self.feed(node, Input::Tick)?;
                }
            }
            Event::Deliver {
                node,
                incarnation,
                input,
            } => {
                if self.is_current(node, incarnation) {
                    self.feed(node, input)?;
                }
            }
            Event::Syn {
                from,
                incarnation,
                id,
                attempt,
                to,
            } => self.syn(from, incarnation, id, attempt, to)?,
            Event::SynAck {
                node,
                incarnation,
                id,
                attempt,
                link,
            } => {
                self.syn_ack(node, incarnation, id, attempt, link)?;
            }
            Event::DialFailed {
                node,
                incarnation,
                id,
                attempt,
                error,
            } => {
                if self.is_current(node, incarnation)
                    && self.nodes[node].dials.remove(&(id, attempt)).is_some()
                {
                    self.feed(
                        node,
                        Input::DialResult {
                            id,
                            attempt,
                            result: Err(error),
                        },
                    )?;
                }
            }
            Event::PeerClosed { link, side } => self.peer_closed(link, side)?,
            Event::Faults => self.random_faults()?,
            Event::Crash { node } => self.crash(node),
            Event::Restart { node, book } => {
                // A new life draws a new seed, as a restarted process would;
                // here it follows from the last one, so the run replays.
                let seed = self.nodes[node].next_life_seed();
                let n = &mut self.nodes[node];
                n.restart(self.now, seed, book.map(|b| *b));
                // The runtime reads the anchors file (and deletes it).
                let addrs = std::mem::take(&mut n.anchors);
                n.restored_anchors.clone_from(&addrs);
                if !addrs.is_empty() {
                    self.feed(node, Input::Anchors { addrs })?;
                }
                self.feed(node, Input::Start)?;
                let attacking = self.attack.as_ref().is_some_and(|a| a.started);
                if node >= self.honest && attacking {
                    self.attack_victim(node)?;
                }
            }
            Event::RestartAll(shutdown) => {
                for node in 0..self.nodes.len() {
                    if !self.nodes[node].alive {
                        continue;
                    }
                    match shutdown {
                        Shutdown::Crash => self.crash(node),
                        Shutdown::Clean => {
                            self.feed(node, Input::Stop)?;
                            self.go_down(node, Shutdown::Clean);
                        }
                    }
                }
            }
            Event::PartitionStart => self.partition_start(),
            Event::PartitionEnd => self.partition = None,
            Event::SeedsArrive { node } => {
                let now = self.now;
                let own = self.nodes[node].addr;
                let mut seeds: Vec<PeerAddr> = self.seed_addrs.clone();
                // Answers of networks the node reaches (a node on Tor alone
                // starts from onion seeds, as Core ships them); a bounded
                // number of draws.
                let networks = self.nodes[node].mgr.config().networks.clone();
                let mut answered = 0;
                for _ in 0..self.cfg.dns_answer * 20 {
                    if answered == self.cfg.dns_answer {
                        break;
                    }
                    let pick = self.rng.below(self.reachable.len() as u64) as usize;
                    let addr = self.nodes[self.reachable[pick]].addr;
                    if networks.reachable(addr.network()) {
                        seeds.push(addr);
                        answered += 1;
                    }
                }
                seeds.sort_unstable();
                seeds.dedup();
                seeds.retain(|s| *s != own);
                match &mut self.nodes[node].book {
                    Some(book) => {
                        for seed in seeds {
                            let seed = socket(seed);
                            book.add(now, seed, seed.ip());
                        }
                    }
                    None => {
                        let addrs = seeds.into_iter().map(|a| Advertised::new(a, now)).collect();
                        self.feed(node, Input::Learned { from: None, addrs })?;
                    }
                }
            }
            Event::Sample => {
                self.sample();
                self.watch_victim();
                let next = self.now + self.cfg.sample_every;
                self.schedule(next, Event::Sample);
            }
            Event::AttackStart => self.attack_start()?,
            Event::VictimDown => self.victim_down()?,
            Event::AttackRound { node } => self.attack_round(node)?,
            Event::Advertise {
                node,
                incarnation,
                id,
                link,
            } => self.advertise(node, incarnation, id, Some(link)),
            Event::FlushAddresses {
                node,
                incarnation,
                id,
            } => {
                if self.is_current(node, incarnation) {
                    let (now, every) = (self.now, self.cfg.addr_trickle);
                    let n = &mut self.nodes[node];
                    let addrs = n.outboxes.take(id, now, every, &mut self.rng);
                    if !addrs.is_empty() {
                        self.send(node, id, |from| Input::Learned {
                            from: Some(from),
                            addrs,
                        });
                    }
                }
            }
            Event::AppLearned {
                node,
                incarnation,
                source,
                addrs,
            } => {
                if self.is_current(node, incarnation) {
                    let now = self.now;
                    if let Some(book) = &mut self.nodes[node].book {
                        for addr in addrs {
                            book.add(now, socket(addr), source);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn is_current(&self, node: NodeIdx, incarnation: u32) -> bool {
        let n = &self.nodes[node];
        n.alive && n.incarnation == incarnation
    }

    /// Feeds an input to a node and performs the actions that come out.
    fn feed(&mut self, node: NodeIdx, input: Input) -> Step<Option<ConnId>> {
        let (result, actions) = self.step(node, input)?;
        self.perform(node, actions)?;
        Ok(result.ok().flatten())
    }

    /// Feeds an input and checks the invariants, without performing.
    fn step(&mut self, node: NodeIdx, input: Input) -> Step<Handled> {
        self.steps += 1;
        let now = self.now;
        match self.nodes[node].feed(now, input) {
            Ok(out) => Ok(out),
            Err(violation) => Err(Box::new(Failure {
                seed: self.cfg.seed,
                step: self.steps,
                node,
                at: now - EPOCH,
                message: violation.message,
                history: self.nodes[node].recent_history(),
                command: self.cfg.command(),
            })),
        }
    }

    fn perform(&mut self, node: NodeIdx, actions: Vec<Action>) -> Step<()> {
        let incarnation = self.nodes[node].incarnation;
        for action in actions {
            match action {
                Action::RequestAddress { id } => {
                    let now = self.now;
                    let policy = self.policy.clone();
                    let result = self.nodes[node].choose_address(now, &policy);
                    let input = Input::AddressResult { id, result };
                    self.schedule(
                        now,
                        Event::Deliver {
                            node,
                            incarnation,
                            input,
                        },
                    );
                }
                Action::Dial {
                    id,
                    attempt,
                    addr,
                    route,
                    ..
                } => {
                    self.nodes[node].dials.insert((id, attempt), ());
                    // A name only a proxy reaches, dialled directly, fails
                    // at once, as in a runtime.
                    let direct_to_overlay = route.is_direct() && addr.socket_addr().is_none();
                    self.dial(node, id, attempt, addr, direct_to_overlay);
                }
                Action::CancelDial { id, attempt } => {
                    self.nodes[node].dials.remove(&(id, attempt));
                }
                Action::Close { id, .. } => self.drop_socket(node, id),
                Action::RetryAfter { .. } => self.nodes[node].stats.retries += 1,
                Action::PauseListener { .. } => self.nodes[node].paused = true,
                Action::ResumeListener { .. } => self.nodes[node].paused = false,
                Action::CloseListeners => self.nodes[node].listening = false,
                // A simulated crash keeps the book as it was at the crash
                // (`crash`), as if it had just been saved.
                Action::Persist => {}
                // The anchors file, written at a clean stop.
                Action::SaveAnchors { addrs } => self.nodes[node].anchors = addrs,
                Action::NotifyPeer(PeerEvent::Connected {
                    id,
                    addr,
                    direction,
                    kind,
                    ..
                }) => {
                    self.connected(node, addr, direction);
                    let n = &mut self.nodes[node];
                    if let Some(i) = n.restored_anchors.iter().position(|a| *a == addr) {
                        if kind == ConnKind::BlockRelay {
                            n.restored_anchors.swap_remove(i);
                            n.stats.anchors_reconnected += 1;
                        }
                    }
                    // Both ends exchange `version` and `verack`: the
                    // handshake takes a round trip.
                    let at = self.now + self.latency() * 2;
                    let input = Input::Handshaked { id };
                    let deliver = Event::Deliver {
                        node,
                        incarnation,
                        input,
                    };
                    self.schedule(at, deliver);
                }
                Action::NotifyPeer(PeerEvent::Ready {
                    id,
                    addr,
                    direction,
                }) => self.ready(node, id, addr, direction),
                Action::NotifyPeer(PeerEvent::ShareAddresses { id, addrs }) => {
                    self.share(node, id, addrs);
                }
                Action::NotifyPeer(
                    PeerEvent::Disconnected { id, .. } | PeerEvent::GaveUp { id, .. },
                ) => self.drop_socket(node, id),
                Action::NotifyPeer(_) => {}
            }
        }
        self.reschedule_tick(node);
        Ok(())
    }

    fn reschedule_tick(&mut self, node: NodeIdx) {
        let n = &mut self.nodes[node];
        if !n.alive {
            return;
        }
        if let Some(at) = n.mgr.poll_timeout() {
            if n.next_tick != Some(at) {
                n.next_tick = Some(at);
                let incarnation = n.incarnation;
                let at = at.max(self.now);
                self.schedule(at, Event::Tick { node, incarnation });
            }
        }
    }

    fn partitioned(&self, a: NodeIdx, b: NodeIdx) -> bool {
        self.partition
            .as_ref()
            .is_some_and(|sides| sides[a] != sides[b])
    }

    fn dial(
        &mut self,
        node: NodeIdx,
        id: ConnId,
        attempt: u32,
        addr: PeerAddr,
        direct_to_overlay: bool,
    ) {
        let incarnation = self.nodes[node].incarnation;
        let latency = self.latency();
        let target = self.by_addr.get(&addr).filter(|_| !direct_to_overlay);
        let Some(&to) = target else {
            let at = self.now + latency;
            let error = DialError::Unreachable;
            self.schedule(
                at,
                Event::DialFailed {
                    node,
                    incarnation,
                    id,
                    attempt,
                    error,
                },
            );
            return;
        };
        if self.partitioned(node, to) || self.rng.unit() < self.cfg.faults.blackhole {
            return; // never answered: the core's timeout will fire
        }
        // Whether the peer is up is decided when the SYN arrives (`syn`):
        // a peer restarting at this very instant will be.
        if self.rng.unit() < self.cfg.faults.refuse {
            let at = self.now + latency * 2;
            let error = DialError::Refused;
            self.schedule(
                at,
                Event::DialFailed {
                    node,
                    incarnation,
                    id,
                    attempt,
                    error,
                },
            );
            return;
        }
        self.schedule(
            self.now + latency,
            Event::Syn {
                from: node,
                incarnation,
                id,
                attempt,
                to,
            },
        );
    }

    /// A connection attempt reaches its listener.
    fn syn(
        &mut self,
        from: NodeIdx,
        incarnation: u32,
        id: ConnId,
        attempt: u32,
        to: NodeIdx,
    ) -> Step<()> {
        let latency = self.latency();
        let target = &self.nodes[to];
        if !target.alive
            || !target.reachable
            || !target.listening
            || target.paused
            || self.partitioned(from, to)
        {
            let error = DialError::Refused;
            let event = Event::DialFailed {
                node: from,
                incarnation,
                id,
                attempt,
                error,
            };
            self.schedule(self.now + latency, event);
            return Ok(());
        }
        let link = self.next_link;
        self.next_link += 1;
        let dialer = End {
            node: from,
            incarnation,
            id: None,
            open: true,
            peer_gone: false,
        };
        let acceptor = End {
            node: to,
            incarnation: target.incarnation,
            id: None,
            open: true,
            peer_gone: false,
        };
        self.links.insert(
            link,
            Link {
                ends: [dialer, acceptor],
            },
        );
        let (remote, network) =
            overlay::accepted_from(self.nodes[from].addr, self.nodes[to].addr, link);
        let (result, actions) = self.step(
            to,
            Input::Accepted {
                listener: ListenerId(0),
                remote,
                network,
            },
        )?;
        if let Ok(Some(inbound)) = result {
            self.nodes[to].sockets.insert(inbound, link);
            if let Some(l) = self.links.get_mut(&link) {
                l.ends[1].id = Some(inbound);
            }
        }
        self.perform(to, actions)?;
        self.schedule(
            self.now + latency,
            Event::SynAck {
                node: from,
                incarnation,
                id,
                attempt,
                link,
            },
        );
        Ok(())
    }

    /// The dialler learns its connection is established.
    fn syn_ack(
        &mut self,
        node: NodeIdx,
        incarnation: u32,
        id: ConnId,
        attempt: u32,
        link: LinkId,
    ) -> Step<()> {
        if !self.is_current(node, incarnation)
            || self.nodes[node].dials.remove(&(id, attempt)).is_none()
        {
            // The dial was cancelled or its node died: the socket is closed.
            self.close_end(link, node);
            return Ok(());
        }
        let (result, actions) = self.step(
            node,
            Input::DialResult {
                id,
                attempt,
                result: Ok(()),
            },
        )?;
        if result.is_ok() {
            self.nodes[node].sockets.insert(id, link);
            if let Some(l) = self.links.get_mut(&link) {
                l.ends[0].id = Some(id);
                if l.ends[0].peer_gone {
                    self.schedule(self.now, Event::PeerClosed { link, side: 0 });
                }
            }
        } else {
            self.close_end(link, node);
        }
        self.perform(node, actions)
    }

    /// Closes `node`'s end of `link`; the other end hears of it after the latency.
    fn close_end(&mut self, link: LinkId, node: NodeIdx) {
        let latency = self.latency();
        let Some(l) = self.links.get_mut(&link) else {
            return;
        };
        let Some(side) = (0..2).find(|&s| l.ends[s].node == node && l.ends[s].open) else {
            return;
        };
        l.ends[side].open = false;
        let other = 1 - side;
        if l.ends[other].open {
            self.schedule(self.now + latency, Event::PeerClosed { link, side: other });
        } else {
            self.links.remove(&link);
        }
    }

    fn peer_closed(&mut self, link: LinkId, side: usize) -> Step<()> {
        let Some(end) = self.links.get(&link).map(|l| l.ends[side]) else {
            return Ok(());
        };
        if !end.open {
            return Ok(());
        }
        if !self.is_current(end.node, end.incarnation) {
            self.close_end(link, end.node);
            return Ok(());
        }
        match end.id {
            Some(id) if self.nodes[end.node].sockets.get(&id) == Some(&link) => {
                self.nodes[end.node].sockets.remove(&id);
                self.close_end(link, end.node);
                self.feed(end.node, Input::Closed { id })?;
            }
            _ => {
                if let Some(l) = self.links.get_mut(&link) {
                    l.ends[side].peer_gone = true;
                }
            }
        }
        Ok(())
    }

    /// Outbound: the peer is good, and it gossips some addresses it knows.
    /// A new connection: an inbound peer's address is learned (the simulated
    /// nodes listen on the port they dial from); an outbound one's target is
    /// checked.
    fn connected(&mut self, node: NodeIdx, addr: PeerAddr, direction: Direction) {
        let now = self.now;
        match direction {
            Direction::Outbound => {
                let n = &mut self.nodes[node];
                let target = n.config.target_outbound;
                if n.stats.time_to_target.is_none()
                    && n.mgr.counts().automatic_established >= target
                {
                    n.stats.time_to_target = Some(now - n.started_at);
                }
            }
            Direction::Inbound => {
                // The simulated nodes listen on the port they dial from, so
                // an application keeping its own book learns the address.
                if let Some(book) = &mut self.nodes[node].book {
                    let addr = socket(addr);
                    book.add(now, addr, addr.ip());
                }
            }
        }
    }

    /// A peer completed its handshake. With the book inside, the node
    /// announces its own address to it and, when it dialled, asks it for
    /// addresses (Bitcoin's `addr` and `getaddr`), which travel as inputs.
    /// With the application's book, an outbound peer's address is good and
    /// it gossips a few it knows.
    fn ready(&mut self, node: NodeIdx, id: ConnId, addr: PeerAddr, direction: Direction) {
        if node >= self.honest {
            let incarnation = self.nodes[node].incarnation;
            self.advertise(node, incarnation, id, None);
            let visiting = self
                .attack
                .as_ref()
                .is_some_and(|s| s.attack.round.is_some());
            if visiting && direction == Direction::Outbound {
                // A round's visit: the handshake done, the address sent,
                // it leaves.
                let input = Input::Disconnect { id };
                let event = Event::Deliver {
                    node,
                    incarnation,
                    input,
                };
                self.schedule(self.now + Duration::from_secs(1), event);
            }
            return;
        }
        let now = self.now;
        let own = self.nodes[node].addr;
        let Some(book) = &mut self.nodes[node].book else {
            // Core announces a reachable node's own address to every peer
            // (`MaybeSendAddr`); an unreachable one has none to give.
            if self.nodes[node].reachable {
                self.share(node, id, vec![Advertised::new(own, now)]);
            }
            if direction == Direction::Outbound {
                self.send(node, id, |peer| Input::AddressesRequested { id: peer });
            }
            return;
        };
        if direction == Direction::Inbound {
            return;
        }
        book.good(now, socket(addr));
        if let Some(&peer) = self.by_addr.get(&addr) {
            let gossip: Vec<PeerAddr> = (0..8)
                .filter_map(|_| self.nodes[peer].book.as_mut()?.get_address(now))
                .map(PeerAddr::from)
                .collect();
            if let Some(book) = &mut self.nodes[node].book {
                for a in gossip.into_iter().filter(|a| *a != own) {
                    book.add(now, socket(a), socket(addr).ip());
                }
            }
        }
    }

    /// Sends addresses to the peer on connection `id`: at once, or through
    /// the connection's outbox when the trickle is on.
    fn share(&mut self, node: NodeIdx, id: ConnId, addrs: Vec<Advertised>) {
        if self.cfg.addr_trickle.is_zero() {
            self.send(node, id, |from| Input::Learned {
                from: Some(from),
                addrs,
            });
            return;
        }
        let now = self.now;
        let n = &mut self.nodes[node];
        if let Some(at) = n.outboxes.push(id, addrs, now, &mut self.rng) {
            let incarnation = n.incarnation;
            let event = Event::FlushAddresses {
                node,
                incarnation,
                id,
            };
            self.schedule(at, event);
        }
    }

    /// The runtime closes connection `id`'s socket.
    fn drop_socket(&mut self, node: NodeIdx, id: ConnId) {
        self.nodes[node].outboxes.forget(id);
        if let Some(link) = self.nodes[node].sockets.remove(&id) {
            self.close_end(link, node);
        }
    }

    /// Delivers, after the latency, the input `make` builds from the id by
    /// which the other end of `node`'s connection `id` knows it; nothing if
    /// that end is gone.
    fn send(&mut self, node: NodeIdx, id: ConnId, make: impl FnOnce(ConnId) -> Input) {
        let Some(&link) = self.nodes[node].sockets.get(&id) else {
            return;
        };
        let Some(l) = self.links.get(&link) else {
            return;
        };
        let Some(other) = l.ends.iter().find(|e| e.node != node) else {
            return;
        };
        let (Some(peer_id), true) = (other.id, other.open) else {
            return;
        };
        let (to, incarnation) = (other.node, other.incarnation);
        let at = self.now + self.latency();
        let input = make(peer_id);
        self.schedule(
            at,
            Event::Deliver {
                node: to,
                incarnation,
                input,
            },
        );
    }

    fn crash(&mut self, node: NodeIdx) {
        self.go_down(node, Shutdown::Crash);
    }

    /// Takes `node` down, closing its sockets, and schedules its restart
    /// with the book it saved. A crash leaves no anchors: the file was
    /// deleted when last read, and only a clean stop writes it.
    fn go_down(&mut self, node: NodeIdx, how: Shutdown) {
        let n = &mut self.nodes[node];
        if !n.alive {
            return;
        }
        n.alive = false;
        match how {
            Shutdown::Crash => n.stats.crashes += 1,
            Shutdown::Clean => n.stats.clean_stops += 1,
        }
        n.dials.clear();
        n.next_tick = None;
        let book = n.saved_book().map(Box::new);
        let links: Vec<LinkId> = std::mem::take(&mut n.sockets).into_values().collect();
        for link in links {
            self.close_end(link, node);
        }
        let at = self.now + self.cfg.faults.restart_after;
        self.schedule(at, Event::Restart { node, book });
    }

    fn random_faults(&mut self) -> Step<()> {
        let f = self.cfg.faults.clone();
        // Resets: each established connection with probability rate/60 per second.
        let reset_p = f.resets_per_conn_minute / 60.0;
        if reset_p > 0.0 {
            let established: Vec<LinkId> = self
                .links
                .iter()
                .filter(|(_, l)| l.ends.iter().all(|e| e.open && e.id.is_some()))
                .map(|(id, _)| *id)
                .collect();
            for link in established {
                if self.rng.unit() < reset_p {
                    self.schedule(self.now, Event::PeerClosed { link, side: 0 });
                    self.schedule(self.now, Event::PeerClosed { link, side: 1 });
                }
            }
        }
        let crash_p = f.crashes_per_node_hour / 3600.0;
        let accept_p = f.accept_errors_per_node_minute / 60.0;
        // The attacker's nodes and its victim go down only as the attack
        // says.
        let victim = self.attack.as_ref().map(|a| a.victim);
        for node in 0..self.honest {
            if !self.nodes[node].alive || Some(node) == victim {
                continue;
            }
            if self.rng.unit() < crash_p {
                self.schedule(self.now, Event::Crash { node });
            } else if self.rng.unit() < accept_p {
                let error = AcceptError::TooManyOpenFiles;
                self.feed(
                    node,
                    Input::AcceptFailed {
                        listener: ListenerId(0),
                        error,
                    },
                )?;
            }
        }
        self.schedule(self.now + Duration::from_secs(1), Event::Faults);
        Ok(())
    }

    fn partition_start(&mut self) {
        let sides: Vec<bool> = (0..self.nodes.len())
            .map(|_| self.rng.unit() < 0.5)
            .collect();
        let crossing: Vec<LinkId> = self
            .links
            .iter()
            .filter(|(_, l)| sides[l.ends[0].node] != sides[l.ends[1].node])
            .map(|(id, _)| *id)
            .collect();
        for link in crossing {
            self.schedule(self.now, Event::PeerClosed { link, side: 0 });
            self.schedule(self.now, Event::PeerClosed { link, side: 1 });
        }
        self.partition = Some(sides);
        let f = &self.cfg.faults;
        let (heal, next) = (
            self.now + f.partition_for,
            f.partition_every.map(|e| self.now + e),
        );
        self.schedule(heal, Event::PartitionEnd);
        if let Some(next) = next {
            self.schedule(next, Event::PartitionStart);
        }
    }

    fn sample(&mut self) {
        let outbound = |n: &Node| {
            if n.alive {
                n.mgr.counts().automatic_established
            } else {
                0
            }
        };
        let followed = self.nodes[..self.honest]
            .iter()
            .take(self.cfg.sampled_nodes)
            .map(outbound)
            .collect();
        let honest = &self.nodes[..self.honest];
        let total: u64 = honest.iter().map(|n| u64::from(outbound(n))).sum();
        let mean = total as f64 / honest.len().max(1) as f64;
        let dials = honest
            .iter()
            .map(|n| n.stats.dials + n.mgr.stats().dials)
            .sum();
        let sample = Sample {
            at: self.now - EPOCH,
            followed,
            mean,
            dials,
        };
        if let Some(hook) = &mut self.on_sample {
            hook(&sample);
        }
        self.samples.push(sample);
    }

    /// Stops every live node, lets the network drain, and checks that every
    /// simulated socket was closed at both ends.
    fn shut_down(&mut self) -> Step<()> {
        for node in 0..self.nodes.len() {
            if self.nodes[node].alive {
                self.feed(node, Input::Stop)?;
            }
        }
        let drain_until = self.now + Duration::from_secs(60);
        for _ in 0..10_000_000u64 {
            let Some((&(at, seq), _)) = self.queue.first_key_value() else {
                break;
            };
            if at > drain_until {
                break;
            }
            let Some(event) = self.queue.remove(&(at, seq)) else {
                break;
            };
            self.now = self.now.max(at);
            let network = matches!(
                event,
                Event::Syn { .. }
                    | Event::SynAck { .. }
                    | Event::DialFailed { .. }
                    | Event::PeerClosed { .. }
            );
            if network {
                self.dispatch(event)?;
            }
        }
        if let Some((id, link)) = self.links.iter().next() {
            let node = link.ends.iter().find(|e| e.open).map_or(0, |e| e.node);
            return Err(Box::new(Failure {
                seed: self.cfg.seed,
                step: self.steps,
                node,
                at: self.now - EPOCH,
                message: format!(
                    "{} sockets leaked after stop, e.g. link {id}: {link:?}",
                    self.links.len()
                ),
                history: self.nodes[node].recent_history(),
                command: self.cfg.command(),
            }));
        }
        Ok(())
    }

    /// Each node's figures as they stand.
    fn node_stats(&self) -> Vec<NodeStats> {
        self.nodes[..self.honest]
            .iter()
            .map(|n| {
                let mut stats = n.final_stats();
                let s = n.mgr.stats();
                stats.dials += s.dials;
                stats.failures += s.dial_failures + s.address_failures;
                stats
            })
            .collect()
    }

    /// The report: figures as they stood at the end of the run, with the
    /// invariant checks of the shutdown added.
    fn report(self, mut nodes: Vec<NodeStats>, eclipse: Option<EclipseReport>) -> Report {
        for (stats, now) in nodes.iter_mut().zip(self.node_stats()) {
            stats.checks = now.checks;
        }
        let traces = self
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                let traces = n.traces.as_ref()?;
                Some((i, traces.iter().map(|w| w.get_ref().clone()).collect()))
            })
            .collect();
        Report {
            seed: self.cfg.seed,
            command: self.cfg.command(),
            duration: self.cfg.duration,
            target: self.cfg.node_config.target_outbound,
            steps: self.steps,
            nodes,
            samples: self.samples,
            traces,
            eclipse,
            shared_addresses: (self.addresses.len(), self.addresses.heap_bytes()),
        }
    }

    // ----- the attacker -----

    /// Every attacker node keeps a permanent connection to the victim.
    fn attack_start(&mut self) -> Step<()> {
        let Some(state) = &mut self.attack else {
            return Ok(());
        };
        state.started = true;
        if let Some(round) = state.attack.round {
            for node in self.honest..self.nodes.len() {
                let Some(state) = &mut self.attack else {
                    break;
                };
                let offset = state.rng.below(round.as_millis().max(1) as u64);
                let at = self.now + Duration::from_millis(offset);
                self.schedule(at, Event::AttackRound { node });
            }
            return Ok(());
        }
        for node in self.honest..self.nodes.len() {
            if self.nodes[node].alive {
                self.attack_victim(node)?;
            }
        }
        Ok(())
    }

    /// Attacker node `node` visits the victim for this round (a one-off
    /// connection it leaves after the handshake, see `ready`), and again
    /// a round later.
    fn attack_round(&mut self, node: NodeIdx) -> Step<()> {
        let Some(state) = &self.attack else {
            return Ok(());
        };
        let (victim, round) = (state.victim, state.attack.round);
        let Some(round) = round else {
            return Ok(());
        };
        self.schedule(self.now + round, Event::AttackRound { node });
        if !self.nodes[node].alive || !self.nodes[victim].alive {
            return Ok(());
        }
        let addr = self.nodes[victim].addr;
        let connect = Input::Connect {
            addr,
            permanent: false,
        };
        self.feed(node, connect).map(drop)
    }

    /// Attacker node `node` connects to the victim, for good.
    fn attack_victim(&mut self, node: NodeIdx) -> Step<()> {
        let Some(state) = &self.attack else {
            return Ok(());
        };
        let addr = self.nodes[state.victim].addr;
        let connect = Input::Connect {
            addr,
            permanent: true,
        };
        self.feed(node, connect).map(drop)
    }

    /// The victim goes down as the attack says, to come back after the
    /// usual restart delay with what it saved.
    fn victim_down(&mut self) -> Step<()> {
        let tables = self.victim_tables();
        let Some(state) = &mut self.attack else {
            return Ok(());
        };
        state.tried_at_restart = tables.map(|(tried, _)| tried);
        let (victim, how) = (state.victim, state.attack.restart);
        if !self.nodes[victim].alive {
            // Only a restart storm takes it down otherwise; it is back on
            // that schedule, and the attack's restart does not happen.
            return Ok(());
        }
        state.restarted_at = Some(self.now + self.cfg.faults.restart_after);
        if how == Shutdown::Clean {
            self.feed(victim, Input::Stop)?;
        }
        self.go_down(victim, how);
        Ok(())
    }

    /// Attacker node `node` sends a full message over connection `id` (its
    /// addresses and trash), and again later while the connection (the
    /// same link: a redial keeps the id) lasts.
    fn advertise(&mut self, node: NodeIdx, incarnation: u32, id: ConnId, link: Option<LinkId>) {
        if !self.is_current(node, incarnation) {
            return;
        }
        let Some(&now_link) = self.nodes[node].sockets.get(&id) else {
            return;
        };
        if link.is_some_and(|l| l != now_link) {
            return;
        }
        let Some(state) = &mut self.attack else {
            return;
        };
        let addrs: Vec<PeerAddr> = (0..MESSAGE)
            .map(|_| {
                if state.rng.unit() < state.attack.trash {
                    trash_address(&mut state.rng)
                } else {
                    state.list[state.rng.below(state.list.len() as u64) as usize]
                }
            })
            .collect();
        let next = self.now + state.attack.advertise_every;
        self.gossip(node, id, addrs);
        let event = Event::Advertise {
            node,
            incarnation,
            id,
            link: now_link,
        };
        self.schedule(next, event);
    }

    /// Delivers advertised addresses to the other end of `id`: to its book
    /// inside (`Learned`, under its caps) or to its application's book.
    fn gossip(&mut self, node: NodeIdx, id: ConnId, addrs: Vec<PeerAddr>) {
        let Some(link) = self.nodes[node]
            .sockets
            .get(&id)
            .and_then(|l| self.links.get(l))
        else {
            return;
        };
        let Some(other) = link.ends.iter().find(|e| e.node != node) else {
            return;
        };
        if !other.open || other.id.is_none() {
            // Refused or closed at the other end: nothing gets through.
            return;
        }
        let (to, incarnation) = (other.node, other.incarnation);
        let source = socket(self.nodes[node].addr).ip();
        if self.nodes[to].book.is_some() {
            let at = self.now + self.latency();
            let event = Event::AppLearned {
                node: to,
                incarnation,
                source,
                addrs,
            };
            self.schedule(at, event);
        } else {
            let now = self.now;
            let addrs = addrs.into_iter().map(|a| Advertised::new(a, now)).collect();
            self.send(node, id, |from| Input::Learned {
                from: Some(from),
                addrs,
            });
        }
    }

    /// The victim's automatic outbound connections (full-relay and
    /// block-relay-only) established now, and how many go to the attacker.
    fn victim_outbound(&self) -> (u32, u32) {
        let Some(state) = &self.attack else {
            return (0, 0);
        };
        let n = &self.nodes[state.victim];
        if !n.alive {
            return (0, 0);
        }
        let peers: Vec<PeerAddr> = n
            .sockets
            .keys()
            .filter_map(|id| n.mgr.info(*id))
            .filter(|i| i.kind.is_automatic() && i.state == connmgr::ConnState::Established)
            .filter_map(|i| i.addr)
            .collect();
        let to_attacker = peers.iter().filter(|a| state.addrs.contains(a)).count();
        (peers.len() as u32, to_attacker as u32)
    }

    /// Notes the first moment after the victim's restart that it is
    /// eclipsed, and, once a minute, the attacker's share of its tables.
    fn watch_victim(&mut self) {
        let (outbound, to_attacker) = self.victim_outbound();
        let now = self.now;
        let minute = (now - EPOCH).as_secs().is_multiple_of(60);
        let shares = match minute {
            true => self.victim_tables(),
            false => None,
        };
        if let Some(state) = &mut self.attack {
            let restarted = state.restarted_at.is_some_and(|at| now >= at);
            if restarted && eclipsed(outbound, to_attacker) {
                state.eclipsed_since.get_or_insert(now);
            } else {
                state.eclipsed_since = None;
            }
            let since_start = now - EPOCH;
            let sampled = state.over_time.last().is_some_and(|s| s.0 == since_start);
            if let (Some((tried, new)), false) = (shares, sampled) {
                let share = |(a, n): (usize, usize)| a as f64 / n.max(1) as f64;
                state
                    .over_time
                    .push((since_start, share(tried), share(new)));
            }
        }
    }

    /// The attacker's addresses in the victim's tried and new tables, and
    /// their sizes, as it would save them; `None` while it is down.
    fn victim_tables(&self) -> Option<((usize, usize), (usize, usize))> {
        let state = self.attack.as_ref()?;
        let victim = &self.nodes[state.victim];
        if !victim.alive {
            return None;
        }
        let mut tried = (0, 0);
        let mut new = (0, 0);
        let mut count = |addr: PeerAddr, in_tried: bool| {
            let table = if in_tried { &mut tried } else { &mut new };
            table.1 += 1;
            table.0 += usize::from(state.addrs.contains(&addr));
        };
        if let Some(book) = victim.saved_book() {
            book.addresses()
                .into_iter()
                .for_each(|(addr, tried)| count(addr, tried));
        }
        Some((tried, new))
    }

    fn eclipse_report(&self) -> Option<EclipseReport> {
        let state = self.attack.as_ref()?;
        let (outbound, to_attacker) = self.victim_outbound();
        let (tried, new) = self.victim_tables().unwrap_or_default();
        let restarted = state.restarted_at.is_some_and(|at| self.now >= at);
        Some(EclipseReport {
            attack: state.attack.model.to_string(),
            outbound,
            to_attacker,
            eclipsed: restarted && eclipsed(outbound, to_attacker),
            time_to_eclipse: state
                .eclipsed_since
                .zip(state.restarted_at)
                .map(|(at, restart)| at - restart),
            tried,
            new,
            tried_at_restart: state.tried_at_restart,
            over_time: state.over_time.clone(),
        })
    }
}

/// Every automatic outbound connection held goes to the attacker (and
/// there is one).
/// The honest nodes that accept connections: the seed nodes, an attack's
/// victim, and a share of the rest drawn from their own randomness (so
/// that the network's other draws do not move with the share).
fn reachable_nodes(cfg: &SimConfig, honest: usize) -> Vec<NodeIdx> {
    let mut rng = Rng::new(cfg.seed ^ 0x5EAC_AB1E);
    let victim = cfg.attack.as_ref().map(|_| honest.saturating_sub(1));
    (0..honest)
        .filter(|&i| {
            cfg.reachable_percent >= 100
                || i < cfg.seed_nodes.max(1)
                || Some(i) == victim
                || rng.below(100) < u64::from(cfg.reachable_percent)
        })
        .collect()
}

fn eclipsed(outbound: u32, to_attacker: u32) -> bool {
    outbound > 0 && outbound == to_attacker
}

/// An attacker node: no address book of its own, room for any number of
/// connections, no outbound connections but the ones the simulator asks.
fn attacker_config(seed: Seed) -> Config {
    Config {
        automatic_outbound: false,
        max_inbound: 1_000_000,
        rng_seed: Some(seed),
        ..Config::btcd()
    }
}
