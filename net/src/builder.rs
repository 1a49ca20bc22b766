//! [`Builder`]: the one setup path of every runtime.
//!
//! Whatever event loop runs the manager, it is set up the same way, here:
//! the config is validated, the secret seed drawn from the operating system
//! if the config has none, the listeners bound with the system's backlog,
//! the address book opened (inside the manager by default: loaded from the
//! peers file into the manager, the seeds fed to it as its first input; or
//! btcd's book beside it, for a config that keeps the book outside) and the
//! trace started with the resolved seed and the starting book in its
//! header. Only then does the runtime take over, through
//! [`Launch`]: the tokio and smol adapters with the shared async driver, the
//! mio adapter with its reactor.

use std::fmt;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

use connmgr::trace::Recorder;
use connmgr::{
    AddressBook, Advertised, Config, ConnId, ConnManager, Host, Input, Instant, Network, PeerAddr,
};
use connmgr_store::{AddressSource, BookFile, BookSource, StaticList, StoreError};

use crate::{listen, resolve_seed, somaxconn, BuildError, Clock, Core, Error, PersistError};

/// Where a trace goes.
pub type TraceSink = Box<dyn Write + Send>;

/// The buffer in front of a trace file: one write per few hundred inputs.
const TRACE_BUFFER: usize = 64 * 1024;

/// How a runtime takes over a prepared manager: what [`Builder::build`]
/// returns, and how it gets there.
pub trait Launch: Sized {
    /// What `build` gives the application (a handle, a reactor, …).
    type Built;
    /// What `build` fails with; a failed [`Prepared`] step is a
    /// [`BuildError`].
    type Error: From<BuildError>;

    /// Whether the runtime can take a manager now; checked before anything
    /// is opened. The error says what to do instead.
    fn check(&self) -> std::io::Result<()> {
        Ok(())
    }

    /// The event loop's monotonic "now", which the core's clock starts from.
    /// The standard clock unless the loop keeps its own (tokio's can be
    /// paused in tests).
    fn now(&self) -> std::time::Instant {
        std::time::Instant::now()
    }

    /// Takes the prepared manager, listeners and address source over.
    fn launch(self, prepared: Prepared) -> Result<Self::Built, Self::Error>;
}

/// What the setup path hands a runtime: everything but the event loop.
#[non_exhaustive]
pub struct Prepared {
    /// The manager (recording if asked), not yet started: feed it `Start`.
    pub core: Core,
    /// Where automatic connections' addresses come from when the book is
    /// outside the manager; with the book inside, where it is saved.
    pub source: Box<dyn AddressSource>,
    /// The core's time on the runtime's clock.
    pub clock: Clock,
    /// The bound, non-blocking listeners, numbered `ListenerId(0)`, `(1)`, …
    /// in the builder's order.
    pub listeners: Vec<TcpListener>,
    /// The addresses they are bound to (with the ports chosen for port 0).
    pub listen_addrs: Vec<SocketAddr>,
    /// The network each listener's connections come over, when it is not
    /// their remote address's (an onion service's target): what a runtime
    /// puts in `Input::Accepted`.
    pub listen_networks: Vec<Option<Network>>,
    /// Whether accepted peers' addresses go to the source's `learned`.
    pub learn_inbound: bool,
}

impl fmt::Debug for Prepared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prepared")
            .field("listen_addrs", &self.listen_addrs)
            .field("recording", &self.core.is_recording())
            .field("learn_inbound", &self.learn_inbound)
            .finish_non_exhaustive()
    }
}

/// Where a trace was asked to go.
enum TraceTo {
    File(PathBuf),
    Writer(TraceSink),
}

