//! One process per address book: an advisory lock held for as long as the
//! book is open.
//!
//! Two nodes saving to one peers file would each report success while one
//! loses the other's addresses. The lock is taken on a file of its own,
//! `<peers>.lock`, because the peers file itself is replaced by a rename at
//! every save, and a lock on the old file would not keep anyone off the new
//! one. The lock file is left in place when the lock is released: deleting
//! it would let two processes hold locks on two different files of the same
//! name.

use std::ffi::OsString;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use crate::StoreError;

/// The lock file of the address book at `path`: `path` with `.lock`
/// appended.
pub fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(OsString::from(".lock"));
    PathBuf::from(name)
}

/// The lock of one address book, held until dropped.
#[derive(Debug)]
pub struct BookLock {
    _file: File,
}

impl BookLock {
    /// Takes the lock of the address book at `path` (creating its lock
    /// file), or says that another process holds it.
    pub fn acquire(path: &Path) -> Result<BookLock, StoreError> {
        let lock = lock_path(path);
        let io = |action| {
            let lock = lock.clone();
            move |source| StoreError::Io {
                path: lock,
                action,
                source,
            }
        };
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(&lock).map_err(io("create the lock file"))?;
        match file.try_lock() {
            Ok(()) => Ok(BookLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(StoreError::InUse {
                path: path.to_path_buf(),
            }),
            Err(TryLockError::Error(source)) => Err(io("lock")(source)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = std::env::temp_dir().join(format!("connmgr-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("peers.json");
        let first = BookLock::acquire(&path).unwrap();
        let err = BookLock::acquire(&path).unwrap_err();
        assert!(matches!(err, StoreError::InUse { .. }), "{err}");
        assert!(
            err.to_string().contains("in use by another process"),
            "{err}"
        );
        drop(first);
        BookLock::acquire(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
