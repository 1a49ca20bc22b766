//! [`Builder`]: everything a manager needs before it runs.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use connmgr::trace::Recorder;
use connmgr::{Config, ConnManager, ListenerId};
use connmgr_net::{listen, somaxconn};
use connmgr_store::{AddressSource, BookSource};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::clock::Clock;
use crate::driver::{Core, Driver, ListenerTask, TraceSink};
use crate::listener::accept_loop;
use crate::{Events, Handle, SpawnError};

/// Room in the handle's command queue: callers wait beyond it.
const COMMAND_QUEUE: usize = 256;
/// Accepted connections queued for the driver: accept loops wait beyond it
/// (and the kernel's backlog holds further connections).
const ACCEPT_QUEUE: usize = 256;

/// The trace destination chosen on the builder.
enum TraceTo {
    File(PathBuf),
    Writer(TraceSink),
}

/// Where automatic connections' addresses come from.
enum Source {
    /// The default: btcd's address book, from seeds and the peers file.
    Book {
        seeds: Vec<SocketAddr>,
        peers_file: Option<PathBuf>,
        accept_local: bool,
    },
    Custom(Box<dyn AddressSource>),
}

/// Configures and starts a connection manager on the current tokio runtime.
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// let mut config = connmgr::Config::default();
/// config.target_outbound = 8;
/// let (handle, mut events) = connmgr_tokio::Builder::new(config)
///     .listen("0.0.0.0:8333".parse()?)
///     .seeds(["203.0.113.7:8333".parse()?])
///     .peers_file("peers.json")
///     .record_trace("node.trace.jsonl")
///     .spawn()?;
/// # Ok(()) }
/// ```
pub struct Builder {
    config: Config,
    listen: Vec<SocketAddr>,
    source: Source,
    trace: Option<TraceTo>,
    learn_inbound: bool,
    backlog: Option<i32>,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("config", &self.config)
            .field("listen", &self.listen)
            .field("learn_inbound", &self.learn_inbound)
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// A manager with `config`, no listener, and an empty in-memory address
    /// book.
    pub fn new(config: Config) -> Builder {
        Builder {
            config,
            listen: Vec::new(),
            source: Source::Book {
                seeds: Vec::new(),
                peers_file: None,
                accept_local: false,
            },
            trace: None,
            learn_inbound: true,
            backlog: None,
        }
    }

    /// Listens on `addr` (repeatable; port 0 picks a free port, see
    /// [`Handle::listen_addrs`]). Listeners are numbered
    /// [`ListenerId`]`(0)`, `(1)`, … in this order.
    pub fn listen(mut self, addr: SocketAddr) -> Builder {
        self.listen.push(addr);
        self
    }

    /// The listen backlog; the default is the system's maximum
    /// (`net.core.somaxconn`).
    pub fn listen_backlog(mut self, backlog: i32) -> Builder {
        self.backlog = Some(backlog);
        self
    }

    /// Adds addresses to the default address book (each time it starts).
    /// Ignored with a custom [`address_source`](Builder::address_source).
    pub fn seeds(mut self, seeds: impl IntoIterator<Item = SocketAddr>) -> Builder {
        if let Source::Book { seeds: s, .. } = &mut self.source {
            s.extend(seeds);
        }
        self
    }

    /// Loads the default address book from `path` (if it exists) and saves
    /// it there at shutdown, crash-safely. A damaged file makes
    /// [`spawn`](Builder::spawn) fail and is left untouched.
    pub fn peers_file(mut self, path: impl Into<PathBuf>) -> Builder {
        if let Source::Book { peers_file, .. } = &mut self.source {
            *peers_file = Some(path.into());
        }
        self
    }

    /// Lets loopback and private addresses into the default address book
    /// (for demos, tests and LANs); a public node leaves this off, as btcd
    /// does.
    pub fn accept_local_addresses(mut self, accept: bool) -> Builder {
        if let Source::Book { accept_local, .. } = &mut self.source {
            *accept_local = accept;
        }
        self
    }

    /// Replaces the default address book with any [`AddressSource`] (a
    /// [`StaticList`](connmgr_store::StaticList), DNS seeds, …).
    pub fn address_source(mut self, source: Box<dyn AddressSource>) -> Builder {
        self.source = Source::Custom(source);
        self
    }

    /// Whether an accepted peer's remote address is handed to the source's
    /// `learned` (default: yes). Turn it off when remote ports are ephemeral
    /// and the application learns listening addresses itself (from its
    /// protocol's handshake, through [`Handle::learned`]).
    pub fn learn_inbound(mut self, learn: bool) -> Builder {
        self.learn_inbound = learn;
        self
    }

