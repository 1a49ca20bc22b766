//! The address book the manager owns (when `Config::address_book` is not
//! `External`): one interface over btcd's book and Bitcoin Core's, so the
//! manager's rules do not care which it holds.
//!
//! btcd's book knows IP addresses only (btcd's `addrmgr` before `addrv2`,
//! which reached Tor through OnionCat IPv6 addresses): an onion, I2P or
//! CJDNS address offered to it is not taken. Core's book takes every
//! network, grouped as Core groups them.

use std::net::SocketAddr;
use std::time::Duration;

use crate::addrbook::{AddrBook, Flavor, SelectPolicy};
use crate::addrman::{AddrMan, AddressTable, BucketKey};
use crate::{
    AddressBook, AddressError, Advertised, BookCounts, Config, GroupKey, Host, Instant, Keys,
    Network, PeerAddr,
};

/// Bitcoin Core `MAX_ADDR_TO_SEND`: the most addresses one `addr` message
/// may carry and one `getaddr` answer holds.
pub(crate) const MAX_ADDR_TO_SEND: usize = 1000;
/// Bitcoin Core `MAX_PCT_ADDR_TO_SEND`: a `getaddr` answer holds at most
/// this share of the book, so one question cannot download it.
const MAX_PCT_ADDR_TO_SEND: usize = 23;

#[derive(Debug)]
pub(crate) enum Book {
    Btcd {
        book: Box<AddrBook>,
        policy: SelectPolicy,
    },
    Core(Box<AddrMan>),
}

impl Book {
    /// An empty book of the configured kind, keyed by `keys`; `None` for
    /// `External`.
    pub fn new(config: &Config, keys: &Keys) -> Option<Book> {
        let accept = config.book_accepts_unroutable;
        match config.address_book {
            AddressBook::External => None,
            AddressBook::Btcd | AddressBook::Bitcoind093 => {
                // Keyed so that it equals a book rebuilt from its snapshot.
                let flavor = btcd_flavor(config.address_book);
                let mut book = AddrBook::keyed_as(flavor, btcd_key(keys), keys.book);
                book.set_accept_unroutable(accept);
                Some(Book::btcd(book, config))
            }
            AddressBook::Core => {
                let mut book = AddrMan::new(BucketKey::from_bytes(keys.addrman), keys.book);
                book.set_accept_unroutable(accept);
                Some(Book::Core(Box::new(book)))
            }
        }
    }

    fn btcd(book: AddrBook, config: &Config) -> Book {
        Book::Btcd {
            book: Box::new(book),
            policy: SelectPolicy {
                max_per_group: config.max_outbound_per_group,
                ..SelectPolicy::default()
            },
        }
    }

    /// An estimate of the book's heap, without a shared address table.
    pub fn heap_bytes(&self) -> usize {
        match self {
            Book::Btcd { book, .. } => book.heap_bytes(),
            Book::Core(book) => book.heap_bytes(),
        }
    }

    pub fn share_addresses(&mut self, table: &AddressTable) {
        if let Book::Core(book) = self {
            book.share_addresses(table);
        }
    }

    pub fn counts(&self) -> BookCounts {
        match self {
            Book::Btcd { book, .. } => BookCounts {
                new: book.new_len(),
                tried: book.tried_len(),
                collisions: 0,
            },
            Book::Core(book) => BookCounts {
                new: book.new_len(),
                tried: book.tried_len(),
                collisions: book.collisions_len(),
            },
        }
    }

    /// Addresses heard from `source`, each with its claimed time; `penalty`
    /// ages relayed ones (Core). Returns the ones new to the book: only
    /// those are relayed, so an announcement travels each node once
    /// instead of echoing between peers for as long as it is fresh.
    pub fn learn(
        &mut self,
        now: Instant,
        addrs: &[(PeerAddr, Instant)],
        source: Host,
        penalty: Duration,
    ) -> Vec<PeerAddr> {
        let mut took = |&(addr, seen): &(PeerAddr, Instant)| match self {
            Book::Btcd { book, .. } => match (ip_peer(addr), source.ip()) {
                (Some(addr), Some(source)) => book.add_seen(now, addr, source, seen),
                _ => false,
            },
            Book::Core(book) => {
                let known = book.get(addr).is_some();
                book.add(now, &[(addr, seen)], source, penalty) == 1 && !known
            }
        };
        addrs
            .iter()
            .filter(|a| took(a))
            .map(|&(addr, _)| addr)
            .collect()
    }

