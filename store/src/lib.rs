//! Crash-safe persistence of connmgr's address book.
//!
//! [`save`] writes an [`AddrBook`] so that a crash or power cut at any moment
//! leaves either the old file or the new one, never a mix: it writes a
//! temporary file next to the target, flushes it to disk, renames it over the
//! target and flushes the directory. [`load`] reads it back, telling a
//! missing file (a first run: `Ok(None)`) from a damaged one, which is
//! reported with the file, the line and column, and what to do, and is
//! never modified, so nothing is lost silently.
//!
//! The file is JSON: the core's [`Snapshot`] (format version, placement key,
//! every address with its history and buckets), one address per line so
//! that error positions point at an address.
//!
//! The book judges addresses by age, so give it `Instant`s from a clock that
//! survives restarts (such as time since the Unix epoch), as below.
//!
//! # Example
//!
//! ```
//! use std::time::{SystemTime, UNIX_EPOCH};
//! use connmgr::addrbook::AddrBook;
//! use connmgr::Instant;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let unique = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
//! let dir = std::env::temp_dir().join(format!("connmgr-store-doc-{}-{unique}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let path = dir.join("peers.json");
//!
//! // First run: no file yet, so an empty book.
//! let mut book = connmgr_store::load_or_empty(&path, 42)?;
//! assert!(book.is_empty());
//!
//! let now = Instant::from_nanos(SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos() as u64);
//! book.add(now, "1.2.3.4:8333".parse()?, "5.6.7.8".parse()?);
//! connmgr_store::save(&path, &book)?;
//!
//! // Next run: the same addresses (the seed only reseeds the random choices).
//! let loaded = connmgr_store::load(&path, 43)?.expect("the file was just written");
//! assert!(loaded.contains("1.2.3.4:8333".parse()?));
//!
//! std::fs::remove_dir_all(&dir)?;
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod source;

pub use source::{AddressSource, BookSource, StaticList};

use std::error::Error;
use std::ffi::OsString;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use connmgr::addrbook::{AddrBook, Snapshot, SnapshotError, SNAPSHOT_FORMAT};

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
}

impl StoreError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            StoreError::Io { path, .. }
            | StoreError::Corrupt { path, .. }
            | StoreError::UnsupportedFormat { path, .. }
            | StoreError::Inconsistent { path, .. } => path,
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
                "{}: address book format {found} is not supported; this version reads format \
                 {SNAPSHOT_FORMAT}; {ADVICE}, or open it with the version that wrote it",
                path.display()
            ),
            StoreError::Inconsistent { path, source } => write!(
                f,
                "{}: the address book is inconsistent: {source}; {ADVICE}",
                path.display()
            ),
        }
    }
}

impl Error for StoreError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            StoreError::Io { source, .. } => Some(source),
            StoreError::Inconsistent { source, .. } => Some(source),
            StoreError::Corrupt { .. } | StoreError::UnsupportedFormat { .. } => None,
        }
    }
}

/// The temporary file [`save`] writes before renaming it over `path`:
/// `path` with `.tmp` appended, in the same directory so the rename is
/// atomic. A leftover one (from a crash during a save) is harmless: it is
/// never read, and the next save replaces it.
pub fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(OsString::from(".tmp"));
    PathBuf::from(name)
}

/// Writes `book` to `path`, crash-safely.
///
/// The data goes to [`temp_path`]`(path)`, which is flushed to disk
/// (`fsync`) and renamed over `path`, and then the directory is flushed so
/// the rename itself survives a power cut. At every moment `path` holds the
/// old book or the new one, whole. On error the old file is untouched (and
/// the temporary file removed, if it was created).
///
/// One writer per path: two processes saving to the same path at once
/// share the temporary file.
pub fn save(path: impl AsRef<Path>, book: &AddrBook) -> Result<(), StoreError> {
    let path = path.as_ref();
    let tmp = temp_path(path);
    write_synced(&tmp, &book.snapshot())?;
    if let Err(source) = fs::rename(&tmp, path) {
        // Best effort: the error that matters is the rename's.
        let _ = fs::remove_file(&tmp);
        return Err(StoreError::Io {
            path: path.to_path_buf(),
            action: "replace the address book with the new copy",
            source,
        });
    }
    sync_dir(path)
}

/// Creates `tmp`, writes the snapshot into it and flushes it to disk.
fn write_synced(tmp: &Path, snapshot: &Snapshot) -> Result<(), StoreError> {
    let io = |action: &'static str| {
        move |source: io::Error| StoreError::Io {
            path: tmp.to_path_buf(),
            action,
            source,
        }
    };
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(tmp)
        .map_err(io("create"))?;
    let mut out = BufWriter::new(file);
    let written = write_snapshot(&mut out, snapshot)
        .map_err(io("write"))
        .and_then(|()| out.into_inner().map_err(|e| io("write")(e.into_error())))
        .and_then(|file| file.sync_all().map_err(io("flush to disk")));
    if written.is_err() {
        // Ours, and half-written: best effort, the write error is what matters.
        let _ = fs::remove_file(tmp);
    }
    written
}

