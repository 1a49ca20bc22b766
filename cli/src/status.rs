//! The node's periodic status line, and why the node is below its outbound
//! target when it is: what an operator looks at first.

use connmgr::{Config, Counts, Network, Stats};

/// Writes the status lines: remembers the counters at the last line, to
/// say what changed, and the last causes found, for the lines of a quiet
/// wait after them (a throttled node retries only every few seconds).
#[derive(Debug, Default)]
pub struct StatusLines {
    before: Stats,
    last_causes: Vec<String>,
}

impl StatusLines {
    /// One status line: what the node holds, what it did, and, when it is
    /// below its targets, why.
    pub fn line(&mut self, config: &Config, counts: &Counts, now: &Stats) -> String {
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
        let short = below(config, counts);
        let causes = if short {
            below_target(config, counts, &self.before, now)
        } else {
            Vec::new()
        };
        self.before = *now;
        if !short {
            self.last_causes.clear();
            return line;
        }
        line.push_str("  | below target: ");
        if !causes.is_empty() {
            line.push_str(&causes.join("; "));
            self.last_causes = causes;
        } else if counts.dialing > 0 {
            line.push_str(&format!("connecting ({} dials in flight)", counts.dialing));
        } else if self.last_causes.is_empty() {
            line.push_str("waiting to retry");
        } else {
            line.push_str("waiting to retry after: ");
            line.push_str(&self.last_causes.join("; "));
        }
        line
    }
}

/// Whether automatic connections are short of their targets.
fn below(config: &Config, counts: &Counts) -> bool {
    config.automatic_outbound
        && (counts.automatic_established < config.target_outbound
            || counts.block_relay_established < config.block_relay_outbound)
}

/// Why automatic connections are short of their targets, from the
/// counters' changes since the last status line; empty when nothing
/// explains it (or they are met, or there are none to keep).
fn below_target(config: &Config, counts: &Counts, before: &Stats, now: &Stats) -> Vec<String> {
    if !below(config, counts) {
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
        let line = StatusLines::default().line(&config, &counts, &now);
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
        // Nothing changed since: nothing new to blame.
        assert!(below_target(&config, &counts, &now, &now).is_empty());
    }

    #[test]
    fn a_quiet_wait_repeats_the_last_causes_found() {
        let (config, counts) = short();
        let waiting = Counts {
            automatic_pending: 5,
            ..counts
        };
        let failed = stats(|s| s.address_failures = 3);
        let mut lines = StatusLines::default();
        let first = lines.line(&config, &waiting, &failed);
        assert!(first.contains("below target: no addresses"), "{first}");
        let second = lines.line(&config, &waiting, &failed);
        assert!(
            second.contains("below target: waiting to retry after: no addresses"),
            "{second}"
        );
        let dialling = Counts {
            dialing: 2,
            ..waiting
        };
        let third = lines.line(&config, &dialling, &failed);
        assert!(third.contains("connecting (2 dials in flight)"), "{third}");
        let met = Counts {
            automatic_established: 8,
            ..dialling
        };
        assert!(!lines.line(&config, &met, &failed).contains("below target"));
        let again = lines.line(&config, &waiting, &failed);
        assert!(again.ends_with("below target: waiting to retry"), "{again}");
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