/// Configures a connection manager for the runtime `R`, then
/// [`build`](Builder::build)s it. Every runtime crate names it `Builder`
/// (`connmgr_tokio::Builder` is `Builder<Tokio>`, and so on) and has the
/// same options with the same defaults.
///
/// The defaults: no listener; the address book the config names (inside
/// the manager unless `Config::address_book` is `External`) in memory,
/// empty, refusing local and private addresses; inbound peers not learned;
/// no trace; the seed drawn from the operating system unless the config
/// sets one.
pub struct Builder<R> {
    config: Config,
    runtime: R,
    /// Where to listen, and the network of a listener that says (an onion
    /// service's target).
    listen: Vec<(SocketAddr, Option<Network>)>,
    backlog: Option<i32>,
    seeds: Vec<PeerAddr>,
    peers_file: Option<PathBuf>,
    accept_local: bool,
    source: Option<Box<dyn AddressSource>>,
    learn_inbound: bool,
    trace: Option<TraceTo>,
    metrics: bool,
}

impl<R> fmt::Debug for Builder<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("config", &self.config)
            .field("listen", &self.listen)
            .field("seeds", &self.seeds)
            .field("peers_file", &self.peers_file)
            .field("accept_local", &self.accept_local)
            .field("custom_source", &self.source.is_some())
            .field("learn_inbound", &self.learn_inbound)
            .field("trace", &self.trace.is_some())
            .field("metrics", &self.metrics)
            .finish_non_exhaustive()
    }
}

impl<R: Default> Builder<R> {
    /// A manager with `config`, on the runtime's default (for tokio, the
    /// runtime `new` is called in; for mio, a `Poll` of its own).
    pub fn new(config: Config) -> Builder<R> {
        Builder {
            config,
            runtime: R::default(),
            listen: Vec::new(),
            backlog: None,
            seeds: Vec::new(),
            peers_file: None,
            accept_local: false,
            source: None,
            learn_inbound: false,
            trace: None,
            metrics: false,
        }
    }
}

impl<R> Builder<R> {
    /// Runs the manager on `runtime` instead of the default: a given tokio
    /// runtime's handle, the application's mio registry and tokens, …
    pub fn runtime(mut self, runtime: R) -> Self {
        self.runtime = runtime;
        self
    }

