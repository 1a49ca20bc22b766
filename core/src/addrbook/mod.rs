//! The address book: btcd's `addrmgr` as a pure, seeded, bounded structure.
//!
//! [`AddrBook`] is the default answer to
//! [`Action::RequestAddress`](crate::Action::RequestAddress): the runtime
//! feeds it the addresses it hears of ([`add`](AddrBook::add)) and what
//! happens to them ([`attempt`](AddrBook::attempt),
//! [`connected`](AddrBook::connected), [`good`](AddrBook::good)), and asks it
//! for the next address to dial ([`select`](AddrBook::select)).
//!
//! Like btcd, it keeps two tables. The **new** table (1 024 buckets of 64)
//! holds addresses heard of but never reached; each goes to a bucket chosen
//! by a keyed hash of its group and its *source's* group, so one gossiping
//! peer can fill at most 64 buckets. The **tried** table (64 buckets of 256)
//! holds addresses that completed a handshake, placed by their own group.
//! A full new bucket evicts its bad entries and its oldest one; a full tried
//! bucket sends its oldest back to the new table. The book therefore never
//! holds more than 81 920 addresses whatever it is fed, and an attacker who
//! controls a few networks can neither flood it nor aim at chosen buckets.
//!
//! Everything is a function of the seed and the calls: time comes in as an
//! [`Instant`], randomness from the seeded [`Rng`], and no hash-map order
//! reaches a result. With the `serde` feature, `AddrBook::snapshot` and
//! `AddrBook::from_snapshot` save and restore it; the `connmgr-store` crate
//! writes snapshots to disk safely.
//!
//! # Time
//!
//! The book judges addresses by age (10 minutes, 7 days, 30 days), so a book
//! that is saved and loaded again needs `Instant`s from a clock whose epoch
//! survives restarts, such as nanoseconds since the Unix epoch. An epoch at
//! process start would make every saved time look like the future.
//!
//! # Example
//!
//! ```
//! use connmgr::addrbook::{AddrBook, SelectPolicy};
//! use connmgr::Instant;
//!
//! let mut book = AddrBook::new(7);
//! let now = Instant::from_secs(1_700_000_000);
//! let source = "198.51.100.1".parse().unwrap(); // the peer that told us
//! book.add(now, "1.2.3.4:8333".parse().unwrap(), source);
//! book.add(now, "5.6.7.8:8333".parse().unwrap(), source);
//!
//! // One outbound connection already in 1.2.0.0/16: the other group wins.
//! let used = connmgr::GroupKey::of("1.2.9.9".parse().unwrap());
//! let policy = SelectPolicy::default();
//! let picked = book.select(now, &policy, |g| u32::from(*g == used)).unwrap();
//! assert_eq!(picked, "5.6.7.8:8333".parse().unwrap());
//! ```

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr, SocketAddrV6};

use crate::{GroupKey, Instant, Rng};

mod buckets;
mod flavor;
mod index_key;
mod known;
mod select;
#[cfg(feature = "serde")]
mod snapshot;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_093;

use buckets::{HashKey, Table};
pub use flavor::Flavor;
use flavor::{Geometry, INSPECT_ON_EVICT, MAX_NEW_PER_ADDRESS};
use index_key::IndexKey;
pub use known::KnownAddress;
use known::{Place, CONNECTED_REFRESH};
pub use select::SelectPolicy;
#[cfg(feature = "serde")]
pub use snapshot::{Snapshot, SnapshotAddress, SnapshotError, SNAPSHOT_FORMAT};

/// The most addresses a btcd book can hold: every new and tried slot (the
/// largest flavour's).
pub const MAX_ADDRESSES: usize = Flavor::Btcd.max_addresses();

