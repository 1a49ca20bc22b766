//! The manager's side of the address book inside it: answering its own
//! address requests, learning what peers advertise (with Bitcoin Core's
//! caps), answering `getaddr`, and telling the book how its addresses fared.
//!
//! Caps on what peers send, from Core's `net_processing.cpp`:
//! - one `addr` message carries at most 1 000 addresses; a bigger one is
//!   ignored whole ([`Ignored::TooManyAddresses`]);
//! - each connection has a token bucket of addresses: 0.1 per second, at
//!   most 1 000; an inbound peer starts with 1 token, an outbound one (which
//!   we ask for addresses) with 1 000. Addresses beyond the tokens are
//!   dropped, chosen at random so the sender cannot pick which survive;
//! - a claimed time more than 10 minutes ahead, or before 1973, becomes
//!   "5 days ago"; relayed addresses are aged by 2 hours; port 0 is
//!   dropped; unroutable addresses never enter the book;
//! - addresses are taken only from peers that completed their handshake;
//! - a fresh address (seen in the last 10 minutes) in a small message (at
//!   most 10), new to the book, is relayed to 2 ready peers, picked by a
//!   keyed hash of the address and the day, so that announcements spread.
//!   Core relays whether or not the address is new and remembers per peer
//!   what it sent; relaying only news bounds the flood the same way without
//!   a per-peer filter;
//! - `getaddr` is answered once per connection, only to inbound peers, from
//!   a sample refreshed every 21 to 27 hours, so peers cannot map the book
//!   by asking repeatedly. The sample is also redrawn when the book has
//!   doubled since it was drawn: a node asked while its book was young
//!   would otherwise hand out an empty answer for a day. Doubling bounds
//!   the extra draws to about 17 in a book's life (81 920 addresses).

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use crate::token_bucket::TokenBucket;
use crate::{
    Action, Advertised, Config, ConnId, ConnKind, Direction, GroupKey, Host, Ignored, Instant,
    Network, Networks, PeerAddr, PeerEvent, Subnet,
};

use super::bans::{allowlisted, Bans};
use super::book::{Book, MAX_ADDR_TO_SEND};
use super::conn::Phase;
use super::groups::GroupCounts;
use super::ConnManager;
use crate::ids::keyed_hash;

/// Core `MAX_ADDR_RATE_PER_SECOND`, in thousandths of an address.
const ADDR_MILLI_RATE: u64 = 100;
/// Core `MAX_ADDR_PROCESSING_TOKEN_BUCKET`.
const ADDR_BURST: u32 = 1000;
/// Core: relayed addresses are aged by this much.
const RELAY_PENALTY: Duration = Duration::from_secs(2 * 60 * 60);
/// Core: a claimed time further ahead than this is not believed...
const FUTURE_SLACK: Duration = Duration::from_secs(10 * 60);
/// ...nor one before `TIME_INIT` (1973)...
const TIME_INIT: Instant = Instant::from_secs(100_000_000);
/// ...and is replaced by "this long ago".
const UNBELIEVED_AGE: Duration = Duration::from_secs(5 * 24 * 60 * 60);
/// How long a `getaddr` answer is reused: 21 hours plus up to 6.
const SAMPLE_LIFETIME: Duration = Duration::from_secs(21 * 60 * 60);
const SAMPLE_JITTER_SECS: u64 = 6 * 60 * 60;

/// The addr token bucket a new connection starts with.
pub(super) fn initial_addr_tokens(kind: ConnKind, now: Instant) -> TokenBucket {
    let tokens = if kind == ConnKind::Inbound {
        1
    } else {
        ADDR_BURST
    };
    TokenBucket::holding(tokens, now)
}

/// Most addresses in a message whose fresh ones are relayed (Core).
const MAX_RELAYED: usize = 10;
/// How recent a claimed time must be for the address to be relayed.
const RELAY_FRESH: Duration = Duration::from_secs(10 * 60);
const DAY_NANOS: u64 = 24 * 60 * 60 * 1_000_000_000;

/// The peers whose handshake completed, in a vector with O(1) removal, so
/// that relaying picks among them without scanning every connection.
#[derive(Debug, Default)]
pub(super) struct ReadyPeers {
    ids: Vec<ConnId>,
    at: crate::ids::IdMap<usize>,
}

impl ReadyPeers {
    pub(super) fn insert(&mut self, id: ConnId) {
        if !self.at.contains_key(&id) {
            self.at.insert(id, self.ids.len());
            self.ids.push(id);
        }
    }

