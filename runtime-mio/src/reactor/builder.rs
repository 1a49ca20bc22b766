//! [`Builder`]: configures a reactor, opens its listeners, makes its
//! address source and trace, and assembles it. Separate from the reactor's
//! API because it runs once, before there is a reactor; a child of
//! `reactor` so that it can assemble the `Reactor` and its listeners
//! without their fields being widened.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::SocketAddr;
use std::ops::Range;
use std::path::PathBuf;

use connmgr::trace::Recorder;
use connmgr::{Config, ConnManager, Instant};
use connmgr_net::Clock;
use connmgr_store::{AddressSource, BookSource};
use mio::{Interest, Poll, Registry, Token};

use super::{Home, Listener, Reactor, Slot};
use crate::peer::Dropped;
use crate::recording::{Core, TraceOut};
use crate::slots::Slots;
use crate::{Error, DEFAULT_TOKENS};

/// Parameters of the default address source, a [`BookSource`].
#[derive(Debug, Default)]
struct BookParams {
    seeds: Vec<SocketAddr>,
    peers_file: Option<PathBuf>,
    accept_local: bool,
}

/// Makes the address source once the manager's clock is known.
type MakeSource<S> = fn(BookParams, &Config, Instant) -> Result<S, Error>;

enum SourceSpec<S> {
    Given(S),
    Make(MakeSource<S>),
}

enum TraceTo {
    File(PathBuf),
    Writer(Box<dyn Write>),
}

/// Configures a [`Reactor`]: made by [`Reactor::builder`], finished by
/// [`build`](Builder::build) (own `Poll`) or [`build_in`](Builder::build_in)
/// (the application's).
pub struct Builder<S = BookSource> {
    config: Config,
    listen: Vec<SocketAddr>,
    book: BookParams,
    source: SourceSpec<S>,
    trace: Option<TraceTo>,
}

impl Builder<BookSource> {
    /// Seeds for the default address source, a [`BookSource`].
    pub fn seeds(mut self, seeds: impl IntoIterator<Item = SocketAddr>) -> Self {
        self.book.seeds.extend(seeds);
        self
    }

    /// Loads the default [`BookSource`] from `path` (empty if the file does
    /// not exist yet) and saves it there on [`Reactor::stop`].
    pub fn peers_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.book.peers_file = Some(path.into());
        self
    }

    /// Lets loopback and private addresses into the default [`BookSource`]
    /// (for demos and LANs; off by default, as in btcd).
    pub fn accept_local(mut self, accept: bool) -> Self {
        self.book.accept_local = accept;
        self
    }
}

