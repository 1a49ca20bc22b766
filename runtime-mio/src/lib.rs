//! Runs the [`connmgr`] state machine on real sockets with [mio].
//!
//! # The contract
//!
//! A [`Reactor`] owns a [`ConnManager`] and an [`AddressSource`] and does the
//! socket work the manager asks for. It **does**: answer `RequestAddress`
//! from the source; dial without blocking and report the outcome (checked
//! with `SO_ERROR`); accept on its listeners (bound with the system's
//! `somaxconn` backlog); cancel dials; shut connections down; pause, resume
//! and close listeners; feed the manager the time; hand every connected
//! peer to the application as a [`Peer`] (a mio `TcpStream` and its
//! [`ConnId`]); record a trace if asked. It **never decides**: how many
//! peers, whom to dial, when to retry or give up, which inbound connection
//! to refuse, how long to pause a listener after an accept error. Those are
//! the core's, and [`Config`] is where they are set. The only choices made
//! here are mechanical (what an `errno` means; which accept errors are
//! retried at once, as accept(2) prescribes).
//!
//! The application owns each [`Peer`] it is given: it reads and writes it,
//! registers it in any `Poll`, and **drops it when the connection is over**
//! (a read returned 0 or an error); the drop is the `Input::Closed` the
//! manager needs. When the manager closes a connection itself (`Disconnect`,
//! `Remove`, `Stop`), the reactor calls `shutdown(2)` on the peer's stream,
//! through a weak reference it keeps (no `dup`, no raw descriptor that could
//! be reused), and the application sees EOF.
//!
//! # Two ways to run it
//!
//! - **On its own**: [`Builder::build`] gives the reactor its own
//!   [`mio::Poll`]; [`Reactor::run`], [`run_for`](Reactor::run_for) and
//!   [`run_until`](Reactor::run_until) loop and call a closure with each
//!   [`Event`]. Register your own sources (your peers, say) in
//!   [`Reactor::registry`] with tokens outside [`Reactor::tokens`]; their
//!   readiness comes back as [`Event::Ready`].
//! - **Inside the application's own `Poll`**: [`Builder::build_in`] takes
//!   the application's [`Registry`] and a range of tokens
//!   the reactor may use. The application's loop asks
//!   [`timeout`](Reactor::timeout) before each poll, hands over the events
//!   whose tokens the reactor [`owns`](Reactor::owns) with
//!   [`handle_event`](Reactor::handle_event), calls
//!   [`advance`](Reactor::advance) once after each poll (time passed,
//!   dropped peers), and drains [`next_event`](Reactor::next_event):
//!
//! ```no_run
//! # use connmgr_mio::{Event, Reactor};
//! # use mio::{Events, Poll, Token};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut poll = Poll::new()?;
//! let mut reactor = Reactor::builder(connmgr::Config::default())
//!     .listen("127.0.0.1:8333".parse()?)
//!     .build_in(poll.registry(), Token(1_000)..Token(2_000))?;
//! reactor.start()?;
//! let mut events = Events::with_capacity(1024);
//! loop {
//!     poll.poll(&mut events, reactor.timeout())?;
//!     for event in events.iter() {
//!         if reactor.owns(event.token()) {
//!             reactor.handle_event(event);
//!         } else {
//!             // the application's own sources
//!         }
//!     }
//!     reactor.advance();
//!     while let Some(event) = reactor.next_event() {
//!         if let Event::Connected(peer) = event {
//!             // register `peer` with a token of yours, read it, drop it at EOF
//!             # drop(peer);
//!         }
//!     }
//!     # break;
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Everything is single-threaded: a reactor and its peers stay on one
//! thread (they are not `Send`).
//!
//! # Example
//!
//! A node that connects to itself on loopback, holds both ends, then stops:
//!
//! ```
//! use std::time::Duration;
//! use connmgr::{Config, Direction};
//! use connmgr_mio::{Event, Reactor};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut config = Config::default();
//! config.automatic_outbound = false; // only what we ask for
//! let mut reactor = Reactor::builder(config)
//!     .listen("127.0.0.1:0".parse()?)
//!     .build()?;
//! let addr = reactor.local_addrs()[0];
//! reactor.start()?;
//! reactor.connect(addr, false)?;
//!
//! let mut peers = Vec::new();
//! reactor.run_for(Duration::from_secs(10), |reactor, event| {
//!     if let Event::Connected(peer) = event {
//!         peers.push(peer);
//!         if peers.len() == 2 {
//!             reactor.stop().expect("address book and trace saved");
//!         }
//!     }
//! })?;
//! let mut directions: Vec<_> = peers.iter().map(|p| p.direction()).collect();
//! directions.sort_by_key(|d| *d == Direction::Inbound);
//! assert_eq!(directions, [Direction::Outbound, Direction::Inbound]);
//! assert_eq!(reactor.manager().stats().dial_successes, 1);
//! # Ok(())
//! # }
//! ```
//!
//! `examples/` has a node (`node.rs`), the churn and establish benchmarks
//! (`churn.rs`, `establish.rs`) and the raw mio loop they are compared with
//! (`raw_churn.rs`).

