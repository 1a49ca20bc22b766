//! [`Builder`]: everything a manager needs before it runs.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use async_io::{Async, Timer};
use connmgr::trace::Recorder;
use connmgr::{Config, ConnManager, ListenerId};
use connmgr_net::{listen, somaxconn, Clock};
use connmgr_store::{AddressSource, BookSource};

use crate::chan::channel;
use crate::driver::{Core, Driver, Listener, State, TraceSink};
use crate::set::FutureSet;
use crate::{Events, Handle, SpawnError};

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

/// Configures a connection manager and makes its [`Driver`], which the
/// application runs on its executor.
///
/// ```no_run
/// # fn f() -> Result<(), Box<dyn std::error::Error>> {
/// let config = connmgr::Config { target_outbound: 8, ..Default::default() };
/// let (handle, mut events, driver) = connmgr_smol::Builder::new(config)
///     .listen("0.0.0.0:8333".parse()?)
///     .seeds(["203.0.113.7:8333".parse()?])
///     .peers_file("peers.json")
///     .record_trace("node.trace.jsonl")
///     .build()?;
/// std::thread::spawn(|| async_io::block_on(driver)); // or smol::spawn(driver).detach()
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
    /// [`build`](Builder::build) fail and is left untouched.
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

    /// Binds the listeners, opens the address book and the trace, and makes
    /// the manager. Returns the handle, the stream of peer events, and the
    /// [`Driver`]: nothing happens until the application runs it.
    ///
    /// Fails without leaving anything open: on an invalid config, an
    /// address that cannot be bound (the error names it), a damaged peers
    /// file, or a trace file that cannot be created.
    pub fn build(self) -> Result<(Handle, Events, Driver), SpawnError> {
        self.config.validate()?;
        let clock = Clock::start();
        let now = clock.now();
        let backlog = self.backlog.unwrap_or_else(somaxconn);
        let mut listeners = BTreeMap::new();
        let mut listen_addrs = Vec::with_capacity(self.listen.len());
        for (i, &addr) in self.listen.iter().enumerate() {
            let listener = listen(addr, backlog)
                .and_then(Async::new)
                .map_err(|source| SpawnError::Listen { addr, source })?;
            listen_addrs.push(listener.get_ref().local_addr().unwrap_or(addr));
            let id = ListenerId(u32::try_from(i).unwrap_or(u32::MAX));
            listeners.insert(
                id,
                Listener {
                    io: listener,
                    paused: false,
                },
            );
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
        let (command_tx, commands) = channel();
        let (events_tx, events_rx) = channel();
        let (closed_tx, closed_rx) = channel();
        let state = State {
            core,
            clock,
            source,
            learn_inbound: self.learn_inbound,
            commands,
            events: events_tx,
            closed_tx,
            closed_rx,
            listeners,
            actions: VecDeque::new(),
            handed_in: None,
            dials: FutureSet::new(),
            established: HashMap::new(),
            timer: Timer::never(),
            armed: None,
        };
        Ok((
            Handle::new(command_tx, Arc::from(listen_addrs)),
            Events::new(events_rx),
            Driver::new(state),
        ))
    }
}
