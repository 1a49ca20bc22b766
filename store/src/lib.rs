//! Crash-safe persistence of connmgr's address book.
//!
//! [`save_book`] writes a saved address book of either kind (the one inside
//! the manager, [`BookSnapshot`](connmgr::BookSnapshot); [`save`] for btcd's
//! [`AddrBook`](connmgr::addrbook::AddrBook) kept outside) so that a crash or power cut at any moment
//! leaves either the old file or the new one, never a mix: it writes a
//! temporary file next to the target, flushes it to disk, renames it over the
//! target and flushes the directory. [`load`] reads it back, telling a
//! missing file (a first run: `Ok(None)`) from a damaged one, which is
//! reported with the file, the line and column, and what to do, and is
//! never modified, so nothing is lost silently.
//!
//! The file is JSON: the book's kind (`"btcd"` or `"core"`), its format
//! version, its placement key, and every address with its history and
//! buckets, one address per line so that error positions point at an
//! address. A file written before books had kinds is read as btcd's, and a
//! manager configured with Bitcoin Core's book moves its addresses into one
//! ([`ConnManager::with_book`](connmgr::ConnManager::with_book)).
//!
//! Files are hostile until read: [`load`] reads only a regular file of at
//! most [`MAX_FILE_BYTES`], opened without blocking, and escapes what it
//! quotes in errors. [`save`] creates its temporary file exclusively, so a
//! link planted at its name cannot redirect the write. [`BookLock`] keeps
//! a second process off a book that is in use, and [`check_writable`] tells
//! at start, not at shutdown, that a book could not be saved.
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

#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod anchors;
mod error;
mod file;
mod lock;
pub mod source;

pub use anchors::{anchors_path, save_anchors, take_anchors, ANCHORS_FORMAT, MAX_ANCHORS_BYTES};
pub use error::StoreError;
pub use file::{
    check_writable, load, load_book, load_book_within, load_or_empty, load_within, save, save_book,
    temp_path, MAX_FILE_BYTES,
};
pub use lock::{lock_path, BookLock};
pub use source::{AddressSource, BookFile, BookSource, StaticList};
