//! Simulation scenarios (issue 5): whole network runs under the invariant
//! checker, each asserting what the scenario is about.

use std::time::Duration;

use connmgr::AddressBook;
use connmgr_sim::{FaultProfile, Report, Sim, SimConfig};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn run(config: SimConfig) -> Report {
    Sim::new(config)
        .run()
        .unwrap_or_else(|failure| panic!("{failure}"))
}

fn mean_between(report: &Report, from: u64, to: u64) -> f64 {
    let window: Vec<f64> = report
        .samples
        .iter()
        .filter(|s| s.at >= Duration::from_secs(from) && s.at < Duration::from_secs(to))
        .map(|s| s.mean)
        .collect();
    window.iter().sum::<f64>() / window.len().max(1) as f64
}

#[test]
fn bootstrap_of_1000_nodes_from_a_seed_list_reaches_every_target() {
    let report = run(SimConfig::new(11, 1000, secs(300), FaultProfile::none()));
    assert_eq!(report.reached_target(), 1000, "{report}");
    let median = report.median_time_to_target().unwrap();
    assert!(median < secs(60), "median time to target {median:?}");
    for (i, node) in report.nodes.iter().enumerate() {
        assert_eq!(node.outbound, 8, "node {i}");
        assert_eq!(node.block_relay, 2, "node {i}");
        assert_eq!(node.outbound_groups, 10, "node {i}: one outbound per group");
    }
    // The books share one address table: each node's address (and its IP
    // as a source, and the seeder's unspecified one) is stored once for
    // the network, and a book entry is handles and history only.
    let entries: u64 = report.nodes.iter().map(|n| n.book_entries).sum();
    let (shared, _) = report.shared_addresses;
    assert!(
        shared <= 2 * 1000 + 1,
        "{shared} addresses in the shared table"
    );
    assert!(
        (shared as u64) * 10 < entries,
        "{shared} shared for {entries} entries"
    );
    let bytes: u64 = report.nodes.iter().map(|n| n.book_bytes).sum();
    assert!(
        bytes < 160 * entries,
        "{bytes} heap bytes for {entries} book entries"
    );
}

#[test]
fn unreachable_nodes_are_never_announced_and_the_trickle_batches_gossip() {
    let base = SimConfig::new(4, 300, secs(600), FaultProfile::none());
    let scaled = SimConfig {
        reachable_percent: 20,
        addr_trickle: secs(30),
        traced: vec![0, 150],
        ..base.clone()
    };
    let (all, some) = (run(base), run(scaled.clone()));
    // The share and the trickle draw from the seed: the same run twice.
    let again = run(scaled.clone());
    assert!(some.traces.iter().all(|(_, lives)| !lives[0].is_empty()));
    assert_eq!(some.traces, again.traces);
    assert_eq!(format!("{:?}", some.nodes), format!("{:?}", again.nodes));
    for report in [&all, &some] {
        assert_eq!(report.reached_target(), 300, "{report}");
    }
    // Nobody learns the address of a node that accepts no connection, so
    // no dial is ever refused.
    let failures: u64 = some.nodes.iter().map(|n| n.failures).sum();
    assert_eq!(failures, 0, "{some}");
    let reachable = some.nodes.iter().map(|n| n.book_entries).max().unwrap();
    assert!(
        reachable < 300 * 30 / 100,
        "a book of {reachable} addresses: more than the reachable nodes"
    );
    // One message a peer every 30 s on average instead of one a share.
    assert!(
        some.steps * 2 < all.steps,
        "{} inputs with the trickle, {} without",
        some.steps,
        all.steps
    );
    assert!(scaled
        .command()
        .contains("--reachable 20 --addr-trickle 30s"));
}

#[test]
fn partition_and_heal() {
    let faults = FaultProfile {
        name: "partition",
        partition_every: Some(secs(100)),
        partition_for: secs(40),
        ..FaultProfile::none()
    };
    let report = run(SimConfig::new(5, 200, secs(200), faults));
    let before = mean_between(&report, 80, 100);
    let during = mean_between(&report, 101, 140);
    let after = mean_between(&report, 180, 200);
    assert!(before > 7.5, "before the partition: {before}");
    assert!(
        during < before - 1.0,
        "the partition cut connections: {during}"
    );
    assert!(after > 7.5, "healed: {after}");
}

#[test]
fn flapping_permanent_peer_backs_off_but_never_above_the_cap() {
    let faults = FaultProfile {
        name: "flapping",
        resets_per_conn_minute: 3.0,
        ..FaultProfile::none()
    };
    let mut config = SimConfig::new(3, 40, secs(900), faults);
    config.permanent_peers = vec![(1, 0)];
    let report = run(config);
    let backoff = report.nodes[1].largest_backoff;
    assert!(
        backoff > secs(5),
        "the backoff grew past one unit: {backoff:?}"
    );
    assert!(backoff <= secs(300), "never above the cap: {backoff:?}");
}