    /// Listens on `addr` (repeatable; port 0 picks a free port, which the
    /// built manager reports in its `listen_addrs`). Listeners are numbered
    /// [`ListenerId`](connmgr::ListenerId)`(0)`, `(1)`, … in this order.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen.push((addr, None));
        self
    }

    /// Listens on `addr` for connections that come over `network`: the
    /// local target of a Tor onion service (`Network::Onion`), whose
    /// connections all come from Tor at 127.0.0.1, is counted, limited and
    /// protected from eviction as Tor (Core's `-bind=ADDR=onion`). Numbered
    /// with [`listen`](Builder::listen)'s listeners, in order.
    pub fn listen_as(mut self, addr: SocketAddr, network: Network) -> Self {
        self.listen.push((addr, Some(network)));
        self
    }

    /// The listen backlog; the default is the system's maximum
    /// (`net.core.somaxconn`), since 128 overflows under a burst of connects.
    pub fn listen_backlog(mut self, backlog: i32) -> Self {
        self.backlog = Some(backlog);
        self
    }

    /// Adds addresses to the address book each time it starts (with the
    /// book inside, as the manager's first input, `Input::Learned`).
    /// Ignored with a custom [`address_source`](Builder::address_source).
    pub fn seeds<A: Into<PeerAddr>>(mut self, seeds: impl IntoIterator<Item = A>) -> Self {
        self.seeds.extend(seeds.into_iter().map(Into::into));
        self
    }

    /// Loads the address book from `path` (if the file exists) and saves it
    /// there every `Config::persist_interval` and at shutdown, crash-safely.
    /// A damaged file makes `build` fail and is left untouched. A book of
    /// the other kind is moved into the configured one (and logged).
    pub fn peers_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.peers_file = Some(path.into());
        self
    }

    /// Lets loopback and private addresses into the address book (for
    /// demos, tests and LANs; `Config::book_accepts_unroutable` for the book
    /// inside); a public node leaves this off, as btcd and Core do.
    pub fn accept_local_addresses(mut self, accept: bool) -> Self {
        self.accept_local = accept;
        self
    }

    /// Replaces the default address book with any [`AddressSource`] (a
    /// [`StaticList`](connmgr_store::StaticList), DNS seeds, …). Only for a
    /// config that keeps the book outside (`Config::address_book` set to
    /// `External`): `build` refuses it otherwise, as nothing would ask it.
    pub fn address_source(mut self, source: Box<dyn AddressSource>) -> Self {
        self.source = Some(source);
        self
    }

    /// Whether an accepted peer's remote address is handed to the address
    /// source's `learned` (default: no; with the book inside, never: a peer
    /// announces its own address in its protocol, and the application
    /// passes it on with `Handle::learned`). An inbound peer's port is an
    /// ephemeral one, not the port it listens on, so by default the
    /// application learns listening addresses from its protocol's handshake
    /// instead; turn this on where peers connect from their listening port.
    pub fn learn_inbound(mut self, learn: bool) -> Self {
        self.learn_inbound = learn;
        self
    }

    /// Records every input and the actions it produced to `path` (JSON
    /// Lines, [`connmgr::trace`]), for `connmgr replay`; flushed at
    /// shutdown. The header holds the manager's secret seed: keep the file
    /// as private as the node's keys.
    pub fn record_trace(mut self, path: impl Into<PathBuf>) -> Self {
        self.trace = Some(TraceTo::File(path.into()));
        self
    }

    /// Records the trace to any writer (buffer it yourself).
    pub fn record_trace_to(mut self, writer: impl Write + Send + 'static) -> Self {
        self.trace = Some(TraceTo::Writer(Box::new(writer)));
        self
    }

    /// Reports the manager's counters, gauges and durations through the
    /// [`metrics`](https://docs.rs/metrics) facade (names in
    /// `docs/METRICS.md`). Install the application's recorder (an
    /// exporter) first: the handles are registered at `build`.
    #[cfg(feature = "metrics")]
    pub fn metrics(mut self, report: bool) -> Self {
        self.metrics = report;
        self
    }

    /// The config as it stands (the seed is resolved only at `build`).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Runs the setup path: everything `build` does before the runtime
    /// takes over. Public for runtimes outside this workspace.
    pub fn prepare(self) -> Result<(R, Prepared), BuildError>
    where
        R: Launch,
    {
        self.runtime.check().map_err(BuildError::Runtime)?;
        if let (Some(TraceTo::File(trace)), Some(peers)) = (&self.trace, &self.peers_file) {
            if same_file(trace, peers) {
                return Err(BuildError::SamePath {
                    path: peers.clone(),
                });
            }
        }
        let mut config = self.config;
        config.book_accepts_unroutable |= self.accept_local;
        config.validate()?;
        let inside = config.address_book != AddressBook::External;
        if inside && self.source.is_some() {
            return Err(BuildError::SourceWithBookInside);
        }
        let seed = resolve_seed(&mut config).map_err(BuildError::Seed)?;
        let origin = self.runtime.now();
        let clock = Clock::start_at(origin);
        let now = clock.instant(origin);

        let backlog = self.backlog.unwrap_or_else(somaxconn);
        let mut listeners = Vec::with_capacity(self.listen.len());
        let mut listen_addrs = Vec::with_capacity(self.listen.len());
        for &(addr, _) in &self.listen {
            let error = |source| BuildError::Listen { addr, source };
            let listener = listen(addr, backlog).map_err(error)?;
            listen_addrs.push(listener.local_addr().map_err(error)?);
            tracing::info!(addr = %listen_addrs[listen_addrs.len() - 1], backlog, "listening");
            listeners.push(listener);
        }

        let (mgr, source): (ConnManager, Box<dyn AddressSource>) = match self.source {
            Some(source) => (ConnManager::new(config, now)?, source),
            None if inside => book_inside(config, now, self.peers_file.as_deref())?,
            None => {
                let key = seed.keys().book;
                let mut book = match &self.peers_file {
                    Some(path) => BookSource::open(path, key, &self.seeds, self.accept_local, now)
                        .map_err(BuildError::AddressBook)?,
                    None => BookSource::in_memory(key, &self.seeds, self.accept_local, now),
                };
                book.policy_mut().max_per_group = config.max_outbound_per_group;
                (ConnManager::new(config, now)?, Box::new(book))
            }
        };
        let (sink, trace_path): (Option<TraceSink>, _) = match self.trace {
            None => (None, None),
            Some(TraceTo::Writer(writer)) => (Some(writer), None),
            Some(TraceTo::File(path)) => {
                let file = File::create(&path).map_err(|source| BuildError::Trace {
                    path: Some(path.clone()),
                    source,
                })?;
                (
                    Some(Box::new(BufWriter::with_capacity(TRACE_BUFFER, file))),
                    Some(path),
                )
            }
        };
        let recorder = Recorder::new(mgr, sink).map_err(|source| BuildError::Trace {
            path: trace_path,
            source,
        })?;
        let mut core = Core::new(recorder, self.metrics);
        if inside && !self.seeds.is_empty() {
            // The first input, so the trace has it too. No action follows
            // the application's own addresses.
            let addrs = self
                .seeds
                .iter()
                .map(|&a| Advertised::new(a, now))
                .collect();
            let _ = core.handle(now, Input::Learned { from: None, addrs });
        }
        let mut source = source;
        if inside {
            match source.take_anchors() {
                Ok(addrs) if addrs.is_empty() => {}
                Ok(addrs) => {
                    tracing::info!(anchors = addrs.len(), "anchors of the last clean stop");
                    let _ = core.handle(now, Input::Anchors { addrs });
                }
                Err(error) => {
                    tracing::warn!(%error, "the anchors file was unusable and is gone; starting without anchors")
                }
            }
        }
        Ok((
            self.runtime,
            Prepared {
                core,
                source,
                clock,
                listeners,
                listen_addrs,
                listen_networks: self.listen.iter().map(|&(_, network)| network).collect(),
                learn_inbound: self.learn_inbound,
            },
        ))
    }
}

