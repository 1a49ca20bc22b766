//! Bitcoin Core's address manager (`addrman`), the hardened address book
//! behind [`Config::default`](crate::Config::default).
//!
//! Like btcd's book ([`crate::addrbook`]) it keeps a **new** table of
//! addresses heard of and a **tried** table of addresses that completed a
//! handshake, but with the countermeasures Bitcoin Core adopted after the
//! eclipse attacks of Heilman, Kendler, Zohar and Goldberg (USENIX Security
//! 2015):
//!
//! - **bigger tables**: new 1 024 × 64, tried 256 × 64;
//! - **deterministic random eviction**: an address has one fixed slot per
//!   bucket, computed from the secret [`BucketKey`], so an attacker can
//!   neither pick its slot nor pick whom it evicts;
//! - **random selection**: how recently an address was seen does not raise
//!   its chance of being picked;
//! - **test-before-evict**: an address that would push an entry out of the
//!   tried table waits in a small collision set (10) until the entry it
//!   would replace has been tested ([`AddrMan::select_tried_collision`]
//!   names it; a feeler connection tests it; [`AddrMan::resolve_collisions`]
//!   settles the outcome).
//!
//! Placement is bit-exact with Core for the same key: Core's own unit
//! tests, which pin bucket numbers and collision counts, are ported in
//! `tests.rs` under their Core names. The random choices (which slot
//! `select` looks at first, whether a repeated address gets one more new
//! bucket) use this crate's seeded [`Rng`], not Core's ChaCha20, so they
//! are deterministic but not Core's sequence.
//!
//! Every method is total: unknown addresses are ignored and no input
//! panics. Time comes in as an [`Instant`] that must survive restarts
//! (nanoseconds since the Unix epoch), as the book judges addresses by age.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use connmgr::addrman::{AddrMan, BucketKey};
//! use connmgr::Instant;
//!
//! let mut book = AddrMan::new(BucketKey::from_bytes([7; 32]), 7);
//! let now = Instant::from_secs(1_700_000_000);
//! let peer = "198.51.100.1".parse().unwrap();
//! let addr = "203.0.114.7:8333".parse().unwrap();
//! assert_eq!(book.add(now, &[(addr, now)], peer, Duration::from_secs(2 * 3600)), 1);
//! assert_eq!(book.select(now, false, &[]), Some(addr));
//!
//! // Only a completed handshake moves it to the tried table.
//! assert!(book.good(now, addr));
//! assert!(book.get(addr).unwrap().is_tried());
//! book.check().unwrap();
//! ```

use std::collections::HashMap;
use std::time::Duration;

use crate::{Host, Instant, Network, PeerAddr, Rng};

mod check;
mod collisions;
mod entry;
mod interned;
mod netgroup;
mod placement;
mod select;
#[cfg(feature = "serde")]
mod snapshot;
mod table;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_shared;

pub use check::CheckError;
pub use entry::AddrInfo;
use entry::{Entry, Stamp};
use interned::source_key;
pub use interned::AddressTable;
pub use placement::BucketKey;
use placement::{BUCKET_SIZE, NEW_BUCKETS, TRIED_BUCKETS};
#[cfg(feature = "serde")]
pub use snapshot::{Snapshot, SnapshotEntry, OLDEST_SNAPSHOT_FORMAT, SNAPSHOT_FORMAT};
use table::Table;

/// Times one address may appear in the new table (Core
/// `ADDRMAN_NEW_BUCKETS_PER_ADDRESS`).
const NEW_BUCKETS_PER_ADDRESS: u8 = 8;
/// Slot value meaning "empty".
const EMPTY: u32 = u32::MAX;

/// The most addresses the book can hold: every new and tried slot.
pub const MAX_ADDRESSES: usize = (NEW_BUCKETS + TRIED_BUCKETS) * BUCKET_SIZE;

