//! An eclipse attacker in the simulator: the addresses it holds, how it
//! behaves, and what counts as its success.
//!
//! The attacker's addresses are simulated nodes of their own (no address
//! book, room for any number of inbound connections). From `start` on,
//! each keeps a permanent connection to the victim, occupying its inbound
//! slots, and every connection an attacker node has (inbound from the
//! victim's dials too) carries its advertisements: attacker addresses,
//! mixed with "trash" (unroutable or unreachable addresses) that fill the
//! victim's book without giving it honest peers. After `period` the victim
//! restarts, cleanly or not; the attack succeeds when every outbound
//! connection the victim then holds (full-relay and block-relay-only,
//! anchors included) goes to the attacker.

use std::collections::HashSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;
use std::time::Duration;

use connmgr::{Host, PeerAddr, Rng};

use crate::addresses::{byte, routable_v4_prefix, DEFAULT_PORT};
use crate::faults::Shutdown;

/// Who attacks, with how many addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttackModel {
    /// One address per bot, each in a /16 of its own drawn over the
    /// routable IPv4 space (bots sit in residential networks everywhere).
    Botnet {
        /// Bots.
        bots: usize,
    },
    /// `groups` /16s with `per_group` addresses each (rented hosting).
    Infrastructure {
        /// Network groups.
        groups: usize,
        /// Addresses in each.
        per_group: usize,
    },
}

impl AttackModel {
    /// How many addresses the attacker holds.
    pub fn addresses(self) -> usize {
        match self {
            AttackModel::Botnet { bots } => bots,
            AttackModel::Infrastructure { groups, per_group } => groups * per_group,
        }
    }

    /// How many network groups (/16s) its addresses span: one per bot.
    pub fn groups(self) -> usize {
        match self {
            AttackModel::Botnet { bots } => bots,
            AttackModel::Infrastructure { groups, .. } => groups,
        }
    }
}

impl fmt::Display for AttackModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttackModel::Botnet { bots } => write!(f, "botnet:{bots}"),
            AttackModel::Infrastructure { groups, per_group } => {
                write!(f, "infrastructure:{groups}x{per_group}")
            }
        }
    }
}

/// `botnet:N` or `infrastructure:SxT`.
impl FromStr for AttackModel {
    type Err = String;

    fn from_str(text: &str) -> Result<AttackModel, String> {
        let bad = || {
            format!(
                "bad attack {text:?}: write botnet:N (N bots) or infrastructure:SxT (S /16 groups of T addresses)"
            )
        };
        let number = |s: &str| s.parse::<usize>().ok().filter(|n| *n > 0);
        match text.split_once(':') {
            Some(("botnet", n)) => match number(n) {
                Some(bots) if bots > MAX_BOTS => Err(format!(
                    "a botnet of {bots} bots needs as many /16s; IPv4 has about {MAX_BOTS} routable ones to give"
                )),
                Some(bots) => Ok(AttackModel::Botnet { bots }),
                None => Err(bad()),
            },
            Some(("infrastructure", st)) => {
                let (s, t) = st.split_once('x').ok_or_else(bad)?;
                match (number(s), number(t)) {
                    (Some(groups), Some(per_group)) if per_group <= 65_000 => {
                        Ok(AttackModel::Infrastructure { groups, per_group })
                    }
                    _ => Err(bad()),
                }
            }
            _ => Err(bad()),
        }
    }
}

/// An attack on one node of a simulated network.
#[derive(Clone, Debug, PartialEq)]
pub struct Attack {
    /// The attacker.
    pub model: AttackModel,
    /// When the attack begins (the honest network has settled by then).
    pub start: Duration,
    /// How long it lasts before the victim restarts.
    pub period: Duration,
    /// How the victim goes down.
    pub restart: Shutdown,
    /// The share of trash among the addresses the attacker advertises.
    pub trash: f64,
    /// How often each attacker connection advertises (a full message of
    /// 1 000 addresses, what one `addr` message may carry).
    pub advertise_every: Duration,
    /// `None`: each attacker address holds a connection to the victim.
    /// `Some(round)`: the 2015 paper's attacker, which connects from every
    /// address once a round (at a random moment in it), completes the
    /// handshake, advertises once and leaves, so that far more addresses
    /// than the victim has inbound slots pass through them.
    pub round: Option<Duration>,
}

impl Attack {
    /// `model` from 60 s on, for `period`, the victim then crashing;
    /// half of what is advertised is trash, a message every 30 s.
    pub fn new(model: AttackModel, period: Duration) -> Attack {
        Attack {
            model,
            start: START,
            period,
            restart: Shutdown::Crash,
            trash: 0.5,
            advertise_every: Duration::from_secs(30),
            round: None,
        }
    }
}

/// When an attack begins by default: the honest network has settled.
pub const START: Duration = Duration::from_secs(60);

/// The most bots a botnet may have here: one routable /16 each.
pub const MAX_BOTS: usize = 50_000;

/// Most addresses in one advertisement (Bitcoin's `addr` message cap).
pub const MESSAGE: usize = 1000;

