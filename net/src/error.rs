//! What can go wrong, in one vocabulary for every runtime: [`BuildError`]
//! when a manager is made, [`Error`] when it is asked something or shut
//! down, [`PersistError`] when shutdown could not save everything.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use connmgr::{ConfigError, Ignored, Stats};
use connmgr_store::StoreError;

/// Why a builder could not make a manager. Nothing is left running or open
/// when it fails.
#[derive(Debug)]
#[non_exhaustive]
pub enum BuildError {
    /// The config does not validate.
    Config(ConfigError),
    /// The operating system could not give the manager its secret seed.
    Seed(io::Error),
    /// A listen address could not be bound.
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The OS error (`AddrInUse` when another socket listens there).
        source: io::Error,
    },
    /// The peers file exists but cannot be used (it is left untouched).
    AddressBook(StoreError),
    /// An address source was given, but the config keeps the address book
    /// inside the manager, which would never ask it.
    SourceWithBookInside,
    /// The trace file could not be created or its header written.
    Trace {
        /// The file, when recording to a file.
        path: Option<PathBuf>,
        /// The OS error.
        source: io::Error,
    },
    /// One file was given for two purposes (the trace and the peers file):
    /// each would overwrite the other.
    SamePath {
        /// The file.
        path: PathBuf,
    },
    /// The event loop could not take the manager: not inside the runtime
    /// the adapter needs, its poller could not be made, too few tokens, …
    /// The message says which.
    Runtime(io::Error),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Config(e) => write!(f, "invalid config: {e}"),
            BuildError::Seed(e) => e.fmt(f),
            BuildError::Listen { addr, source } => {
                write!(f, "cannot listen on {addr}: {source}")?;
                if source.kind() == io::ErrorKind::AddrInUse {
                    write!(
                        f,
                        " (another socket is listening on {addr}; stop it or choose another port)"
                    )?;
                }
                Ok(())
            }
            BuildError::AddressBook(e) => write!(f, "cannot open the peers file: {e}"),
            BuildError::SourceWithBookInside => write!(
                f,
                "an address source was given, but Config::address_book keeps the address book inside the manager, which would never ask it; set address_book to External to use the source"
            ),
            BuildError::Trace {
                path: Some(path),
                source,
            } => write!(f, "cannot record the trace to {}: {source}", path.display()),
            BuildError::Trace { path: None, source } => {
                write!(f, "cannot write the trace header: {source}")
            }
            BuildError::Runtime(e) => e.fmt(f),
            BuildError::SamePath { path } => write!(
                f,
                "{} is given both as the trace and as the peers file; each would overwrite the other: give them different paths",
                path.display()
            ),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BuildError::Config(e) => Some(e),
            BuildError::AddressBook(e) => Some(e),
            BuildError::Listen { source, .. } | BuildError::Trace { source, .. } => Some(source),
            // Their messages are the whole story.
            BuildError::Seed(_)
            | BuildError::Runtime(_)
            | BuildError::SamePath { .. }
            | BuildError::SourceWithBookInside => None,
        }
    }
}

impl From<ConfigError> for BuildError {
    fn from(e: ConfigError) -> BuildError {
        BuildError::Config(e)
    }
}

/// Why a command to a running manager, or its shutdown, did not do what it
/// asked.
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
    /// The event loop failed (a standalone mio reactor's poll, say).
    Io(io::Error),
}

impl From<Ignored> for Error {
    fn from(e: Ignored) -> Error {
        Error::Ignored(e)
    }
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

impl PersistError {
    /// `Ok(stats)` if both were written, else the error naming what was not.
    pub fn check(
        stats: Stats,
        trace: Option<io::Error>,
        book: Option<StoreError>,
    ) -> Result<Stats, Error> {
        if trace.is_none() && book.is_none() {
            return Ok(stats);
        }
        Err(Error::Persist(Box::new(PersistError {
            stats,
            trace,
            book,
        })))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Stopped => write!(f, "the connection manager has shut down"),
            Error::Ignored(why) => write!(f, "ignored by the connection manager: {why}"),
            Error::Persist(e) => e.fmt(f),
            Error::Io(e) => write!(f, "the event loop failed: {e}"),
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
            Error::Io(e) => Some(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_in_use_names_the_address() {
        let e = BuildError::Listen {
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

    #[test]
    fn a_failed_save_is_an_error_that_keeps_the_counters() {
        let stats = Stats::default();
        assert!(PersistError::check(stats, None, None).is_ok());
        let err =
            PersistError::check(stats, Some(io::Error::other("disk full")), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "shut down, but the trace is incomplete: disk full"
        );
        let Error::Persist(persist) = err else {
            panic!("not a persist error")
        };
        assert_eq!(persist.stats, Stats::default());
    }
}
