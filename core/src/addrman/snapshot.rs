//! A versioned, serde-friendly copy of Core's book, and its careful
//! rebuilding from untrusted data (a file, a trace).
//!
//! Like Core's `peers.dat`, a snapshot holds the key, every address with its
//! history, and the new buckets each address occupies; slots are not saved
//! but recomputed from the key, and the collision set and the failure
//! bookkeeping are memory-only. Rebuilding follows Core's `Unserialize`: a
//! tried address goes to its tried slot and is dropped if that slot is
//! taken or the address is not routable; a new address goes to the buckets
//! it listed (its first source's bucket when those are taken) and is dropped
//! if it finds no free slot. Structural errors (an unknown format, a
//! duplicate, a bucket that does not exist) refuse the whole snapshot.
//!
//! Rebuilding is a function of the snapshot and the random seed, and a
//! rebuilt book's snapshot rebuilds to the same book: that is what lets a
//! trace carry the book a run started from.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{AddrMan, BucketKey, Entry, Stamp, EMPTY};
use super::{MAX_ADDRESSES, NEW_BUCKETS, NEW_BUCKETS_PER_ADDRESS};
use crate::addrbook::SnapshotError;
use crate::{Host, Instant, PeerAddr};

/// The snapshot format this version writes: 2, whose addresses may be on
/// any network (Tor, I2P, CJDNS). An IP address is written as in format 1.
pub const SNAPSHOT_FORMAT: u32 = 2;

/// The oldest snapshot format this version reads: format 1 (IP addresses
/// only) reads as format 2.
pub const OLDEST_SNAPSHOT_FORMAT: u32 = 1;

/// Everything an [`AddrMan`] keeps across restarts.
///
/// Its own fields are not strict: a saved file carries the book's kind
/// beside them (`"book"`, see `BookSnapshot`), and the store reads the file
/// straight into this type so that errors keep their line. Each address is
/// strict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The format version, [`SNAPSHOT_FORMAT`].
    pub format: u32,
    /// The secret placement key.
    pub key: BucketKey,
    /// Every address, in the book's shuffle order.
    pub addresses: Vec<SnapshotEntry>,
}

/// One address of a [`Snapshot`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotEntry {
    /// The address.
    pub addr: PeerAddr,
    /// Who first told us of it.
    pub source: Host,
    /// When it was last seen, as gossip claimed.
    pub time: Instant,
    /// When we last tried it.
    pub last_try: Option<Instant>,
    /// When a connection to it last completed its handshake.
    pub last_success: Option<Instant>,
    /// Failed attempts since the last success.
    pub attempts: u32,
    /// Whether it is in the tried table.
    pub tried: bool,
    /// The new buckets holding it (empty when tried).
    pub new_buckets: Vec<u16>,
}

impl AddrMan {
    /// A copy of everything the book keeps, for saving or for a trace.
    pub fn snapshot(&self) -> Snapshot {
        let addresses = self
            .random
            .iter()
            .filter_map(|&id| self.entry(id).map(|info| (id, info)))
            .map(|(id, info)| SnapshotEntry {
                addr: self.addr_of(info),
                source: self.source_of(info),
                time: info.time.instant(),
                last_try: info.last_try.get(),
                last_success: info.last_success.get(),
                attempts: info.attempts,
                tried: info.in_tried,
                new_buckets: if info.in_tried {
                    Vec::new()
                } else {
                    self.new_buckets_of(id, info)
                },
            })
            .collect();
        Snapshot {
            format: SNAPSHOT_FORMAT,
            key: self.key,
            addresses,
        }
    }

    /// The new buckets holding entry `id`, found as `make_tried` finds them.
    fn new_buckets_of(&self, id: u32, info: &Entry) -> Vec<u16> {
        let addr = self.addr_of(info);
        let start = self.key.new_bucket(addr, self.source_of(info));
        let mut found = Vec::with_capacity(usize::from(info.ref_count));
        for n in 0..NEW_BUCKETS {
            if found.len() == usize::from(info.ref_count) {
                break;
            }
            let bucket = (start + n) % NEW_BUCKETS;
            if self.new.get(self.new_slot(addr, bucket)) == id {
                found.push(bucket as u16);
            }
        }
        found
    }