    /// A dial of `addr` ended (either way). btcd's book counted the attempt
    /// when it chose the address.
    pub fn attempted(&mut self, now: Instant, addr: PeerAddr, count_failure: bool) {
        if let Book::Core(book) = self {
            book.attempt(now, addr, count_failure);
        }
    }

    /// A connection to `addr` completed its handshake.
    pub fn good(&mut self, now: Instant, addr: PeerAddr) {
        match self {
            Book::Btcd { book, .. } => {
                if let Some(addr) = ip_peer(addr) {
                    book.good(now, addr);
                }
            }
            Book::Core(book) => {
                book.good(now, addr);
            }
        }
    }

    /// A working connection to `addr` ended.
    pub fn connected(&mut self, now: Instant, addr: PeerAddr) {
        match self {
            Book::Btcd { book, .. } => {
                if let Some(addr) = ip_peer(addr) {
                    book.connected(now, addr);
                }
            }
            Book::Core(book) => book.connected(now, addr),
        }
    }

    /// A sample to answer a peer's `getaddr`: 23 % of the book, at most
    /// 1 000, without terrible addresses, each with its last-seen time.
    pub fn sample(&mut self, now: Instant) -> Vec<Advertised> {
        let addrs = match self {
            Book::Btcd { book, .. } => {
                let wanted = (book.len() * MAX_PCT_ADDR_TO_SEND / 100).min(MAX_ADDR_TO_SEND);
                let mut out: Vec<PeerAddr> = Vec::with_capacity(wanted);
                // Sampling with replacement: a bounded number of draws.
                for _ in 0..wanted * 2 {
                    if out.len() >= wanted {
                        break;
                    }
                    match book.get_address(now).map(PeerAddr::from) {
                        Some(addr) if !out.contains(&addr) => out.push(addr),
                        Some(_) => {}
                        None => break,
                    }
                }
                out
            }
            Book::Core(book) => {
                book.get_addr(now, MAX_ADDR_TO_SEND, MAX_PCT_ADDR_TO_SEND, None, true)
            }
        };
        addrs
            .into_iter()
            .map(|addr| Advertised::new(addr, self.last_seen(addr).unwrap_or(now)))
            .collect()
    }

    fn last_seen(&self, addr: PeerAddr) -> Option<Instant> {
        match self {
            Book::Btcd { book, .. } => book.get(ip_peer(addr)?).map(|a| a.timestamp()),
            Book::Core(book) => book.get(addr).map(|a| a.time()),
        }
    }

    /// The next address to dial: `groups` counts the outbound connections
    /// of a group (one at `max_per_group` is full), `unusable` says a
    /// candidate is banned or already connected to, `outbound` is how many
    /// outbound connections are open (0.9.3's book weighs it). btcd's book
    /// applies its own `newAddressFunc` policy (groups only); the manager
    /// refuses a banned address it returns.
    pub fn select(
        &mut self,
        now: Instant,
        groups: impl Fn(&GroupKey) -> u32,
        unusable: impl Fn(PeerAddr) -> bool,
        max_per_group: u32,
        outbound: u32,
        only: Option<Network>,
    ) -> Result<PeerAddr, AddressError> {
        match self {
            Book::Btcd { book, policy } => book
                .select_with_outbound(now, policy, outbound, groups)
                .map(PeerAddr::from),
            Book::Core(book) => core_select(book, now, groups, unusable, max_per_group, only),
        }
    }

    /// Whether the book holds addresses of `network` (btcd's says no:
    /// it picks by its own rules, so no network can be asked of it).
    pub fn holds(&self, network: Network) -> bool {
        match self {
            Book::Btcd { .. } => false,
            Book::Core(book) => book.len_of(Some(network), None) > 0,
        }
    }

    /// Whether this book holds test-before-evict collisions for feelers to
    /// settle (Core's does; btcd's evicts at once).
    pub fn tests_collisions(&self) -> bool {
        matches!(self, Book::Core(_))
    }

