//! The [`connmgr`] state machine on real sockets, with smol's reactor
//! (async-io), under any executor.
//!
//! # What this adapter does, and what it never decides
//!
//! The core ([`connmgr::ConnManager`]) makes every decision: which address
//! to dial and when, when a dial has taken too long, when to retry, whether
//! to admit an inbound connection, when to pause a listener. This crate only
//! carries its decisions out and reports what happened:
//!
//! - [`Builder::build`] returns a [`Driver`]: one future that owns the core,
//!   feeds it every event with the current time, performs the actions it
//!   drains, and waits for the next event or the core's `poll_timeout`. The
//!   application runs it on whichever executor it has (smol, async-std, a
//!   thread with `async_io::block_on`, …): the crate spawns nothing;
//! - `Dial` is an `Async::<TcpStream>::connect` future inside the driver,
//!   dropped on `CancelDial` (the core owns the dial timeout: the adapter
//!   adds none); io errors map onto [`DialError`](connmgr::DialError) kinds;
//! - `RequestAddress` is answered from the [`AddressSource`] (by default
//!   btcd's address book, seeded and saved to a peers file), which is told
//!   of outbound connections (`connected`) and of accepted peers
//!   (`learned`);
//! - the driver accepts on every listener the core has not paused, and
//!   reports `Accepted` and `AcceptFailed`; a paused listener is not polled
//!   at all, so EMFILE never makes it spin; the errors accept(2) says to
//!   retry (a connection that died in the queue) are retried at once and
//!   not reported;
//! - every connection is handed to the application as a [`PeerStream`]
//!   (futures-io `AsyncRead`/`AsyncWrite`) it owns; the stream reports
//!   `Closed` when dropped, closed, or on end-of-file or an error; a `Close`
//!   of a stream the application holds is carried out with `shutdown(2)`;
//! - [`Handle::shutdown`] feeds `Stop`, closes every dial, listener and
//!   connection the manager owns, flushes the trace, saves the address book
//!   and returns the final [`Stats`](connmgr::Stats).
//!
//! Time: the core's [`Instant`](connmgr::Instant) is nanoseconds since the
//! Unix epoch (the wall clock read once at start, plus the monotonic time
//! since). Every input can be recorded with one builder call
//! ([`Builder::record_trace`]) and replayed with
//! [`connmgr::trace::replay`].
//!
//! # Example
//!
//! Two managers on loopback, their drivers on threads of their own:
//!
//! ```
//! use connmgr::{Config, Direction};
//! use connmgr_smol::{Builder, Event};
//! use futures_lite::{AsyncReadExt, AsyncWriteExt};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config { automatic_outbound: false, ..Config::default() };
//! let (server, mut server_events, driver) = Builder::new(config.clone())
//!     .listen("127.0.0.1:0".parse()?)
//!     .build()?;
//! std::thread::spawn(|| async_io::block_on(driver));
//! let (client, mut client_events, driver) = Builder::new(config).build()?;
//! std::thread::spawn(|| async_io::block_on(driver));
//!
//! async_io::block_on(async {
//!     let id = client.connect(server.listen_addrs()[0], false).await?;
//!     let Some(Event::Connected { id: got, mut stream, .. }) = client_events.recv().await else {
//!         panic!("expected a connection");
//!     };
//!     assert_eq!(got, id);
//!     stream.write_all(b"hello").await?;
//!
//!     let Some(Event::Connected { direction, stream: mut inbound, .. }) =
//!         server_events.recv().await
//!     else {
//!         panic!("expected an inbound connection");
//!     };
//!     assert_eq!(direction, Direction::Inbound);
//!     let mut buf = [0; 5];
//!     inbound.read_exact(&mut buf).await?;
//!     assert_eq!(&buf, b"hello");
//!
//!     drop(stream); // tells the client's manager
//!     assert!(matches!(client_events.recv().await, Some(Event::Disconnected { .. })));
//!     assert_eq!(client.shutdown().await?.dial_successes, 1);
//!     server.shutdown().await?;
//!     Ok(())
//! })
//! # }
//! ```
//!
//! # Layout
//!
//! `builder.rs` configures; `driver.rs` is the future that owns the core;
//! `set.rs` polls the dials in flight; `stream.rs` is the application's end
//! of a connection; `handle.rs`, `events.rs` and `chan.rs` are the
//! application's side; `errors.rs` names what can go wrong. The clock,
//! listening sockets (with the system's `somaxconn` backlog) and the meaning
//! of socket errors come from `connmgr-net`, shared with the tokio and mio
//! adapters.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod builder;
mod chan;
mod driver;
mod errors;
mod events;
mod handle;
mod set;
mod stream;

pub use builder::Builder;
pub use connmgr_store::AddressSource;
pub use driver::Driver;
pub use errors::{Error, PersistError, SpawnError};
pub use events::{Event, Events};
pub use handle::Handle;
pub use stream::PeerStream;