/// Where an address sits (Core `AddressPosition`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// In the tried table (else the new one).
    pub tried: bool,
    /// How many buckets hold it: 1 when tried, 1..=8 when new.
    pub multiplicity: u8,
    /// The bucket (for a new address, the one of its first source).
    pub bucket: usize,
    /// The slot in that bucket.
    pub position: usize,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct NewTried {
    new: usize,
    tried: usize,
}

/// Bitcoin Core's address manager, without I/O, clock or global randomness.
///
/// See the [module documentation](self). Its `Debug` is a summary: the
/// tables are large and the key is secret.
pub struct AddrMan {
    key: BucketKey,
    rng: Rng,
    /// Entries by id; `None` is a free id, reused from `free`.
    entries: Vec<Option<Entry>>,
    free: Vec<u32>,
    /// The addresses the entries name by handle; the book holds one
    /// reference to each entry's address and one to its source.
    addresses: AddressTable,
    /// Entry ids by address handle. Lookup only: never iterated, so its
    /// order cannot reach a result.
    index: HashMap<u32, u32>,
    /// Every id, shuffled in place by `get_addr` (Core `vRandom`).
    random: Vec<u32>,
    new: Table,
    tried: Table,
    n_new: usize,
    n_tried: usize,
    by_network: [NewTried; Network::ALL.len()],
    /// When `good` was last called: one failure per address is counted
    /// between two successes anywhere, so an offline node does not condemn
    /// its whole book.
    last_good: Instant,
    /// Addresses waiting to enter the tried table (test-before-evict), in
    /// arrival order.
    collisions: Vec<u32>,
    /// Whether local and private addresses are taken (not Core's rule).
    accept_unroutable: bool,
}

impl AddrMan {
    /// An empty book placing addresses by `key`, its random choices drawn
    /// from `rng_seed`. Outside tests both come from the node's secret seed.
    pub fn new(key: BucketKey, rng_seed: u64) -> AddrMan {
        AddrMan {
            key,
            rng: Rng::new(rng_seed),
            entries: Vec::new(),
            free: Vec::new(),
            addresses: AddressTable::new(),
            index: HashMap::new(),
            random: Vec::new(),
            new: Table::new(NEW_BUCKETS),
            tried: Table::new(TRIED_BUCKETS),
            n_new: 0,
            n_tried: 0,
            by_network: Default::default(),
            last_good: Instant::ZERO,
            collisions: Vec::new(),
            accept_unroutable: false,
        }
    }

    /// Whether [`add`](AddrMan::add) takes local and private addresses.
    ///
    /// Off by default, as in Core: a public node has no use for 10.x or
    /// 127.x addresses gossiped by strangers. Turn it on for a private or
    /// test network. Unspecified addresses (`0.0.0.0`, `::`) are refused
    /// either way. All such addresses share one network group.
    pub fn set_accept_unroutable(&mut self, accept: bool) {
        self.accept_unroutable = accept;
    }

    /// Whether an address may enter the book.
    fn takes(&self, addr: PeerAddr) -> bool {
        netgroup::is_routable_host(addr.host())
            || (self.accept_unroutable && addr.host().ip().is_some_and(|ip| !ip.is_unspecified()))
    }

    /// The placement key.
    pub fn key(&self) -> &BucketKey {
        &self.key
    }

    /// Addresses known.
    pub fn len(&self) -> usize {
        self.random.len()
    }

    /// Whether no address is known.
    pub fn is_empty(&self) -> bool {
        self.random.is_empty()
    }

    /// Addresses in the new table.
    pub fn new_len(&self) -> usize {
        self.n_new
    }

    /// Addresses in the tried table.
    pub fn tried_len(&self) -> usize {
        self.n_tried
    }

    /// Every address in the tried table, in shuffle order.
    pub fn tried_addresses(&self) -> Vec<PeerAddr> {
        self.random
            .iter()
            .filter_map(|&id| self.entry(id))
            .filter(|info| info.in_tried)
            .map(|info| self.addr_of(info))
            .collect()
    }

