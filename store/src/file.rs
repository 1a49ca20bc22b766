//! Saving and loading the address book's file: crash-safe, bounded, and not
//! hijackable through the temporary file.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use connmgr::addrbook::{AddrBook, Snapshot, SnapshotError};
use connmgr::{addrbook, addrman, printable, AddressBook, BookSnapshot, EXCERPT_CHARS};

use crate::StoreError;

/// The largest file [`load`] reads, in bytes; a larger one is refused
/// unread.
///
/// A book holds at most [`MAX_ADDRESSES`](connmgr::addrbook::MAX_ADDRESSES)
/// (81 920) addresses. An address's line is at most about 310 bytes (an
/// IPv6 address and port, an IPv6 source, three 20-digit times, a 10-digit
/// count, up to eight bucket numbers, field names), so the largest possible
/// book is about 25 MB (`largest_books_fit_the_limit` below builds one of
/// each kind); a typical full one is about 11 MB.
pub const MAX_FILE_BYTES: u64 = 32 << 20;

/// The temporary file [`save`] writes before renaming it over `path`:
/// `path` with `.tmp` appended, in the same directory so the rename is
/// atomic. A leftover one (from a crash during a save) is harmless: it is
/// never read, and the next save removes it.
pub fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(OsString::from(".tmp"));
    PathBuf::from(name)
}

/// Writes btcd's `book` to `path`, crash-safely: [`save_book`] of its
/// snapshot.
pub fn save(path: impl AsRef<Path>, book: &AddrBook) -> Result<(), StoreError> {
    save_book(path, &BookSnapshot::Btcd(book.snapshot()))
}

/// Writes a saved book of either kind to `path`, crash-safely.
///
/// The data goes to [`temp_path`]`(path)`, which is flushed to disk
/// (`fsync`) and renamed over `path`, and then the directory is flushed so
/// the rename itself survives a power cut. At every moment `path` holds the
/// old book or the new one, whole. On error the old file is untouched (and
/// the temporary file removed, if it was created).
///
/// The temporary file is created exclusively, never through a symbolic
/// link: whatever stands at its name is removed first (a link itself, not
/// what it points to), and if something appears there again before the
/// file is created, the save fails rather than write through it. The new
/// file keeps the old one's permissions; a first save creates it readable
/// by its owner only (it holds the book's secret placement key).
///
/// One writer per path: hold the book's [`BookLock`](crate::BookLock).
pub fn save_book(path: impl AsRef<Path>, book: &BookSnapshot) -> Result<(), StoreError> {
    let action = "replace the address book with the new copy";
    replace_file(path.as_ref(), action, |out| write_snapshot(out, book))
}