    /// Where a feeler should go (Core's `ThreadOpenConnections` for a
    /// feeler): the tried address a waiting newcomer would evict, to test
    /// it; otherwise an address of the new table not tried in the last 10
    /// minutes (after 30 draws, any). No group rule: a feeler holds no
    /// slot. `None` from btcd's book, or when nothing qualifies.
    pub fn feeler_address(
        &mut self,
        now: Instant,
        unusable: impl Fn(PeerAddr) -> bool,
    ) -> Option<PeerAddr> {
        let Book::Core(book) = self else {
            return None;
        };
        book.resolve_collisions(now);
        if let Some(addr) = book.select_tried_collision().filter(|a| !unusable(*a)) {
            return Some(addr);
        }
        (0..MAX_TRIES).find_map(|tries| {
            let addr = book.select(now, true, &[])?;
            let skip = recently_tried(book, now, addr) && tries < SKIP_RECENT_TRIES;
            (!unusable(addr) && !skip).then_some(addr)
        })
    }

    pub fn tried_addresses(&self) -> Vec<PeerAddr> {
        match self {
            Book::Btcd { book, .. } => book
                .tried_addresses()
                .into_iter()
                .map(PeerAddr::from)
                .collect(),
            Book::Core(book) => book.tried_addresses(),
        }
    }

    pub fn check(&self) -> Result<(), String> {
        match self {
            Book::Btcd { .. } => Ok(()),
            Book::Core(book) => book.check().map_err(|e| e.to_string()),
        }
    }

    /// Whether an inbound peer's completed handshake puts its address in
    /// the tried table ([`Book::inbound_good`]): only with bitcoind 0.9.3's
    /// book, which did so for a peer whose `version` named its own address
    /// (how the 2015 eclipse attacker filled it).
    pub fn trusts_inbound_handshakes(&self) -> bool {
        self.is_bitcoind_093()
    }

    /// Whether `addr` messages are rate-limited: by every book but bitcoind
    /// 0.9.3's (Core limits them since 22.0).
    pub fn rate_limits_addresses(&self) -> bool {
        !self.is_bitcoind_093()
    }

    fn is_bitcoind_093(&self) -> bool {
        matches!(self, Book::Btcd { book, .. } if book.flavor() == Flavor::Bitcoind093)
    }

    /// 0.9.3's handling of an inbound peer's handshake: its address is
    /// added (as its own source) and marked good.
    pub fn inbound_good(&mut self, now: Instant, addr: SocketAddr) {
        if let Book::Btcd { book, .. } = self {
            let addr = crate::network::canonical(addr);
            book.add(now, addr, addr.ip());
            book.good(now, addr);
        }
    }

    #[cfg(feature = "serde")]
    pub fn snapshot(&self) -> crate::BookSnapshot {
        match self {
            Book::Btcd { book, .. } if book.flavor() == Flavor::Bitcoind093 => {
                crate::BookSnapshot::Bitcoind093(book.snapshot())
            }
            Book::Btcd { book, .. } => crate::BookSnapshot::Btcd(book.snapshot()),
            Book::Core(book) => crate::BookSnapshot::Core(book.snapshot()),
        }
    }
}

/// The rules of the btcd-style book `kind` names.
fn btcd_flavor(kind: AddressBook) -> Flavor {
    match kind {
        AddressBook::Bitcoind093 => Flavor::Bitcoind093,
        _ => Flavor::Btcd,
    }
}

/// btcd's book's placement key, from the book sub-key.
fn btcd_key(keys: &Keys) -> [u64; 2] {
    let mut rng = crate::Rng::new(keys.book ^ 0x6274_6364_206b_6579); // "btcd key"
    [rng.next_u64(), rng.next_u64()]
}

/// An IP peer's socket address, for btcd's book; `None` for the networks
/// it does not know.
fn ip_peer(addr: PeerAddr) -> Option<SocketAddr> {
    match addr.host() {
        Host::Ip(_) => addr.socket_addr(),
        _ => None,
    }
}

/// Candidates Core's `ThreadOpenConnections` draws before giving up.
const MAX_TRIES: u32 = 100;
/// For this many tries, skip an address tried in the last 10 minutes.
const SKIP_RECENT_TRIES: u32 = 30;
const RECENT: Duration = Duration::from_secs(10 * 60);