    pub(super) fn remove(&mut self, id: ConnId) {
        let Some(i) = self.at.remove(&id) else {
            return;
        };
        self.ids.swap_remove(i);
        if let Some(&moved) = self.ids.get(i) {
            self.at.insert(moved, i);
        }
    }

    /// Up to two peers other than `not`, from `hash`, in O(1).
    fn pick_two(&self, hash: u64, not: ConnId) -> Vec<ConnId> {
        let skip = self.at.get(&not).copied();
        let m = self.ids.len() - usize::from(skip.is_some());
        // The k-th peer that is not `not`.
        let nth = |k: usize| self.ids[k + usize::from(skip.is_some_and(|s| k >= s))];
        match m {
            0 => Vec::new(),
            1 => vec![nth(0)],
            _ => {
                let first = (hash % m as u64) as usize;
                let second = (first + 1 + ((hash >> 32) % (m as u64 - 1)) as usize) % m;
                vec![nth(first), nth(second)]
            }
        }
    }
}

/// The cached answer to `getaddr`.
#[derive(Clone, Debug, Default)]
pub(super) struct SampleCache {
    addrs: Vec<Advertised>,
    expires: Option<Instant>,
    /// Addresses in the book when the sample was drawn.
    drawn_from: usize,
}

impl SampleCache {
    fn is_stale(&self, now: Instant, book_size: usize) -> bool {
        self.expires.is_none_or(|at| now >= at) || book_size >= 2 * self.drawn_from.max(1)
    }
}

/// The source of addresses no peer gave (a seed list, the application).
const UNKNOWN_SOURCE: Host = Host::Ip(IpAddr::V4(Ipv4Addr::UNSPECIFIED));

/// What rules an address out for a connection the book picks.
pub(super) struct Unusable<'a> {
    pub groups: &'a GroupCounts,
    pub bans: &'a Bans,
    pub allowlist: &'a [Subnet],
    pub networks: &'a Networks,
    pub now: Instant,
}

impl<'a> Unusable<'a> {
    /// The rules of `config`, over the connections and bans at `now`.
    pub fn new(groups: &'a GroupCounts, bans: &'a Bans, config: &'a Config, now: Instant) -> Self {
        Unusable {
            groups,
            bans,
            allowlist: &config.allowlist,
            networks: &config.networks,
            now,
        }
    }

    /// Whether `addr` must not be dialled: on an unreachable network,
    /// already connected to (Core connects once per address), or banned
    /// and not allow-listed.
    pub fn rules_out(&self, addr: PeerAddr) -> bool {
        let host = addr.host();
        !self.networks.reachable(addr.network())
            || self.groups.has(addr)
            || (!self.bans.is_empty()
                && self.bans.covers(host, self.now)
                && !allowlisted(self.allowlist, host))
    }

    /// Whether `addr` must not be dialled for a connection that holds a
    /// slot: ruled out, or its network at its outbound limit.
    pub fn rules_out_for_slot(&self, addr: PeerAddr) -> bool {
        let held = self.groups.on_network(addr.network());
        self.rules_out(addr) || !self.networks.takes_outbound(addr.network(), held)
    }
}

impl ConnManager {
    /// Asks for an address for request `id`: from the book inside (answered
    /// before `handle` returns) or from the application.
    pub(super) fn ask_address(&mut self, id: ConnId) {
        self.stats.address_requests += 1;
        if self.book.is_some() {
            self.lookups.push_back(id);
        } else {
            self.emit(Action::RequestAddress { id });
        }
    }

    /// Answers every lookup made while handling the input. Each answer may
    /// lead to another (a replacement after a failure); the failure throttle
    /// and `max_address_retries` bound the chain.
    pub(super) fn answer_lookups(&mut self) {
        while let Some(id) = self.lookups.pop_front() {
            if !self
                .conns
                .get(&id)
                .is_some_and(|conn| conn.phase == Phase::AwaitingAddress)
            {
                continue;
            }
            let full_relay = self.conns.get(&id).map(|c| c.kind) == Some(ConnKind::Automatic);
            let result = self.pick_address(full_relay);
            let _ = self.on_address_result(id, result);
        }
    }

    /// An address from the book: of a reachable network below its maximum;
    /// for a full-relay connection, of a network below its minimum first,
    /// if the book holds any.
    fn pick_address(&mut self, full_relay: bool) -> Result<PeerAddr, crate::AddressError> {
        if let Some(network) = self.network_below_minimum().filter(|_| full_relay) {
            if let Ok(addr) = self.select_address(Some(network)) {
                return Ok(addr);
            }
        }
        self.select_address(None)
    }