#![deny(missing_docs)]

mod error;
mod peer;
mod slots;

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::{Shutdown, SocketAddr};
use std::ops::Range;
use std::path::PathBuf;
use std::rc::{Rc, Weak};
use std::time::Duration;

use connmgr::trace::Recorder;
use connmgr::{
    Action, Config, ConnId, ConnManager, DialError, Direction, Ignored, Input, Instant, ListenerId,
    PeerEvent, Reason, Stats, Subnet,
};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Registry, Token};

use connmgr_net::{accept_error, dial_error, Clock};
pub use connmgr_store::{AddressSource, BookSource, StaticList};
pub use error::Error;
pub use peer::Peer;

use peer::Dropped;
use slots::Slots;

/// The tokens a reactor built with [`Builder::build`] uses: `0 .. 2^24`.
/// Register your own sources in its registry with tokens from
/// `DEFAULT_TOKENS.end` up.
pub const DEFAULT_TOKENS: Range<Token> = Token(0)..Token(1 << 24);

/// Accepts per listener before the reactor lets other work in; the rest
/// wait for the next turn (the timeout is then zero).
const ACCEPT_BUDGET: usize = 64;

/// The standalone loop's event buffer.
const EVENTS_CAPACITY: usize = 1024;

/// What the reactor tells the application.
///
/// All but `Ready` are the core's [`PeerEvent`]s, with the stream attached
/// to `Connected`.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A connection is established; the peer is yours. Drop it when the
    /// connection ends.
    Connected(Peer),
    /// An established connection ended. A permanent peer will be redialled
    /// under the same id.
    Disconnected {
        /// The connection.
        id: ConnId,
        /// Why.
        reason: Reason,
    },
    /// A request ended without (another) connection. Final.
    GaveUp {
        /// The request.
        id: ConnId,
        /// Why.
        reason: Reason,
    },
    /// A subnet is banned until `until` (asked for with
    /// [`ban`](Reactor::ban), or for misbehaviour).
    Banned {
        /// What is banned.
        subnet: Subnet,
        /// When the ban ends.
        until: Instant,
        /// `Requested` or `Misbehaving`.
        reason: Reason,
    },
    /// A ban was lifted with [`unban`](Reactor::unban).
    Unbanned {
        /// The subnet.
        subnet: Subnet,
    },
    /// Readiness of one of the application's own sources, registered in
    /// [`Reactor::registry`] with a token outside [`Reactor::tokens`]. Only
    /// the standalone loops (`run`…) deliver it; [`Reactor::next_event`]
    /// never does.
    Ready(&'a mio::event::Event),
}

/// A non-blocking listener on `addr` with the system's `somaxconn` as its
/// backlog, as the reactor's own listeners are (mio's and std's `bind` use
/// 128, which a burst of connects overflows into SYN retransmits). For an
/// application's other listeners, and benchmarks that compare with the
/// reactor.
pub fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    Ok(TcpListener::from_std(connmgr_net::listen(
        addr,
        connmgr_net::somaxconn(),
    )?))
}

// ----- the builder -----

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
            let mut socket = connmgr_net::listen(addr, backlog)
                .map(TcpListener::from_std)
                .map_err(listen_error)?;
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

