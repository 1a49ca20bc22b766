//! The [`connmgr`] state machine on real sockets, with tokio.
//!
//! # What this adapter does, and what it never decides
//!
//! The core ([`connmgr::ConnManager`]) makes every decision: which address
//! to dial and when, when a dial has taken too long, when to retry, whether
//! to admit an inbound connection, when to pause a listener. This crate only
//! carries its decisions out and reports what happened:
//!
//! - one task owns the core, feeds it every event with the current time,
//!   performs the actions it drains, and sleeps until the next event or the
//!   core's `poll_timeout`;
//! - `Dial` runs `TcpStream::connect` in its own task, aborted on
//!   `CancelDial` (the core owns the dial timeout: the adapter adds none);
//!   the result goes back as `DialResult`, io errors mapped onto
//!   [`DialError`](connmgr::DialError) kinds;
//! - `RequestAddress` is answered from the [`AddressSource`] (by default a
//!   [`BookSource`](connmgr_store::BookSource): btcd's address book, seeded
//!   and saved to a peers file), which is told of outbound connections
//!   (`connected`) and of accepted peers (`learned`);
//! - each listener's accept loop reports `Accepted` and `AcceptFailed`, and
//!   obeys `PauseListener`/`ResumeListener`: after an error it accepts
//!   again only once the core has decided, so EMFILE never makes it spin
//!   (unless the config says not to pause, as btcd's does); the errors
//!   accept(2) says to retry (a connection that died in the queue) are
//!   retried at once and not reported;
//! - every connection is handed to the application as a [`PeerStream`] it
//!   owns; the stream reports `Closed` when the application drops or shuts
//!   it down or reads end-of-file or an error; a `Close` of a stream the
//!   application holds is carried out with `shutdown(2)` (see
//!   [`PeerStream`] for how, without duplicating descriptors);
//! - [`Handle::shutdown`] feeds `Stop`, waits until every dial, listener
//!   and connection the manager owns is closed, flushes the trace, saves the
//!   address book and returns the final [`Stats`](connmgr::Stats).
//!
//! Time: the core's [`Instant`](connmgr::Instant) is nanoseconds since the
//! Unix epoch (the wall clock read once at start, plus tokio's monotonic
//! time since), so the times a persisted address book keeps stay meaningful
//! across restarts.
//!
//! Every input can be recorded with one builder call
//! ([`Builder::record_trace`]) and replayed with
//! [`connmgr::trace::replay`] or `connmgr replay`: the replay must be
//! identical, since every decision is the core's.
//!
//! # Example
//!
//! Two managers on loopback: one listens, the other connects to it.
//!
//! ```
//! use connmgr::{Config, Direction};
//! use connmgr_tokio::{Builder, Event};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut config = Config::default();
//! config.automatic_outbound = false; // connect only where told
//!
//! let (server, mut server_events) = Builder::new(config.clone())
//!     .listen("127.0.0.1:0".parse()?)
//!     .spawn()?;
//! let (client, mut client_events) = Builder::new(config).spawn()?;
//!
//! let id = client.connect(server.listen_addrs()[0], false).await?;
//! let Some(Event::Connected { id: got, mut stream, .. }) = client_events.recv().await else {
//!     panic!("expected a connection");
//! };
//! assert_eq!(got, id);
//! stream.write_all(b"hello").await?;
//!
//! let Some(Event::Connected { direction, stream: mut inbound, .. }) = server_events.recv().await else {
//!     panic!("expected an inbound connection");
//! };
//! assert_eq!(direction, Direction::Inbound);
//! let mut buf = [0; 5];
//! inbound.read_exact(&mut buf).await?;
//! assert_eq!(&buf, b"hello");
//!
//! // Dropping a stream tells its manager; shutdown closes everything else.
//! drop(stream);
//! assert!(matches!(client_events.recv().await, Some(Event::Disconnected { .. })));
//! let stats = client.shutdown().await?;
//! assert_eq!(stats.dial_successes, 1);
//! server.shutdown().await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//!
//! `builder.rs` configures and spawns; `driver.rs` is the task that owns
//! the core; `listener.rs` runs the accept loops; `stream.rs` is the
//! application's end of a connection; `handle.rs` and `events.rs` are the
//! application's side of the channels; `clock.rs` puts the core's time on
//! tokio's clock; `errors.rs` names what can go wrong. Listening sockets
//! (with the system's `somaxconn` backlog), the clock mapping and the
//! meaning of socket errors come from `connmgr-net`, shared with the smol
//! and mio adapters.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod builder;
mod clock;
mod driver;
mod errors;
mod events;
mod handle;
mod listener;
mod stream;

pub use builder::Builder;
pub use connmgr_store::AddressSource;
pub use errors::{Error, PersistError, SpawnError};
pub use events::{Event, Events};
pub use handle::Handle;
pub use stream::PeerStream;
