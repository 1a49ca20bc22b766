//! `connmgr demo` and `connmgr node` as a user runs them: the built binary,
//! on 127.0.0.1, every wait bounded.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

#[test]
fn demo_runs_by_itself_and_its_trace_replays_identically() {
    let dir = temp_dir("demo");
    let trace = dir.join("node1.jsonl");
    let mut child = Command::new(BIN)
        .args(["demo", "--duration", "4s", "--trace"])
        .arg(&trace)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = lines(&mut child);
    let line = wait_for(&rx, "replay: ", Duration::from_secs(60), &mut child);
    assert!(line.starts_with("replay: identical: "), "{line}");
    let status = wait_exit(&mut child, Duration::from_secs(10));
    assert!(status.success(), "{status}");
    let out = Command::new(BIN)
        .arg("replay")
        .arg(&trace)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn demo_refuses_a_duration_it_cannot_finish_in_time() {
    let out = Command::new(BIN)
        .args(["demo", "--duration", "60s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--duration"));
}

#[test]
fn nodes_connect_and_shut_down_on_interrupt_saving_their_peers() {
    let dir = temp_dir("node");
    let (peers_a, peers_b, trace_b) = (dir.join("a.json"), dir.join("b.json"), dir.join("b.jsonl"));
    let mut a = Command::new(BIN)
        .args([
            "node",
            "--listen",
            "127.0.0.1:0",
            "--target",
            "0",
            "--status-every",
            "1s",
        ])
        .arg("--peers-file")
        .arg(&peers_a)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let a_out = lines(&mut a);
    let line = wait_for(&a_out, "listening on ", Duration::from_secs(10), &mut a);
    let addr = line.trim_start_matches("listening on ").trim().to_owned();

    let mut b = Command::new(BIN)
        .args([
            "node",
            "--listen",
            "127.0.0.1:0",
            "--target",
            "1",
            "--allow-local",
        ])
        .args(["--connect", &addr, "--seed", &addr, "--status-every", "1s"])
        .arg("--peers-file")
        .arg(&peers_b)
        .arg("--trace")
        .arg(&trace_b)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let b_out = lines(&mut b);
    // The permanent peer and the automatic one (from the seed) are both A.
    wait_for(
        &b_out,
        "status: outbound 2",
        Duration::from_secs(15),
        &mut b,
    );
    wait_for(&a_out, "inbound 2", Duration::from_secs(15), &mut a);

    for child in [&b, &a] {
        signal(child, "INT");
    }
    let stopped = wait_for(&b_out, "stopped: ", Duration::from_secs(10), &mut b);
    assert!(stopped.contains("peers saved to"), "{stopped}");
    assert!(wait_exit(&mut b, Duration::from_secs(10)).success());
    assert!(wait_exit(&mut a, Duration::from_secs(10)).success());

    let book = std::fs::read_to_string(&peers_b).expect("B saved its peers file");
    assert!(book.contains(&addr), "{book}");
    assert!(peers_a.exists(), "A saved its (empty) peers file");
    let out = Command::new(BIN)
        .arg("replay")
        .arg(&trace_b)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && report.starts_with("identical"),
        "{report}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
