//! [`Error`]: why a reactor could not be built, run or stopped cleanly.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use connmgr::ConfigError;
use connmgr_store::StoreError;

/// Why a [`Reactor`](crate::Reactor) could not be built, run or stopped
/// cleanly. Every message says what was being done and with what.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The manager's config does not validate.
    Config(ConfigError),
    /// A listener could not be opened on `addr`.
    Listen {
        /// The address asked for.
        addr: SocketAddr,
        /// Why (`AddrInUse` when another socket listens there).
        source: io::Error,
    },
    /// The token range cannot hold the listeners.
    Tokens {
        /// Tokens needed: one per listener, plus at least one for dials.
        needed: usize,
        /// Tokens in the range given.
        available: usize,
    },
    /// Creating, cloning or waiting on the mio `Poll` failed.
    Poll(io::Error),
    /// The address book could not be loaded or saved.
    Store(StoreError),
    /// The trace file could not be created or written.
    Trace {
        /// The file, when the trace goes to one.
        path: Option<PathBuf>,
        /// Why.
        source: io::Error,
    },
    /// `run`, `run_for` or `run_until` was called on a reactor built into
    /// the application's `Poll`, which the application drives itself.
    Embedded,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(e) => write!(f, "invalid config: {e}"),
            Error::Listen { addr, source } if source.kind() == io::ErrorKind::AddrInUse => write!(
                f,
                "cannot listen on {addr}: the address is already in use (is another node running?): {source}"
            ),
            Error::Listen { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
            Error::Tokens { needed, available } => write!(
                f,
                "the token range has {available} tokens; the reactor needs at least {needed} (one per listener and one per dial in flight)"
            ),
            Error::Poll(e) => write!(f, "mio poll failed: {e}"),
            Error::Store(e) => write!(f, "address book: {e}"),
            Error::Trace {
                path: Some(path),
                source,
            } => write!(f, "trace file {}: {source}", path.display()),
            Error::Trace { path: None, source } => write!(f, "trace: {source}"),
            Error::Embedded => write!(
                f,
                "this reactor was built into the application's Poll (build_in); drive it with handle_event/advance, not run"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Config(e) => Some(e),
            Error::Listen { source, .. } | Error::Poll(source) | Error::Trace { source, .. } => {
                Some(source)
            }
            Error::Store(e) => Some(e),
            Error::Tokens { .. } | Error::Embedded => None,
        }
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Error {
        Error::Config(e)
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Error {
        Error::Store(e)
    }
}
