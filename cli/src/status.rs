//! The node's periodic status line, and why the node is below its outbound
//! target when it is: what an operator looks at first.

use connmgr::{Config, Counts, Network, Stats};

/// One status line: what the node holds, what it did, and, when it is
/// below its targets, why (from what changed since `before`).
pub fn status_line(config: &Config, counts: &Counts, before: &Stats, now: &Stats) -> String {
    let mut line = format!(
        "status: outbound {} (automatic {}, block-relay {}, permanent {}, manual {})  feeler {}  \
         addr-fetch {}  inbound {}  pending {}  retrying {}  | dials {}, failed {}, timed out {}",
        counts.outbound_established(),
        counts.automatic_established,
        counts.block_relay_established,
        counts.permanent_established,
        counts.manual_established,
        counts.feelers,
        counts.addr_fetches,
        counts.inbound,
        counts.dialing,
        counts.outbound_pending().saturating_sub(counts.dialing),
        now.dials,
        now.dial_failures,
        now.dial_timeouts,
    );
    let why = below_target(config, counts, before, now);
    if !why.is_empty() {
        line.push_str("  | below target: ");
        line.push_str(&why.join("; "));
    }
    line
}

/// Why automatic connections are short of their targets, from the
/// counters' changes since the last status line; empty when they are met
/// (or there are none to keep).
pub fn below_target(config: &Config, counts: &Counts, before: &Stats, now: &Stats) -> Vec<String> {
    let full_relay = counts.automatic_established < config.target_outbound;
    let block_relay = counts.block_relay_established < config.block_relay_outbound;
    if !config.automatic_outbound || !(full_relay || block_relay) {
        return Vec::new();
    }
    let delta = |field: fn(&Stats) -> u64| field(now).saturating_sub(field(before));
    let mut why = Vec::new();
    if delta(|s| s.address_failures) > 0 {
        why.push("no addresses to dial (the book is empty or every address was tried; add --seed or peers)".to_owned());
    }
    let group_full = delta(|s| s.addresses_refused_group_full);
    if group_full > 0 {
        why.push(format!(
            "groups full ({group_full} addresses refused: their network group already has max_outbound_per_group connections)"
        ));
    }
    let network = delta(|s| s.addresses_refused_network);
    if network > 0 {
        why.push(format!(
            "network limits ({network} addresses on unreachable networks or networks at their max_outbound)"
        ));
    }
    let throttled = delta(|s| s.throttled_replacements);
    if throttled > 0 {
        why.push(format!(
            "throttled ({throttled} replacements waited throttle_interval after {} failed attempts)",
            config.max_failed_attempts
        ));
    }
    let failed = delta(|s| s.dial_failures) + delta(|s| s.dial_timeouts);
    if failed > 0 && delta(|s| s.dial_successes) == 0 {
        let proxies: Vec<String> = Network::ALL
            .iter()
            .filter_map(|&n| config.networks.get(n).proxy.map(|p| p.addr.to_string()))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        if proxies.is_empty() {
            why.push(format!(
                "every dial failed ({failed} since the last status)"
            ));
        } else {
            why.push(format!(
                "every dial failed ({failed} since the last status): is the proxy at {} up?",
                proxies.join(", ")
            ));
        }
    }
    if why.is_empty() && counts.outbound_pending() > 0 {
        why.push("connecting".to_owned());
    }
    why
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(set: impl FnOnce(&mut Stats)) -> Stats {
        let mut stats = Stats::default();
        set(&mut stats);
        stats
    }

    fn short() -> (Config, Counts) {
        let config = Config::default();
        let counts = Counts {
            automatic_established: 3,
            block_relay_established: 2,
            ..Counts::default()
        };
        (config, counts)
    }

    #[test]
    fn a_node_at_its_targets_says_nothing_more() {
        let config = Config::default();
        let counts = Counts {
            automatic_established: 8,
            block_relay_established: 2,
            ..Counts::default()
        };
        let now = stats(|s| {
            s.dial_failures = 5;
        });
        assert!(below_target(&config, &counts, &Stats::default(), &now).is_empty());
        let line = status_line(&config, &counts, &Stats::default(), &now);
        assert!(!line.contains("below target"), "{line}");
    }

    #[test]
    fn each_cause_is_named_from_what_changed() {
        let (config, counts) = short();
        let before = Stats::default();
        let now = stats(|s| {
            s.address_failures = 1;
            s.addresses_refused_group_full = 4;
            s.throttled_replacements = 2;
            s.dial_failures = 3;
        });
        let why = below_target(&config, &counts, &before, &now).join("; ");
        assert!(why.contains("no addresses"), "{why}");
        assert!(why.contains("groups full (4 addresses"), "{why}");
        assert!(why.contains("throttled (2 replacements"), "{why}");
        assert!(why.contains("every dial failed (3 since"), "{why}");
        // Nothing changed since: nothing to blame but the connecting.
        assert!(below_target(&config, &counts, &now, &now).is_empty());
    }

    #[test]
    fn failing_dials_through_a_proxy_ask_whether_it_is_up() {
        let (mut config, counts) = short();
        config.networks.onion.proxy = Some(connmgr::Proxy::new(([127, 0, 0, 1], 9050).into()));
        let now = stats(|s| {
            s.dial_failures = 2;
        });
        let why = below_target(&config, &counts, &Stats::default(), &now).join("; ");
        assert!(why.contains("is the proxy at 127.0.0.1:9050 up?"), "{why}");
        let succeeded = {
            let mut s = now;
            s.dial_successes = 1;
            s
        };
        let why = below_target(&config, &counts, &Stats::default(), &succeeded);
        assert!(why.iter().all(|w| !w.contains("proxy")), "{why:?}");
    }

    #[test]
    fn connect_mode_has_no_target_to_be_below() {
        let (mut config, counts) = short();
        config.automatic_outbound = false;
        let now = stats(|s| {
            s.address_failures = 1;
        });
        assert!(below_target(&config, &counts, &Stats::default(), &now).is_empty());
    }
}