    /// Records every input and the actions it produced to `path` (JSON
    /// Lines, [`connmgr::trace`]), for `connmgr replay`. Flushed at shutdown.
    pub fn record_trace(mut self, path: impl Into<PathBuf>) -> Builder {
        self.trace = Some(TraceTo::File(path.into()));
        self
    }

    /// Records the trace to any writer (buffer it yourself).
    pub fn record_trace_to(mut self, writer: impl Write + Send + 'static) -> Builder {
        self.trace = Some(TraceTo::Writer(Box::new(writer)));
        self
    }

    /// Binds the listeners, opens the address book and the trace, and
    /// spawns the manager on the current tokio runtime. Returns the handle
    /// and the stream of peer events.
    ///
    /// Fails without leaving anything open: outside a runtime, on an invalid
    /// config, an address that cannot be bound (the error names it), a
    /// damaged peers file, or a trace file that cannot be created.
    pub fn spawn(self) -> Result<(Handle, Events), SpawnError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| SpawnError::NoRuntime)?;
        self.config.validate()?;
        let clock = Clock::start();
        let now = clock.now();
        let backlog = self.backlog.unwrap_or_else(somaxconn);
        let mut bound = Vec::with_capacity(self.listen.len());
        for &addr in &self.listen {
            let listener =
                listen(addr, backlog).map_err(|source| SpawnError::Listen { addr, source })?;
            bound.push(listener);
        }
        let source: Box<dyn AddressSource> = match self.source {
            Source::Custom(source) => source,
            Source::Book {
                seeds,
                peers_file,
                accept_local,
            } => {
                let seed = self.config.rng_seed ^ 0x9e37_79b9_7f4a_7c15;
                let mut book = match peers_file {
                    Some(path) => BookSource::open(&path, seed, &seeds, accept_local, now)
                        .map_err(SpawnError::AddressBook)?,
                    None => BookSource::in_memory(seed, &seeds, accept_local, now),
                };
                book.policy_mut().max_per_group = self.config.max_outbound_per_group;
                Box::new(book)
            }
        };
        let mgr = ConnManager::new(self.config, now)?;
        let core = match self.trace {
            None => Core::Plain(Box::new(mgr)),
            Some(to) => {
                let (path, sink): (Option<PathBuf>, TraceSink) = match to {
                    TraceTo::File(path) => {
                        let file = File::create(&path).map_err(|source| SpawnError::Trace {
                            path: Some(path.clone()),
                            source,
                        })?;
                        (
                            Some(path),
                            Box::new(BufWriter::with_capacity(64 * 1024, file)),
                        )
                    }
                    TraceTo::Writer(w) => (None, w),
                };
                let rec = Recorder::new(mgr, sink)
                    .map_err(|source| SpawnError::Trace { path, source })?;
                Core::Recording(Box::new(rec))
            }
        };

        let _guard = runtime.enter();
        let mut listen_addrs = Vec::with_capacity(bound.len());
        let mut tokio_listeners = Vec::with_capacity(bound.len());
        for (listener, &addr) in bound.into_iter().zip(&self.listen) {
            let local = listener.local_addr().unwrap_or(addr);
            let listener = tokio::net::TcpListener::from_std(listener)
                .map_err(|source| SpawnError::Listen { addr, source })?;
            listen_addrs.push(local);
            tokio_listeners.push(listener);
        }
        let (accepted_tx, accepted) = mpsc::channel(ACCEPT_QUEUE);
        let mut listeners = BTreeMap::new();
        for (i, listener) in tokio_listeners.into_iter().enumerate() {
            let id = ListenerId(u32::try_from(i).unwrap_or(u32::MAX));
            let (paused, paused_rx) = watch::channel(false);
            let task = tokio::spawn(accept_loop(id, listener, accepted_tx.clone(), paused_rx));
            listeners.insert(id, ListenerTask { paused, task });
        }
        drop(accepted_tx);

        let (command_tx, commands) = mpsc::channel(COMMAND_QUEUE);
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (closed_tx, closed_rx) = mpsc::unbounded_channel();
        let driver = Driver {
            core,
            clock,
            source,
            learn_inbound: self.learn_inbound,
            commands,
            events: events_tx,
            closed_tx,
            closed_rx,
            accepted,
            listeners,
            closing: Vec::new(),
            actions: VecDeque::new(),
            handed_in: None,
            dials: JoinSet::new(),
            dialing: HashMap::new(),
            established: HashMap::new(),
        };
        tokio::spawn(driver.run());
        Ok((
            Handle::new(command_tx, Arc::from(listen_addrs)),
            Events::new(events_rx),
        ))
    }
}