impl<R: Launch> Builder<R> {
    /// Sets the manager up (the config validated, the seed resolved, the
    /// listeners bound, the address book opened, the trace started) and
    /// hands it to the runtime. Fails without leaving anything open: on an invalid
    /// config, an address that cannot be bound (the error names it), a
    /// damaged peers file, a trace file that cannot be created, or a
    /// runtime that cannot take it.
    pub fn build(self) -> Result<R::Built, R::Error> {
        let (runtime, prepared) = self.prepare()?;
        runtime.launch(prepared)
    }
}

/// The manager with the book inside, started from the peers file if there
/// is one (which is then locked, and saved to), and what keeps that file.
fn book_inside(
    config: Config,
    now: Instant,
    peers_file: Option<&Path>,
) -> Result<(ConnManager, Box<dyn AddressSource>), BuildError> {
    let Some(path) = peers_file else {
        // Nothing to save to: a source that keeps nothing.
        let keeps_nothing = Box::new(StaticList::default());
        return Ok((ConnManager::new(config, now)?, keeps_nothing));
    };
    let (file, saved) = BookFile::open(path).map_err(BuildError::AddressBook)?;
    let Some(saved) = saved else {
        return Ok((ConnManager::new(config, now)?, Box::new(file)));
    };
    let (mgr, restored) = ConnManager::with_book(config, now, &saved).map_err(|e| match e {
        connmgr::RestoreError::Config(e) => BuildError::Config(e),
        connmgr::RestoreError::Snapshot(source) => {
            BuildError::AddressBook(StoreError::Inconsistent {
                path: path.to_owned(),
                source,
            })
        }
    })?;
    match restored.migrated_from {
        Some(from) => tracing::warn!(
            path = %path.display(),
            ?from,
            kept = restored.kept,
            dropped = restored.dropped,
            "the peers file held another kind of address book; its addresses were moved into the configured one, which the next save writes"
        ),
        None => tracing::info!(
            path = %path.display(),
            kept = restored.kept,
            dropped = restored.dropped,
            "address book loaded"
        ),
    }
    Ok((mgr, Box::new(file)))
}

