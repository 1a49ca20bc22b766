//! The anchors file: the block-relay-only peers a cleanly stopped run
//! reported (`Action::SaveAnchors`), dialled first by the next start
//! (`Input::Anchors`).
//!
//! It lives beside the peers file (`<peers file>.anchors`, under the same
//! lock), is written crash-safely like it, and is **deleted as soon as it
//! is read**, before any anchor is dialled: a run that then crashes leaves
//! no file, so a restart after an unclean stop dials no anchors (they may
//! be stale, or chosen by whoever made the node crash). This is Bitcoin
//! Core's `anchors.dat` rule.
//!
//! ```json
//! {"format":1,"anchors":["203.0.113.7:8333","[2001:db8::1]:8333"]}
//! ```

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use connmgr::PeerAddr;

use crate::file::{corrupt, read_bounded, replace_file};
use crate::StoreError;

/// The format this version writes and reads.
pub const ANCHORS_FORMAT: u32 = 1;

/// The largest anchors file read: two addresses need under 200 bytes.
pub const MAX_ANCHORS_BYTES: u64 = 4096;

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AnchorsFile {
    format: u32,
    anchors: Vec<PeerAddr>,
}

/// The anchors file of the peers file at `peers`: `<peers>.anchors`.
pub fn anchors_path(peers: &Path) -> PathBuf {
    let mut name = peers.as_os_str().to_owned();
    name.push(OsString::from(".anchors"));
    PathBuf::from(name)
}

/// Writes `anchors` to `path` crash-safely; with none, removes the file.
pub fn save_anchors(path: &Path, anchors: &[PeerAddr]) -> Result<(), StoreError> {
    if anchors.is_empty() {
        return remove(path);
    }
    let file = AnchorsFile {
        format: ANCHORS_FORMAT,
        anchors: anchors.to_vec(),
    };
    replace_file(path, "replace the anchors file with the new copy", |out| {
        serde_json::to_writer(&mut *out, &file)?;
        io::Write::write_all(out, b"\n")
    })
}

/// Reads the anchors at `path` and deletes the file; none if there is no
/// file. The file is deleted even when it cannot be parsed (the error says
/// where), and if it cannot be deleted its anchors are not used: either
/// way a later unclean restart finds none.
pub fn take_anchors(path: &Path) -> Result<Vec<PeerAddr>, StoreError> {
    let Some(bytes) = read_bounded(path, MAX_ANCHORS_BYTES)? else {
        return Ok(Vec::new());
    };
    remove(path)?;
    let file: AnchorsFile = serde_json::from_slice(&bytes).map_err(|e| corrupt(path, &e))?;
    if file.format != ANCHORS_FORMAT {
        return Err(StoreError::UnsupportedFormat {
            path: path.to_owned(),
            found: file.format,
        });
    }
    Ok(file.anchors)
}

fn remove(path: &Path) -> Result<(), StoreError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(StoreError::Io {
            path: path.to_owned(),
            action: "remove the anchors file",
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("connmgr-anchors-{name}-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn anchors_are_read_once_then_gone() {
        let dir = dir("once");
        let path = anchors_path(&dir.join("peers.json"));
        assert_eq!(path, dir.join("peers.json.anchors"));
        assert!(
            take_anchors(&path).unwrap().is_empty(),
            "no file, no anchors"
        );
        let anchors: Vec<PeerAddr> = vec![
            "203.0.113.7:8333".parse().unwrap(),
            "[2001:db8::1]:8333".parse().unwrap(),
            "pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion:8333"
                .parse()
                .unwrap(),
        ];
        save_anchors(&path, &anchors).unwrap();
        assert_eq!(take_anchors(&path).unwrap(), anchors);
        assert!(!path.exists(), "deleted once read");
        assert!(
            take_anchors(&path).unwrap().is_empty(),
            "an unclean restart finds none"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_damaged_anchors_file_is_reported_and_still_removed() {
        let dir = dir("damaged");
        let path = anchors_path(&dir.join("peers.json"));
        fs::write(&path, "{\"format\":1,\n\"anchors\":[\"999.1.1.1:8333\"]}").unwrap();
        let err = take_anchors(&path).unwrap_err();
        assert!(
            matches!(err, StoreError::Corrupt { line: 2, .. }),
            "{err:?}"
        );
        assert!(!path.exists());
        // Saving none removes a stale file.
        save_anchors(&path, &["203.0.113.7:8333".parse().unwrap()]).unwrap();
        save_anchors(&path, &[]).unwrap();
        assert!(!path.exists());
        fs::remove_dir_all(&dir).unwrap();
    }
}