    /// Core `Size(net, in_new)`: addresses of one network (or all), in one
    /// table (or both).
    pub fn len_of(&self, network: Option<Network>, in_new: Option<bool>) -> usize {
        let counts = match network {
            None => NewTried {
                new: self.n_new,
                tried: self.n_tried,
            },
            Some(net) => self.by_network[net.index()],
        };
        match in_new {
            None => counts.new + counts.tried,
            Some(true) => counts.new,
            Some(false) => counts.tried,
        }
    }

    /// What the book knows of `addr`.
    pub fn get(&self, addr: PeerAddr) -> Option<AddrInfo> {
        let entry = self.entry(self.lookup(addr)?)?;
        Some(AddrInfo {
            addr: self.addr_of(entry),
            source: self.source_of(entry),
            entry: entry.clone(),
        })
    }

    /// Where `addr` sits (Core `FindAddressEntry`).
    pub fn position(&self, addr: PeerAddr) -> Option<Position> {
        let info = self.entry(self.lookup(addr)?)?;
        let (addr, source) = (self.addr_of(info), self.source_of(info));
        Some(if info.in_tried {
            let bucket = self.key.tried_bucket(addr);
            Position {
                tried: true,
                multiplicity: 1,
                bucket,
                position: self.key.position(addr, false, bucket),
            }
        } else {
            let bucket = self.key.new_bucket(addr, source);
            Position {
                tried: false,
                multiplicity: info.ref_count,
                bucket,
                position: self.key.position(addr, true, bucket),
            }
        })
    }

