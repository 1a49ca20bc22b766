//! `connmgr node` against real tools, as an operator runs it, on loopback:
//!
//! - with `--proxy`, a real SOCKS5 server (`microsocks`): an IP peer is
//!   reached through the proxy, and with `--onlynet onion` an onion peer is
//!   asked of the proxy by name (which microsocks, not being Tor, cannot
//!   reach: the dial fails and is retried, the node carries on);
//! - with `--metrics`, Prometheus's own checker (`promtool check metrics`)
//!   accepts what two connected nodes serve.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
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

/// The body of `GET /metrics` on 127.0.0.1:`port`, retried (bounded) until
/// the endpoint answers.
fn scrape(port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = std::net::TcpStream::connect(("127.0.0.1", port)).and_then(|mut s| {
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
            let mut response = String::new();
            s.read_to_string(&mut response)?;
            Ok(response)
        });
        match got {
            Ok(response) if response.lines().next().is_some_and(|l| l.contains(" 200 ")) => {
                return response
                    .split_once("\r\n\r\n")
                    .map_or("", |(_, b)| b)
                    .to_owned();
            }
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            other => panic!("no metrics on port {port}: {other:?}"),
        }
    }
}

#[test]
fn promtool_accepts_the_metrics_of_two_connected_nodes() {
    let bin = connmgr();
    let ports: Vec<u16> = {
        let held: Vec<_> = (0..2)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        held.iter()
            .map(|l| l.local_addr().unwrap().port())
            .collect()
    };
    let metrics = |port: u16| format!("127.0.0.1:{port}");
    let (metrics_a, metrics_b) = (metrics(ports[0]), metrics(ports[1]));
    let a = Node::start(
        &bin,
        &[
            "--listen",
            "127.0.0.1:0",
            "--target",
            "0",
            "--metrics",
            &metrics_a,
        ],
    );
    let listening = a.wait_for("listening on ");
    let addr = listening.trim_start_matches("listening on ").trim();
    let b = Node::start(
        &bin,
        &["--target", "0", "--connect", addr, "--metrics", &metrics_b],
    );
    b.wait_for("permanent 1");
    a.wait_for("inbound 1");
    // One report later, the histograms hold the dial.
    b.wait_for("status: ");
    for port in ports {
        let scrape = scrape(port);
        assert!(
            scrape.contains("connmgr_dial_duration_seconds_bucket"),
            "{scrape}"
        );
        let mut check = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("promtool is installed (.ci/run installs the prometheus package)");
        check
            .stdin
            .take()
            .unwrap()
            .write_all(scrape.as_bytes())
            .unwrap();
        let out = check.wait_with_output().unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && said.trim().is_empty(),
            "promtool: {said}"
        );
    }
}

/// Every PromQL query the project ships (the dashboard's, and the examples
/// in docs/METRICS.md), checked by `promtool check rules` as the
/// expressions of recording rules: Prometheus's own parser.
#[test]
fn promtool_parses_every_query_of_the_dashboard_and_the_docs() {
    let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs");
    let dashboard = std::fs::read_to_string(docs.join("grafana-dashboard.json")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&dashboard).unwrap();
    let mut queries: Vec<String> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|panel| panel["targets"].as_array().unwrap())
        .filter_map(|target| target["expr"].as_str())
        // Grafana fills the variable in; any regex will do for the parser.
        .map(|expr| expr.replace("$instance", ".*"))
        .collect();
    let metrics_md = std::fs::read_to_string(docs.join("METRICS.md")).unwrap();
    let mut in_block = false;
    for line in metrics_md.lines() {
        match line.trim() {
            "```promql" => in_block = true,
            "```" => in_block = false,
            query if in_block && !query.is_empty() && !query.starts_with('#') => {
                // A query continued on the next line is joined to it.
                if line.starts_with("  ") {
                    let last = queries.last_mut().unwrap();
                    last.push(' ');
                    last.push_str(query);
                } else {
                    queries.push(query.to_owned());
                }
            }
            _ => {}
        }
    }
    assert!(queries.len() > 20, "{queries:?}");
    let mut rules = String::from("groups:\n  - name: connmgr\n    rules:\n");
    for (i, query) in queries.iter().enumerate() {
        let query = serde_json::to_string(query).unwrap();
        rules.push_str(&format!(
            "      - record: connmgr:query_{i}\n        expr: {query}\n"
        ));
    }
    let dir = std::env::temp_dir().join(format!("connmgr-promql-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("rules.yml");
    std::fs::write(&file, rules).unwrap();
    let out = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .expect("promtool is installed (.ci/run installs the prometheus package)");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The sample unit in docs/ passes `systemd-analyze verify`, with its
/// binary pointed at this build (the unit names the installed path).
#[test]
fn systemd_accepts_the_sample_unit() {
    let bin = connmgr();
    let unit = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/connmgr.service");
    let unit = std::fs::read_to_string(unit).unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/connmgr node --config"));
    let unit = unit.replace("/usr/local/bin/connmgr", bin.to_str().unwrap());
    let dir = std::env::temp_dir().join(format!("connmgr-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("connmgr.service");
    std::fs::write(&path, unit).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze is installed (.ci/run installs systemd)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert!(!said.contains("connmgr.service:"), "{said}");
    std::fs::remove_dir_all(&dir).unwrap();
}