    /// The first reachable network with fewer outbound connections than
    /// its minimum whose addresses the book holds.
    pub(super) fn network_below_minimum(&self) -> Option<Network> {
        let (networks, book) = (&self.config.networks, self.book.as_ref()?);
        Network::ALL
            .into_iter()
            .find(|&net| self.groups.on_network(net) < networks.minimum(net) && book.holds(net))
    }

    /// An address for a connection that holds a slot, from `only` network
    /// if given, by the book's rules and the manager's.
    pub(super) fn select_address(
        &mut self,
        only: Option<Network>,
    ) -> Result<PeerAddr, crate::AddressError> {
        let max = self.config.max_outbound_per_group;
        let outbound = self.counts.outbound_established();
        let rules = Unusable::new(&self.groups, &self.bans, &self.config, self.now);
        let Some(book) = self.book.as_mut() else {
            return Err(crate::AddressError::Empty);
        };
        let groups = |group: &GroupKey| rules.groups.get(group);
        let unusable = |addr| rules.rules_out_for_slot(addr);
        book.select(rules.now, groups, unusable, max, outbound, only)
    }

    pub(super) fn on_learned(
        &mut self,
        from: Option<ConnId>,
        addrs: Vec<Advertised>,
    ) -> Result<(), Ignored> {
        let fetched = self.fetch_answered(from, addrs.len());
        if self.book.is_none() {
            // Without a book the addresses went to the application's
            // source, but an address fetch's answer still ends it.
            return match fetched {
                Some(id) => {
                    self.addresses_fetched(id);
                    Ok(())
                }
                None => Err(Ignored::NoBook),
            };
        }
        let now = self.now;
        let rate_limited = self.book.as_ref().is_none_or(Book::rate_limits_addresses);
        let (source, penalty, mut offered) = match from {
            // The application's own: seeds, DNS, configuration.
            None => (UNKNOWN_SOURCE, Duration::ZERO, addrs),
            Some(id) => {
                let conn = self.conns.get_mut(&id).ok_or(Ignored::UnknownId(id))?;
                if conn.phase != Phase::Established || !conn.handshaked {
                    return Err(Ignored::NotReady(id));
                }
                if !conn.kind.relays_addresses() {
                    return Err(Ignored::NotAllowed {
                        id,
                        why: "no addresses over block-relay-only or feeler connections",
                    });
                }
                if addrs.len() > MAX_ADDR_TO_SEND {
                    self.stats.address_messages_oversized += 1;
                    return Err(Ignored::TooManyAddresses {
                        id,
                        count: addrs.len(),
                    });
                }
                let source = conn.addr.map_or(UNKNOWN_SOURCE, |a| a.host());
                let mut addrs = addrs;
                // Which addresses the tokens cover is ours to choose.
                shuffle(&mut addrs, &mut self.rng);
                let n = u32::try_from(addrs.len()).unwrap_or(u32::MAX);
                let allowed = if rate_limited {
                    conn.addr_tokens
                        .take_up_to(now, ADDR_MILLI_RATE, ADDR_BURST, n)
                } else {
                    n
                };
                let dropped = addrs.len() - allowed as usize;
                addrs.truncate(allowed as usize);
                self.stats.addresses_rate_limited += dropped as u64;
                (source, RELAY_PENALTY, addrs)
            }
        };
        offered.retain(|a| a.addr.is_dialable());
        let claimed: Vec<(PeerAddr, Instant)> = offered
            .iter()
            .map(|a| {
                let believed = a.seen > TIME_INIT && a.seen <= now + FUTURE_SLACK;
                let seen = if believed {
                    a.seen
                } else {
                    now - UNBELIEVED_AGE
                };
                (a.addr, seen)
            })
            .collect();
        self.stats.addresses_offered += claimed.len() as u64;
        let added = self
            .book
            .as_mut()
            .map_or_else(Vec::new, |book| book.learn(now, &claimed, source, penalty));
        self.stats.addresses_learned += added.len() as u64;
        if let (Some(from), true) = (from, claimed.len() <= MAX_RELAYED) {
            let fresh = claimed
                .iter()
                .filter(|&&(addr, seen)| now - seen < RELAY_FRESH && added.contains(&addr))
                .copied();
            self.relay(from, fresh.collect());
        }
        if let Some(id) = fetched {
            self.addresses_fetched(id);
        }
        Ok(())
    }

