//! Errors: what `build` and the handle report.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use connmgr::{ConfigError, Ignored, Stats};
use connmgr_store::StoreError;

/// Why [`Builder::build`](crate::Builder::build) could not make a manager.
/// Nothing is left running or open when it fails.
#[derive(Debug)]
#[non_exhaustive]
pub enum SpawnError {
    /// The config does not validate.
    Config(ConfigError),
    /// A listen address could not be bound.
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// The peers file exists but cannot be used (it is left untouched).
    AddressBook(StoreError),
    /// The trace file could not be created or its header written.
    Trace {
        /// The file, when recording to a file.
        path: Option<PathBuf>,
        /// The OS error.
        source: io::Error,
    },
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnError::Config(e) => write!(f, "invalid config: {e}"),
            SpawnError::Listen { addr, source } => {
                write!(f, "cannot listen on {addr}: {source}")?;
                if source.kind() == io::ErrorKind::AddrInUse {
                    write!(
                        f,
                        " (another socket is listening on {addr}; stop it or choose another port)"
                    )?;
                }
                Ok(())
            }
            SpawnError::AddressBook(e) => write!(f, "cannot open the peers file: {e}"),
            SpawnError::Trace {
                path: Some(path),
                source,
            } => write!(f, "cannot record the trace to {}: {source}", path.display()),
            SpawnError::Trace { path: None, source } => {
                write!(f, "cannot write the trace header: {source}")
            }
        }
    }
}

impl std::error::Error for SpawnError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SpawnError::Config(e) => Some(e),
            SpawnError::Listen { source, .. } | SpawnError::Trace { source, .. } => Some(source),
            SpawnError::AddressBook(e) => Some(e),
        }
    }
}

impl From<ConfigError> for SpawnError {
    fn from(e: ConfigError) -> SpawnError {
        SpawnError::Config(e)
    }
}

/// Why a [`Handle`](crate::Handle) call did not do what it asked.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The manager has shut down (or is shutting down).
    Stopped,
    /// The core ignored the command: an unknown or finished id, a command
    /// after stop, … (see [`Ignored`]).
    Ignored(Ignored),
    /// Shutdown finished, every socket was closed, but the trace or the
    /// address book could not be written.
    Persist(Box<PersistError>),
}

/// What [`Error::Persist`] reports: the final counters, and what could not
/// be written.
#[derive(Debug)]
pub struct PersistError {
    /// The manager's final counters.
    pub stats: Stats,
    /// Why the trace could not be completed, if it could not.
    pub trace: Option<io::Error>,
    /// Why the address book could not be saved, if it could not.
    pub book: Option<StoreError>,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Stopped => write!(f, "the connection manager has shut down"),
            Error::Ignored(why) => write!(f, "ignored by the connection manager: {why}"),
            Error::Persist(e) => e.fmt(f),
        }
    }
}

impl fmt::Display for PersistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "shut down, but")?;
        if let Some(e) = &self.trace {
            write!(f, " the trace is incomplete: {e}")?;
        }
        if let Some(e) = &self.book {
            if self.trace.is_some() {
                write!(f, ";")?;
            }
            write!(f, " the address book was not saved: {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PersistError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match (&self.trace, &self.book) {
            (Some(e), _) => Some(e),
            (None, Some(e)) => Some(e),
            (None, None) => None,
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Stopped => None,
            Error::Ignored(e) => Some(e),
            Error::Persist(e) => Some(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_in_use_names_the_address() {
        let e = SpawnError::Listen {
            addr: "127.0.0.1:8333".parse().unwrap(),
            source: io::Error::from(io::ErrorKind::AddrInUse),
        };
        let text = e.to_string();
        assert!(
            text.starts_with("cannot listen on 127.0.0.1:8333: "),
            "{text}"
        );
        assert!(
            text.contains("another socket is listening on 127.0.0.1:8333"),
            "{text}"
        );
    }
}