/// The snapshot as JSON, one address per line.
fn write_snapshot(out: &mut impl Write, snapshot: &Snapshot) -> io::Result<()> {
    write!(out, "{{\"format\":{},\"key\":", snapshot.format)?;
    serde_json::to_writer(&mut *out, &snapshot.key)?;
    out.write_all(b",\"addresses\":[")?;
    for (i, address) in snapshot.addresses.iter().enumerate() {
        out.write_all(if i == 0 { b"\n" } else { b",\n" })?;
        serde_json::to_writer(&mut *out, address)?;
    }
    out.write_all(b"\n]}\n")?;
    out.flush()
}

/// Flushes the directory holding `path`, so a rename in it is durable.
#[cfg(unix)]
fn sync_dir(path: &Path) -> Result<(), StoreError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| StoreError::Io {
            path: dir.to_path_buf(),
            action: "flush the directory to disk",
            source,
        })
}

/// Elsewhere a directory cannot be opened for flushing; the rename is what
/// the platform makes of it.
#[cfg(not(unix))]
fn sync_dir(_: &Path) -> Result<(), StoreError> {
    Ok(())
}

/// Reads the book saved at `path`; `Ok(None)` if there is no such file.
///
/// `seed` seeds the loaded book's random choices (the placement key is the
/// saved one). A file that is garbage, truncated, of another format version
/// or inconsistent is an error naming the file and the problem; the file is
/// only read, never changed, so the caller (or the user) decides what
/// becomes of it. Do not [`save`] over it without asking.
pub fn load(path: impl AsRef<Path>, seed: u64) -> Result<Option<AddrBook>, StoreError> {
    let path = path.as_ref();
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(StoreError::Io {
                path: path.to_path_buf(),
                action: "read",
                source,
            })
        }
    };
    // The version first, so that a file from a newer version is reported as
    // such rather than as whatever field it added.
    #[derive(serde::Deserialize)]
    struct Version {
        format: u32,
    }
    let version: Version = serde_json::from_slice(&bytes).map_err(|e| corrupt(path, &e))?;
    if version.format != SNAPSHOT_FORMAT {
        return Err(StoreError::UnsupportedFormat {
            path: path.to_path_buf(),
            found: version.format,
        });
    }
    let snapshot: Snapshot = serde_json::from_slice(&bytes).map_err(|e| corrupt(path, &e))?;
    AddrBook::from_snapshot(&snapshot, seed)
        .map(Some)
        .map_err(|source| match source {
            SnapshotError::UnsupportedFormat { found } => StoreError::UnsupportedFormat {
                path: path.to_path_buf(),
                found,
            },
            source => StoreError::Inconsistent {
                path: path.to_path_buf(),
                source,
            },
        })
}

/// [`load`], with an empty book (seeded with `seed`) when there is no file
/// yet. Any other problem is still an error.
pub fn load_or_empty(path: impl AsRef<Path>, seed: u64) -> Result<AddrBook, StoreError> {
    Ok(load(path, seed)?.unwrap_or_else(|| AddrBook::new(seed)))
}

fn corrupt(path: &Path, e: &serde_json::Error) -> StoreError {
    let full = e.to_string();
    let position = format!(" at line {} column {}", e.line(), e.column());
    let message = full.strip_suffix(&position).unwrap_or(&full).to_string();
    StoreError::Corrupt {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        truncated: e.is_eof(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_path_is_a_sibling() {
        assert_eq!(
            temp_path(Path::new("/a/b/peers.json")),
            Path::new("/a/b/peers.json.tmp")
        );
        assert_eq!(temp_path(Path::new("peers")), Path::new("peers.tmp"));
    }

    #[test]
    fn layout_is_one_address_per_line_and_valid_json() {
        let mut book = AddrBook::new(1);
        let now = connmgr::Instant::from_secs(10);
        book.add(
            now,
            "1.2.3.4:8333".parse().unwrap(),
            "5.6.7.8".parse().unwrap(),
        );
        book.add(
            now,
            "2.2.3.4:8333".parse().unwrap(),
            "5.6.7.8".parse().unwrap(),
        );
        let mut out = Vec::new();
        write_snapshot(&mut out, &book.snapshot()).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 4, "{text}");
        assert!(text.starts_with("{\"format\":1,"));
        let back: Snapshot = serde_json::from_str(&text).unwrap();
        assert_eq!(back, book.snapshot());

        let mut out = Vec::new();
        write_snapshot(&mut out, &AddrBook::new(1).snapshot()).unwrap();
        let back: Snapshot = serde_json::from_slice(&out).unwrap();
        assert!(back.addresses.is_empty());
    }
}
