//! What the application knows of a peer and the manager cannot see: how
//! fast it answers, whether it brings new blocks and transactions, what it
//! asked for. Inbound eviction weighs these (see [`eviction`](crate::eviction)).

use std::time::Duration;

use crate::Instant;

/// One fact about the peer of a connection, reported with
/// [`Input::PeerFact`](crate::Input::PeerFact).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum PeerFact {
    /// A ping's round trip; the lowest one counts (a peer cannot be made
    /// nearer by an attacker, only slower).
    Ping(Duration),
    /// The peer just gave us a block we did not have.
    NovelBlock,
    /// The peer just gave us a transaction we accepted.
    NovelTransaction,
    /// Whether the peer asked for transaction relay (its `version`
    /// message's relay flag): a peer that does not is block-relay-only.
    RelaysTransactions(bool),
    /// Whether the peer offers the services this node needs from it
    /// (Bitcoin Core: `NODE_NETWORK` and `NODE_WITNESS`).
    RelevantServices(bool),
    /// Whether the peer loaded a bloom filter (BIP37).
    BloomFilter(bool),
    /// The peer has Bitcoin Core's `noban` permission: never evicted, never
    /// banned for misbehaviour.
    NoBan,
    /// Evict this peer before the others that eviction does not protect
    /// (Bitcoin Core: a discouraged address).
    PreferEvict,
}

/// Everything reported of one peer so far. The default is a peer about
/// which nothing is known: no ping, no block, no transaction, no relay.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PeerFacts {
    /// The lowest ping round trip measured, if any.
    pub min_ping: Option<Duration>,
    /// When the peer last gave us a block we did not have.
    pub last_block: Option<Instant>,
    /// When the peer last gave us a transaction we accepted.
    pub last_tx: Option<Instant>,
    /// Whether the peer asked for transaction relay.
    pub relays_txs: bool,
    /// Whether the peer offers the services a node needs from it.
    pub relevant_services: bool,
    /// Whether the peer loaded a bloom filter (BIP37), which makes it
    /// costly to serve.
    pub bloom_filter: bool,
    /// Whether the peer has the `noban` permission.
    pub noban: bool,
    /// Whether the application asked for this peer to be evicted first.
    pub prefer_evict: bool,
}

impl PeerFacts {
    /// Takes `fact` in, reported at `now`.
    pub fn record(&mut self, fact: PeerFact, now: Instant) {
        match fact {
            PeerFact::Ping(rtt) => {
                self.min_ping = Some(self.min_ping.map_or(rtt, |min| min.min(rtt)));
            }
            PeerFact::NovelBlock => self.last_block = Some(now),
            PeerFact::NovelTransaction => self.last_tx = Some(now),
            PeerFact::RelaysTransactions(yes) => self.relays_txs = yes,
            PeerFact::RelevantServices(yes) => self.relevant_services = yes,
            PeerFact::BloomFilter(yes) => self.bloom_filter = yes,
            PeerFact::NoBan => self.noban = true,
            PeerFact::PreferEvict => self.prefer_evict = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lowest_ping_and_the_latest_block_count() {
        let mut facts = PeerFacts::default();
        facts.record(PeerFact::Ping(Duration::from_millis(80)), Instant::ZERO);
        facts.record(PeerFact::Ping(Duration::from_millis(30)), Instant::ZERO);
        facts.record(PeerFact::Ping(Duration::from_millis(50)), Instant::ZERO);
        facts.record(PeerFact::NovelBlock, Instant::from_secs(5));
        facts.record(PeerFact::NovelBlock, Instant::from_secs(9));
        assert_eq!(facts.min_ping, Some(Duration::from_millis(30)));
        assert_eq!(facts.last_block, Some(Instant::from_secs(9)));
        assert_eq!(facts.last_tx, None);
    }
}
