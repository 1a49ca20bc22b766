//! What every socket adapter of `connmgr` needs, whichever event loop it
//! runs on: the clock mapping, listeners with the system's backlog, and what
//! each socket error means to the core.
//!
//! The tokio, smol and mio adapters share these, so they agree on the time
//! they tell the core and on every `errno`'s meaning. An adapter for another
//! event loop can use them the same way.
//!
//! # Contract
//!
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
//! use connmgr_net::{accept_error, dial_error, listen, somaxconn, Clock};
//! use std::io;
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

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod clock;
mod errors;
mod listen;

pub use clock::Clock;
pub use errors::{accept_error, dial_error};
pub use listen::{listen, somaxconn};
