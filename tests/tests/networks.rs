//! A mixed network in the simulator: nodes on IPv4, IPv6, Tor alone and
//! I2P alone, and dual nodes reaching all of them, every step under the
//! invariant checker (routes, reachability, per-network maximums).

use std::time::Duration;

use connmgr::Network;
use connmgr_sim::{FaultProfile, Sim, SimConfig};

#[test]
fn every_node_keeps_to_its_networks_and_a_dual_node_to_its_quotas() {
    let mut config = SimConfig::new(4, 400, Duration::from_secs(600), FaultProfile::none());
    config.onion_percent = 20;
    config.i2p_percent = 10;
    let report = Sim::new(config.clone())
        .run()
        .unwrap_or_else(|failure| panic!("{failure}"));
    assert!(
        report.command.contains("--onion 20 --i2p 10"),
        "{}",
        report.command
    );
    let (mut onion_only, mut i2p_only, mut dual) = (0, 0, 0);
    for (i, node) in report.nodes.iter().enumerate() {
        let on = |network: Network| node.outbound_by_network[network.index()];
        let total: u32 = node.outbound_by_network.iter().sum();
        assert_eq!(
            (node.outbound, node.block_relay),
            (8, 2),
            "node {i} ({:?}) is below its targets",
            node.network
        );
        match node.network {
            Some(Network::Onion) => {
                onion_only += 1;
                assert_eq!(on(Network::Onion), total, "node {i} left Tor");
            }
            Some(Network::I2p) => {
                i2p_only += 1;
                assert_eq!(on(Network::I2p), total, "node {i} left I2P");
            }
            _ if i % 2 == 1 => {
                dual += 1;
                // One per reachable network, at most two on each overlay.
                for overlay in [Network::Onion, Network::I2p] {
                    assert!(
                        (1..=2).contains(&on(overlay)),
                        "dual node {i}: {} on {overlay}",
                        on(overlay)
                    );
                }
            }
            _ => assert_eq!(on(Network::Onion) + on(Network::I2p), 0, "IP node {i}"),
        }
    }
    assert!(onion_only > 20 && i2p_only > 10 && dual > 50);
    let again = Sim::new(config).run().unwrap();
    assert_eq!(again.nodes, report.nodes, "the same run twice");
}
