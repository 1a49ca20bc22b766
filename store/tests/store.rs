//! Persistence: round trip, missing, truncated, garbage, wrong-version and
//! inconsistent files, and interrupted saves. A file that fails to load must
//! be left byte-for-byte as it was.

use std::fs;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use connmgr::addrbook::AddrBook;
use connmgr::Instant;
use connmgr_store::{
    check_writable, load, load_or_empty, load_within, save, temp_path, BookSource, StoreError,
};

/// A fresh directory per test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let unique = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "connmgr-store-test-{}-{name}-{unique}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn now() -> Instant {
    Instant::from_secs(1_700_000_000)
}

/// A book with new and tried addresses, multi-bucket ones, and history.
fn sample_book() -> AddrBook {
    let mut book = AddrBook::new(5);
    for i in 0..300u32 {
        let [_, b, c, d] = i.to_be_bytes();
        let addr = SocketAddr::from(([1 + c, b, d, 7], if i % 10 == 0 { 18333 } else { 8333 }));
        book.add(now(), addr, IpAddr::from([60, d, 1, 1]));
        book.add(now(), addr, IpAddr::from([70, d % 5, 1, 1]));
        if i % 3 == 0 {
            book.attempt(now(), addr);
        }
        if i % 7 == 0 {
            book.good(now(), addr);
        }
    }
    book.add(
        now(),
        "[2602:100::1]:8333".parse().unwrap(),
        "2001:470::1".parse().unwrap(),
    );
    book
}

fn expect_untouched(path: &Path, before: &[u8]) {
    assert_eq!(fs::read(path).unwrap(), before, "the file was modified");
}

#[test]
fn round_trip_keeps_every_address_and_its_history() {
    let dir = TempDir::new("round-trip");
    let path = dir.file("peers.json");
    let book = sample_book();
    save(&path, &book).unwrap();
    assert!(!temp_path(&path).exists(), "the temp file was renamed");
    let loaded = load(&path, 99).unwrap().expect("saved");
    assert_eq!(loaded.snapshot(), book.snapshot());
    assert_eq!(loaded.len(), book.len());
    assert_eq!(loaded.tried_len(), book.tried_len());
    for saved in book.snapshot().addresses {
        assert_eq!(loaded.get(saved.addr), book.get(saved.addr));
    }
    // Saving again over the old file works, and so does an empty book.
    save(&path, &AddrBook::new(1)).unwrap();
    assert!(load(&path, 1).unwrap().unwrap().is_empty());
}

#[test]
fn a_missing_file_is_not_an_error() {
    let dir = TempDir::new("missing");
    let path = dir.file("absent.json");
    assert!(load(&path, 1).unwrap().is_none());
    assert!(load_or_empty(&path, 1).unwrap().is_empty());
    assert!(!path.exists(), "loading does not create the file");
}

#[test]
fn a_truncated_file_is_reported_with_position_and_left_alone() {
    let dir = TempDir::new("truncated");
    let path = dir.file("peers.json");
    save(&path, &sample_book()).unwrap();
    let full = fs::read(&path).unwrap();
    let cut = &full[..full.len() / 2];
    fs::write(&path, cut).unwrap();

    let err = load(&path, 1).unwrap_err();
    let StoreError::Corrupt {
        line, truncated, ..
    } = &err
    else {
        panic!("not Corrupt: {err:?}");
    };
    assert!(*truncated);
    assert!(*line > 1, "points into the file, not at its start");
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("{}:{line}:", path.display())),
        "{msg}"
    );
    assert!(msg.contains("truncated"), "{msg}");
    assert!(msg.contains("move it aside"), "{msg}");
    assert_eq!(err.path(), path);
    expect_untouched(&path, cut);
    // load_or_empty does not paper over it either.
    assert!(load_or_empty(&path, 1).is_err());
    expect_untouched(&path, cut);
}

#[test]
fn garbage_is_reported_with_position_and_left_alone() {
    let dir = TempDir::new("garbage");
    let path = dir.file("peers.json");
    for garbage in [
        &b"this is not json"[..],
        b"",
        b"\x00\xff\xfe binary",
        b"[1, 2, 3]",
        b"{\"format\": \"one\"}",
        b"{\"no_format\": 1}",
    ] {
        fs::write(&path, garbage).unwrap();
        let err = load(&path, 1).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains("move it aside"), "{msg}");
        expect_untouched(&path, garbage);
    }
    // A damaged address deep in the file points at its line.
    save(&path, &sample_book()).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    let damaged = text.replacen("\"addr\":\"1.", "\"addr\":\"999.", 1);
    let expected_line = damaged.lines().position(|l| l.contains("999.")).unwrap() + 1;
    fs::write(&path, &damaged).unwrap();
    let err = load(&path, 1).unwrap_err();
    let StoreError::Corrupt {
        line, truncated, ..
    } = err
    else {
        panic!("not Corrupt: {err:?}");
    };
    assert_eq!(line, expected_line);
    assert!(!truncated);
}