    /// An estimate of the heap held, in bytes (allocator overhead aside),
    /// without the [`AddressTable`], which may be shared. It depends only
    /// on what the book holds, so it is the same in every run.
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        let index = crate::heap::hash_map_bytes(self.index.len(), size_of::<(u32, u32)>());
        self.entries.capacity() * size_of::<Option<Entry>>()
            + (self.free.capacity() + self.random.capacity() + self.collisions.capacity())
                * size_of::<u32>()
            + self.new.heap_bytes()
            + self.tried.heap_bytes()
            + index
    }

    /// Core `Add`: adds what a peer at `source` advertised, each address
    /// with the time it claims the address was last seen. Returns how many
    /// went into a new-table slot.
    ///
    /// `penalty` is subtracted from the claimed times of addresses other
    /// than the source's own (Core's net_processing uses 2 hours), so that
    /// relayed addresses look older than first-hand ones. Unroutable
    /// addresses are dropped, as in Core.
    pub fn add(
        &mut self,
        now: Instant,
        addrs: &[(PeerAddr, Instant)],
        source: Host,
        penalty: Duration,
    ) -> usize {
        addrs
            .iter()
            .filter(|&&(addr, seen)| self.add_single(now, addr, seen, source, penalty))
            .count()
    }

    /// Core `AddSingle`.
    fn add_single(
        &mut self,
        now: Instant,
        addr: PeerAddr,
        seen: Instant,
        source: Host,
        penalty: Duration,
    ) -> bool {
        if !self.takes(addr) {
            return false;
        }
        // A peer announcing itself is first-hand news.
        let penalty = if addr.host() == source {
            Duration::ZERO
        } else {
            penalty
        };
        let id = match self.lookup(addr) {
            Some(id) => {
                let Some(info) = self.entry_mut(id) else {
                    return false;
                };
                // Refresh the timestamp now and then: hourly for an address
                // seen in the last day, daily for an older one.
                let update = if now - seen < DAY { HOUR } else { DAY };
                if info.time < Stamp::at(seen - update - penalty) {
                    info.time = Stamp::at(seen - penalty);
                }
                if Stamp::at(seen) <= info.time
                    || info.in_tried
                    || info.ref_count == NEW_BUCKETS_PER_ADDRESS
                {
                    return false;
                }
                // Each further new bucket is twice as hard to get.
                let refs = info.ref_count;
                if refs > 0 && self.rng.below(1 << refs) != 0 {
                    return false;
                }
                id
            }
            None => self.create(addr, source, seen - penalty),
        };
        let slot = self.new_slot(addr, self.key.new_bucket(addr, source));
        let occupant = self.new.get(slot);
        if occupant == id {
            return false;
        }
        let mut insert = occupant == EMPTY;
        if !insert {
            let refs = self.entry(id).map_or(0, |info| info.ref_count);
            insert = self
                .entry(occupant)
                .is_some_and(|old| old.is_terrible(now) || (old.ref_count > 1 && refs == 0));
        }
        if insert {
            self.clear_new(slot);
            if let Some(info) = self.entry_mut(id) {
                info.ref_count += 1;
            }
            self.new.set(slot, id);
        } else if self.entry(id).is_some_and(|info| info.ref_count == 0) {
            self.delete(id);
        }
        insert
    }

    /// Core `Good`: a connection to `addr` completed its handshake. Moves it
    /// to the tried table unless that would evict another entry; then it
    /// waits in the collision set for that entry to be tested. Returns
    /// whether it moved.
    pub fn good(&mut self, now: Instant, addr: PeerAddr) -> bool {
        self.good_inner(now, addr, true)
    }

    pub(crate) fn good_inner(
        &mut self,
        now: Instant,
        addr: PeerAddr,
        test_before_evict: bool,
    ) -> bool {
        self.last_good = now;
        let Some(id) = self.lookup(addr) else {
            return false;
        };
        let Some(info) = self.entry_mut(id) else {
            return false;
        };
        info.last_success = Stamp::at(now);
        info.last_try = Stamp::at(now);
        info.attempts = 0;
        // The timestamp stays: updating it would tell the network whom we
        // are connected to.
        if info.in_tried || info.ref_count == 0 {
            return false;
        }
        let slot = self.tried_slot(addr);
        if test_before_evict && self.tried.get(slot) != EMPTY {
            if self.collisions.len() < COLLISIONS_MAX && !self.collisions.contains(&id) {
                self.collisions.push(id);
            }
            return false;
        }
        self.make_tried(id);
        true
    }

    /// Core `Attempt`: we are trying to connect to `addr`. With
    /// `count_failure`, the attempt counts as a failure against it, once
    /// per success anywhere (Core counts only when the node has outbound
    /// peers in two groups, i.e. it is online).
    pub fn attempt(&mut self, now: Instant, addr: PeerAddr, count_failure: bool) {
        let last_good = self.last_good;
        let Some(id) = self.lookup(addr) else {
            return;
        };
        if let Some(info) = self.entry_mut(id) {
            info.last_try = Stamp::at(now);
            if count_failure && info.last_count_attempt.get().is_none_or(|t| t < last_good) {
                info.last_count_attempt = Stamp::at(now);
                info.attempts = info.attempts.saturating_add(1);
            }
        }
    }

    /// Core `Connected`: a connection to `addr` just ended after working;
    /// its timestamp is refreshed if older than 20 minutes. (Core waits for
    /// the disconnection so the timestamp does not reveal live peers.)
    pub fn connected(&mut self, now: Instant, addr: PeerAddr) {
        let Some(id) = self.lookup(addr) else {
            return;
        };
        if let Some(info) = self.entry_mut(id) {
            if now - info.time.instant() > CONNECTED_REFRESH {
                info.time = Stamp::at(now);
            }
        }
    }

    /// The one tried slot of `addr` (bucket × 64 + position).
    fn tried_slot(&self, addr: PeerAddr) -> usize {
        let bucket = self.key.tried_bucket(addr);
        bucket * BUCKET_SIZE + self.key.position(addr, false, bucket)
    }

    /// The slot of `addr` in new bucket `bucket`.
    fn new_slot(&self, addr: PeerAddr, bucket: usize) -> usize {
        bucket * BUCKET_SIZE + self.key.position(addr, true, bucket)
    }

    /// The entry of `addr`, if the book holds it.
    fn lookup(&self, addr: PeerAddr) -> Option<u32> {
        let handle = self.addresses.find(addr)?;
        self.index.get(&handle).copied()
    }

    fn entry(&self, id: u32) -> Option<&Entry> {
        self.entries.get(id as usize)?.as_ref()
    }

    fn entry_mut(&mut self, id: u32) -> Option<&mut Entry> {
        self.entries.get_mut(id as usize)?.as_mut()
    }

    /// The address of `entry`.
    fn addr_of(&self, entry: &Entry) -> PeerAddr {
        self.addresses.addr(entry.addr)
    }

    /// The peer that first told us of `entry`.
    fn source_of(&self, entry: &Entry) -> Host {
        self.addresses.addr(entry.source).host()
    }

    /// Every address handle the book refers to (twice for an address that
    /// is also a source).
    fn handles(&self) -> impl Iterator<Item = u32> + '_ {
        self.entries
            .iter()
            .flatten()
            .flat_map(|entry| [entry.addr, entry.source])
    }

    /// Moves the book's addresses into `table`, shared with other books
    /// (a simulated network gives every node's book one table, so that an
    /// address known network-wide is stored once). Changes no decision of
    /// the book.
    pub fn share_addresses(&mut self, table: &AddressTable) {
        if self.addresses.same_as(table) {
            return;
        }
        let old = std::mem::replace(&mut self.addresses, table.clone());
        let mut released = Vec::with_capacity(2 * self.random.len());
        self.index.clear();
        for (id, entry) in self.entries.iter_mut().enumerate() {
            let Some(entry) = entry else { continue };
            released.extend([entry.addr, entry.source]);
            entry.addr = table.intern(old.addr(entry.addr));
            entry.source = table.intern(old.addr(entry.source));
            self.index.insert(entry.addr, id as u32);
        }
        old.release(released.into_iter());
    }

    /// Core `Create`: a new entry, counted in the new table (though in no
    /// bucket yet).
    fn create(&mut self, addr: PeerAddr, source: Host, time: Instant) -> u32 {
        let handle = self.addresses.intern(addr);
        let source = self.addresses.intern(source_key(source));
        let network = addr.network();
        let mut info = Entry::new(handle, source, network, time);
        info.random_pos = self.random.len() as u32;
        let id = match self.free.pop() {
            Some(id) => {
                self.entries[id as usize] = Some(info);
                id
            }
            None => {
                self.entries.push(Some(info));
                (self.entries.len() - 1) as u32
            }
        };
        self.index.insert(handle, id);
        self.random.push(id);
        self.n_new += 1;
        self.by_network[network.index()].new += 1;
        id
    }

    /// Core `SwapRandom`.
    fn swap_random(&mut self, a: usize, b: usize) {
        if a == b || a >= self.random.len() || b >= self.random.len() {
            return;
        }
        self.random.swap(a, b);
        let (id_a, id_b) = (self.random[a], self.random[b]);
        if let Some(info) = self.entry_mut(id_a) {
            info.random_pos = a as u32;
        }
        if let Some(info) = self.entry_mut(id_b) {
            info.random_pos = b as u32;
        }
    }

    /// Core `Delete`: forgets a new entry that no bucket holds any more.
    fn delete(&mut self, id: u32) {
        let Some(info) = self.entry(id) else {
            return;
        };
        debug_assert!(!info.in_tried && info.ref_count == 0);
        let (pos, handles, network) = (
            info.random_pos as usize,
            [info.addr, info.source],
            info.network,
        );
        self.swap_random(pos, self.random.len() - 1);
        self.random.pop();
        self.index.remove(&handles[0]);
        self.addresses.release(handles.into_iter());
        self.entries[id as usize] = None;
        self.free.push(id);
        // Ids are reused: a waiting collision must not outlive its entry.
        self.collisions.retain(|&waiting| waiting != id);
        self.n_new -= 1;
        self.by_network[network.index()].new -= 1;
    }

    /// Core `ClearNew`: empties a new-table slot, forgetting its entry if
    /// that was its last bucket.
    fn clear_new(&mut self, slot: usize) {
        let id = self.new.get(slot);
        if id == EMPTY {
            return;
        }
        self.new.set(slot, EMPTY);
        let Some(info) = self.entry_mut(id) else {
            return;
        };
        info.ref_count = info.ref_count.saturating_sub(1);
        if info.ref_count == 0 {
            self.delete(id);
        }
    }

    /// Core `MakeTried`: moves a new entry to its tried slot, sending that
    /// slot's occupant back to the new table.
    fn make_tried(&mut self, id: u32) {
        let Some(info) = self.entry(id) else {
            return;
        };
        let (addr, source, network) = (self.addr_of(info), self.source_of(info), info.network);
        let mut refs = info.ref_count;
        // Its buckets are unknown; search from its first source's bucket,
        // where it most likely is, and stop once all are found.
        let start = self.key.new_bucket(addr, source);
        for n in 0..NEW_BUCKETS {
            if refs == 0 {
                break;
            }
            let slot = self.new_slot(addr, (start + n) % NEW_BUCKETS);
            if self.new.get(slot) == id {
                self.new.set(slot, EMPTY);
                refs -= 1;
            }
        }
        debug_assert_eq!(refs, 0, "an entry's buckets and ref count disagree");
        self.n_new -= 1;
        self.by_network[network.index()].new -= 1;

        let slot = self.tried_slot(addr);
        let evicted = self.tried.get(slot);
        if evicted != EMPTY {
            self.tried.set(slot, EMPTY);
            if let Some(old) = self.entry_mut(evicted) {
                old.in_tried = false;
                let old_network = old.network;
                let (old_addr, old_source) = (old.addr, old.source);
                let old_addr = self.addresses.addr(old_addr);
                let old_source = self.addresses.addr(old_source).host();
                self.n_tried -= 1;
                self.by_network[old_network.index()].tried -= 1;
                let new_slot = self.new_slot(old_addr, self.key.new_bucket(old_addr, old_source));
                self.clear_new(new_slot);
                if let Some(old) = self.entry_mut(evicted) {
                    old.ref_count = 1;
                }
                self.new.set(new_slot, evicted);
                self.n_new += 1;
                self.by_network[old_network.index()].new += 1;
            }
        }
        self.tried.set(slot, id);
        self.n_tried += 1;
        self.by_network[network.index()].tried += 1;
        if let Some(info) = self.entry_mut(id) {
            info.ref_count = 0;
            info.in_tried = true;
        }
    }
}

