//! Which inbound peer to evict when inbound is full: Bitcoin Core's
//! `SelectNodeToEvict`, as a pure function over what is known of each peer.
//!
//! An attacker who fills the inbound slots wants the honest peers evicted
//! to make room for more of its own. Each protection below shelters a few
//! peers by a quality the attacker finds costly to fake: a network group it
//! cannot predict (the group key is secret), a short round trip (it must be
//! physically close), novel transactions and blocks (it must do useful
//! work), long uptime (it must have connected before the attack), and
//! peers over networks that the other criteria disadvantage (Tor, I2P,
//! CJDNS, localhost). Only then is a peer evicted: the youngest of the
//! network group with the most remaining peers, so that an attacker holding
//! many slots from a few groups loses its own connections first.
//!
//! The counts are Bitcoin Core's: 4 by group, 8 by ping, 4 by
//! transactions, up to 8 block-relay-only peers by blocks, 4 by blocks,
//! then half of the rest by uptime (a quarter of them by disadvantaged
//! network). With fewer than 21 candidates nothing is ever evicted; with
//! 29 or more something always is.
//!
//! Ties (Core leaves them to an unstable sort of a shuffled list) go to the
//! peer connected longer, then to the lower id, so that the choice is a
//! function of the candidates whatever their order.
//!
//! ```
//! use connmgr::eviction::{select_to_evict, Candidate};
//! use connmgr::{ConnId, Instant};
//!
//! // 40 peers in two network groups, group 1 the larger. Group 2's
//! // youngest, 39, is the youngest of all, but group 1 loses a peer.
//! let candidates: Vec<Candidate> = (0..40)
//!     .map(|n| Candidate {
//!         keyed_group: if n % 3 == 0 { 2 } else { 1 },
//!         ..Candidate::new(ConnId::from_raw(n), Instant::from_secs(n))
//!     })
//!     .collect();
//! assert_eq!(select_to_evict(candidates), Some(ConnId::from_raw(38)));
//! ```

use std::cmp::Reverse;
use std::collections::HashMap;
use std::time::Duration;

use crate::{ConnId, Instant, Network, PeerFacts};

/// Peers protected by keyed network group.
const PROTECT_BY_GROUP: usize = 4;
/// Peers protected by lowest minimum ping.
const PROTECT_BY_PING: usize = 8;
/// Peers protected by the latest novel transaction.
const PROTECT_BY_TX: usize = 4;
/// Block-relay-only peers protected by the latest novel block.
const PROTECT_BLOCK_RELAY: usize = 8;
/// Peers protected by the latest novel block.
const PROTECT_BY_BLOCK: usize = 4;

/// One inbound connection and what is known of its peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The connection.
    pub id: ConnId,
    /// When it was established.
    pub connected: Instant,
    /// The peer's network group, hashed with the secret eviction key.
    pub keyed_group: u64,
    /// Whether the peer connects from this machine (127.0.0.0/8, ::1).
    pub is_local: bool,
    /// The network the peer came in over.
    pub network: Network,
    /// What the application reported of the peer.
    pub facts: PeerFacts,
}

impl Candidate {
    /// A peer about which nothing is known but its connection time: an
    /// IPv4 peer in keyed group 0, with no facts.
    pub fn new(id: ConnId, connected: Instant) -> Candidate {
        Candidate {
            id,
            connected,
            keyed_group: 0,
            is_local: false,
            network: Network::Ipv4,
            facts: PeerFacts::default(),
        }
    }

    /// The tie-break of every ordering: the longer connected (then the
    /// lower id) is the more deserving.
    fn seniority(&self) -> (Reverse<Instant>, Reverse<ConnId>) {
        (Reverse(self.connected), Reverse(self.id))
    }
}

/// The peer to evict, if any: leaves out `noban` peers, removes the
/// protected candidates step by step, then picks the youngest of the
/// largest remaining network group. The candidates are inbound
/// connections (callers leave out outbound and allow-listed ones).
pub fn select_to_evict(mut candidates: Vec<Candidate>) -> Option<ConnId> {
    let c = &mut candidates;
    c.retain(|x| !x.facts.noban);
    protect(c, PROTECT_BY_GROUP, |x| (x.keyed_group, x.seniority()), all);
    let ping = |x: &Candidate| Reverse(x.facts.min_ping.unwrap_or(Duration::MAX));
    protect(c, PROTECT_BY_PING, |x| (ping(x), x.seniority()), all);
    let tx = |f: &PeerFacts| (f.last_tx, f.relays_txs, !f.bloom_filter);
    protect(c, PROTECT_BY_TX, |x| (tx(&x.facts), x.seniority()), all);
    let block = |f: &PeerFacts| (f.last_block, f.relevant_services);
    let block_relay_only = |f: &PeerFacts| !f.relays_txs && f.relevant_services;
    protect(
        c,
        PROTECT_BLOCK_RELAY,
        |x| (!x.facts.relays_txs, block(&x.facts), x.seniority()),
        |x| block_relay_only(&x.facts),
    );
    protect(
        c,
        PROTECT_BY_BLOCK,
        |x| (block(&x.facts), x.seniority()),
        all,
    );
    protect_by_ratio(c);
    if c.iter().any(|x| x.facts.prefer_evict) {
        c.retain(|x| x.facts.prefer_evict);
    }
    youngest_of_largest_group(c)
}