/// btcd's address manager, without I/O, clock or global randomness.
///
/// See the [module documentation](self) for the model. Every method is total:
/// unknown addresses are ignored, and no input panics.
///
/// Its `Debug` output is a summary: the tables are large, and the placement
/// key is a secret that does not belong in logs.
#[derive(Clone)]
pub struct AddrBook {
    flavor: Flavor,
    geometry: Geometry,
    key: HashKey,
    rng: Rng,
    /// Entries by id; `None` is a free slot, reused from `free`.
    slots: Vec<Option<KnownAddress>>,
    free: Vec<u32>,
    /// Lookup only: never iterated, so its order cannot reach a result.
    index: HashMap<IndexKey, u32>,
    new: Table,
    tried: Table,
    n_new: usize,
    n_tried: usize,
    accept_unroutable: bool,
}

impl AddrBook {
    /// An empty book whose placement key and choices all derive from `seed`.
    ///
    /// The seed is the book's secret: an attacker who knows it can aim
    /// addresses at chosen buckets. Outside tests, seed it from the OS.
    pub fn new(seed: u64) -> AddrBook {
        let mut rng = Rng::new(seed);
        let key = HashKey::draw(&mut rng);
        AddrBook::with_key(Flavor::Btcd, key, rng)
    }

    /// An empty book placing addresses by `key`, its random choices from
    /// `seed`: what [`from_snapshot`](AddrBook::from_snapshot) rebuilds from
    /// an empty snapshot, so a book made this way and one rebuilt from its
    /// snapshot behave alike (which a trace relies on).
    pub fn keyed(key: [u64; 2], seed: u64) -> AddrBook {
        AddrBook::with_key(Flavor::Btcd, HashKey(key), Rng::new(seed))
    }

    /// A book of `flavor`'s rules, otherwise as [`keyed`](AddrBook::keyed).
    pub fn keyed_as(flavor: Flavor, key: [u64; 2], seed: u64) -> AddrBook {
        AddrBook::with_key(flavor, HashKey(key), Rng::new(seed))
    }

    fn with_key(flavor: Flavor, key: HashKey, rng: Rng) -> AddrBook {
        let geometry = flavor.geometry();
        AddrBook {
            flavor,
            geometry,
            key,
            rng,
            slots: Vec::new(),
            free: Vec::new(),
            index: HashMap::new(),
            new: Table::new(geometry.new_buckets, geometry.new_bucket_size),
            tried: Table::new(geometry.tried_buckets, geometry.tried_bucket_size),
            n_new: 0,
            n_tried: 0,
            accept_unroutable: false,
        }
    }

    /// Whether [`add`](AddrBook::add) accepts local and unroutable addresses.
    ///
    /// Off by default, as in btcd: a public node has no use for 10.x or
    /// 127.x addresses gossiped by strangers. Turn it on for a private or
    /// test network. Addresses already in the book stay either way.
    pub fn set_accept_unroutable(&mut self, accept: bool) {
        self.accept_unroutable = accept;
    }

    /// Whose rules the book follows.
    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// Number of addresses known.
    pub fn len(&self) -> usize {
        self.n_new + self.n_tried
    }

    /// Whether the book knows no address.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Addresses in the new table (heard of, never reached).
    pub fn new_len(&self) -> usize {
        self.n_new
    }

    /// Addresses in the tried table (reached at least once).
    pub fn tried_len(&self) -> usize {
        self.n_tried
    }

    /// Every address in the tried table, in the book's internal order.
    pub fn tried_addresses(&self) -> Vec<SocketAddr> {
        self.slots
            .iter()
            .flatten()
            .filter(|entry| entry.is_tried())
            .map(|entry| entry.addr)
            .collect()
    }

    /// Whether `addr` is known.
    pub fn contains(&self, addr: SocketAddr) -> bool {
        self.index.contains_key(&IndexKey::new(addr))
    }

    /// What the book knows about `addr`.
    pub fn get(&self, addr: SocketAddr) -> Option<&KnownAddress> {
        let id = *self.index.get(&IndexKey::new(addr))?;
        self.entry(id)
    }