    /// Rebuilds a book from `snapshot`, its random choices seeded from
    /// `rng_seed`, taking local and private addresses if
    /// `accept_unroutable` (see [`AddrMan::set_accept_unroutable`]).
    /// Returns the book and how many addresses were dropped (not to be
    /// dialled, or whose slots were taken).
    pub fn from_snapshot(
        snapshot: &Snapshot,
        rng_seed: u64,
        accept_unroutable: bool,
    ) -> Result<(AddrMan, usize), SnapshotError> {
        if !(OLDEST_SNAPSHOT_FORMAT..=SNAPSHOT_FORMAT).contains(&snapshot.format) {
            return Err(SnapshotError::UnsupportedFormat {
                found: snapshot.format,
            });
        }
        let mut book = AddrMan::new(snapshot.key, rng_seed);
        book.set_accept_unroutable(accept_unroutable);
        let mut dropped = 0;
        for (index, saved) in snapshot.addresses.iter().enumerate() {
            let addr = saved.addr;
            let invalid = |problem: String| SnapshotError::Invalid {
                index,
                addr,
                problem,
            };
            if book.lookup(addr).is_some() {
                return Err(SnapshotError::Duplicate { index, addr });
            }
            if index >= MAX_ADDRESSES {
                return Err(invalid(format!(
                    "a book holds at most {MAX_ADDRESSES} addresses"
                )));
            }
            check_buckets(saved).map_err(invalid)?;
            if !book.takes(addr) || !place(&mut book, addr, saved) {
                dropped += 1;
            }
        }
        Ok((book, dropped))
    }
}

/// The structural checks: buckets that exist, as many as allowed.
fn check_buckets(saved: &SnapshotEntry) -> Result<(), String> {
    let count = saved.new_buckets.len();
    if saved.tried && count != 0 {
        return Err(format!("a tried address is in no new bucket, not {count}"));
    }
    if !saved.tried && (count == 0 || count > usize::from(NEW_BUCKETS_PER_ADDRESS)) {
        return Err(format!(
            "a new address is in 1 to {NEW_BUCKETS_PER_ADDRESS} new buckets, not {count}"
        ));
    }
    match saved
        .new_buckets
        .iter()
        .find(|&&b| usize::from(b) >= NEW_BUCKETS)
    {
        Some(b) => Err(format!(
            "new bucket {b} does not exist (there are {NEW_BUCKETS})"
        )),
        None => Ok(()),
    }
}

/// Places one saved address; whether it found a slot.
fn place(book: &mut AddrMan, addr: PeerAddr, saved: &SnapshotEntry) -> bool {
    let source = saved.source;
    if saved.tried {
        let slot = book.tried_slot(addr);
        if book.tried.get(slot) != EMPTY {
            return false;
        }
        let id = book.create(addr, source, saved.time);
        book.restore_history(id, saved);
        // `create` counted it as new; it is tried.
        book.n_new -= 1;
        book.by_network[addr.network().index()].new -= 1;
        book.n_tried += 1;
        book.by_network[addr.network().index()].tried += 1;
        if let Some(info) = book.entry_mut(id) {
            info.in_tried = true;
        }
        book.tried.set(slot, id);
        return true;
    }
    let id = book.create(addr, source, saved.time);
    book.restore_history(id, saved);
    let mut refs = 0;
    for &bucket in &saved.new_buckets {
        let mut slot = book.new_slot(addr, usize::from(bucket));
        if book.new.get(slot) != EMPTY {
            // As Core: fall back to the first source's bucket.
            slot = book.new_slot(addr, book.key.new_bucket(addr, source));
        }
        if book.new.get(slot) == EMPTY {
            book.new.set(slot, id);
            refs += 1;
        }
    }
    if let Some(info) = book.entry_mut(id) {
        info.ref_count = refs;
    }
    if refs == 0 {
        book.delete(id);
        return false;
    }
    true
}

impl AddrMan {
    fn restore_history(&mut self, id: u32, saved: &SnapshotEntry) {
        if let Some(info) = self.entry_mut(id) {
            info.last_try = saved.last_try.map_or(Stamp::NEVER, Stamp::at);
            info.last_success = saved.last_success.map_or(Stamp::NEVER, Stamp::at);
            info.attempts = saved.attempts;
        }
    }
}

impl Serialize for BucketKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::Seed::from_bytes(*self.as_bytes()).to_hex())
    }
}

impl<'de> Deserialize<'de> for BucketKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<BucketKey, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let bytes = crate::Seed::from_hex(&text).map_err(|e| {
            serde::de::Error::custom(format!("a bucket key is 64 hexadecimal digits: {e}"))
        })?;
        Ok(BucketKey::from_bytes(*bytes.as_bytes()))
    }
}