// ----- the reactor -----

/// The manager, recording or not.
enum Core {
    Plain(ConnManager),
    Recorded(Recorder<TraceOut>, TraceOut),
}

/// Where a trace goes: shared between the recorder and the reactor, so the
/// reactor can close it at `stop` (the recorder only hands its writer back
/// together with the manager). Once closed, writes are discarded: after
/// `Stop` the manager ignores every input, so nothing is lost.
#[derive(Clone)]
struct TraceOut(Rc<RefCell<Option<Box<dyn Write>>>>);

impl TraceOut {
    fn new(out: Box<dyn Write>) -> TraceOut {
        TraceOut(Rc::new(RefCell::new(Some(out))))
    }

    /// Flushes and drops the underlying writer (closing a file).
    fn close(&self) -> io::Result<()> {
        match self.0.borrow_mut().take() {
            Some(mut out) => out.flush(),
            None => Ok(()),
        }
    }
}

impl Write for TraceOut {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.0.borrow_mut().as_mut() {
            Some(out) => out.write(buf),
            None => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.0.borrow_mut().as_mut() {
            Some(out) => out.flush(),
            None => Ok(()),
        }
    }
}

impl Core {
    fn manager(&self) -> &ConnManager {
        match self {
            Core::Plain(mgr) => mgr,
            Core::Recorded(rec, _) => rec.manager(),
        }
    }

    /// Feeds `input` and appends the actions it produced to `out`.
    fn handle(
        &mut self,
        now: Instant,
        input: Input,
        out: &mut Vec<Action>,
    ) -> Result<Option<ConnId>, Ignored> {
        match self {
            Core::Plain(mgr) => {
                let result = mgr.handle(now, input);
                out.extend(std::iter::from_fn(|| mgr.poll_action()));
                result
            }
            Core::Recorded(rec, _) => {
                let handled = rec.handle(now, input);
                out.extend(handled.actions);
                handled.result
            }
        }
    }

    /// Ends the recording: reports a write error that stopped it, flushes,
    /// and closes the trace.
    fn end_recording(&mut self) -> io::Result<()> {
        match self {
            Core::Plain(_) => Ok(()),
            Core::Recorded(rec, out) => {
                let flushed = rec.flush();
                let closed = out.close();
                flushed.and(closed)
            }
        }
    }
}

/// Where the reactor registers its sockets.
enum Home {
    /// Its own `Poll`.
    Own(Poll),
    /// A clone of the application's registry.
    Embedded(Registry),
}

impl Home {
    fn registry(&self) -> &Registry {
        match self {
            Home::Own(poll) => poll.registry(),
            Home::Embedded(registry) => registry,
        }
    }
}

/// What a token names.
enum Slot {
    Listener(usize),
    Dial {
        id: ConnId,
        attempt: u32,
        stream: TcpStream,
    },
}

struct Listener {
    /// `None` once closed.
    socket: Option<TcpListener>,
    token: Token,
    addr: SocketAddr,
    /// Deregistered on the manager's `PauseListener`.
    paused: bool,
    /// Readiness seen and not yet drained to `WouldBlock`.
    ready: bool,
}

/// Runs a [`ConnManager`] on mio sockets: see the [crate documentation](crate).
pub struct Reactor<S: AddressSource = BookSource> {
    core: Core,
    source: S,
    clock: Clock,
    home: Home,
    /// The standalone loop's event buffer, kept between runs.
    events: Option<Events>,
    tokens: Range<Token>,
    slots: Slots<Slot>,
    /// Indexed by `ListenerId`.
    listeners: Vec<Listener>,
    /// Dials in flight: their tokens.
    dials: HashMap<ConnId, Token>,
    /// Established connections handed to the application, for `Close`,
    /// with the serial of the `Peer` holding each.
    peers: HashMap<ConnId, (u64, Weak<TcpStream>)>,
    next_serial: u64,
    /// The socket an `Accepted` or a successful `DialResult` brought in,
    /// until the manager's actions say whether it is a peer or is closed.
    unclaimed: Option<(ConnId, TcpStream)>,
    /// Answers found while performing actions, fed in order.
    inputs: VecDeque<Input>,
    actions: Vec<Action>,
    /// Events for the application.
    out: VecDeque<Event<'static>>,
    dropped: Dropped,
    dropped_spare: Vec<(ConnId, u64)>,
    stopped: bool,
    trace_path: Option<PathBuf>,
}