#[test]
fn empty_address_books_fill_later() {
    let faults = FaultProfile {
        name: "empty-books",
        empty_books: 1.0,
        ..FaultProfile::none()
    };
    // With the application's book, gossip is unlimited; with Bitcoin
    // Core's book inside, peers' addresses come under Core's caps (a token
    // per inbound peer, 0.1 more a second, a getaddr sample cached for a
    // day), so a few nodes find their last group later.
    for (book, at_least) in [(AddressBook::External, 95), (AddressBook::Core, 90)] {
        let mut config = SimConfig::new(8, 100, secs(400), faults.clone());
        config.node_config.address_book = book;
        let report = run(config);
        assert_eq!(
            mean_between(&report, 0, 30),
            0.0,
            "{book:?}: nobody can connect before the seeds arrive"
        );
        let failures: u64 = report.nodes.iter().map(|n| n.failures).sum();
        assert!(
            failures >= 100 * 25,
            "{book:?}: every node failed its way to the throttle: {failures}"
        );
        assert!(report.reached_target() >= at_least, "{book:?}: {report}");
    }
}

#[test]
fn everybody_restarting_at_once_is_held_back_by_the_throttle() {
    let nodes = 300;
    let report = run(SimConfig::new(
        4,
        nodes,
        secs(240),
        FaultProfile::restart_storm(),
    ));
    // Everyone crashes at 120 s and is back at 150 s.
    let dials_at = |t: u64| {
        report
            .samples
            .iter()
            .find(|s| s.at >= Duration::from_secs(t))
            .map_or(0, |s| s.dials)
    };
    let storm = dials_at(160) - dials_at(150);
    // Per node: the target, the 24 immediate replacements before the throttle,
    // then one replacement per slot per throttle interval (5 s).
    let bound = nodes as u64 * (8 + 24 + 8 * 2);
    assert!(
        storm <= bound,
        "{storm} dials in the first 10 s after the restart, bound {bound}"
    );
    assert!(mean_between(&report, 220, 240) > 7.5, "{report}");
}

#[test]
fn same_seed_gives_byte_identical_traces_and_reports() {
    let config = || {
        let mut c = SimConfig::new(21, 60, secs(180), FaultProfile::harsh());
        c.traced = vec![0, 7];
        c
    };
    let (a, b) = (run(config()), run(config()));
    assert!(!a.traces.is_empty() && a.traces.iter().all(|(_, lives)| !lives[0].is_empty()));
    assert_eq!(a.traces, b.traces);
    assert_eq!(format!("{:?}", a.nodes), format!("{:?}", b.nodes));
    assert_eq!(a.samples, b.samples);
    let mut other = config();
    other.seed = 22;
    assert_ne!(run(other).traces, a.traces);
}

#[test]
fn a_simulated_node_trace_replays_identically() {
    let mut config = SimConfig::new(2, 40, secs(300), FaultProfile::mixed());
    config.traced = vec![3];
    let report = run(config);
    let (_, lives) = &report.traces[0];
    for trace in lives {
        let outcome = connmgr::trace::replay(trace.as_slice()).expect("a valid trace");
        assert!(outcome.is_identical(), "{outcome}");
    }
}

/// The CI soak: 1 000 seeds of the mixed-fault scenario, every invariant
/// checked after every input. A failure prints the seed and the command
/// that reproduces it.
#[test]
fn mixed_faults_keep_every_invariant_over_1000_seeds() {
    let mut checks = 0;
    for seed in 0..1000 {
        let report = run(SimConfig::new(seed, 20, secs(120), FaultProfile::mixed()));
        checks += report.checks();
    }
    assert!(checks > 1_000_000, "only {checks} checks ran");
}

/// Every node stops cleanly half-way (saving its block-relay-only peers as
/// anchors) or crashes; back 30 s later, only the cleanly stopped dial
/// anchors, first, and most reconnect.
#[test]
fn anchors_are_reconnected_after_a_clean_restart_and_never_after_a_crash() {
    let nodes = 200;
    let clean = run(SimConfig::new(
        6,
        nodes,
        secs(240),
        FaultProfile::clean_restart(),
    ));
    let sum = |report: &Report, get: fn(&connmgr_sim::NodeStats) -> u64| -> u64 {
        report.nodes.iter().map(get).sum()
    };
    assert_eq!(sum(&clean, |n| u64::from(n.clean_stops)), nodes as u64);
    // Every node had its two block-relay-only peers at the stop.
    let dialled = sum(&clean, |n| n.anchors_dialled);
    assert_eq!(dialled, 2 * nodes as u64, "{clean}");
    let reconnected = sum(&clean, |n| n.anchors_reconnected);
    assert!(
        reconnected * 10 >= dialled * 9,
        "{reconnected} of {dialled} anchors reconnected"
    );
    assert!(mean_between(&clean, 220, 240) > 7.5, "{clean}");

    let crashed = run(SimConfig::new(
        6,
        nodes,
        secs(240),
        FaultProfile::restart_storm(),
    ));
    assert_eq!(sum(&crashed, |n| u64::from(n.crashes)), nodes as u64);
    assert_eq!(sum(&crashed, |n| n.anchors_dialled), 0, "{crashed}");
    assert_eq!(sum(&crashed, |n| n.anchors_reconnected), 0);
}