/// Replaces `path` crash-safely with what `write` writes, as [`save_book`]
/// describes.
pub(crate) fn replace_file(
    path: &Path,
    action: &'static str,
    write: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> Result<(), StoreError> {
    let tmp = temp_path(path);
    let permissions = fs::metadata(path).ok().map(|m| m.permissions());
    write_synced(&tmp, write, permissions)?;
    if let Err(source) = fs::rename(&tmp, path) {
        // Best effort: the error that matters is the rename's.
        let _ = fs::remove_file(&tmp);
        return Err(StoreError::Io {
            path: path.to_path_buf(),
            action,
            source,
        });
    }
    sync_dir(path)
}

/// Checks, before a run rather than at its end, that a book can be saved
/// at `path`: its directory exists and takes new files. Leaves nothing
/// behind.
pub fn check_writable(path: &Path) -> Result<(), StoreError> {
    let tmp = temp_path(path);
    let file = create_exclusive(&tmp, None).map_err(|source| StoreError::Io {
        path: tmp.clone(),
        action: "create files in the peers file's directory",
        source,
    })?;
    drop(file);
    fs::remove_file(&tmp).map_err(|source| StoreError::Io {
        path: tmp,
        action: "remove the test file",
        source,
    })
}

/// Creates `tmp` exclusively (`O_CREAT | O_EXCL`, which never follows a
/// link), after removing whatever stood there.
fn create_exclusive(tmp: &Path, permissions: Option<Permissions>) -> io::Result<File> {
    match fs::remove_file(tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(tmp)?;
    if let Some(permissions) = permissions {
        file.set_permissions(permissions)?;
    }
    Ok(file)
}

/// Creates `tmp`, writes into it and flushes it to disk.
fn write_synced(
    tmp: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
    permissions: Option<Permissions>,
) -> Result<(), StoreError> {
    let io = |action: &'static str| {
        move |source: io::Error| StoreError::Io {
            path: tmp.to_path_buf(),
            action,
            source,
        }
    };
    let file = create_exclusive(tmp, permissions).map_err(io("create"))?;
    let mut out = BufWriter::new(file);
    let written = write(&mut out)
        .map_err(io("write"))
        .and_then(|()| out.into_inner().map_err(|e| io("write")(e.into_error())))
        .and_then(|file| file.sync_all().map_err(io("flush to disk")));
    if written.is_err() {
        // Ours, and half-written: best effort, the write error is what matters.
        let _ = fs::remove_file(tmp);
    }
    written
}

/// The book as JSON, one address per line:
/// `{"book":"core","format":1,"key":…,"addresses":[` then an address per
/// line, then `]}`.
pub(crate) fn write_snapshot(out: &mut impl Write, snapshot: &BookSnapshot) -> io::Result<()> {
    fn lines<T: serde::Serialize>(out: &mut impl Write, items: &[T]) -> io::Result<()> {
        for (i, item) in items.iter().enumerate() {
            out.write_all(if i == 0 { b"\n" } else { b",\n" })?;
            serde_json::to_writer(&mut *out, item)?;
        }
        Ok(())
    }
    match snapshot {
        BookSnapshot::Btcd(s) | BookSnapshot::Bitcoind093(s) => {
            let name = match snapshot {
                BookSnapshot::Bitcoind093(_) => "bitcoind-0.9.3",
                _ => "btcd",
            };
            write!(
                out,
                "{{\"book\":\"{name}\",\"format\":{},\"key\":",
                s.format
            )?;
            serde_json::to_writer(&mut *out, &s.key)?;
            out.write_all(b",\"addresses\":[")?;
            lines(out, &s.addresses)?;
        }
        BookSnapshot::Core(s) => {
            write!(out, "{{\"book\":\"core\",\"format\":{},\"key\":", s.format)?;
            serde_json::to_writer(&mut *out, &s.key)?;
            out.write_all(b",\"addresses\":[")?;
            lines(out, &s.addresses)?;
        }
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

/// Reads the book saved at `path`, of either kind; `Ok(None)` if there is
/// no such file.
///
/// A file written before books had kinds (`{"format":1,…}`, btcd's book) is
/// read as btcd's. Only the shape and the format version are checked here;
/// the contents are checked when a book is rebuilt from them
/// ([`ConnManager::with_book`](connmgr::ConnManager::with_book)). The file
/// is hostile until read, as for [`load`].
pub fn load_book(path: impl AsRef<Path>) -> Result<Option<BookSnapshot>, StoreError> {
    load_book_within(path.as_ref(), MAX_FILE_BYTES)
}

/// [`load_book`] with another size limit (tests and fuzzing).
pub fn load_book_within(path: &Path, limit: u64) -> Result<Option<BookSnapshot>, StoreError> {
    let Some(bytes) = read_bounded(path, limit)? else {
        return Ok(None);
    };
    // The kind and version first, so that a file from a newer version is
    // reported as such rather than as whatever field it added.
    #[derive(serde::Deserialize)]
    struct Probe {
        book: Option<String>,
        format: u32,
    }
    let probe: Probe = serde_json::from_slice(&bytes).map_err(|e| corrupt(path, &e))?;
    let unsupported = |found| StoreError::UnsupportedFormat {
        path: path.to_path_buf(),
        found,
    };
    let supported = match probe.book.as_deref() {
        None | Some("btcd") => addrbook::SNAPSHOT_FORMAT..=addrbook::SNAPSHOT_FORMAT,
        Some("core") => addrman::OLDEST_SNAPSHOT_FORMAT..=addrman::SNAPSHOT_FORMAT,
        Some(kind) => {
            return Err(StoreError::UnknownBook {
                path: path.to_path_buf(),
                kind: printable(kind, EXCERPT_CHARS),
            })
        }
    };
    if !supported.contains(&probe.format) {
        return Err(unsupported(probe.format));
    }
    // Straight into the kind's own type: through the tagged enum, serde
    // would buffer the document and errors would lose their line.
    let snapshot = if probe.book.as_deref() == Some("core") {
        serde_json::from_slice(&bytes).map(BookSnapshot::Core)
    } else {
        serde_json::from_slice::<Snapshot>(&bytes).map(BookSnapshot::Btcd)
    };
    snapshot.map(Some).map_err(|e| corrupt(path, &e))
}

/// Reads btcd's book saved at `path`; `Ok(None)` if there is no such file.
///
/// `seed` seeds the loaded book's random choices (the placement key is the
/// saved one). A file that is garbage, truncated, of another format version
/// or inconsistent is an error naming the file and the problem; the file is
/// only read, never changed, so the caller (or the user) decides what
/// becomes of it. Do not [`save`] over it without asking.
///
/// Only a regular file is read (a FIFO or a device is refused, without
/// blocking on it), and at most [`MAX_FILE_BYTES`] of it.
pub fn load(path: impl AsRef<Path>, seed: u64) -> Result<Option<AddrBook>, StoreError> {
    load_within(path.as_ref(), seed, MAX_FILE_BYTES)
}

/// [`load`] with another size limit: for tests and fuzzing, which cannot
/// afford files of the real limit's size.
pub fn load_within(path: &Path, seed: u64, limit: u64) -> Result<Option<AddrBook>, StoreError> {
    let snapshot = match load_book_within(path, limit)? {
        None => return Ok(None),
        Some(BookSnapshot::Btcd(snapshot)) => snapshot,
        Some(other) => {
            return Err(StoreError::WrongBook {
                path: path.to_path_buf(),
                found: other.kind(),
                wanted: AddressBook::Btcd,
            })
        }
    };
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

/// The file's bytes, if it exists: opened without blocking (a FIFO would
/// wait for a writer), refused unless it is a regular file of at most
/// `limit` bytes, and read no further than that even if it grows.
pub(crate) fn read_bounded(path: &Path, limit: u64) -> Result<Option<Vec<u8>>, StoreError> {
    let io = |action| {
        move |source| StoreError::Io {
            path: path.to_path_buf(),
            action,
            source,
        }
    };
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(io("open")(source)),
    };
    let metadata = file.metadata().map_err(io("read the metadata of"))?;
    if !metadata.is_file() {
        return Err(StoreError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    let too_large = || StoreError::TooLarge {
        path: path.to_path_buf(),
        limit,
    };
    if metadata.len() > limit {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io("read"))?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(Some(bytes))
}

/// [`load`], with an empty book (seeded with `seed`) when there is no file
/// yet. Any other problem is still an error.
pub fn load_or_empty(path: impl AsRef<Path>, seed: u64) -> Result<AddrBook, StoreError> {
    Ok(load(path, seed)?.unwrap_or_else(|| AddrBook::new(seed)))
}

pub(crate) fn corrupt(path: &Path, e: &serde_json::Error) -> StoreError {
    let full = e.to_string();
    let position = format!(" at line {} column {}", e.line(), e.column());
    let message = full.strip_suffix(&position).unwrap_or(&full);
    StoreError::Corrupt {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        truncated: e.is_eof(),
        // It may quote the file.
        message: printable(message, EXCERPT_CHARS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use connmgr::addrbook::{SnapshotAddress, MAX_ADDRESSES};
    use connmgr::Instant;

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
        let saved = BookSnapshot::Btcd(book.snapshot());
        let mut out = Vec::new();
        write_snapshot(&mut out, &saved).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 4, "{text}");
        assert!(text.starts_with("{\"book\":\"btcd\",\"format\":1,"));
        let back: BookSnapshot = serde_json::from_str(&text).unwrap();
        assert_eq!(back, saved);

        let mut out = Vec::new();
        write_snapshot(&mut out, &BookSnapshot::Btcd(AddrBook::new(1).snapshot())).unwrap();
        let back: BookSnapshot = serde_json::from_slice(&out).unwrap();
        assert!(back.is_empty());
    }

    /// The limit is derived from the format: the widest possible book of
    /// each kind, every address as long as it can be written, fits under it.
    #[test]
    fn largest_books_fit_the_limit() {
        let widest = SnapshotAddress {
            addr: "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"
                .parse()
                .unwrap(),
            source: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap(),
            timestamp: Instant::MAX,
            attempts: u32::MAX,
            last_attempt: Some(Instant::MAX),
            last_success: Some(Instant::MAX),
            tried: false,
            buckets: vec![u16::MAX],
        };
        let btcd = BookSnapshot::Btcd(Snapshot {
            format: addrbook::SNAPSHOT_FORMAT,
            key: [u64::MAX, u64::MAX],
            addresses: vec![widest; MAX_ADDRESSES],
        });
        let widest = addrman::SnapshotEntry {
            addr: "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"
                .parse()
                .unwrap(),
            source: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap(),
            time: Instant::MAX,
            last_try: Some(Instant::MAX),
            last_success: Some(Instant::MAX),
            attempts: u32::MAX,
            tried: false,
            new_buckets: vec![1023; 8],
        };
        let core = BookSnapshot::Core(addrman::Snapshot {
            format: addrman::SNAPSHOT_FORMAT,
            key: addrman::BucketKey::from_bytes([0xff; 32]),
            addresses: vec![widest; MAX_ADDRESSES],
        });
        for snapshot in [btcd, core] {
            let mut out = Vec::new();
            write_snapshot(&mut out, &snapshot).unwrap();
            assert!(
                (out.len() as u64) < MAX_FILE_BYTES,
                "{:?}: {} bytes, limit {MAX_FILE_BYTES}",
                snapshot.kind(),
                out.len()
            );
            assert!(
                out.len() > 16 << 20,
                "the limit is not loose: {}",
                out.len()
            );
        }
    }

    #[test]
    fn a_file_from_before_books_had_kinds_is_read_as_btcds() {
        let dir = std::env::temp_dir().join(format!("connmgr-legacy-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("peers.json");
        let mut book = AddrBook::new(3);
        let now = Instant::from_secs(10);
        book.add(
            now,
            "1.2.3.4:8333".parse().unwrap(),
            "5.6.7.8".parse().unwrap(),
        );
        // The format-1 file, as the previous version wrote it.
        let legacy = serde_json::to_string(&book.snapshot()).unwrap();
        assert!(legacy.starts_with("{\"format\":1,"));
        fs::write(&path, legacy).unwrap();
        let read = load_book(&path).unwrap().unwrap();
        assert_eq!(read, BookSnapshot::Btcd(book.snapshot()));
        assert_eq!(load(&path, 3).unwrap().unwrap().len(), 1);

        // A Core book is not btcd's: said so, with what to do.
        let core = connmgr::addrman::AddrMan::new(addrman::BucketKey::from_bytes([1; 32]), 1);
        save_book(&path, &BookSnapshot::Core(core.snapshot())).unwrap();
        let err = load(&path, 3).unwrap_err();
        assert!(matches!(err, StoreError::WrongBook { .. }), "{err}");
        assert!(err.to_string().contains("Config::address_book"), "{err}");

        fs::write(&path, r#"{"book":"mystery","format":1}"#).unwrap();
        let err = load_book(&path).unwrap_err();
        assert!(err.to_string().contains("\"mystery\""), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_damaged_core_book_is_reported_at_its_line() {
        let dir = std::env::temp_dir().join(format!("connmgr-core-line-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("peers.json");
        let mut core = connmgr::addrman::AddrMan::new(addrman::BucketKey::from_bytes([1; 32]), 1);
        let now = Instant::from_secs(1_700_000_000);
        for i in 1..=20u8 {
            let addr = std::net::SocketAddr::from(([i, 2, 3, 4], 8333));
            core.add(
                now,
                &[(addr.into(), now)],
                std::net::IpAddr::from([9, 9, 9, 9]).into(),
                std::time::Duration::ZERO,
            );
        }
        save_book(&path, &BookSnapshot::Core(core.snapshot())).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        let damaged = text.replacen("\"addr\":\"7.", "\"addr\":\"777.", 1);
        let line = damaged.lines().position(|l| l.contains("777.")).unwrap() + 1;
        assert!(line > 1, "one address per line");
        fs::write(&path, &damaged).unwrap();
        let err = load_book(&path).unwrap_err();
        assert!(
            matches!(err, StoreError::Corrupt { line: l, .. } if l == line),
            "{err:?}, expected line {line}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