/// Protects half of the candidates by uptime, keeping up to half of those
/// places for peers over disadvantaged networks (CJDNS, I2P, localhost,
/// Tor), which are slower and would otherwise lose on every other
/// criterion. Networks with fewer candidates choose first; a network that
/// cannot use its share leaves it to the others. Bitcoin Core's
/// `ProtectEvictionCandidatesByRatio`.
pub fn protect_by_ratio(candidates: &mut Vec<Candidate>) {
    let initial = candidates.len();
    let total = initial / 2;
    let mut classes = [
        Class::Net(Network::Cjdns),
        Class::Net(Network::I2p),
        Class::Local,
        Class::Net(Network::Onion),
    ]
    .map(|class| {
        let count = candidates.iter().filter(|c| class.holds(c)).count();
        (class, count)
    });
    // Stable: on equal counts the order above decides.
    classes.sort_by_key(|&(_, count)| count);
    let by_network = total / 2;
    let mut protected = 0;
    while protected < by_network {
        let networks = classes.iter().filter(|(_, count)| *count > 0).count();
        if networks == 0 {
            break;
        }
        let each = ((by_network - protected) / networks).max(1);
        let mut progress = false;
        for (class, count) in classes.iter_mut() {
            if *count == 0 {
                continue;
            }
            let class = *class;
            let before = candidates.len();
            protect(
                candidates,
                each,
                |x| (class.holds(x), x.seniority()),
                |x| class.holds(x),
            );
            let delta = before - candidates.len();
            if delta > 0 {
                progress = true;
                protected += delta;
                if protected >= by_network {
                    break;
                }
                *count -= delta;
            }
        }
        if !progress {
            break;
        }
    }
    let by_uptime = total.saturating_sub(protected);
    protect(candidates, by_uptime, Candidate::seniority, all);
}

/// A group of peers given a share of the uptime protection.
#[derive(Clone, Copy, Debug)]
enum Class {
    Net(Network),
    Local,
}

impl Class {
    fn holds(self, c: &Candidate) -> bool {
        match self {
            Class::Net(network) => c.network == network,
            Class::Local => c.is_local,
        }
    }
}

fn all(_: &Candidate) -> bool {
    true
}

/// Of the `k` candidates ranking highest by `rank`, removes (protects)
/// those that `eligible` accepts: Core's `EraseLastKElements`. `rank` is a
/// total order (every key ends in the id), so the `k` are the same
/// whatever the candidates' order, and a selection finds them in O(n).
fn protect<K: Ord>(
    candidates: &mut Vec<Candidate>,
    k: usize,
    rank: impl Fn(&Candidate) -> K,
    eligible: impl Fn(&Candidate) -> bool,
) {
    let k = k.min(candidates.len());
    if k == 0 {
        return;
    }
    let split = candidates.len() - k;
    if split > 0 {
        candidates.select_nth_unstable_by_key(split, &rank);
    }
    // Keep the ineligible of the top `k` in place, drop the rest.
    let mut kept = split;
    for i in split..candidates.len() {
        if !eligible(&candidates[i]) {
            candidates.swap(kept, i);
            kept += 1;
        }
    }
    candidates.truncate(kept);
}

/// The youngest member of the group with the most candidates (ties: the
/// group whose youngest member is youngest).
fn youngest_of_largest_group(candidates: &[Candidate]) -> Option<ConnId> {
    let mut groups: HashMap<u64, (usize, (Instant, ConnId))> = HashMap::new();
    for c in candidates {
        let young = (c.connected, c.id);
        let group = groups.entry(c.keyed_group).or_insert((0, young));
        group.0 += 1;
        group.1 = group.1.max(young);
    }
    groups
        .into_values()
        .max()
        .map(|(_, (_, youngest))| youngest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(n: u64) -> Candidate {
        Candidate::new(ConnId::from_raw(n), Instant::from_secs(n))
    }

    #[test]
    fn ties_go_the_same_way_whatever_the_candidates_order() {
        // Connected in fours at the same second, in two groups.
        let forward: Vec<Candidate> = (0..40)
            .map(|n| Candidate {
                connected: Instant::from_secs(n / 4),
                keyed_group: n % 2,
                ..peer(n)
            })
            .collect();
        let mut backward = forward.clone();
        backward.reverse();
        let mut shuffled = forward.clone();
        shuffled.rotate_left(17);
        let evicted = select_to_evict(forward);
        // Among the youngest four (36..=39), group 1 (odd) and group 0
        // tie; the youngest member by id is 39.
        assert_eq!(evicted, Some(ConnId::from_raw(39)));
        assert_eq!(select_to_evict(backward), evicted);
        assert_eq!(select_to_evict(shuffled), evicted);
    }

    #[test]
    fn a_preferred_peer_goes_first_once_the_protections_are_done() {
        let mut candidates: Vec<Candidate> = (0..40).map(peer).collect();
        candidates[30].facts.prefer_evict = true;
        assert_eq!(select_to_evict(candidates), Some(ConnId::from_raw(30)));
    }

    #[test]
    fn a_preferred_peer_that_is_protected_stays() {
        let mut candidates: Vec<Candidate> = (0..40).map(peer).collect();
        // The oldest is protected by the group step (one group for all:
        // seniority decides).
        candidates[0].facts.prefer_evict = true;
        assert_eq!(select_to_evict(candidates), Some(ConnId::from_raw(39)));
    }

    #[test]
    fn a_noban_peer_is_never_evicted() {
        let mut candidates: Vec<Candidate> = (0..40).map(peer).collect();
        candidates[39].facts.noban = true;
        assert_eq!(select_to_evict(candidates), Some(ConnId::from_raw(38)));
    }
}
