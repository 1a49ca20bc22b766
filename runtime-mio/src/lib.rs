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
//! [`ConnId`]); record a trace if asked. It is set up by [`Builder`], the
//! setup path every runtime shares (the secret seed, the address book, the
//! trace, the listeners), so its defaults are the tokio and smol adapters'. It **never decides**: how many
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
//! - **On its own**: `Builder::new(config).build()` gives the reactor its
//!   own [`mio::Poll`]; [`Reactor::run`], [`run_for`](Reactor::run_for) and
//!   [`run_until`](Reactor::run_until) loop and call a closure with each
//!   [`LoopEvent`]. Register your own sources (your peers, say) in
//!   [`Reactor::registry`] with tokens outside [`Reactor::tokens`]; their
//!   readiness comes back as [`LoopEvent::Ready`].
//! - **Inside the application's own `Poll`**: [`Mio::embedded`] takes the
//!   application's [`Registry`] and a range of tokens the reactor may use,
//!   given to [`Builder::runtime`]. The application's loop asks
//!   [`timeout`](Reactor::timeout) before each poll, hands over the events
//!   whose tokens the reactor [`owns`](Reactor::owns) with
//!   [`handle_event`](Reactor::handle_event), calls
//!   [`advance`](Reactor::advance) once after each poll (time passed,
//!   dropped peers), and drains [`next_event`](Reactor::next_event):
//!
//! ```no_run
//! # use connmgr_mio::{Builder, Event, Mio};
//! # use mio::{Events, Poll, Token};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut poll = Poll::new()?;
//! let mut reactor = Builder::new(connmgr::Config::default())
//!     .runtime(Mio::embedded(poll.registry(), Token(1_000)..Token(2_000))?)
//!     .listen("127.0.0.1:8333".parse()?)
//!     .build()?;
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
//!         if let Event::Connected { stream: peer, .. } = event {
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
//! use connmgr_mio::{Builder, Event, LoopEvent};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut config = Config::default();
//! config.automatic_outbound = false; // only what we ask for
//! let mut reactor = Builder::new(config)
//!     .listen("127.0.0.1:0".parse()?)
//!     .build()?;
//! let addr = reactor.listen_addrs()[0];
//! reactor.start()?;
//! reactor.connect(addr, false)?;
//!
//! let mut peers = Vec::new();
//! reactor.run_for(Duration::from_secs(10), |reactor, event| {
//!     if let LoopEvent::Peer(Event::Connected { stream: peer, .. }) = event {
//!         peers.push(peer);
//!         if peers.len() == 2 {
//!             reactor.shutdown().expect("address book and trace saved");
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
//!
//! # Layout
//!
//! This file holds the crate's public surface that belongs to no one type:
//! [`LoopEvent`], [`listen`] and [`DEFAULT_TOKENS`]. `reactor/` is the
//! [`Reactor`]: its public API in `mod.rs`, [`Mio`] (how a prepared
//! manager becomes a reactor) in `builder.rs`, and in `perform.rs` the work
//! behind the API (feeding the manager and performing its actions).
//! `peer.rs` is the application's end of a connection, `slots.rs` the
//! token allocator. The setup path, the clock, listening sockets (with the
//! system's `somaxconn` backlog), the meaning of socket errors and the
//! error types come from `connmgr-net`, shared with the tokio and smol
//! adapters.

#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

mod peer;
mod reactor;
mod slots;

use std::io;
use std::net::SocketAddr;
use std::ops::Range;

use mio::net::TcpListener;
use mio::Token;

// Named only by the documentation's links.
#[cfg(doc)]
use connmgr::{Config, ConnId, ConnManager};
#[cfg(doc)]
use mio::Registry;

pub use connmgr_net::{BuildError, Error, PersistError};
pub use connmgr_store::{AddressSource, BookSource, StaticList};
pub use peer::Peer;
pub use reactor::{Mio, Reactor};

/// Configures a reactor: see [`connmgr_net::Builder`] for every option.
/// `build` gives a [`Reactor`] with its own `Poll`, or, with
/// [`Builder::runtime`] and [`Mio::embedded`], one in the
/// application's.
pub type Builder = connmgr_net::Builder<Mio>;

/// What happened to a peer, with its [`Peer`] on `Connected`.
pub type Event = connmgr::Event<Peer>;

/// The tokens a reactor with its own `Poll` uses: `0 .. 2^24`. Register
/// your own sources in its registry with tokens from `DEFAULT_TOKENS.end`
/// up.
pub const DEFAULT_TOKENS: Range<Token> = Token(0)..Token(1 << 24);

/// What a standalone loop ([`Reactor::run`] and friends) hands its closure.
#[derive(Debug)]
#[non_exhaustive]
pub enum LoopEvent<'a> {
    /// What happened to a peer: the core's peer events, with the [`Peer`]
    /// attached to `Connected`.
    Peer(Event),
    /// Readiness of one of the application's own sources, registered in
    /// [`Reactor::registry`] with a token outside [`Reactor::tokens`].
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
