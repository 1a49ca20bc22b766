//! `connmgr config` and `connmgr node --config`: a mistake in the file is
//! refused before anything starts, naming the file, the line, the key and
//! what is allowed; flags override what the file says.

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

fn write(dir: &std::path::Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// `connmgr config --check FILE`: its exit status and standard error.
fn check(path: &std::path::Path) -> (Option<i32>, String) {
    let out = Command::new(BIN)
        .args(["config", "--check"])
        .arg(path)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Checks that `text` is refused with a message naming the file, `line`,
/// `key`, and saying `says`.
fn refused(name: &str, text: &str, line: usize, key: &str, says: &str) {
    let dir = temp_dir(&format!("config-{name}"));
    let path = write(&dir, "node.toml", text);
    let (code, stderr) = check(&path);
    assert_eq!(code, Some(2), "{stderr}");
    let at = format!("{}:{line}: {key}: ", path.display());
    assert!(
        stderr.starts_with(&format!("error: {at}")),
        "want {at:?} in {stderr}"
    );
    assert!(stderr.contains(says), "want {says:?} in {stderr}");
    assert_eq!(
        stderr.lines().count(),
        1,
        "one line, no backtrace: {stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unknown_key_is_refused_with_the_keys_allowed() {
    refused(
        "unknown",
        "[node]\nlisten = []\n\n[manager]\nretry_intervall = \"5s\"\n",
        5,
        "manager.retry_intervall",
        "unknown field `retry_intervall`, expected one of `target_outbound`",
    );
    refused(
        "table",
        "[nodes]\nlisten = []\n",
        1,
        "nodes",
        "unknown field `nodes`, expected `node` or `manager`",
    );
}

#[test]
fn a_value_of_the_wrong_type_is_refused_with_the_type_wanted() {
    refused(
        "type",
        "[manager]\ntarget_outbound = \"eight\"\n",
        2,
        "manager.target_outbound",
        "invalid type: string \"eight\", expected u32",
    );
}

#[test]
fn an_out_of_range_value_is_refused_with_the_range() {
    refused(
        "range",
        "[manager]\nmax_inbound = 10\n# many\ntarget_outbound = 100000\n",
        4,
        "manager.target_outbound",
        "above the maximum of 65536",
    );
    refused(
        "negative",
        "[manager]\nmax_inbound = -1\n",
        2,
        "manager.max_inbound",
        "invalid value: integer `-1`, expected u32",
    );
    refused(
        "network",
        "[manager.networks.onion]\nreachable = true\n",
        2,
        "manager.networks.onion.reachable",
        "`networks.onion.proxy` is not set",
    );
}

#[test]
fn a_bad_duration_is_refused_with_how_to_write_one() {
    refused(
        "duration",
        "[manager]\nretry_interval = \"5 parsecs\"\n",
        2,
        "manager.retry_interval",
        "write a duration such as \"5s\", \"10m\"",
    );
    refused(
        "duration-number",
        "[node]\nstatus_every = 10\n",
        2,
        "node.status_every",
        "expected a duration such as \"5s\"",
    );
}

#[test]
fn a_bad_address_is_refused_with_how_to_write_one() {
    refused(
        "listen",
        "[node]\nlisten = [\"localhost:8333\"]\n",
        2,
        "node.listen",
        "write an IP address and port, e.g. \"127.0.0.1:8333\"",
    );
    refused(
        "connect",
        "[node]\n\nconnect = [\"peer.example:8333\"]\n",
        3,
        "node.connect",
        "\"NAME.onion:PORT\"",
    );
}

#[test]
fn the_default_file_checks_and_a_missing_file_is_named() {
    let dir = temp_dir("config-default");
    let out = Command::new(BIN)
        .args(["config", "--default"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let path = dir.join("node.toml");
    std::fs::write(&path, &out.stdout).unwrap();
    let out = Command::new(BIN)
        .args(["config", "--check"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(": ok"));

    let missing = dir.join("nope.toml");
    let (code, stderr) = check(&missing);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("cannot read the config file"), "{stderr}");
    assert!(stderr.contains("nope.toml"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_file_too_large_or_not_text_is_refused_without_reading_it_all() {
    let (code, stderr) = check(std::path::Path::new("/dev/zero"));
    assert_eq!(code, Some(2));
    assert!(stderr.contains("larger than 1024 KiB"), "{stderr}");
    let dir = temp_dir("config-binary");
    let path = dir.join("node.toml");
    std::fs::write(&path, b"[node]\nlog = \"\xff\"\n").unwrap();
    let (code, stderr) = check(&path);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("is not UTF-8 text (byte 14)"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_node_refuses_a_bad_file_before_it_starts() {
    let dir = temp_dir("config-node");
    let path = write(
        &dir,
        "node.toml",
        "[node]\npeers_file = \"p.json\"\nlisten = [\"nowhere\"]\n",
    );
    let out = Command::new(BIN)
        .args(["node", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("node.toml:3: node.listen: "), "{stderr}");
    assert!(!dir.join("p.json").exists(), "nothing started");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn flags_override_the_file_and_the_rest_comes_from_it() {
    let dir = temp_dir("config-override");
    let peers = dir.join("peers.json");
    let text = format!(
        "[node]\npeers_file = {:?}\nlisten = [\"127.0.0.1:0\"]\nstatus_every = \"1h\"\n\n[manager]\ntarget_outbound = 3\n",
        peers.display().to_string()
    );
    let path = write(&dir, "node.toml", &text);
    let mut node = Command::new(BIN)
        .args(["node", "--config"])
        .arg(&path)
        .args(["--status-every", "1s", "--target", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = lines(&mut node);
    // The file's listener, the flag's status period.
    wait_for(
        &out,
        "listening on 127.0.0.1:",
        Duration::from_secs(10),
        &mut node,
    );
    let status = wait_for(&out, "status: ", Duration::from_secs(10), &mut node);
    // --target 0 turned the file's 3 automatic connections off.
    assert!(status.contains("automatic 0"), "{status}");
    assert!(status.contains("pending 0"), "{status}");
    signal(&node, "TERM");
    assert!(wait_exit(&mut node, Duration::from_secs(10)).success());
    assert!(peers.exists(), "the file's peers_file was saved");
    std::fs::remove_dir_all(&dir).unwrap();
}