impl fmt::Display for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Core address book of {} addresses", self.addresses.len())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const NOW: Instant = Instant::from_secs(1_700_000_000);

    fn filled() -> AddrMan {
        let mut book = AddrMan::new(BucketKey::from_bytes([3; 32]), 3);
        for i in 0..600u32 {
            let addr: PeerAddr =
                std::net::SocketAddr::from(([40 + (i % 9) as u8, (i / 9) as u8, 1, 1], 8333))
                    .into();
            let source = std::net::IpAddr::from([60 + (i % 13) as u8, 1, 1, 1]);
            book.add(
                NOW,
                &[(addr, NOW - Duration::from_secs(u64::from(i)))],
                source.into(),
                Duration::ZERO,
            );
            if i % 3 == 0 {
                book.good(NOW, addr);
            }
            if i % 5 == 0 {
                book.attempt(NOW, addr, true);
            }
        }
        book
    }

    #[test]
    fn a_rebuilt_book_is_the_book_and_its_snapshot_the_snapshot() {
        let book = filled();
        let snapshot = book.snapshot();
        let (rebuilt, dropped) = AddrMan::from_snapshot(&snapshot, 3, false).unwrap();
        assert_eq!(dropped, 0);
        rebuilt.check().unwrap();
        assert_eq!(rebuilt.snapshot(), snapshot);
        assert_eq!(
            (rebuilt.new_len(), rebuilt.tried_len()),
            (book.new_len(), book.tried_len())
        );
        for entry in &snapshot.addresses {
            assert_eq!(rebuilt.position(entry.addr), book.position(entry.addr));
        }
        // And again: rebuilding is idempotent, as a trace needs.
        let (again, _) = AddrMan::from_snapshot(&rebuilt.snapshot(), 3, false).unwrap();
        assert_eq!(again.snapshot(), snapshot);
    }

    #[test]
    fn remove_invalid() {
        // Core's `remove_invalid`: unroutable addresses in a saved book are
        // dropped on load, the rest kept.
        let mut snapshot = filled().snapshot();
        let before = snapshot.addresses.len();
        let new = snapshot.addresses.iter().position(|e| !e.tried).unwrap();
        snapshot.addresses[new].addr = "0.0.0.0:8333".parse().unwrap();
        let tried = snapshot.addresses.iter().position(|e| e.tried).unwrap();
        snapshot.addresses[tried].addr = "255.255.255.255:8333".parse().unwrap();
        let (book, dropped) = AddrMan::from_snapshot(&snapshot, 3, false).unwrap();
        assert_eq!(dropped, 2);
        assert_eq!(book.len(), before - 2);
        book.check().unwrap();
    }

    #[test]
    fn load_addrman_corrupted() {
        // Core's test claims more addresses than the file holds; here the
        // structural lies are refused with the entry they are in.
        let good = filled().snapshot();
        let new_entry = good.addresses.iter().position(|e| !e.tried).unwrap();

        let mut bad = good.clone();
        bad.addresses[new_entry].new_buckets = vec![1024];
        let err = AddrMan::from_snapshot(&bad, 3, false).unwrap_err();
        assert!(err.to_string().contains(&format!("#{new_entry}")), "{err}");
        assert!(err.to_string().contains("1024 does not exist"), "{err}");

        let mut bad = good.clone();
        bad.addresses[new_entry].new_buckets = vec![1; 9];
        assert!(AddrMan::from_snapshot(&bad, 3, false).is_err());

        let mut bad = good.clone();
        bad.addresses.push(bad.addresses[0].clone());
        assert!(matches!(
            AddrMan::from_snapshot(&bad, 3, false),
            Err(SnapshotError::Duplicate { .. })
        ));

        // Format 1 knew IP addresses only and reads as format 2.
        let mut old = good.clone();
        old.format = 1;
        assert_eq!(
            AddrMan::from_snapshot(&old, 3, false).unwrap().0.snapshot(),
            AddrMan::from_snapshot(&good, 3, false)
                .unwrap()
                .0
                .snapshot()
        );

        let mut bad = good;
        bad.format = 99;
        assert!(matches!(
            AddrMan::from_snapshot(&bad, 3, false),
            Err(SnapshotError::UnsupportedFormat { found: 99 })
        ));
    }

    #[test]
    fn load_addrman() {
        // Core's `load_addrman`: three addresses saved and loaded through
        // the serialized form.
        let mut book = AddrMan::new(BucketKey::core_test_key(), 0);
        let source = "252.5.1.1".parse().unwrap();
        let addrs: Vec<_> = ["250.7.1.1:8333", "250.7.2.2:9999", "250.7.3.3:9999"]
            .iter()
            .map(|a| (a.parse().unwrap(), NOW))
            .collect();
        assert_eq!(book.add(NOW, &addrs, source, Duration::ZERO), 3);
        let text = serde_json::to_string(&book.snapshot()).unwrap();
        let read: Snapshot = serde_json::from_str(&text).unwrap();
        let (loaded, dropped) = AddrMan::from_snapshot(&read, 1, false).unwrap();
        assert_eq!((loaded.len(), dropped), (3, 0));
        assert_eq!(loaded.key(), &BucketKey::core_test_key());
    }
}