impl<S: AddressSource> fmt::Debug for Reactor<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reactor")
            .field("standalone", &matches!(self.home, Home::Own(_)))
            .field("tokens", &self.tokens)
            .field("listeners", &self.local_addrs())
            .field("dials", &self.dials.len())
            .field("peers", &self.peers.len())
            .field("recording", &matches!(self.core, Core::Recorded(..)))
            .field("stopped", &self.stopped)
            .field("counts", &self.core.manager().counts())
            .finish_non_exhaustive()
    }
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

impl<S: AddressSource> Reactor<S> {
    // ----- commands: each is one input to the manager -----

    /// Starts the manager: automatic outbound requests begin and queued
    /// connects are dialled.
    pub fn start(&mut self) -> Result<(), Ignored> {
        self.submit(Input::Start, None).map(drop)
    }

    /// Dials `addr`; a permanent peer is redialled whenever it fails or
    /// drops.
    pub fn connect(&mut self, addr: SocketAddr, permanent: bool) -> Result<ConnId, Ignored> {
        let id = self.submit(Input::Connect { addr, permanent }, None)?;
        id.ok_or(Ignored::Stopped)
    }

    /// Asks for one more automatic outbound connection, if below the target.
    pub fn new_conn_req(&mut self) -> Result<ConnId, Ignored> {
        let id = self.submit(Input::NewConnReq, None)?;
        id.ok_or(Ignored::Stopped)
    }

    /// Closes a connection (or cancels a request) and lets the policy act:
    /// a permanent peer is redialled, an automatic one replaced.
    pub fn disconnect(&mut self, id: ConnId) -> Result<(), Ignored> {
        self.submit(Input::Disconnect { id }, None).map(drop)
    }

    /// Closes a connection (or cancels a request) for good.
    pub fn remove(&mut self, id: ConnId) -> Result<(), Ignored> {
        self.submit(Input::Remove { id }, None).map(drop)
    }

    /// Refuses and never dials addresses in `subnet` until `until`; live
    /// connections in it are closed.
    pub fn ban(&mut self, subnet: Subnet, until: Instant) -> Result<(), Ignored> {
        self.submit(Input::Ban { subnet, until }, None).map(drop)
    }

    /// Lifts a ban.
    pub fn unban(&mut self, subnet: Subnet) -> Result<(), Ignored> {
        self.submit(Input::Unban { subnet }, None).map(drop)
    }

    /// Reports that peer `id` misbehaved; at the configured threshold its
    /// address is banned (and it is closed).
    pub fn misbehaved(
        &mut self,
        id: ConnId,
        persistent: u32,
        transient: u32,
    ) -> Result<(), Ignored> {
        let input = Input::Misbehaved {
            id,
            persistent,
            transient,
        };
        self.submit(input, None).map(drop)
    }

    /// Stops: the manager cancels every dial, closes every connection (the
    /// peers the application holds are shut down and see EOF) and every
    /// listener; then the address source is saved and the trace flushed and
    /// closed (the recording ends here).
    /// Returns the manager's final counters.
    ///
    /// Every socket the reactor held is closed even when saving fails; the
    /// error says what could not be saved. The `Disconnected` and `GaveUp`
    /// events of the stop are still queued for [`next_event`](Self::next_event)
    /// (the standalone loops deliver them before returning). A second call
    /// does nothing more.
    pub fn stop(&mut self) -> Result<Stats, Error> {
        if !self.stopped {
            self.stopped = true;
            let _ = self.submit(Input::Stop, None);
            self.close_everything();
            let saved = self.source.save();
            let flushed = self.core.end_recording();
            saved?;
            flushed.map_err(|source| Error::Trace {
                path: self.trace_path.clone(),
                source,
            })?;
        }
        Ok(self.core.manager().stats())
    }

    /// Whether [`stop`](Self::stop) was called.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    // ----- driving it inside the application's Poll -----