/// What an application was told of addresses (its peers' `addr`
/// messages, its own seeds) becomes: an input for the book inside the
/// manager, returned for the runtime to feed (so it is traced); or, with
/// the book outside, the source's `learned`, each address with the
/// advertising peer's IP (the unspecified address for the application's
/// own), and nothing to feed unless they are an address fetch's answer,
/// which the manager must hear to end the connection.
pub fn learned_input(
    core: &Core,
    source: &mut dyn AddressSource,
    now: Instant,
    from: Option<ConnId>,
    addrs: Vec<Advertised>,
) -> Option<Input> {
    let mgr = core.manager();
    if mgr.book_counts().is_some() {
        return Some(Input::Learned { from, addrs });
    }
    let info = from.and_then(|id| mgr.info(id));
    let peer = info
        .and_then(|info| info.addr)
        .map_or(Host::Ip([0, 0, 0, 0].into()), |a| a.host());
    for advertised in &addrs {
        source.learned(now, advertised.addr, peer);
    }
    // The manager still hears an address fetch's answer: it ends the
    // connection.
    let fetch = info.is_some_and(|info| info.kind == connmgr::ConnKind::AddrFetch);
    fetch.then_some(Input::Learned { from, addrs })
}

/// Tells the address source what a peer event means to it, as every
/// runtime must: an outbound peer whose handshake succeeded is a good
/// address (`handshaked`); an accepted peer's address is `learned` only if
/// the builder said so (its port is an ephemeral one, not an address to
/// dial).
pub fn tell_source(
    source: &mut dyn AddressSource,
    now: connmgr::Instant,
    event: &connmgr::PeerEvent,
    learn_inbound: bool,
) {
    use connmgr::{Direction, PeerEvent};
    match *event {
        PeerEvent::Ready {
            addr,
            direction: Direction::Outbound,
            ..
        } => source.handshaked(now, addr),
        PeerEvent::Connected {
            addr,
            direction: Direction::Inbound,
            ..
        } if learn_inbound => source.learned(now, addr, addr.host()),
        _ => {}
    }
}

/// Saves the address book now (the manager's own, or the source's), as
/// every runtime does on `Action::Persist`, at shutdown and when the
/// application asks: a failure is logged, leaves the old file as it was,
/// and is returned with the manager's counters.
pub fn save_source(source: &mut dyn AddressSource, core: &Core) -> Result<(), Error> {
    let stats = core.manager().stats();
    source
        .save(core.manager().book_snapshot().as_ref())
        .map_err(|error| {
            tracing::warn!(%error, "the address book was not saved; the old file is kept");
            Error::Persist(Box::new(PersistError {
                stats,
                trace: None,
                book: Some(error),
            }))
        })
}

/// Keeps the anchors a clean stop reported (`Action::SaveAnchors`), as
/// every runtime does. A failure is logged: the next start then simply has
/// no anchors.
pub fn save_anchors(source: &mut dyn AddressSource, addrs: &[PeerAddr]) {
    if let Err(error) = source.save_anchors(addrs) {
        tracing::warn!(%error, "the anchors were not saved");
    }
}

/// Whether `a` and `b` name one file, whether or not it exists yet: the
/// same path once the directories (and the file, if it exists) are resolved.
fn same_file(a: &Path, b: &Path) -> bool {
    fn resolved(path: &Path) -> PathBuf {
        if let Ok(full) = path.canonicalize() {
            return full;
        }
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        match (dir.canonicalize(), path.file_name()) {
            (Ok(dir), Some(name)) => dir.join(name),
            _ => path.to_path_buf(),
        }
    }
    resolved(a) == resolved(b)
}