    /// An estimate of the heap memory held, in bytes, from the capacities of
    /// the book's vectors and the size of its index (the allocator's own
    /// overhead excluded).
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        let index = crate::heap::hash_map_bytes(self.index.len(), size_of::<(IndexKey, u32)>());
        self.slots.capacity() * size_of::<Option<KnownAddress>>()
            + self.free.capacity() * size_of::<u32>()
            + index
            + self.new.heap_bytes()
            + self.tried.heap_bytes()
    }

    /// Adds `addr`, heard of from `source`, as seen now; btcd's
    /// `AddAddress`. Returns whether the address is new to the book.
    ///
    /// Equivalent to [`add_seen`](AddrBook::add_seen) with `seen = now`.
    pub fn add(&mut self, now: Instant, addr: SocketAddr, source: IpAddr) -> bool {
        self.add_seen(now, addr, source, now)
    }

    /// Adds `addr`, heard of from `source`, which claims it was last seen at
    /// `seen` (gossip's timestamp). Returns whether the address is new.
    ///
    /// A known address gets the later timestamp and, while it is in the new
    /// table, possibly one more new bucket (with probability 1/(2·refs), up
    /// to 8), so addresses heard of often are more likely picked. Unroutable
    /// addresses (unless [accepted](AddrBook::set_accept_unroutable)) and
    /// port 0 are refused, since they cannot be dialled.
    pub fn add_seen(
        &mut self,
        now: Instant,
        addr: SocketAddr,
        source: IpAddr,
        seen: Instant,
    ) -> bool {
        let addr = canonical(addr);
        let source = source.to_canonical();
        if addr.port() == 0 || (!self.accept_unroutable && !crate::group::is_routable(addr.ip())) {
            return false;
        }
        let bucket = self.key.new_bucket(
            &self.geometry,
            GroupKey::of(addr.ip()),
            GroupKey::of(source),
        );
        if let Some(&id) = self.index.get(&IndexKey::new(addr)) {
            self.add_known(now, id, seen, bucket);
            return false;
        }
        if self.new.is_full(bucket) {
            self.expire_new(now, bucket);
        }
        let entry = KnownAddress {
            addr,
            source,
            timestamp: seen,
            attempts: 0,
            last_attempt: None,
            last_success: None,
            place: Place::New {
                buckets: [bucket; MAX_NEW_PER_ADDRESS],
                refs: 1,
            },
        };
        let Some(id) = self.alloc(entry) else {
            return false;
        };
        if !self.new.push(bucket, id) {
            // Unreachable: expire_new always makes room. Undo, stay consistent.
            self.release(id);
            return false;
        }
        self.index.insert(IndexKey::new(addr), id);
        self.n_new += 1;
        true
    }

    /// btcd's `updateAddress` for an address already known.
    fn add_known(&mut self, now: Instant, id: u32, seen: Instant, bucket: u16) {
        let Some(entry) = self.entry_mut(id) else {
            return;
        };
        if seen > entry.timestamp {
            entry.timestamp = seen;
        }
        let Place::New { buckets, refs } = entry.place else {
            return;
        };
        let refs_used = usize::from(refs);
        if refs_used >= self.geometry.new_per_address {
            return;
        }
        // The more buckets it is in, the less likely it gets another.
        if self.rng.below(2 * u64::from(refs)) != 0 {
            return;
        }
        if buckets
            .get(..refs_used)
            .is_some_and(|b| b.contains(&bucket))
        {
            return;
        }
        if self.new.is_full(bucket) {
            self.expire_new(now, bucket);
        }
        if !self.new.push(bucket, id) {
            return;
        }
        if let Some(KnownAddress {
            place: Place::New { buckets, refs },
            ..
        }) = self.entry_mut(id)
        {
            if let Some(slot) = buckets.get_mut(usize::from(*refs)) {
                *slot = bucket;
                *refs += 1;
            }
        }
    }

    /// Makes room in a full new bucket. btcd's `expireNew` drops every bad
    /// entry and the oldest good one; 0.9.3's `ShrinkNew` drops the first
    /// terrible entry, else the oldest of 4 random picks (with repeats).
    /// bitcoind 0.9.3's choice of the entry a full new bucket loses: the
    /// first terrible one, otherwise the oldest of four random picks (drawn
    /// either way, as 0.9.3 did).
    fn new_victim_093(&mut self, now: Instant, bucket: u16) -> Option<u32> {
        let len = self.new.entries(bucket).len() as u64;
        let picks: [u64; INSPECT_ON_EVICT] = std::array::from_fn(|_| self.rng.below(len));
        let entries = self.new.entries(bucket);
        let terrible = entries
            .iter()
            .copied()
            .find(|&id| self.entry(id).is_some_and(|e| e.is_bad(now)));
        terrible.or_else(|| {
            picks
                .iter()
                .filter_map(|&i| {
                    let id = *entries.get(i as usize)?;
                    Some((self.entry(id)?.timestamp, id))
                })
                .reduce(|oldest, e| if oldest.0 <= e.0 { oldest } else { e })
                .map(|(_, id)| id)
        })
    }

    fn expire_new(&mut self, now: Instant, bucket: u16) {
        if self.flavor.is_093() {
            if let Some(id) = self.new_victim_093(now, bucket) {
                self.unlink_new(bucket, id);
            }
            return;
        }
        let mut bad = Vec::new();
        let mut oldest: Option<(u32, Instant)> = None;
        for &id in self.new.entries(bucket) {
            let Some(entry) = self.entry(id) else {
                continue;
            };
            if entry.is_bad(now) {
                bad.push(id);
            } else if oldest.is_none_or(|(_, ts)| entry.timestamp <= ts) {
                // btcd keeps the last of equally old entries.
                oldest = Some((id, entry.timestamp));
            }
        }
        bad.extend(oldest.map(|(id, _)| id));
        for id in bad {
            self.unlink_new(bucket, id);
        }
    }

    /// Removes entry `id` from new bucket `bucket`, forgetting the address
    /// if that was its last reference.
    fn unlink_new(&mut self, bucket: u16, id: u32) {
        if !self.new.remove(bucket, id) {
            return;
        }
        let Some(entry) = self.entry_mut(id) else {
            return;
        };
        let Place::New { buckets, refs } = &mut entry.place else {
            return;
        };
        let used = usize::from(*refs).min(MAX_NEW_PER_ADDRESS);
        if let Some(i) = buckets.iter().take(used).position(|&b| b == bucket) {
            // Keep the order of the rest: the first is btcd's "old bucket".
            buckets.copy_within(i + 1..used, i);
            *refs -= 1;
            // The unused tail holds the first bucket, as `add_seen` and
            // `from_snapshot` leave it, so equal books compare equal.
            let first = buckets[0];
            for slot in buckets.iter_mut().skip(used - 1) {
                *slot = first;
            }
        }
        if *refs == 0 {
            let addr = entry.addr;
            self.index.remove(&IndexKey::new(addr));
            self.release(id);
            self.n_new = self.n_new.saturating_sub(1);
        }
    }

    /// Records a connection attempt to `addr` (btcd `Attempt`): it counts
    /// against the address until it succeeds. Unknown addresses are ignored.
    pub fn attempt(&mut self, now: Instant, addr: SocketAddr) {
        if let Some(entry) = self.find_mut(addr) {
            entry.attempts = entry.attempts.saturating_add(1);
            entry.last_attempt = Some(now);
        }
    }

    /// Records that `addr` is connected (btcd `Connected`): refreshes its
    /// timestamp, at most every 20 minutes, so live peers never age out.
    pub fn connected(&mut self, now: Instant, addr: SocketAddr) {
        if let Some(entry) = self.find_mut(addr) {
            if now.saturating_duration_since(entry.timestamp) > CONNECTED_REFRESH {
                entry.timestamp = now;
            }
        }
    }

    /// Records a successful handshake with `addr` (btcd `Good`): its failures
    /// are forgiven and it moves to the tried table. If its tried bucket is
    /// full, the oldest entry there goes back to the new table.
    pub fn good(&mut self, now: Instant, addr: SocketAddr) {
        let Some(&id) = self.index.get(&IndexKey::new(addr)) else {
            return;
        };
        let refresh = self.flavor.is_093();
        let Some(entry) = self.entry_mut(id) else {
            return;
        };
        entry.last_success = Some(now);
        entry.last_attempt = Some(now);
        entry.attempts = 0;
        if refresh {
            // 0.9.3's `Good_` also makes the address fresh.
            entry.timestamp = now;
        }
        let Place::New { buckets, refs } = entry.place else {
            return;
        };
        let addr = entry.addr;
        let used = usize::from(refs).min(MAX_NEW_PER_ADDRESS);
        let held = buckets.get(..used).unwrap_or(&[]);
        for &b in held {
            self.new.remove(b, id);
        }
        // btcd takes the lowest-numbered bucket it was in.
        let Some(&old_bucket) = held.iter().min() else {
            return;
        };
        self.n_new = self.n_new.saturating_sub(1);

        let tried_bucket = self.key.tried_bucket(&self.geometry, addr);
        if self.tried.push(tried_bucket, id) {
            self.set_place(id, Place::Tried(tried_bucket));
            self.n_tried += 1;
            return;
        }
        let Some(out) = self.tried_victim(tried_bucket) else {
            return;
        };
        if !self.tried.replace(tried_bucket, out, id) {
            return;
        }
        self.set_place(id, Place::Tried(tried_bucket));
        let Some((out_addr, out_source)) = self.entry(out).map(|e| (e.addr, e.source)) else {
            return;
        };
        let mut bucket = self.key.new_bucket(
            &self.geometry,
            GroupKey::of(out_addr.ip()),
            GroupKey::of(out_source),
        );
        if self.new.is_full(bucket) {
            // btcd: the bucket `addr` just left has room.
            bucket = old_bucket;
        }
        if self.new.push(bucket, out) {
            self.set_place(
                out,
                Place::New {
                    buckets: [bucket; MAX_NEW_PER_ADDRESS],
                    refs: 1,
                },
            );
            self.n_new += 1;
        } else {
            // Unreachable (old_bucket has room); forget it rather than leak.
            self.index.remove(&IndexKey::new(out_addr));
            self.release(out);
        }
    }

    /// Whom a full tried bucket sends back to the new table: btcd's oldest
    /// entry (the first of equals), or 0.9.3's `SelectTried`: of 4 distinct
    /// random entries, the one that succeeded longest ago.
    fn tried_victim(&mut self, bucket: u16) -> Option<u32> {
        let entries = self.tried.entries(bucket);
        if !self.flavor.is_093() {
            return entries
                .iter()
                .filter_map(|&e| Some((e, self.entry(e)?.timestamp)))
                .fold(
                    None,
                    |oldest: Option<(u32, Instant)>, (e, ts)| match oldest {
                        Some((_, old_ts)) if old_ts <= ts => oldest,
                        _ => Some((e, ts)),
                    },
                )
                .map(|(e, _)| e);
        }
        // A partial Fisher-Yates shuffle of the positions picks them.
        let mut positions: Vec<usize> = (0..entries.len()).collect();
        let mut oldest: Option<(Option<Instant>, u32)> = None;
        for i in 0..INSPECT_ON_EVICT.min(positions.len()) {
            let j = i + self.rng.below((positions.len() - i) as u64) as usize;
            positions.swap(i, j);
            let id = *entries.get(positions[i])?;
            let success = self.entry(id)?.last_success;
            if oldest.is_none_or(|(s, _)| success < s) {
                oldest = Some((success, id));
            }
        }
        oldest.map(|(_, id)| id)
    }

    /// btcd's `GetAddress`: a random address, or `None` for an empty book.
    ///
    /// Picks the tried table or the new one with even odds (the one that is
    /// not empty, if only one is), then samples addresses from it, accepting
    /// one with probability `factor × chance()`, where `factor` starts at 1
    /// and grows by 1.2 per rejection. Fresh addresses are thus preferred,
    /// failing ones still come up. Unlike btcd's unbounded loop, it gives up
    /// after [`SelectPolicy::MAX_SAMPLES`] samples and returns the sample
    /// with the highest chance: when every chance has decayed to almost
    /// nothing, btcd's loop spins thousands of times before the factor
    /// overflows to infinity.
    ///
    /// It does not record an attempt; [`select`](AddrBook::select) does.
    pub fn get_address(&mut self, now: Instant) -> Option<SocketAddr> {
        let id = self.pick(now, 0)?;
        Some(self.entry(id)?.addr)
    }

    fn entry(&self, id: u32) -> Option<&KnownAddress> {
        self.slots.get(usize::try_from(id).ok()?)?.as_ref()
    }

    fn entry_mut(&mut self, id: u32) -> Option<&mut KnownAddress> {
        self.slots.get_mut(usize::try_from(id).ok()?)?.as_mut()
    }

    fn find_mut(&mut self, addr: SocketAddr) -> Option<&mut KnownAddress> {
        let id = *self.index.get(&IndexKey::new(addr))?;
        self.entry_mut(id)
    }

    fn set_place(&mut self, id: u32, place: Place) {
        if let Some(entry) = self.entry_mut(id) {
            entry.place = place;
        }
    }

    /// Makes room for `additional` more addresses (at most a full book).
    #[cfg(feature = "serde")]
    fn reserve(&mut self, additional: usize) {
        let additional = additional.min(self.flavor.max_addresses().saturating_sub(self.len()));
        self.slots.reserve_exact(additional);
        self.index.reserve(additional);
    }

    /// Stores `entry` in a free slot (the most recently freed first).
    fn alloc(&mut self, entry: KnownAddress) -> Option<u32> {
        if let Some(id) = self.free.pop() {
            if let Some(slot) = self.slots.get_mut(usize::try_from(id).ok()?) {
                *slot = Some(entry);
                return Some(id);
            }
        }
        let id = u32::try_from(self.slots.len()).ok()?;
        if self.slots.len() == self.slots.capacity() {
            // Double, but never past the most the book can hold: a full book
            // would otherwise carry up to 60 % of empty slots.
            let len = self.slots.len();
            let want = (len * 2).clamp(64, self.flavor.max_addresses().max(len + 1));
            self.slots.reserve_exact(want - len);
        }
        self.slots.push(Some(entry));
        Some(id)
    }

    fn release(&mut self, id: u32) {
        if let Some(slot) = usize::try_from(id).ok().and_then(|i| self.slots.get_mut(i)) {
            if slot.take().is_some() {
                self.free.push(id);
            }
        }
    }
}

impl fmt::Debug for AddrBook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AddrBook")
            .field("new", &self.n_new)
            .field("tried", &self.n_tried)
            .field("accept_unroutable", &self.accept_unroutable)
            .finish_non_exhaustive()
    }
}

/// One spelling per address: an IPv4-mapped IPv6 address is the IPv4
/// address (as btcd's 16-byte `net.IP` makes them equal), and the IPv6 flow
/// label, which is not part of a peer's identity, is dropped.
fn canonical(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V4(_) => addr,
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::from((v4, v6.port())),
            None => SocketAddr::V6(SocketAddrV6::new(*v6.ip(), v6.port(), 0, v6.scope_id())),
        },
    }
}