    /// The tokens this reactor registers its sockets with.
    pub fn tokens(&self) -> Range<Token> {
        self.tokens.clone()
    }

    /// Whether `token` is in [`tokens`](Self::tokens): hand such events to
    /// [`handle_event`](Self::handle_event).
    pub fn owns(&self, token: Token) -> bool {
        self.tokens.contains(&token)
    }

    /// Handles readiness of one of the reactor's sockets: accepts, or
    /// completes a dial. Events for tokens it does not use are ignored.
    pub fn handle_event(&mut self, event: &mio::event::Event) {
        let token = event.token();
        match self.slots.get_mut(token) {
            Some(Slot::Listener(index)) => {
                let index = *index;
                self.listeners[index].ready = true;
                self.accept(index);
            }
            Some(Slot::Dial { .. }) => self.dial_ready(token),
            None => {}
        }
    }

    /// Catches up after a poll, whether it returned events or timed out:
    /// reports the peers the application dropped (`Closed`), accepts what
    /// the accept budget left, and feeds the manager a `Tick` if its
    /// deadline has passed. Call it once per turn of the loop.
    pub fn advance(&mut self) {
        let mut dropped = std::mem::take(&mut self.dropped_spare);
        std::mem::swap(&mut dropped, &mut *self.dropped.borrow_mut());
        for (id, serial) in dropped.drain(..) {
            // Absent when the manager closed it first: nothing to report.
            // Another serial: a permanent peer's earlier connection, which
            // the manager closed before redialling.
            if self.peers.get(&id).is_some_and(|(s, _)| *s == serial) {
                self.peers.remove(&id);
                let _ = self.submit(Input::Closed { id }, None);
            }
        }
        self.dropped_spare = dropped;

        for index in 0..self.listeners.len() {
            if self.listeners[index].ready {
                self.accept(index);
            }
        }

        if let Some(at) = self.core.manager().poll_timeout() {
            if self.clock.now() >= at {
                let _ = self.submit(Input::Tick, None);
            }
        }
    }

    /// How long the application's poll may sleep: until the manager's next
    /// deadline, zero when the reactor has work left (dropped peers to
    /// report, connections left in a listener's queue), `None` when there is
    /// nothing to wait for but sockets.
    pub fn timeout(&self) -> Option<Duration> {
        let busy = !self.dropped.borrow().is_empty()
            || self
                .listeners
                .iter()
                .any(|l| l.ready && !l.paused && l.socket.is_some());
        if busy {
            return Some(Duration::ZERO);
        }
        let at = self.core.manager().poll_timeout()?;
        Some(self.clock.until(at))
    }