impl Clone for AddrMan {
    /// A copy sharing the original's [`AddressTable`].
    fn clone(&self) -> AddrMan {
        self.addresses.retain(self.handles());
        AddrMan {
            key: self.key,
            rng: self.rng.clone(),
            entries: self.entries.clone(),
            free: self.free.clone(),
            addresses: self.addresses.clone(),
            index: self.index.clone(),
            random: self.random.clone(),
            new: self.new.clone(),
            tried: self.tried.clone(),
            n_new: self.n_new,
            n_tried: self.n_tried,
            by_network: self.by_network,
            last_good: self.last_good,
            collisions: self.collisions.clone(),
            accept_unroutable: self.accept_unroutable,
        }
    }
}

impl Drop for AddrMan {
    /// Lets go of the book's addresses, so that a shared table forgets the
    /// ones no other book holds.
    fn drop(&mut self) {
        self.addresses.release(self.handles());
    }
}

impl std::fmt::Debug for AddrMan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddrMan")
            .field("new", &self.n_new)
            .field("tried", &self.n_tried)
            .field("collisions", &self.collisions.len())
            .finish_non_exhaustive()
    }
}

const HOUR: Duration = Duration::from_secs(60 * 60);
const DAY: Duration = Duration::from_secs(24 * 60 * 60);
/// Core `Connected`: how stale a timestamp must be to be refreshed.
const CONNECTED_REFRESH: Duration = Duration::from_secs(20 * 60);
/// Core `ADDRMAN_SET_TRIED_COLLISION_SIZE`.
const COLLISIONS_MAX: usize = 10;
