//! The [`connmgr`] state machine on real sockets, with tokio.
//!
//! This crate is the shared async driver of [`connmgr_net::driver`] on
//! tokio: a [`Runtime`](connmgr_net::driver::Runtime) implementation
//! ([`Tokio`]), the application's end of a connection ([`PeerStream`], with
//! tokio's `AsyncRead`/`AsyncWrite`), and `spawn` on tokio's executor.
//! Everything else, and every decision, is shared: the core decides, the
//! driver (documented in [`connmgr_net::driver`]) carries its decisions out,
//! and [`Builder`] is the setup path every runtime uses.
//!
//! Time: the core's [`Instant`](connmgr::Instant) is nanoseconds since the
//! Unix epoch, read on tokio's clock, so a runtime whose time is paused in a
//! test moves the core's time too.
//!
//! Every input can be recorded with one builder call
//! ([`Builder::record_trace`]) and replayed with [`connmgr::trace::replay`]
//! or `connmgr replay`: the replay must be identical, since every decision
//! is the core's.
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
//! [`Builder::spawn`] runs the driver on the current runtime (or the one
//! given with [`Builder::runtime`]); [`Builder::build`] returns it as
//! a future to run yourself.
//!
//! # Layout
//!
//! `runtime.rs` is [`Tokio`], the runtime trait on tokio's sockets, timer
//! and clock; `stream.rs` is [`PeerStream`].

#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod runtime;
mod stream;

pub use connmgr_net::driver::{Driver, Handle};
pub use connmgr_net::{BuildError, Error, PersistError};
pub use connmgr_store::{AddressSource, BookSource, StaticList};
pub use runtime::{Builder, Tokio};
pub use stream::{Event, Events, PeerStream};
