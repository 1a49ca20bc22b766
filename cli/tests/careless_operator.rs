//! `connmgr` against a careless operator and hostile files: what it refuses
//! at start, what it says and how, and what its signals do. The built
//! binary, on 127.0.0.1, every wait bounded.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_connmgr");

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("connmgr-cli-care-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `connmgr node` with `args`, expected to refuse to start.
fn refused(args: &[&str], dir: &Path) -> String {
    let out = Command::new(BIN)
        .arg("node")
        .args(args)
        .arg("--peers-file")
        .arg(dir.join("peers.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn nonsense_addresses_are_refused_at_start() {
    let dir = temp_dir("nonsense");
    let cases: [(&[&str], &str); 4] = [
        (
            &["--connect", "127.0.0.1:0"],
            "port 0 is not a port to connect to",
        ),
        (
            &[
                "--listen",
                "127.0.0.1:18999",
                "--connect",
                "127.0.0.1:18999",
            ],
            "this node's own --listen address",
        ),
        (
            &[
                "--connect",
                "127.0.0.1:18998",
                "--connect",
                "127.0.0.1:18998",
            ],
            "is given twice",
        ),
        (
            &["--listen", "127.0.0.1:18997", "--listen", "127.0.0.1:18997"],
            "--listen 127.0.0.1:18997 is given twice",
        ),
    ];
    for (args, says) in cases {
        let stderr = refused(args, &dir);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    assert!(!dir.join("peers.json").exists(), "nothing was started");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_invalid_log_filter_is_an_error_not_a_silent_default() {
    let dir = temp_dir("rust-log");
    let out = Command::new(BIN)
        .args(["node", "--peers-file"])
        .arg(dir.join("peers.json"))
        .env("RUST_LOG", "info,connmgr=loud")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("is not a log filter"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn one_file_for_the_trace_and_the_peers_file_is_refused() {
    let dir = temp_dir("same-path");
    let stderr = refused(&["--trace", dir.join("peers.json").to_str().unwrap()], &dir);
    assert!(
        stderr.contains("both as the trace and as the peers file"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A node, its standard output read on a thread, its standard error
/// collected.
struct Node {
    child: Child,
    stdout: std::sync::mpsc::Receiver<String>,
}

impl Node {
    fn start(args: &[&str], peers: &Path) -> Node {
        let mut child = Command::new(BIN)
            .arg("node")
            .args(args)
            .arg("--peers-file")
            .arg(peers)
            .env_remove("NO_COLOR")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, stdout) = std::sync::mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Node { child, stdout }
    }

    fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => {
                    let _ = self.child.kill();
                    panic!("no line containing {needle:?}");
                }
            }
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the exit; the status and standard error.
    fn finish(mut self) -> (std::process::ExitStatus, String) {
        let deadline = Instant::now() + Duration::from_secs(15);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the node did not exit");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        (status, stderr)
    }
}

/// SIGHUP saves while running; SIGTERM (systemd's) stops cleanly and saves;
/// the log says what the node runs with, in plain text when it is not a
/// terminal; a second node on the same peers file is refused.
#[test]
fn signals_save_and_stop_and_the_log_is_plain_and_says_the_configuration() {
    let dir = temp_dir("signals");
    let peers = dir.join("peers.json");
    let mut node = Node::start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--target",
            "0",
            "--seed",
            "127.0.0.1:18444",
            "--allow-local",
        ],
        &peers,
    );
    node.wait_for("listening on ");

    // The same peers file, while it is in use.
    let second: Output = Command::new(BIN)
        .args(["node", "--target", "0", "--peers-file"])
        .arg(&peers)
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(2));
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(said.contains("in use by another process"), "{said}");

    node.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&peers).is_ok_and(|book| book.contains("18444")) {
        assert!(Instant::now() < deadline, "SIGHUP did not save");
        std::thread::sleep(Duration::from_millis(20));
    }
    node.signal("TERM");
    node.wait_for("stopped: ");
    let (status, stderr) = node.finish();
    assert!(status.success(), "{status}: {stderr}");
    assert!(!stderr.contains('\u{1b}'), "colour codes in a piped log");
    assert!(stderr.contains("automatic_outbound: false"), "{stderr}");
    assert!(!stderr.contains("rng_seed: Some(Seed(") || stderr.contains("<secret>"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn replay_of_endless_or_hostile_input_is_a_short_clean_error() {
    // An endless line: refused at the line limit, not read until memory
    // runs out.
    let out = Command::new(BIN)
        .args(["replay", "/dev/zero"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 1: longer than"), "{stderr}");

    // A line that writes escape sequences and a long one: escaped and cut.
    let dir = temp_dir("hostile-trace");
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/example.jsonl"
    ))
    .unwrap();
    let header = example.lines().next().unwrap();
    let path = dir.join("hostile.jsonl");
    let hostile = format!(
        "{header}\n{{\"t\":1,\"input\":\"\\u001b[2J\\u0007{}\"}}\n",
        "A".repeat(1_000_000)
    );
    std::fs::write(&path, hostile).unwrap();
    let out = Command::new(BIN).arg("replay").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!out.stderr.contains(&0x1b), "raw ESC on the terminal");
    assert!(
        out.stderr.len() < 2_000,
        "{} bytes of error",
        out.stderr.len()
    );

    // Time that goes backwards is refused at its line.
    let mut lines: Vec<&str> = example.lines().collect();
    let last = lines.len() - 1;
    // `{"t":<n>,…` becomes `{"t":0,…`: before every earlier line.
    let rest = &lines[last]["{\"t\":".len()..];
    let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap();
    let back = format!("{{\"t\":0{}", &rest[digits..]);
    lines[last] = &back;
    let path = dir.join("backwards.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let out = Command::new(BIN).arg("replay").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("line {}: time goes backwards", last + 1)),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_simulation_that_cannot_fit_in_memory_is_refused_up_front() {
    let out = Command::new(BIN)
        .args(["sim", "--nodes", "4000000000", "--duration", "1s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("at most"), "{stderr}");
    assert!(!stderr.contains("backtrace"), "{stderr}");
}

#[test]
fn the_memory_a_simulated_node_needs_follows_its_book() {
    // Bitcoin Core's book, filled by gossip, makes a default node four
    // times a btcd node (its book kept by the simulated application).
    let per_node = |preset: &str| {
        let out = Command::new(BIN)
            .args(["sim", "--nodes", "4000000000", "--duration", "1s"])
            .args(["--preset", preset])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let kib = stderr
            .split(" KiB per node")
            .next()
            .and_then(|head| head.rsplit('(').next())
            .and_then(|n| n.trim().parse::<u64>().ok());
        kib.unwrap_or_else(|| panic!("{stderr}"))
    };
    assert_eq!(per_node("default"), 512);
    assert_eq!(per_node("btcd"), 128);
}
