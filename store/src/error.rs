//! [`StoreError`]: why an address book could not be loaded, saved or
//! locked, with the file and what to do.

use std::error::Error;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use connmgr::addrbook::SnapshotError;
use connmgr::{addrbook, addrman, AddressBook};

/// What to tell the user when a file cannot be used.
const ADVICE: &str =
    "the file was left as it is; move it aside (or delete it) to start with an empty address book";

/// Why an address book could not be saved or loaded.
///
/// Every message names the file; the load errors also say where in it, and
/// what to do.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// A file system operation failed.
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// What was being done, e.g. "read", "create".
        action: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// The file is not a valid address book: garbage, truncated, or a value
    /// of the wrong kind.
    Corrupt {
        /// The file.
        path: PathBuf,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// Whether the file ends too early (a truncated write).
        truncated: bool,
        /// The parser's description.
        message: String,
    },
    /// The file's format version is not one this version reads.
    UnsupportedFormat {
        /// The file.
        path: PathBuf,
        /// The version found.
        found: u32,
    },
    /// The file parses, but its contents contradict each other.
    Inconsistent {
        /// The file.
        path: PathBuf,
        /// What is wrong, and with which address.
        source: SnapshotError,
    },
    /// The path is not a regular file (a directory, a FIFO, a device): it
    /// is not read, so that it cannot hang the node or feed it for ever.
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// The file is larger than any address book can be
    /// ([`MAX_FILE_BYTES`](crate::MAX_FILE_BYTES)); it was not read.
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit, in bytes.
        limit: u64,
    },
    /// Another process holds the file's lock: it is using this address book.
    InUse {
        /// The file.
        path: PathBuf,
    },
    /// The file names a kind of book this version does not know.
    UnknownBook {
        /// The file.
        path: PathBuf,
        /// The kind it names (escaped).
        kind: String,
    },
    /// The file holds another kind of book than the one asked for.
    WrongBook {
        /// The file.
        path: PathBuf,
        /// The kind it holds.
        found: AddressBook,
        /// The kind asked for.
        wanted: AddressBook,
    },
}

impl StoreError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            StoreError::Io { path, .. }
            | StoreError::Corrupt { path, .. }
            | StoreError::UnsupportedFormat { path, .. }
            | StoreError::Inconsistent { path, .. }
            | StoreError::NotAFile { path }
            | StoreError::TooLarge { path, .. }
            | StoreError::InUse { path }
            | StoreError::UnknownBook { path, .. }
            | StoreError::WrongBook { path, .. } => path,
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Io {
                path,
                action,
                source,
            } => write!(f, "{}: cannot {action}: {source}", path.display()),
            StoreError::Corrupt {
                path,
                line,
                column,
                truncated,
                message,
            } => {
                let what = if *truncated {
                    "the address book is truncated"
                } else {
                    "the address book is corrupt"
                };
                write!(
                    f,
                    "{}:{line}:{column}: {what} ({message}); {ADVICE}",
                    path.display()
                )
            }
            StoreError::UnsupportedFormat { path, found } => write!(
                f,
                "{}: address book format {found} is not supported; this version reads btcd's \
                 book in format {} and Bitcoin Core's in formats {} to {}; {ADVICE}, or open it \
                 with the version that wrote it",
                path.display(),
                addrbook::SNAPSHOT_FORMAT,
                addrman::OLDEST_SNAPSHOT_FORMAT,
                addrman::SNAPSHOT_FORMAT
            ),
            StoreError::UnknownBook { path, kind } => write!(
                f,
                "{}: the file holds a book of kind {kind:?}, which this version does not know \
                 (it knows \"btcd\" and \"core\"); {ADVICE}",
                path.display()
            ),
            StoreError::WrongBook {
                path,
                found,
                wanted,
            } => write!(
                f,
                "{}: the file holds {} book, not {}; set Config::address_book to {found:?} to \
                 use it (a book inside the manager takes either kind), or {ADVICE}",
                path.display(),
                book_name(*found),
                book_name(*wanted)
            ),
            StoreError::Inconsistent { path, source } => write!(
                f,
                "{}: the address book is inconsistent: {source}; {ADVICE}",
                path.display()
            ),
            StoreError::NotAFile { path } => write!(
                f,
                "{}: not a regular file (a directory, a pipe or a device?); give the path of a file, which is created if it does not exist",
                path.display()
            ),
            StoreError::TooLarge { path, limit } => write!(
                f,
                "{}: larger than {} MiB, more than any address book can hold, so it was not read; {ADVICE}",
                path.display(),
                limit >> 20
            ),
            StoreError::InUse { path } => write!(
                f,
                "{}: in use by another process (its lock file {} is held); stop the other node, or give this one a peers file of its own",
                path.display(),
                crate::lock_path(path).display()
            ),
        }
    }
}

impl Error for StoreError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            StoreError::Io { source, .. } => Some(source),
            StoreError::Inconsistent { source, .. } => Some(source),
            StoreError::Corrupt { .. }
            | StoreError::UnsupportedFormat { .. }
            | StoreError::NotAFile { .. }
            | StoreError::TooLarge { .. }
            | StoreError::InUse { .. }
            | StoreError::UnknownBook { .. }
            | StoreError::WrongBook { .. } => None,
        }
    }
}

fn book_name(kind: AddressBook) -> &'static str {
    match kind {
        AddressBook::Btcd => "btcd's",
        AddressBook::Core => "Bitcoin Core's",
        AddressBook::Bitcoind093 => "bitcoind 0.9.3's",
        AddressBook::External => "an application's",
    }
}
