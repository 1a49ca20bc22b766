//! `connmgr node` with `--proxy` against a real SOCKS5 server
//! (`microsocks`), as an operator runs it, on loopback: an IP peer is
//! reached through the proxy, and with `--onlynet onion` an onion peer is
//! asked of the proxy by name (which microsocks, not being Tor, cannot
//! reach: the dial fails and is retried, the node carries on).

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::Proxy;

/// The `connmgr` binary of this tree, built first (a no-op when the
/// workspace tests built it already, as `.ci/run` does).
fn connmgr() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => manifest.join(dir),
        None => manifest.join("target"),
    };
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "-p", "connmgr-cli"])
        .current_dir(manifest.join(".."))
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "cargo build -p connmgr-cli failed");
    target.join("debug").join("connmgr")
}

/// A node's standard output, line by line, read on a thread; killed on drop.
struct Node {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Node {
    fn start(bin: &PathBuf, args: &[&str]) -> Node {
        let dir = std::env::temp_dir().join(format!("connmgr-system-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let peers = dir.join(format!("peers-{}.json", args.join("").len()));
        let mut child = Command::new(bin)
            .arg("node")
            .args(args)
            .args(["--status-every", "1s", "--peers-file"])
            .arg(peers)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Node { child, lines }
    }

    /// The first line containing `needle` within 15 s.
    fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => panic!("no line containing {needle:?} within 15 s"),
            }
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_node_reaches_a_peer_through_the_proxy_and_asks_it_for_onion_peers_by_name() {
    let bin = connmgr();
    let proxy = Proxy::start(None);
    let proxy_url = format!("socks5://{}", proxy.addr);
    let peer = Node::start(&bin, &["--listen", "127.0.0.1:0", "--target", "0"]);
    let listening = peer.wait_for("listening on ");
    let peer_addr = listening.trim_start_matches("listening on ").trim();

    // microsocks checks no credentials: isolation off.
    let ip = Node::start(
        &bin,
        &[
            "--target",
            "0",
            "--proxy",
            &proxy_url,
            "--no-proxy-isolation",
            "--connect",
            peer_addr,
        ],
    );
    ip.wait_for("permanent 1");
    peer.wait_for("inbound 1");

    let onion = Node::start(
        &bin,
        &[
            "--target",
            "0",
            "--proxy",
            &proxy_url,
            "--no-proxy-isolation",
            "--onlynet",
            "onion",
            "--connect",
            "pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion:8333",
        ],
    );
    // The proxy could not reach it; the node retries with backoff.
    let status = onion.wait_for("dials 1, failed 1");
    assert!(status.contains("retrying 1"), "{status}");
}