    /// The next event for the application; never [`Event::Ready`].
    pub fn next_event(&mut self) -> Option<Event<'static>> {
        self.out.pop_front()
    }

    // ----- driving it on its own -----

    /// Runs the reactor's own loop until [`stop`](Self::stop) is called
    /// (from `handler`), delivering every [`Event`] to `handler`.
    pub fn run<F>(&mut self, handler: F) -> Result<(), Error>
    where
        F: FnMut(&mut Self, Event<'_>),
    {
        self.run_loop(None, handler)
    }

    /// [`run`](Self::run), returning after `duration` at the latest.
    pub fn run_for<F>(&mut self, duration: Duration, handler: F) -> Result<(), Error>
    where
        F: FnMut(&mut Self, Event<'_>),
    {
        self.run_loop(std::time::Instant::now().checked_add(duration), handler)
    }

    /// [`run`](Self::run), returning at `deadline` at the latest.
    pub fn run_until<F>(&mut self, deadline: std::time::Instant, handler: F) -> Result<(), Error>
    where
        F: FnMut(&mut Self, Event<'_>),
    {
        self.run_loop(Some(deadline), handler)
    }

    fn run_loop<F>(
        &mut self,
        deadline: Option<std::time::Instant>,
        mut handler: F,
    ) -> Result<(), Error>
    where
        F: FnMut(&mut Self, Event<'_>),
    {
        if !matches!(self.home, Home::Own(_)) {
            return Err(Error::Embedded);
        }
        let mut events = self
            .events
            .take()
            .unwrap_or_else(|| Events::with_capacity(EVENTS_CAPACITY));
        let result = loop {
            self.advance();
            while let Some(event) = self.out.pop_front() {
                handler(self, event);
            }
            if self.stopped {
                break Ok(());
            }
            let mut timeout = self.timeout();
            if let Some(deadline) = deadline {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    break Ok(());
                }
                timeout = Some(timeout.map_or(left, |t| t.min(left)));
            }
            let Home::Own(poll) = &mut self.home else {
                break Err(Error::Embedded);
            };
            match poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(Error::Poll(e)),
            }
            for event in events.iter() {
                if self.owns(event.token()) {
                    self.handle_event(event);
                } else {
                    handler(self, Event::Ready(event));
                }
            }
        };
        self.events = Some(events);
        result
    }

    // ----- queries -----

    /// The registry the reactor's sockets are in: its own `Poll`'s, or a
    /// clone of the application's.
    pub fn registry(&self) -> &Registry {
        self.home.registry()
    }

    /// The manager, for its queries ([`counts`](ConnManager::counts),
    /// [`stats`](ConnManager::stats), [`info`](ConnManager::info), …).
    pub fn manager(&self) -> &ConnManager {
        self.core.manager()
    }

    /// The manager's current time.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// The addresses the listeners are bound to (with the ports chosen for
    /// port 0), in the order given to [`Builder::listen`].
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners.iter().map(|l| l.addr).collect()
    }

    /// The address source.
    pub fn source(&self) -> &S {
        &self.source
    }

    /// The address source, e.g. to tell it what peers report
    /// ([`AddressSource::learned`]).
    pub fn source_mut(&mut self) -> &mut S {
        &mut self.source
    }

    /// Sockets the reactor holds itself: open listeners and dials in flight
    /// (peers handed over are the application's).
    pub fn sockets(&self) -> usize {
        self.listeners.iter().filter(|l| l.socket.is_some()).count() + self.dials.len()
    }

    // ----- feeding the manager -----

    /// Feeds `input` and everything performing its actions brings back.
    /// `stream` is the socket the input reports (an accepted connection, a
    /// completed dial).
    fn submit(
        &mut self,
        input: Input,
        stream: Option<TcpStream>,
    ) -> Result<Option<ConnId>, Ignored> {
        let result = self.feed(input, stream);
        while let Some(next) = self.inputs.pop_front() {
            let _ = self.feed(next, None);
        }
        result
    }

    fn feed(&mut self, input: Input, stream: Option<TcpStream>) -> Result<Option<ConnId>, Ignored> {
        let now = self.clock.now();
        let dial_id = match &input {
            Input::DialResult { id, .. } => Some(*id),
            _ => None,
        };
        let mut actions = std::mem::take(&mut self.actions);
        let result = self.core.handle(now, input, &mut actions);
        if let Some(stream) = stream {
            // An accepted connection's id is the one `Accepted` returned.
            if let Some(id) = dial_id.or_else(|| result.as_ref().ok().copied().flatten()) {
                self.unclaimed = Some((id, stream));
            }
        }
        for action in actions.drain(..) {
            self.perform(now, action);
        }
        self.actions = actions;
        if let Some((id, _)) = self.unclaimed.take() {
            // Not made a peer, not closed by name (a stale result): close it.
            tracing::debug!(conn = id.raw(), "closing a socket the manager did not take");
        }
        result
    }

    fn perform(&mut self, now: Instant, action: Action) {
        match action {
            Action::RequestAddress { id } => {
                let mgr = self.core.manager();
                let result = self
                    .source
                    .next_address(now, &|group| mgr.outbound_group_count(group));
                self.inputs.push_back(Input::AddressResult { id, result });
            }
            Action::Dial { id, attempt, addr } => {
                if let Err(error) = self.dial(id, attempt, addr) {
                    tracing::debug!(conn = id.raw(), %addr, %error, "dial failed at once");
                    self.inputs.push_back(Input::DialResult {
                        id,
                        attempt,
                        result: Err(error),
                    });
                }
            }
            Action::CancelDial { id, attempt } => self.cancel_dial(id, attempt),
            Action::Close { id, reason } => self.close(id, reason),
            Action::RetryAfter { .. } => {}
            Action::PauseListener { listener, until } => self.pause(listener, until),
            Action::ResumeListener { listener } => self.resume(listener),
            Action::CloseListeners => self.close_listeners(),
            Action::NotifyPeer(event) => self.notify(now, event),
        }
    }

    // ----- the actions -----

    fn dial(&mut self, id: ConnId, attempt: u32, addr: SocketAddr) -> Result<(), DialError> {
        let stream = TcpStream::connect(addr).map_err(|e| dial_error(&e))?;
        let slot = Slot::Dial {
            id,
            attempt,
            stream,
        };
        // A full token range closes the socket and fails the dial.
        let token = self.slots.insert(slot).ok_or(DialError::Exhausted)?;
        if let Some(Slot::Dial { stream, .. }) = self.slots.get_mut(token) {
            if let Err(e) = self
                .home
                .registry()
                .register(stream, token, Interest::WRITABLE)
            {
                self.slots.remove(token);
                return Err(dial_error(&e));
            }
        }
        self.dials.insert(id, token);
        Ok(())
    }

    /// A dial's socket is ready: connected, failed, or (spuriously) neither.
    fn dial_ready(&mut self, token: Token) {
        let Some(Slot::Dial { stream, .. }) = self.slots.get_mut(token) else {
            return;
        };
        // mio's recipe: SO_ERROR first, then whether there is a peer.
        let result = match stream.take_error() {
            Ok(Some(e)) | Err(e) => Err(dial_error(&e)),
            Ok(None) => match stream.peer_addr() {
                Ok(_) => Ok(()),
                Err(e)
                    if e.kind() == io::ErrorKind::NotConnected
                        || e.raw_os_error() == Some(libc::EINPROGRESS) =>
                {
                    return;
                }
                Err(e) => Err(dial_error(&e)),
            },
        };
        let Some(Slot::Dial {
            id,
            attempt,
            mut stream,
        }) = self.slots.remove(token)
        else {
            return;
        };
        self.dials.remove(&id);
        // The application registers the peer with its own token.
        let _ = self.home.registry().deregister(&mut stream);
        let input = Input::DialResult {
            id,
            attempt,
            result,
        };
        let stream = result.is_ok().then_some(stream);
        let _ = self.submit(input, stream);
    }

    fn cancel_dial(&mut self, id: ConnId, attempt: u32) {
        let Some(&token) = self.dials.get(&id) else {
            return;
        };
        if !matches!(self.slots.get_mut(token), Some(Slot::Dial { attempt: a, .. }) if *a == attempt)
        {
            return;
        }
        self.dials.remove(&id);
        if let Some(Slot::Dial { mut stream, .. }) = self.slots.remove(token) {
            let _ = self.home.registry().deregister(&mut stream);
            tracing::debug!(conn = id.raw(), attempt, "dial cancelled");
        }
    }

    fn close(&mut self, id: ConnId, reason: Reason) {
        if self.unclaimed.as_ref().is_some_and(|(u, _)| *u == id) {
            self.unclaimed = None;
            tracing::debug!(conn = id.raw(), ?reason, "closed on arrival");
            return;
        }
        let Some((_, weak)) = self.peers.remove(&id) else {
            return;
        };
        // Dropped by the application already: its socket is closed.
        if let Some(stream) = weak.upgrade() {
            if let Err(e) = stream.shutdown(Shutdown::Both) {
                tracing::debug!(conn = id.raw(), error = %e, "shutdown failed");
            }
            tracing::debug!(conn = id.raw(), ?reason, "shut down");
        }
    }

    fn pause(&mut self, listener: ListenerId, until: Instant) {
        let registry = self.home.registry();
        let Some(l) = self.listeners.get_mut(listener.0 as usize) else {
            return;
        };
        let Some(socket) = &mut l.socket else { return };
        if l.paused {
            return;
        }
        let _ = registry.deregister(socket);
        l.paused = true;
        l.ready = false;
        tracing::debug!(%listener, %until, "listener paused");
    }

    fn resume(&mut self, listener: ListenerId) {
        let registry = self.home.registry();
        let Some(l) = self.listeners.get_mut(listener.0 as usize) else {
            return;
        };
        let Some(socket) = &mut l.socket else { return };
        if !l.paused {
            return;
        }
        match registry.register(socket, l.token, Interest::READABLE) {
            Ok(()) => {
                l.paused = false;
                // Connections may have queued while paused.
                l.ready = true;
                tracing::debug!(%listener, "listener resumed");
            }
            Err(e) => {
                // Left paused; the manager decides when to try again.
                tracing::warn!(%listener, error = %e, "cannot re-register the listener");
                self.inputs.push_back(Input::AcceptFailed {
                    listener,
                    error: connmgr::AcceptError::Other,
                });
            }
        }
    }

    fn close_listeners(&mut self) {
        for l in &mut self.listeners {
            if let Some(mut socket) = l.socket.take() {
                if !l.paused {
                    let _ = self.home.registry().deregister(&mut socket);
                }
                self.slots.remove(l.token);
                tracing::info!(addr = %l.addr, "listener closed");
            }
            l.ready = false;
        }
    }

    fn notify(&mut self, now: Instant, event: PeerEvent) {
        match event {
            PeerEvent::Connected {
                id,
                addr,
                direction,
                permanent,
            } => {
                let Some((_, stream)) = self.unclaimed.take_if(|(u, _)| *u == id) else {
                    tracing::warn!(conn = id.raw(), "connected without a socket");
                    return;
                };
                if direction == Direction::Outbound {
                    self.source.connected(now, addr);
                }
                let serial = self.next_serial;
                self.next_serial += 1;
                let dropped = self.dropped.clone();
                let (peer, weak) =
                    Peer::new(id, serial, addr, direction, permanent, stream, dropped);
                self.peers.insert(id, (serial, weak));
                self.out.push_back(Event::Connected(peer));
            }
            PeerEvent::Disconnected { id, reason } => {
                self.peers.remove(&id);
                self.out.push_back(Event::Disconnected { id, reason });
            }
            PeerEvent::GaveUp { id, reason } => self.out.push_back(Event::GaveUp { id, reason }),
            PeerEvent::Banned {
                subnet,
                until,
                reason,
            } => self.out.push_back(Event::Banned {
                subnet,
                until,
                reason,
            }),
            PeerEvent::Unbanned { subnet } => self.out.push_back(Event::Unbanned { subnet }),
            other => tracing::debug!(?other, "peer event not forwarded"),
        }
    }

    /// Accepts on listener `index` until its queue is empty, an error, or
    /// the budget; each connection is one `Accepted` input.
    fn accept(&mut self, index: usize) {
        let listener = ListenerId(u32::try_from(index).unwrap_or(u32::MAX));
        for _ in 0..ACCEPT_BUDGET {
            let l = &mut self.listeners[index];
            if !l.ready || l.paused {
                return;
            }
            let Some(socket) = &l.socket else { return };
            match socket.accept() {
                Ok((stream, remote)) => {
                    let _ = self.submit(Input::Accepted { listener, remote }, Some(stream));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    l.ready = false;
                    return;
                }
                Err(e) => match accept_error(&e) {
                    None => continue,
                    Some(error) => {
                        // Not retried here: the manager decides whether and
                        // how long to pause. Edge-triggered, so no spinning.
                        l.ready = false;
                        tracing::debug!(%listener, error = %e, "accept failed");
                        let _ = self.submit(Input::AcceptFailed { listener, error }, None);
                        return;
                    }
                },
            }
        }
    }

    /// After `Stop`: anything the manager did not close is closed here, so
    /// that no descriptor outlives the stop whatever happened before.
    fn close_everything(&mut self) {
        self.close_listeners();
        let left = self.slots.occupied();
        if left > 0 {
            tracing::warn!(left, "sockets left after Stop; closing them");
        }
        let registry = self.home.registry();
        for slot in self.slots.drain() {
            if let Slot::Dial { mut stream, .. } = slot {
                let _ = registry.deregister(&mut stream);
            }
        }
        self.dials.clear();
        for (_, (_, weak)) in self.peers.drain() {
            if let Some(stream) = weak.upgrade() {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
        self.unclaimed = None;
    }
}
