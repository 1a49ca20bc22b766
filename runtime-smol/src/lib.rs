//! The [`connmgr`] state machine on real sockets, with smol's reactor
//! (async-io), under any executor.
//!
//! This crate is the shared async driver of [`connmgr_net::driver`] on
//! async-io: a [`Runtime`](connmgr_net::driver::Runtime) implementation
//! ([`Smol`]) and the application's end of a connection ([`PeerStream`],
//! with futures-io's `AsyncRead`/`AsyncWrite`). It spawns nothing:
//! [`Builder::build`] returns the [`Driver`] future for the application to
//! run on whichever executor it has (smol, async-std, a thread with
//! `async_io::block_on`, …). Everything else, and every decision, is shared:
//! the core decides, the driver (documented in [`connmgr_net::driver`])
//! carries its decisions out, and [`Builder`] is the setup path every
//! runtime uses.
//!
//! Every input can be recorded with one builder call
//! ([`Builder::record_trace`]) and replayed with [`connmgr::trace::replay`].
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
//! `runtime.rs` is [`Smol`], the runtime trait on async-io's sockets and
//! timer; `stream.rs` is [`PeerStream`].

#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod runtime;
mod stream;

pub use connmgr_net::driver::{Driver, Handle};
pub use connmgr_net::{BuildError, Error, PersistError};
pub use connmgr_store::{AddressSource, BookSource, StaticList};
pub use runtime::{Builder, Smol};
pub use stream::{Event, Events, PeerStream};
