//! [`Reactor`]: the sockets it holds, the tokens naming them, and its public
//! API: commands, driving it (inside the application's `Poll` or on its
//! own) and queries. What makes a reactor (`builder.rs`) and the work behind
//! the API (`perform.rs`: feeding the manager, performing its actions) are
//! separate concerns, in child modules so that they see the reactor's
//! fields without widening them.

mod builder;
mod perform;
mod tunnel;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::ops::Range;
use std::rc::Weak;
use std::time::Duration;

use connmgr::{
    Advertised, ConnId, ConnManager, Ignored, Input, Instant, PeerAddr, PeerFact, Stats, Subnet,
};
use connmgr_net::socks5::Isolation;
use connmgr_net::{learned_input, save_source, Clock, Core, Error, PersistError};
use connmgr_store::AddressSource;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Poll, Registry, Token};

use crate::peer::Dropped;
use crate::slots::Slots;
use crate::{Event, LoopEvent};
use tunnel::Tunnel;

pub use builder::Mio;

/// The standalone loop's event buffer.
const EVENTS_CAPACITY: usize = 1024;

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
        /// The SOCKS5 handshake, for a dial through a proxy.
        tunnel: Option<Box<Tunnel>>,
    },
}

struct Listener {
    /// `None` once closed.
    socket: Option<TcpListener>,
    /// The network its connections come over, if not their address's.
    network: Option<connmgr::Network>,
    token: Token,
    /// Deregistered on the manager's `PauseListener`.
    paused: bool,
    /// Readiness seen and not yet drained to `WouldBlock`.
    ready: bool,
}

/// Runs a [`ConnManager`] on mio sockets: see the [crate documentation](crate).
pub struct Reactor {
    core: Core,
    source: Box<dyn AddressSource>,
    clock: Clock,
    home: Home,
    /// The standalone loop's event buffer, kept between runs.
    events: Option<Events>,
    tokens: Range<Token>,
    slots: Slots<Slot>,
    /// Indexed by `ListenerId`.
    listeners: Vec<Listener>,
    /// Where they are bound, in the same order.
    listen_addrs: Vec<SocketAddr>,
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
    /// Events for the application.
    out: VecDeque<Event>,
    dropped: Dropped,
    dropped_spare: Vec<(ConnId, u64)>,
    shut_down: bool,
    /// Whether accepted peers' addresses go to the source's `learned`.
    learn_inbound: bool,
    /// Per-connection proxy credentials (Tor stream isolation).
    isolation: Isolation,
}

impl fmt::Debug for Reactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reactor")
            .field("standalone", &matches!(self.home, Home::Own(_)))
            .field("tokens", &self.tokens)
            .field("listeners", &self.listen_addrs)
            .field("dials", &self.dials.len())
            .field("peers", &self.peers.len())
            .field("recording", &self.core.is_recording())
            .field("shut_down", &self.shut_down)
            .field("counts", &self.core.manager().counts())
            .finish_non_exhaustive()
    }
}

impl Reactor {
    // ----- commands: each is one input to the manager -----

    /// Starts the manager: automatic outbound requests begin and queued
    /// connects are dialled.
    pub fn start(&mut self) -> Result<(), Ignored> {
        self.submit(Input::Start, None).map(drop)
    }

    /// Dials `addr`; a permanent peer is redialled whenever it fails or
    /// drops.
    pub fn connect(
        &mut self,
        addr: impl Into<PeerAddr>,
        permanent: bool,
    ) -> Result<ConnId, Ignored> {
        let addr = addr.into();
        let id = self.submit(Input::Connect { addr, permanent }, None)?;
        id.ok_or(Ignored::Stopped)
    }

