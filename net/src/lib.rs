//! What every runtime of `connmgr` shares, whichever event loop it runs on:
//! the one setup path ([`Builder`]), the secret seed, the clock mapping,
//! listeners with the system's backlog, what each socket error means to the
//! core, and (feature `async`) the one async driver the tokio and smol
//! adapters are made of.
//!
//! The tokio, smol and mio adapters all build through [`Builder`], so they
//! agree on every default, on the time they tell the core and on every
//! `errno`'s meaning; an adapter for another event loop can use them the
//! same way, by implementing [`Launch`] (or, for an async loop, the
//! driver's `Runtime`).
//!
//! # Contract
//!
//! - [`Builder::build`] validates the config, draws the secret seed from
//!   the operating system if the config sets none ([`os_seed`]), binds the
//!   listeners, opens the default address book with its key derived from
//!   the seed and its selection policy from the config, and starts the
//!   trace with the resolved seed in its header, before any runtime sees the
//!   manager. Nothing is left open when it fails.
//! - [`Clock::now`] never goes backwards while the process runs, and is Unix
//!   time, so the times kept in a saved address book mean the same after a
//!   restart. [`Clock::deadline`] never panics, for any core instant.
//! - [`listen`] gives a non-blocking listener with the system's largest
//!   backlog (`somaxconn`), not std's 128: a burst of connects otherwise
//!   overflows the queue and costs each refused SYN a second or more.
//! - [`dial_error`] and [`accept_error`] map an `io::Error` onto the core's
//!   vocabulary; `accept_error` says `None` for an empty queue
//!   (`WouldBlock`: wait for readiness) and for the errors accept(2) says to
//!   retry at once, which the core must not hear of (it would pause
//!   accepting).
//!
//! # Example
//!
//! ```
//! use connmgr::DialError;
//! use connmgr_net::{accept_error, dial_error, listen, os_seed, somaxconn, Clock};
//! use std::io;
//!
//! // Every node draws its own secret.
//! assert_ne!(os_seed()?, os_seed()?);
//!
//! // The core's time, and when a timer for one of its instants must fire.
//! let clock = Clock::start();
//! let due = clock.deadline(clock.now());
//! assert!(due <= std::time::Instant::now());
//!
//! let listener = listen("127.0.0.1:0".parse()?, somaxconn())?;
//! assert!(listener.local_addr()?.port() != 0);
//!
//! let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
//! assert_eq!(dial_error(&refused), DialError::Refused);
//! // A connection that died in the queue: accept again, tell nobody.
//! let aborted = io::Error::from(io::ErrorKind::ConnectionAborted);
//! assert_eq!(accept_error(&aborted), None);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Layout
//!
//! `builder.rs` is the setup path and [`Launch`], the hand-over to a
//! runtime; `core.rs` the manager as runtimes drive it ([`Core`]: the
//! trace and, feature `metrics`, `metrics.rs`'s observer); `seed.rs` draws the secret; `clock.rs`, `listen.rs` and
//! `socket_errors.rs` are the small shared pieces; `error.rs` names what can
//! go wrong, for every runtime. `driver/` (feature `async`) is the async
//! driver: `runtime.rs` the trait an event loop implements, `run.rs` the
//! loop, `handle.rs` and `events.rs` the application's side, `link.rs` the
//! part of a peer stream that reports its end, `chan.rs` and `set.rs` the
//! channels and the set of dials it polls.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod builder;
mod clock;
mod core;
#[cfg(feature = "async")]
pub mod driver;
mod error;
mod listen;
#[cfg(feature = "metrics")]
mod metrics;
mod seed;
mod socket_errors;
pub mod socks5;

pub use builder::{
    learned_input, save_anchors, save_source, tell_source, Builder, Launch, Prepared, TraceSink,
};
pub use clock::Clock;
pub use core::Core;
pub use error::{BuildError, Error, PersistError};
pub use listen::{listen, somaxconn};
pub use seed::{os_seed, resolve_seed};
pub use socket_errors::{accept_error, dial_error};