/// Core's outbound selection loop: settle pending tried-table collisions,
/// then draw addresses until one is usable.
fn core_select(
    book: &mut AddrMan,
    now: Instant,
    groups: impl Fn(&GroupKey) -> u32,
    unusable: impl Fn(PeerAddr) -> bool,
    max_per_group: u32,
    only: Option<Network>,
) -> Result<PeerAddr, AddressError> {
    book.resolve_collisions(now);
    if book.is_empty() {
        return Err(AddressError::Empty);
    }
    let mut group_full = false;
    for tries in 0..MAX_TRIES {
        let Some(addr) = book.select(now, false, only.as_slice()) else {
            return Err(AddressError::Empty);
        };
        let group = GroupKey::of_host(addr.host());
        if max_per_group > 0 && !group.is_exempt() && groups(&group) >= max_per_group {
            group_full = true;
            continue;
        }
        let recent = recently_tried(book, now, addr);
        if !addr.is_dialable() || unusable(addr) || (recent && tries < SKIP_RECENT_TRIES) {
            continue;
        }
        return Ok(addr);
    }
    Err(if group_full {
        AddressError::GroupsFull
    } else {
        AddressError::NoneSuitable
    })
}

fn recently_tried(book: &AddrMan, now: Instant, addr: PeerAddr) -> bool {
    book.get(addr)
        .and_then(|info| info.last_try())
        .is_some_and(|t| now - t < RECENT)
}

/// Rebuilding a saved book, or moving its addresses into the other kind.
#[cfg(feature = "serde")]
mod restore {
    use super::*;
    use crate::addrbook::SnapshotError;
    use crate::{BookSnapshot, Restored};

    impl Book {
        /// The configured kind of book holding what `snapshot` saved:
        /// rebuilt if the kinds match; otherwise a fresh book keyed by
        /// `keys` into which the saved addresses are moved (tried ones stay
        /// tried, if their slot is free).
        pub fn restore(
            config: &Config,
            keys: &Keys,
            snapshot: &BookSnapshot,
            now: Instant,
        ) -> Result<(Option<Book>, Restored), SnapshotError> {
            let saved = snapshot.len();
            let accept = config.book_accepts_unroutable;
            let book = match (config.address_book, snapshot) {
                (AddressBook::External, _) => {
                    return Ok((None, Restored::default()));
                }
                (AddressBook::Btcd, BookSnapshot::Btcd(s))
                | (AddressBook::Bitcoind093, BookSnapshot::Bitcoind093(s)) => {
                    let flavor = btcd_flavor(config.address_book);
                    let mut book = AddrBook::from_snapshot_as(flavor, s, keys.book)?;
                    book.set_accept_unroutable(accept);
                    Book::btcd(book, config)
                }
                (AddressBook::Core, BookSnapshot::Core(s)) => {
                    Book::Core(Box::new(AddrMan::from_snapshot(s, keys.book, accept)?.0))
                }
                (_, other) => {
                    let mut book = Book::new(config, keys)
                        .ok_or(SnapshotError::UnsupportedFormat { found: 0 })?;
                    for (addr, source, seen, success) in entries(other) {
                        book.learn(now, &[(addr, seen)], source, Duration::ZERO);
                        if let Some(at) = success {
                            book.good(at.min(now), addr);
                        }
                    }
                    // Through its own snapshot, so that the book is one a
                    // trace header can carry and rebuild exactly.
                    let (book, _) = Book::restore(config, keys, &book.snapshot(), now)?;
                    let kept = book.as_ref().map_or(0, |b| {
                        let counts = b.counts();
                        counts.new + counts.tried
                    });
                    return Ok((
                        book,
                        Restored {
                            kept,
                            dropped: saved.saturating_sub(kept),
                            migrated_from: Some(other.kind()),
                        },
                    ));
                }
            };
            let counts = book.counts();
            let kept = counts.new + counts.tried;
            Ok((
                Some(book),
                Restored {
                    kept,
                    dropped: saved.saturating_sub(kept),
                    migrated_from: None,
                },
            ))
        }
    }

    /// Address, source, last seen, and (for a tried one) last success.
    type Entry = (PeerAddr, Host, Instant, Option<Instant>);

    fn entries(snapshot: &BookSnapshot) -> Vec<Entry> {
        match snapshot {
            BookSnapshot::Btcd(s) | BookSnapshot::Bitcoind093(s) => s
                .addresses
                .iter()
                .map(|a| {
                    (
                        a.addr.into(),
                        a.source.into(),
                        a.timestamp,
                        a.last_success.filter(|_| a.tried),
                    )
                })
                .collect(),
            BookSnapshot::Core(s) => s
                .addresses
                .iter()
                .map(|a| (a.addr, a.source, a.time, a.last_success.filter(|_| a.tried)))
                .collect(),
        }
    }
}