    /// Connects to `addr` only to ask it for addresses (an address fetch,
    /// `ConnKind::AddrFetch`): closed once the answer is reported
    /// (`learned`) or after 5 minutes.
    pub fn fetch_addresses(&mut self, addr: impl Into<PeerAddr>) -> Result<ConnId, Ignored> {
        let addr = addr.into();
        let id = self.submit(Input::FetchAddresses { addr }, None)?;
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

    /// Reports that the protocol's handshake with the peer of `id`
    /// succeeded: it is ready (an [`Event::Ready`](connmgr::Event::Ready)
    /// follows), an outbound peer's address becomes a good one, and its
    /// handshake timer stops.
    pub fn handshaked(&mut self, id: ConnId) -> Result<(), Ignored> {
        self.submit(Input::Handshaked { id }, None).map(drop)
    }

    /// Reports whether the chain tip is stale (`Input::TipStale`): while it
    /// is, one full-relay outbound peer is kept above the target.
    pub fn tip_stale(&mut self, stale: bool) -> Result<(), Ignored> {
        self.submit(Input::TipStale { stale }, None).map(drop)
    }

    /// Names the least useful full-relay outbound peer
    /// (`Input::LeastUseful`): closed if one is above the target.
    pub fn least_useful(&mut self, id: ConnId) -> Result<(), Ignored> {
        self.submit(Input::LeastUseful { id }, None).map(drop)
    }

    /// Reports something learned about the peer of `id` (its ping, a
    /// novel block or transaction, its relay flag, its permissions), which
    /// inbound eviction weighs (`Input::PeerFact`).
    pub fn peer_fact(&mut self, id: ConnId, fact: PeerFact) -> Result<(), Ignored> {
        self.submit(Input::PeerFact { id, fact }, None).map(drop)
    }

    /// Addresses advertised to the node: by the peer of `from` (its `addr`
    /// message, each with the time the peer claims it was seen), or, with
    /// `None`, the application's own. They go to the address book inside
    /// the manager (under Bitcoin Core's caps), or to the address source
    /// when the book is outside.
    pub fn learned(&mut self, from: Option<ConnId>, addrs: Vec<Advertised>) -> Result<(), Ignored> {
        let now = self.clock.now();
        match learned_input(&self.core, &mut *self.source, now, from, addrs) {
            Some(input) => self.submit(input, None).map(drop),
            None => Ok(()),
        }
    }

    /// The inbound peer of `id` asked for addresses (`getaddr`): the book
    /// inside answers once per connection with an
    /// [`Event::ShareAddresses`](connmgr::Event::ShareAddresses).
    pub fn addresses_requested(&mut self, id: ConnId) -> Result<(), Ignored> {
        self.submit(Input::AddressesRequested { id }, None)
            .map(drop)
    }

    /// Closes a connection (or cancels a request) for good.
    pub fn remove(&mut self, id: ConnId) -> Result<(), Ignored> {
        self.submit(Input::Remove { id }, None).map(drop)
    }

    /// Bans `subnet` for `duration` (from now): its live connections are
    /// closed, its inbound connections refused and its addresses never
    /// dialled until then. Banning again replaces the end time.
    pub fn ban(&mut self, subnet: Subnet, duration: Duration) -> Result<(), Ignored> {
        let until = self.clock.now() + duration;
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

    /// Shuts down: the manager cancels every dial, closes every connection
    /// (the peers the application holds are shut down and see EOF) and
    /// every listener; then the address source is saved and the trace
    /// flushed and closed (the recording ends here). Returns the manager's
    /// final counters, or a [`PersistError`] naming what could not be
    /// saved.
    ///
    /// Every socket the reactor held is closed even when saving fails. The
    /// `Disconnected` and `GaveUp` events of the shutdown are still queued
    /// for [`next_event`](Self::next_event) (the standalone loops deliver
    /// them before returning). A second call does nothing more.
    pub fn shutdown(&mut self) -> Result<Stats, Error> {
        if self.shut_down {
            return Ok(self.core.manager().stats());
        }
        self.shut_down = true;
        let _ = self.submit(Input::Stop, None);
        self.close_everything();
        let inside = self.core.manager().book_snapshot();
        let book = self.source.save(inside.as_ref()).err();
        let trace = self.core.close().err();
        PersistError::check(self.core.manager().stats(), trace, book)
    }

    /// Saves the address book now (as every `persist_interval` and at
    /// shutdown), for an operator's signal. A failure is logged, leaves the
    /// old file as it was, and is returned as [`Error::Persist`].
    pub fn save(&mut self) -> Result<(), Error> {
        save_source(&mut *self.source, &self.core)
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    pub fn is_shut_down(&self) -> bool {
        self.shut_down
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

        if self.core.tick(self.clock.now()) {
            let _ = self.submit(Input::Tick, None);
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
        let at = self.core.poll_timeout()?;
        Some(self.clock.until(at))
    }

    /// The next event for the application.
    pub fn next_event(&mut self) -> Option<Event> {
        self.out.pop_front()
    }

    // ----- driving it on its own -----

    /// Runs the reactor's own loop until [`shutdown`](Self::shutdown) is
    /// called (from `handler`), delivering every [`LoopEvent`] to `handler`.
    pub fn run<F>(&mut self, handler: F) -> Result<(), Error>
    where
        F: FnMut(&mut Self, LoopEvent<'_>),
    {
        self.run_loop(None, handler)
    }

    /// [`run`](Self::run), returning after `duration` at the latest.
    pub fn run_for<F>(&mut self, duration: Duration, handler: F) -> Result<(), Error>
    where
        F: FnMut(&mut Self, LoopEvent<'_>),
    {
        self.run_loop(std::time::Instant::now().checked_add(duration), handler)
    }

    /// [`run`](Self::run), returning at `deadline` at the latest.
    pub fn run_until<F>(&mut self, deadline: std::time::Instant, handler: F) -> Result<(), Error>
    where
        F: FnMut(&mut Self, LoopEvent<'_>),
    {
        self.run_loop(Some(deadline), handler)
    }

    fn run_loop<F>(
        &mut self,
        deadline: Option<std::time::Instant>,
        mut handler: F,
    ) -> Result<(), Error>
    where
        F: FnMut(&mut Self, LoopEvent<'_>),
    {
        if !matches!(self.home, Home::Own(_)) {
            return Err(embedded());
        }
        let mut events = self
            .events
            .take()
            .unwrap_or_else(|| Events::with_capacity(EVENTS_CAPACITY));
        let result = loop {
            self.advance();
            while let Some(event) = self.out.pop_front() {
                handler(self, LoopEvent::Peer(event));
            }
            if self.shut_down {
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
                break Err(embedded());
            };
            match poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(Error::Io(e)),
            }
            for event in events.iter() {
                if self.owns(event.token()) {
                    self.handle_event(event);
                } else {
                    handler(self, LoopEvent::Ready(event));
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
    /// port 0), in the order given to the builder's `listen`.
    pub fn listen_addrs(&self) -> &[SocketAddr] {
        &self.listen_addrs
    }

    /// The address source.
    pub fn source(&self) -> &dyn AddressSource {
        &*self.source
    }

    /// The address source, e.g. to tell it what peers report
    /// ([`AddressSource::learned`]), or to replace it.
    pub fn source_mut(&mut self) -> &mut Box<dyn AddressSource> {
        &mut self.source
    }

    /// Sockets the reactor holds itself: open listeners and dials in flight
    /// (peers handed over are the application's).
    pub fn sockets(&self) -> usize {
        self.listeners.iter().filter(|l| l.socket.is_some()).count() + self.dials.len()
    }
}

/// The error of a standalone loop run on an embedded reactor.
fn embedded() -> Error {
    Error::Io(io::Error::new(
        io::ErrorKind::Unsupported,
        "this reactor was built into the application's Poll (Mio::embedded); drive it with handle_event/advance, not run",
    ))
}