    /// Passes fresh announcements on to 2 ready peers each (not back to
    /// `from`), one message per peer.
    fn relay(&mut self, from: ConnId, addrs: Vec<(PeerAddr, Instant)>) {
        let day = self.now.as_nanos() / DAY_NANOS;
        let mut outgoing: std::collections::BTreeMap<ConnId, Vec<Advertised>> = Default::default();
        for (addr, seen) in addrs {
            let hash = match addr.host() {
                Host::Ip(IpAddr::V4(v4)) => keyed_hash(
                    self.relay_key,
                    &(v4.to_ipv6_mapped().octets(), addr.port(), day),
                ),
                Host::Ip(IpAddr::V6(v6)) => {
                    keyed_hash(self.relay_key, &(v6.octets(), addr.port(), day))
                }
                host => keyed_hash(self.relay_key, &(host, addr.port(), day)),
            };
            for peer in self.ready.pick_two(hash, from) {
                outgoing
                    .entry(peer)
                    .or_default()
                    .push(Advertised::new(addr, seen));
            }
        }
        for (id, addrs) in outgoing {
            self.stats.addresses_relayed += addrs.len() as u64;
            self.emit(Action::NotifyPeer(PeerEvent::ShareAddresses { id, addrs }));
        }
    }

    pub(super) fn on_addresses_requested(&mut self, id: ConnId) -> Result<(), Ignored> {
        if self.book.is_none() {
            return Err(Ignored::NoBook);
        }
        let conn = self.conns.get_mut(&id).ok_or(Ignored::UnknownId(id))?;
        if conn.phase != Phase::Established || !conn.handshaked {
            return Err(Ignored::NotReady(id));
        }
        if conn.kind != ConnKind::Inbound {
            // Answering outbound peers would let them fingerprint us.
            return Err(Ignored::NotAllowed {
                id,
                why: "addresses are shared with inbound peers only",
            });
        }
        if conn.addresses_shared {
            return Err(Ignored::NotAllowed {
                id,
                why: "addresses are shared once per connection",
            });
        }
        conn.addresses_shared = true;
        let now = self.now;
        let book_size = self.book.as_ref().map_or(0, |b| {
            let counts = b.counts();
            counts.new + counts.tried
        });
        if self.sample.is_stale(now, book_size) {
            let jitter = Duration::from_secs(self.rng.below(SAMPLE_JITTER_SECS));
            self.sample.addrs = self.book.as_mut().map_or(Vec::new(), |b| b.sample(now));
            self.sample.expires = Some(now + SAMPLE_LIFETIME + jitter);
            self.sample.drawn_from = book_size;
        }
        let addrs = self.sample.addrs.clone();
        self.stats.address_samples_shared += 1;
        self.emit(Action::NotifyPeer(PeerEvent::ShareAddresses { id, addrs }));
        Ok(())
    }

    /// A dial of an outbound connection ended, either way: the book counts
    /// the attempt, as a failure only if the node looks online (two or more
    /// outbound connections), as Core does, so that an offline spell does
    /// not condemn the whole book.
    pub(super) fn book_dial_ended(&mut self, addr: Option<PeerAddr>) {
        let online = self.counts.outbound_established() >= 2;
        if let (Some(book), Some(addr)) = (self.book.as_mut(), addr) {
            book.attempted(self.now, addr, online);
        }
    }

    /// A peer completed its handshake. An outbound peer's address is
    /// good; an inbound peer's only to bitcoind 0.9.3's book.
    pub(super) fn book_good(&mut self, addr: PeerAddr, direction: Direction) {
        let Some(book) = self.book.as_mut() else {
            return;
        };
        match direction {
            Direction::Outbound => book.good(self.now, addr),
            Direction::Inbound if book.trusts_inbound_handshakes() => {
                if let Some(addr) = addr.socket_addr() {
                    book.inbound_good(self.now, addr)
                }
            }
            Direction::Inbound => {}
        }
    }

    /// An established connection ended: if it was a working outbound one,
    /// its address was alive until now (Core's `Connected`, told only at
    /// the end so the book's timestamps do not reveal live peers).
    pub(super) fn book_lost(&mut self, ended: (ConnKind, bool, Option<PeerAddr>)) {
        let (kind, handshaked, addr) = ended;
        let working_outbound = kind != ConnKind::Inbound && handshaked;
        if let (Some(book), Some(addr), true) = (self.book.as_mut(), addr, working_outbound) {
            book.connected(self.now, addr);
        }
    }
}

/// Fisher-Yates with the manager's generator.
fn shuffle<T>(items: &mut [T], rng: &mut crate::Rng) {
    for i in (1..items.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        items.swap(i, j);
    }
}