#[test]
fn a_wrong_version_is_refused_naming_the_supported_one() {
    let dir = TempDir::new("version");
    let path = dir.file("peers.json");
    save(&path, &sample_book()).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    // A future version that also changed the layout: the version is what
    // gets reported, not the unknown field.
    let future = text.replacen("\"format\":1,", "\"format\":2,\"extra\":true,", 1);
    assert_ne!(future, text);
    fs::write(&path, &future).unwrap();
    let err = load(&path, 1).unwrap_err();
    assert!(
        matches!(err, StoreError::UnsupportedFormat { found: 2, .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("format 2 is not supported"), "{msg}");
    assert!(msg.contains("reads btcd's book in format 1"), "{msg}");
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    expect_untouched(&path, future.as_bytes());
}

#[test]
fn inconsistent_contents_are_refused_naming_the_address() {
    let dir = TempDir::new("inconsistent");
    let path = dir.file("peers.json");
    save(&path, &sample_book()).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    // Duplicate the first address line.
    let mut lines: Vec<&str> = text.lines().collect();
    let first = lines[1].trim_end_matches(',').to_string();
    let dup = format!("{first},");
    lines.insert(1, &dup);
    let broken = lines.join("\n");
    fs::write(&path, &broken).unwrap();
    let err = load(&path, 1).unwrap_err();
    assert!(matches!(err, StoreError::Inconsistent { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("listed twice"), "{msg}");
    assert!(msg.contains("inconsistent"), "{msg}");
    expect_untouched(&path, broken.as_bytes());
}

#[test]
fn a_leftover_temp_file_from_a_crashed_save_is_harmless() {
    let dir = TempDir::new("leftover");
    let path = dir.file("peers.json");
    let book = sample_book();
    save(&path, &book).unwrap();
    // A crash halfway through the next save left half a file behind.
    let half = fs::read(&path).unwrap();
    fs::write(temp_path(&path), &half[..half.len() / 3]).unwrap();
    let loaded = load(&path, 1).unwrap().unwrap();
    assert_eq!(loaded.snapshot(), book.snapshot(), "the old file is whole");
    // The next save replaces the leftover.
    let mut newer = book.clone();
    newer.add(
        now(),
        "9.9.9.9:8333".parse().unwrap(),
        "8.8.8.8".parse().unwrap(),
    );
    save(&path, &newer).unwrap();
    assert!(!temp_path(&path).exists());
    assert!(load(&path, 1)
        .unwrap()
        .unwrap()
        .contains("9.9.9.9:8333".parse().unwrap()));
}

#[test]
fn a_save_that_cannot_write_leaves_the_old_file_intact() {
    let dir = TempDir::new("failing-write");
    let path = dir.file("peers.json");
    let book = sample_book();
    save(&path, &book).unwrap();
    let before = fs::read(&path).unwrap();
    // Something is in the way of the temp file: its creation fails.
    fs::create_dir(temp_path(&path)).unwrap();
    let err = save(&path, &AddrBook::new(1)).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Io {
                action: "create",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.path(), temp_path(&path));
    assert!(err.to_string().contains("cannot create"), "{err}");
    expect_untouched(&path, &before);
    assert_eq!(load(&path, 1).unwrap().unwrap().snapshot(), book.snapshot());
    assert!(
        temp_path(&path).is_dir(),
        "what was in the way is not removed"
    );
}

#[test]
fn a_save_into_a_missing_directory_fails_cleanly() {
    let dir = TempDir::new("no-dir");
    let path = dir.file("missing-subdir").join("peers.json");
    let err = save(&path, &sample_book()).unwrap_err();
    assert!(matches!(err, StoreError::Io { .. }), "{err:?}");
    assert!(!path.exists());
}

#[test]
fn a_save_whose_rename_fails_leaves_the_old_file_and_no_temp() {
    let dir = TempDir::new("failing-rename");
    // The target is a non-empty directory: the rename over it fails.
    let path = dir.file("peers.json");
    fs::create_dir(&path).unwrap();
    fs::write(path.join("keep"), b"x").unwrap();
    let err = save(&path, &sample_book()).unwrap_err();
    assert!(matches!(err, StoreError::Io { .. }), "{err:?}");
    assert!(
        err.to_string().contains("replace the address book"),
        "{err}"
    );
    assert!(!temp_path(&path).exists(), "the temp file was cleaned up");
    assert_eq!(fs::read(path.join("keep")).unwrap(), b"x");
}

#[test]
fn an_unreadable_path_is_an_io_error_not_a_missing_file() {
    let dir = TempDir::new("unreadable");
    // A directory where the file should be.
    let path = dir.file("peers.json");
    fs::create_dir(&path).unwrap();
    let err = load(&path, 1).unwrap_err();
    assert!(matches!(err, StoreError::NotAFile { .. }), "{err:?}");
    assert!(err.to_string().contains("not a regular file"), "{err}");
}

/// A link planted at the temporary file's name (say by another user of a
/// shared directory) must not make a save write through it.
#[cfg(unix)]
#[test]
fn a_link_planted_at_the_temp_path_is_not_written_through() {
    let dir = TempDir::new("symlink");
    let path = dir.file("peers.json");
    let victim = dir.file("victim");
    fs::write(&victim, b"precious").unwrap();
    std::os::unix::fs::symlink(&victim, temp_path(&path)).unwrap();
    save(&path, &sample_book()).unwrap();
    assert_eq!(fs::read(&victim).unwrap(), b"precious", "the link's target");
    let meta = fs::symlink_metadata(&path).unwrap();
    assert!(
        meta.file_type().is_file(),
        "the peers file is a file, not a link"
    );
    assert!(load(&path, 1).unwrap().is_some());
}

#[cfg(unix)]
#[test]
fn a_save_keeps_the_files_permissions_and_a_new_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("mode");
    let path = dir.file("peers.json");
    save(&path, &sample_book()).unwrap();
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600, "it holds the book's secret key");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
    save(&path, &sample_book()).unwrap();
    assert_eq!(mode(&path), 0o640);
}

/// Reading a FIFO would wait for a writer, and a device may never end.
#[cfg(unix)]
#[test]
fn a_fifo_or_a_device_is_refused_without_reading_it() {
    let dir = TempDir::new("fifo");
    let fifo = dir.file("peers.json");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let (tx, rx) = std::sync::mpsc::channel();
    let path = fifo.clone();
    std::thread::spawn(move || tx.send(load(&path, 1).map(|b| b.is_some())));
    let result = rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("loading a FIFO must not block");
    let err = result.unwrap_err();
    assert!(matches!(err, StoreError::NotAFile { .. }), "{err}");
    let err = load("/dev/zero", 1).unwrap_err();
    assert!(matches!(err, StoreError::NotAFile { .. }), "{err}");
}

#[test]
fn a_file_beyond_the_size_limit_is_refused_unread_and_one_within_loads() {
    let dir = TempDir::new("limit");
    let path = dir.file("peers.json");
    save(&path, &sample_book()).unwrap();
    let size = fs::metadata(&path).unwrap().len();
    assert!(
        load_within(&path, 1, size).unwrap().is_some(),
        "exactly at it"
    );
    let err = load_within(&path, 1, size - 1).unwrap_err();
    assert!(matches!(err, StoreError::TooLarge { .. }), "{err}");
    assert!(err.to_string().contains("not read"), "{err}");
}

#[test]
fn text_quoted_from_a_hostile_file_is_escaped() {
    let dir = TempDir::new("hostile");
    let path = dir.file("peers.json");
    fs::write(
        &path,
        "{\"format\":1,\"key\":[1,2],\"addresses\":[{\"addr\":\"\x1b]0;owned\x07\"}]}",
    )
    .unwrap();
    let err = load(&path, 1).unwrap_err().to_string();
    assert!(!err.chars().any(|c| c.is_control()), "{err:?}");
}

/// A peers file whose directory cannot take files is found at open, not
/// at the save after a whole run.
#[test]
fn an_unwritable_place_is_refused_when_the_book_opens() {
    let dir = TempDir::new("unwritable");
    fs::write(dir.file("a-file"), b"").unwrap();
    let path = dir.file("a-file").join("peers.json");
    let err = BookSource::open(&path, 1, &[], false, now()).unwrap_err();
    assert!(matches!(err, StoreError::Io { .. }), "{err}");
    let err = check_writable(&path).unwrap_err();
    assert!(
        err.to_string()
            .contains("create files in the peers file's directory"),
        "{err}"
    );
}
