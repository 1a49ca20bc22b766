//! What a run did, per node and overall.

use std::fmt;
use std::time::Duration;

use crate::attack::EclipseReport;
use crate::node::{NodeIdx, NodeStats};
use connmgr::Network;

/// Outbound counts at one moment, for plotting.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// When, since the run began.
    pub at: Duration,
    /// Automatic outbound established of each followed node.
    pub followed: Vec<u32>,
    /// Mean automatic outbound established over all nodes.
    pub mean: f64,
    /// Dials made by all nodes so far.
    pub dials: u64,
}

/// The outcome of a run that kept every invariant.
#[derive(Clone, Debug)]
pub struct Report {
    /// The run's seed.
    pub seed: u64,
    /// The command that reproduces the run.
    pub command: String,
    /// Virtual time simulated.
    pub duration: Duration,
    /// Each node's automatic outbound target.
    pub target: u32,
    /// Inputs fed to all nodes.
    pub steps: u64,
    /// Per node.
    pub nodes: Vec<NodeStats>,
    /// Outbound counts over time.
    pub samples: Vec<Sample>,
    /// Recorded traces: per traced node, one JSON Lines trace per life.
    pub traces: Vec<(NodeIdx, Vec<Vec<u8>>)>,
    /// What an attack achieved, if the run had one.
    pub eclipse: Option<EclipseReport>,
    /// The address table every book of the network shares: addresses
    /// held and heap bytes (an estimate).
    pub shared_addresses: (usize, usize),
}

impl Report {
    /// Invariant checks run over all nodes.
    pub fn checks(&self) -> u64 {
        self.nodes.iter().map(|n| n.checks).sum()
    }

    /// Nodes that reached their target at some point.
    pub fn reached_target(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| n.time_to_target.is_some())
            .count()
    }

    /// Median time to reach the target, over the nodes that did.
    pub fn median_time_to_target(&self) -> Option<Duration> {
        let mut times: Vec<Duration> = self.nodes.iter().filter_map(|n| n.time_to_target).collect();
        times.sort_unstable();
        times.get(times.len() / 2).copied()
    }

    /// The per-node table, one line per node.
    pub fn node_table(&self) -> String {
        let mut out = String::from(
            "node  to-target  outbound  groups  dials  failures  retries  max-backoff  crashes  checks\n",
        );
        for (i, n) in self.nodes.iter().enumerate() {
            let ttt = n
                .time_to_target
                .map_or("-".to_owned(), |d| format!("{:.1}s", d.as_secs_f64()));
            out.push_str(&format!(
                "{i:>4}  {ttt:>9}  {:>8}  {:>6}  {:>5}  {:>8}  {:>7}  {:>10.1}s  {:>7}  {:>6}\n",
                n.outbound,
                n.outbound_groups,
                n.dials,
                n.failures,
                n.retries,
                n.largest_backoff.as_secs_f64(),
                n.crashes,
                n.checks
            ));
        }
        out
    }
}

impl Report {
    /// In a run with nodes on Tor or I2P: per network of the nodes' own
    /// addresses, how many nodes and their outbound peers' networks.
    fn fmt_networks(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let overlays = self
            .nodes
            .iter()
            .any(|n| matches!(n.network, Some(Network::Onion | Network::I2p)));
        if !overlays {
            return Ok(());
        }
        for network in Network::ALL {
            let on: Vec<&NodeStats> = self
                .nodes
                .iter()
                .filter(|n| n.network == Some(network))
                .collect();
            if on.is_empty() {
                continue;
            }
            let peers: Vec<String> = Network::ALL
                .iter()
                .map(|&to| {
                    let total: u32 = on.iter().map(|n| n.outbound_by_network[to.index()]).sum();
                    (to, f64::from(total) / on.len() as f64)
                })
                .filter(|(_, mean)| *mean > 0.0)
                .map(|(to, mean)| format!("{to} {mean:.2}"))
                .collect();
            writeln!(
                f,
                "  {network} nodes: {}, outbound per node: {}",
                on.len(),
                peers.join(", ")
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for Report {
    /// The overall summary.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nodes = self.nodes.len().max(1);
        let sum = |get: fn(&NodeStats) -> u64| self.nodes.iter().map(get).sum::<u64>();
        let largest_backoff = self
            .nodes
            .iter()
            .map(|n| n.largest_backoff)
            .max()
            .unwrap_or_default();
        let mean_groups =
            self.nodes.iter().map(|n| n.outbound_groups).sum::<usize>() as f64 / nodes as f64;
        let mean_outbound = self
            .nodes
            .iter()
            .map(|n| f64::from(n.outbound))
            .sum::<f64>()
            / nodes as f64;
        let mean_block_relay = self
            .nodes
            .iter()
            .map(|n| f64::from(n.block_relay))
            .sum::<f64>()
            / nodes as f64;
        writeln!(
            f,
            "seed {}: {} nodes, {:.0}s simulated, {} inputs",
            self.seed,
            self.nodes.len(),
            self.duration.as_secs_f64(),
            self.steps
        )?;
        writeln!(
            f,
            "  reached the target of {}: {}/{} nodes, median time {}",
            self.target,
            self.reached_target(),
            self.nodes.len(),
            self.median_time_to_target()
                .map_or("-".to_owned(), |d| format!("{:.1}s", d.as_secs_f64()))
        )?;
        writeln!(
            f,
            "  at the end: {mean_outbound:.2} full-relay and {mean_block_relay:.2} block-relay-only outbound per node, over {mean_groups:.2} groups; {:.0} addresses per book",
            sum(|n| n.book_entries) as f64 / nodes as f64
        )?;
        self.fmt_networks(f)?;
        write!(
            f,
            "  books: {:.1} KB a node, {:.0} B an address",
            sum(|n| n.book_bytes) as f64 / nodes as f64 / 1000.0,
            sum(|n| n.book_bytes) as f64 / sum(|n| n.book_entries).max(1) as f64,
        )?;
        match self.shared_addresses {
            (0, _) => writeln!(f)?,
            (shared, bytes) => writeln!(
                f,
                "; the shared address table {:.1} MB for {shared} addresses",
                bytes as f64 / 1e6
            )?,
        }
        writeln!(
            f,
            "  dials {}, failures {}, retries {}, crashes {}, largest backoff {:.1}s",
            sum(|n| n.dials),
            sum(|n| n.failures),
            sum(|n| n.retries),
            sum(|n| u64::from(n.crashes)),
            largest_backoff.as_secs_f64()
        )?;
        let stops = sum(|n| u64::from(n.clean_stops));
        if stops > 0 {
            writeln!(
                f,
                "  clean stops {stops}: anchors dialled {}, reconnected {}",
                sum(|n| n.anchors_dialled),
                sum(|n| n.anchors_reconnected)
            )?;
        }
        if let Some(eclipse) = &self.eclipse {
            writeln!(f, "{eclipse}")?;
        }
        write!(f, "  invariant checks: {} (all held)", self.checks())
    }
}
