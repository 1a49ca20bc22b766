//! `connmgr node --metrics` as an operator runs it: two nodes on
//! 127.0.0.1, their endpoints scraped over HTTP, the values checked
//! against what the nodes did; then SIGTERM to one node with live
//! connections, which saves its peers file and closes every connection
//! (the other node's metrics see each one end).

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;

fn node(args: &[&str], peers: &Path, metrics: u16) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(BIN)
        .arg("node")
        .args(args)
        .args(["--status-every", "1s", "--metrics"])
        .arg(format!("127.0.0.1:{metrics}"))
        .arg("--peers-file")
        .arg(peers)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = lines(&mut child);
    (child, out)
}

/// Scrapes until every series has its value in one scrape (the manager
/// reports once a second); returns that scrape.
fn wait_for_samples(port: u16, wanted: &[(&str, f64)]) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let scrape = scrape(port);
        if wanted
            .iter()
            .all(|&(series, value)| sample(&scrape, series) == Some(value))
        {
            return scrape;
        }
        assert!(
            Instant::now() < deadline,
            "never {wanted:?} in one scrape; last scrape:\n{scrape}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn metrics_count_what_the_nodes_did_and_sigterm_closes_every_connection() {
    let dir = temp_dir("metrics");
    let (peers_a, peers_b) = (dir.join("a.json"), dir.join("b.json"));
    let [port_a, port_b] = free_ports();
    let (mut a, a_out) = node(
        &["--listen", "127.0.0.1:0", "--target", "0"],
        &peers_a,
        port_a,
    );
    let line = wait_for(&a_out, "listening on ", Duration::from_secs(10), &mut a);
    let addr = line.trim_start_matches("listening on ").trim().to_owned();
    let args = [
        "--target",
        "1",
        "--allow-local",
        "--connect",
        &addr,
        "--seed",
        &addr,
    ];
    let (mut b, b_out) = node(&args, &peers_b, port_b);

    // B: a permanent and an automatic peer, both A, over IPv4.
    let outbound = "connmgr_peers{direction=\"outbound\",kind=\"permanent\",network=\"ipv4\"}";
    let automatic = "connmgr_peers{direction=\"outbound\",kind=\"automatic\",network=\"ipv4\"}";
    let scrape_b = wait_for_samples(port_b, &[(outbound, 1.0), (automatic, 1.0)]);
    assert!(
        sample(&scrape_b, "connmgr_dials_total") >= Some(2.0),
        "{scrape_b}"
    );
    assert!(sample(&scrape_b, "connmgr_dial_successes_total") >= Some(2.0));
    assert!(sample(&scrape_b, "connmgr_dial_duration_seconds_count") >= Some(2.0));
    assert_eq!(
        sample(&scrape_b, "connmgr_outbound_target{kind=\"automatic\"}"),
        Some(1.0)
    );
    every_metric_is_documented(&scrape_b);

    // `connmgr status` reads the same endpoint for a person.
    let out = Command::new(BIN)
        .args(["status", "--metrics", &format!("127.0.0.1:{port_b}")])
        .output()
        .unwrap();
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{summary}");
    assert!(summary.contains("automatic 1/1"), "{summary}");
    assert!(summary.contains("permanent 1"), "{summary}");
    assert!(summary.contains("networks:   outbound ipv4 2"), "{summary}");

    // A: the two connections are inbound.
    let inbound = "connmgr_peers{direction=\"inbound\",kind=\"inbound\",network=\"ipv4\"}";
    let scrape_a = wait_for_samples(port_a, &[(inbound, 2.0)]);
    assert_eq!(
        sample(&scrape_a, "connmgr_inbound_accepted_total"),
        Some(2.0)
    );
    assert_eq!(
        sample(&scrape_a, "connmgr_outbound_target{kind=\"automatic\"}"),
        Some(0.0)
    );

    // SIGTERM to B, connections live: it saves its peers and exits 0.
    let open_in_a = descriptors(&a);
    assert!(open_in_a > 2, "A's descriptors cannot be read");
    signal(&b, "TERM");
    let stopped = wait_for(&b_out, "stopped: ", Duration::from_secs(10), &mut b);
    assert!(stopped.contains("peers saved to"), "{stopped}");
    assert!(wait_exit(&mut b, Duration::from_secs(10)).success());
    let book = std::fs::read_to_string(&peers_b).expect("B saved its peers file");
    assert!(book.contains(&addr), "{book}");

    // Every connection B had is closed: A sees both end.
    let ended = "connmgr_disconnected_total{reason=\"peer_closed\"}";
    let scrape_a = wait_for_samples(port_a, &[(inbound, 0.0), (ended, 2.0)]);
    // And A closed its two sockets (descriptors, not just counts).
    let deadline = Instant::now() + Duration::from_secs(10);
    while descriptors(&a) > open_in_a - 2 {
        assert!(
            Instant::now() < deadline,
            "A still has {} descriptors open, {open_in_a} before",
            descriptors(&a)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        sample(
            &scrape_a,
            "connmgr_connection_duration_seconds_count{direction=\"inbound\"}"
        ),
        Some(2.0),
        "{scrape_a}"
    );

    signal(&a, "TERM");
    assert!(wait_exit(&mut a, Duration::from_secs(10)).success());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// How many descriptors `child` has open (Linux's /proc).
fn descriptors(child: &Child) -> usize {
    std::fs::read_dir(format!("/proc/{}/fd", child.id()))
        .map(|dir| dir.count())
        .unwrap_or(0)
}

/// Every metric a node serves has its row in docs/METRICS.md.
fn every_metric_is_documented(scrape: &str) {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/METRICS.md");
    let docs = std::fs::read_to_string(docs).unwrap();
    let names: Vec<&str> = scrape
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(names.len() > 50, "{scrape}");
    for name in names {
        assert!(
            docs.contains(&format!("`{name}`")),
            "{name} is not in docs/METRICS.md"
        );
    }
}

#[test]
fn status_without_a_node_says_what_to_check() {
    let [port] = free_ports();
    let out = Command::new(BIN)
        .args(["status", "--metrics", &format!("127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is the node running with --metrics"),
        "{stderr}"
    );
}

#[test]
fn the_dashboard_queries_only_documented_metrics() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
    let docs = std::fs::read_to_string(root.join("METRICS.md")).unwrap();
    let dashboard = std::fs::read_to_string(root.join("grafana-dashboard.json")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&dashboard).unwrap();
    let exprs: Vec<&str> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|panel| panel["targets"].as_array().unwrap())
        .filter_map(|target| target["expr"].as_str())
        .collect();
    assert!(exprs.len() >= 10, "{exprs:?}");
    for expr in exprs {
        for name in expr
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|word| word.starts_with("connmgr_"))
        {
            // A histogram's series are its name plus a suffix.
            let base = name.trim_end_matches("_bucket");
            assert!(
                docs.contains(&format!("`{base}`")),
                "{name} (in {expr}) is not in docs/METRICS.md"
            );
        }
    }
}