impl<S: AddressSource> Builder<S> {
    /// Listens on `addr` (repeatable). Port 0 picks a free port; see
    /// [`Reactor::local_addrs`].
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen.push(addr);
        self
    }

    /// Takes addresses from `source` instead of the default [`BookSource`].
    pub fn source<T: AddressSource>(self, source: T) -> Builder<T> {
        Builder {
            config: self.config,
            listen: self.listen,
            book: self.book,
            source: SourceSpec::Given(source),
            trace: self.trace,
        }
    }

    /// Records every input and its actions to a trace file at `path`
    /// (JSON Lines, see [`connmgr::trace`]); [`Reactor::stop`] flushes and
    /// closes it.
    pub fn record_trace(mut self, path: impl Into<PathBuf>) -> Self {
        self.trace = Some(TraceTo::File(path.into()));
        self
    }

    /// Records the trace to any writer instead of a file; [`Reactor::stop`]
    /// flushes and drops it.
    pub fn record_trace_to(mut self, out: impl Write + 'static) -> Self {
        self.trace = Some(TraceTo::Writer(Box::new(out)));
        self
    }

    /// A reactor with its own [`Poll`], using [`DEFAULT_TOKENS`]; drive it
    /// with [`Reactor::run`] and friends.
    pub fn build(self) -> Result<Reactor<S>, Error> {
        let poll = Poll::new().map_err(Error::Poll)?;
        self.finish(Home::Own(poll), DEFAULT_TOKENS)
    }

    /// A reactor registered in the application's `Poll` (through
    /// `registry`, which it clones), using only the tokens in `tokens`: one
    /// per listener and one per dial in flight. Connected peers are handed
    /// over and use none.
    pub fn build_in(self, registry: &Registry, tokens: Range<Token>) -> Result<Reactor<S>, Error> {
        let registry = registry.try_clone().map_err(Error::Poll)?;
        self.finish(Home::Embedded(registry), tokens)
    }

    fn finish(self, home: Home, tokens: Range<Token>) -> Result<Reactor<S>, Error> {
        let clock = Clock::start();
        let now = clock.now();
        let mgr = ConnManager::new(self.config, now)?;

        let mut slots = Slots::new(tokens.clone());
        let needed = self.listen.len() + 1;
        if slots.capacity() < needed {
            return Err(Error::Tokens {
                needed,
                available: slots.capacity(),
            });
        }
        let backlog = connmgr_net::somaxconn();
        let mut listeners = Vec::with_capacity(self.listen.len());
        for (index, addr) in self.listen.into_iter().enumerate() {
            let listen_error = |source| Error::Listen { addr, source };
            let mut socket = crate::listen(addr).map_err(listen_error)?;
            let local = socket.local_addr().map_err(listen_error)?;
            let token = slots.insert(Slot::Listener(index)).ok_or(Error::Tokens {
                needed,
                available: slots.capacity(),
            })?;
            home.registry()
                .register(&mut socket, token, Interest::READABLE)
                .map_err(Error::Poll)?;
            tracing::info!(%local, backlog, "listening");
            listeners.push(Listener {
                socket: Some(socket),
                token,
                addr: local,
                paused: false,
                ready: false,
            });
        }

        let source = match self.source {
            SourceSpec::Given(source) => source,
            SourceSpec::Make(make) => make(self.book, mgr.config(), now)?,
        };
        let (core, trace_path) = match self.trace {
            None => (Core::Plain(mgr), None),
            Some(TraceTo::File(path)) => {
                let trace_error = |source| Error::Trace {
                    path: Some(path.clone()),
                    source,
                };
                let file = File::create(&path).map_err(trace_error)?;
                let out = TraceOut::new(Box::new(BufWriter::new(file)));
                let rec = Recorder::new(mgr, out.clone()).map_err(trace_error)?;
                (Core::Recorded(rec, out), Some(path))
            }
            Some(TraceTo::Writer(out)) => {
                let out = TraceOut::new(out);
                let rec = Recorder::new(mgr, out.clone())
                    .map_err(|source| Error::Trace { path: None, source })?;
                (Core::Recorded(rec, out), None)
            }
        };

        Ok(Reactor {
            core,
            source,
            clock,
            home,
            events: None,
            tokens,
            slots,
            listeners,
            dials: HashMap::new(),
            peers: HashMap::new(),
            next_serial: 0,
            unclaimed: None,
            inputs: VecDeque::new(),
            actions: Vec::new(),
            out: VecDeque::new(),
            dropped: Dropped::default(),
            dropped_spare: Vec::new(),
            stopped: false,
            trace_path,
        })
    }
}

fn book_source(params: BookParams, config: &Config, now: Instant) -> Result<BookSource, Error> {
    let BookParams {
        seeds,
        peers_file,
        accept_local,
    } = params;
    let seed = config.rng_seed;
    Ok(match peers_file {
        Some(path) => BookSource::open(&path, seed, &seeds, accept_local, now)?,
        None => BookSource::in_memory(seed, &seeds, accept_local, now),
    })
}

impl<S> fmt::Debug for Builder<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("config", &self.config)
            .field("listen", &self.listen)
            .field("book", &self.book)
            .field(
                "default_source",
                &matches!(self.source, SourceSpec::Make(_)),
            )
            .field("trace", &self.trace.is_some())
            .finish()
    }
}

impl Reactor<BookSource> {
    /// A builder with `config`, no listener, and the default address source:
    /// an in-memory [`BookSource`] (see [`Builder::seeds`],
    /// [`Builder::peers_file`]).
    pub fn builder(config: Config) -> Builder<BookSource> {
        Builder {
            config,
            listen: Vec::new(),
            book: BookParams::default(),
            source: SourceSpec::Make(book_source),
            trace: None,
        }
    }
}