/// The attacker's addresses under `model`: routable, distinct, none in
/// `taken` (the honest network's).
pub fn attacker_addresses(
    model: AttackModel,
    rng: &mut Rng,
    taken: &HashSet<PeerAddr>,
) -> Vec<PeerAddr> {
    let mut out = Vec::with_capacity(model.addresses());
    let mut seen = HashSet::new();
    let mut push = |ip: Ipv4Addr, out: &mut Vec<PeerAddr>| {
        let addr = PeerAddr::new(Host::Ip(IpAddr::V4(ip)), DEFAULT_PORT);
        if !taken.contains(&addr) && seen.insert(addr) {
            out.push(addr);
            true
        } else {
            false
        }
    };
    match model {
        AttackModel::Botnet { bots } => {
            let mut groups = HashSet::new();
            // Bounded: the routable /16s number about 55 000.
            for _ in 0..bots * 20 + 1000 {
                if out.len() == bots {
                    break;
                }
                let [a, b] = routable_v4_prefix(rng);
                if groups.insert([a, b]) {
                    push(Ipv4Addr::new(a, b, byte(rng), byte(rng).max(1)), &mut out);
                }
            }
        }
        AttackModel::Infrastructure { groups, per_group } => {
            let mut prefixes = HashSet::new();
            for _ in 0..groups * 20 + 1000 {
                if prefixes.len() == groups {
                    break;
                }
                let prefix = routable_v4_prefix(rng);
                if !prefixes.insert(prefix) {
                    continue;
                }
                let [a, b] = prefix;
                let mut host = 0u32;
                let mut placed = 0;
                while placed < per_group && host < 65_536 {
                    let [c, d] = (host as u16).to_be_bytes();
                    host += 1;
                    if d != 0 && push(Ipv4Addr::new(a, b, c, d), &mut out) {
                        placed += 1;
                    }
                }
            }
        }
    }
    out
}

/// A trash address: unroutable (10/8, which books refuse) or routable but
/// nobody's (a dial to it fails).
pub fn trash_address(rng: &mut Rng) -> PeerAddr {
    let ip = if rng.unit() < 0.5 {
        Ipv4Addr::new(10, byte(rng), byte(rng), byte(rng).max(1))
    } else {
        let [a, b] = routable_v4_prefix(rng);
        Ipv4Addr::new(a, b, byte(rng), byte(rng).max(1))
    };
    PeerAddr::new(Host::Ip(IpAddr::V4(ip)), DEFAULT_PORT)
}

/// What the attack achieved, measured on the victim.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EclipseReport {
    /// The attacker (`botnet:N`, `infrastructure:SxT`).
    pub attack: String,
    /// Automatic outbound connections (full-relay and block-relay-only)
    /// the victim held at the end.
    pub outbound: u32,
    /// Of those, to the attacker.
    pub to_attacker: u32,
    /// Whether the victim restarted and every one of them went to the
    /// attacker (and there was one).
    pub eclipsed: bool,
    /// From the victim's restart to the moment since which it has been
    /// eclipsed without a break (at the sampling interval), if it ends
    /// eclipsed.
    pub time_to_eclipse: Option<Duration>,
    /// The attacker's addresses in the victim's tried table, and its size,
    /// at the end.
    pub tried: (usize, usize),
    /// The same for the new table (trash included in its size).
    pub new: (usize, usize),
    /// The attacker's addresses in the victim's tried table, and its size,
    /// when the victim went down to restart (if it did).
    pub tried_at_restart: Option<(usize, usize)>,
    /// The attacker's share of the victim's tried and new tables over
    /// time: `(virtual time, tried, new)`, a sample a minute.
    pub over_time: Vec<(Duration, f64, f64)>,
}

impl fmt::Display for EclipseReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let share = |(a, n): (usize, usize)| a as f64 / n.max(1) as f64 * 100.0;
        write!(
            f,
            "  attack {}: the victim {} ({} of {} outbound to the attacker{}); attacker share of tried {:.1}% ({} of {}), of new {:.1}% ({} of {})",
            self.attack,
            if self.eclipsed { "is eclipsed" } else { "is not eclipsed" },
            self.to_attacker,
            self.outbound,
            self.time_to_eclipse
                .map_or(String::new(), |t| format!(", eclipsed {:.0}s after its restart", t.as_secs_f64())),
            share(self.tried),
            self.tried.0,
            self.tried.1,
            share(self.new),
            self.new.0,
            self.new.1,
        )?;
        if !self.over_time.is_empty() {
            write!(f, "\n  attacker share of tried / new, by minute:")?;
            for (at, tried, new) in &self.over_time {
                write!(
                    f,
                    " {}m {:.0}/{:.0}%",
                    at.as_secs() / 60,
                    tried * 100.0,
                    new * 100.0
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use connmgr::group::is_routable;
    use connmgr::GroupKey;

    #[test]
    fn models_parse_and_bad_ones_say_what_to_write() {
        assert_eq!(
            "botnet:4600".parse(),
            Ok(AttackModel::Botnet { bots: 4600 })
        );
        assert_eq!(
            "infrastructure:32x256".parse(),
            Ok(AttackModel::Infrastructure {
                groups: 32,
                per_group: 256
            })
        );
        for bad in ["botnet", "botnet:0", "infra:3x4", "infrastructure:3", "x"] {
            let err = bad.parse::<AttackModel>().unwrap_err();
            assert!(err.contains("botnet:N"), "{err}");
        }
    }

    #[test]
    fn a_botnet_has_one_address_per_group_and_infrastructure_few_groups() {
        let taken = HashSet::new();
        let bots = attacker_addresses(AttackModel::Botnet { bots: 500 }, &mut Rng::new(1), &taken);
        let groups: HashSet<_> = bots.iter().map(|a| GroupKey::of_host(a.host())).collect();
        assert_eq!((bots.len(), groups.len()), (500, 500));
        let model = AttackModel::Infrastructure {
            groups: 4,
            per_group: 300,
        };
        let infra = attacker_addresses(model, &mut Rng::new(1), &taken);
        let groups: HashSet<_> = infra.iter().map(|a| GroupKey::of_host(a.host())).collect();
        let distinct: HashSet<_> = infra.iter().collect();
        assert_eq!((infra.len(), groups.len(), distinct.len()), (1200, 4, 1200));
        assert!(infra.iter().all(|a| a.host().ip().is_some_and(is_routable)));
    }
}
