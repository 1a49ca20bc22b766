//! Target `addrbook_file`: any bytes as an address-book file, loaded the
//! way the node loads it.

use std::path::PathBuf;

use super::addrbook::{check_bounds, check_reload};

/// A directory of this process and thread for scratch files, created on
/// demand. The caller may remove it when done.
pub fn scratch_dir() -> PathBuf {
    let thread = format!("{:?}", std::thread::current().id());
    let thread: String = thread.chars().filter(char::is_ascii_digit).collect();
    std::env::temp_dir().join(format!("connmgr-fuzz-{}-{thread}", std::process::id()))
}

/// The size limit the target loads with: the real one's code path, at a
/// size the fuzzer can reach (seeds `at_size_limit.json` and
/// `past_size_limit.json` sit on either side of it).
pub const MAX_FILE: u64 = 8192;

/// Target `addrbook_file`: any bytes as an address-book file, loaded the way
/// the node loads it ([`connmgr_store::load`], with a smaller limit). A clean error naming the file
/// (and for corrupt JSON a line ≥ 1), or a book within its bounds whose
/// snapshot rebuilds it, and the same result twice; never a panic.
pub fn addrbook_file(data: &[u8]) {
    let dir = scratch_dir();
    std::fs::create_dir_all(&dir).expect("the scratch directory can be made");
    let path = dir.join("peers.json");
    std::fs::write(&path, data).expect("the scratch file can be written");
    let first = connmgr_store::load_within(&path, 7, MAX_FILE);
    let second = connmgr_store::load_within(&path, 7, MAX_FILE);
    let _ = std::fs::remove_file(&path);
    match (first, second) {
        (Ok(Some(book)), Ok(Some(again))) => {
            check_bounds(&book, 0);
            assert_eq!(
                book.snapshot(),
                again.snapshot(),
                "addrbook_file: two loads differ"
            );
            check_reload(&book, 3, 0);
        }
        (Ok(None), _) => panic!("addrbook_file: the file exists, yet load says there is none"),
        (Err(e), Err(again)) => {
            let message = e.to_string();
            assert_eq!(
                message,
                again.to_string(),
                "addrbook_file: two loads differ"
            );
            assert_eq!(
                e.path(),
                path,
                "addrbook_file: the error names another file: {message}"
            );
            assert!(
                message.contains(&path.display().to_string()),
                "addrbook_file: the message does not name the file: {message}"
            );
            assert!(
                !message.chars().any(char::is_control),
                "addrbook_file: the message carries control characters: {message:?}"
            );
            if let connmgr_store::StoreError::Corrupt { line, .. } = e {
                assert!(
                    line >= 1,
                    "addrbook_file: corrupt at line {line}: {message}"
                );
            }
        }
        (first, second) => panic!(
            "addrbook_file: two loads differ: {:?} vs {:?}",
            first.map(|b| b.map(|b| b.len())),
            second.map(|b| b.map(|b| b.len()))
        ),
    }
}
