//! Where addresses go: btcd's group-based bucket placement, keyed by a secret
//! so that an attacker cannot aim addresses at chosen buckets, and the
//! fixed-size tables that hold them.
//!
//! btcd places a new address by `H(key, source group, H(key, group, source
//! group) % 64) % 1024`, so one source group reaches at most 64 of the 1024
//! new buckets (4 096 addresses): a single peer gossiping garbage can fill
//! only a sixteenth of the table. A tried address goes to
//! `H(key, group, H(key, address) % 8) % 64`, so one group reaches at most 8
//! of the 64 tried buckets. btcd's `H` is double SHA-256; here it is
//! SipHash-1-3 over 64-bit words with a 128-bit key, which is a keyed PRF
//! (what placement needs) at a few nanoseconds instead of a microsecond.

use std::net::SocketAddr;

use crate::{GroupKey, Rng};

use super::flavor::Geometry;

/// Domain separation: each of the four hashes starts with its own tag, so no
/// input of one can collide with an input of another.
const TAG_NEW_GROUP: u64 = 1;
const TAG_NEW_BUCKET: u64 = 2;
const TAG_TRIED_ADDR: u64 = 3;
const TAG_TRIED_BUCKET: u64 = 4;

/// The secret that decides placement (btcd's 32-byte `key`).
///
/// Drawn from the book's seed and saved with the book, so a reloaded book
/// places addresses where the saved one did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HashKey(pub(crate) [u64; 2]);

impl HashKey {
    /// A key drawn from `rng`.
    pub(crate) fn draw(rng: &mut Rng) -> HashKey {
        HashKey([rng.next_u64(), rng.next_u64()])
    }

    /// The new bucket for an address of group `group` heard from a source of
    /// group `source` (btcd `getNewBucket`).
    pub(crate) fn new_bucket(self, geometry: &Geometry, group: GroupKey, source: GroupKey) -> u16 {
        let (g, s) = (group_word(group), group_word(source));
        let slot = sip13(self.0, &[TAG_NEW_GROUP, g, s]) % geometry.new_per_source_group;
        bucket_index(
            sip13(self.0, &[TAG_NEW_BUCKET, s, slot]),
            geometry.new_buckets,
        )
    }

    /// The tried bucket for `addr` (btcd `getTriedBucket`).
    pub(crate) fn tried_bucket(self, geometry: &Geometry, addr: SocketAddr) -> u16 {
        let ip = u128::from(match addr.ip().to_canonical() {
            std::net::IpAddr::V4(v4) => v4.to_ipv6_mapped(),
            std::net::IpAddr::V6(v6) => v6,
        });
        let words = [
            TAG_TRIED_ADDR,
            (ip >> 64) as u64,
            ip as u64,
            u64::from(addr.port()),
        ];
        let slot = sip13(self.0, &words) % geometry.tried_per_group;
        let group = group_word(GroupKey::of(addr.ip()));
        bucket_index(
            sip13(self.0, &[TAG_TRIED_BUCKET, group, slot]),
            geometry.tried_buckets,
        )
    }
}

/// `hash % count` as a bucket index; counts are far below `u16::MAX`.
fn bucket_index(hash: u64, count: usize) -> u16 {
    let count = count as u64;
    u16::try_from(hash % count).unwrap_or(0)
}

/// A group as one injective 64-bit word: a tag byte, then its payload.
fn group_word(group: GroupKey) -> u64 {
    match group {
        GroupKey::Local => 1 << 56,
        GroupKey::Unroutable => 2 << 56,
        GroupKey::Ipv4([a, b]) => 3 << 56 | u64::from(u16::from_be_bytes([a, b])),
        GroupKey::Ipv6(bytes) => 4 << 56 | u64::from(u32::from_be_bytes(bytes)),
        GroupKey::HeNet(nibble) => 5 << 56 | u64::from(nibble),
        GroupKey::Tor(key) => 6 << 56 | u64::from(key),
        GroupKey::I2p(key) => 7 << 56 | u64::from(key),
        GroupKey::Cjdns(key) => 8 << 56 | u64::from(key),
    }
}

/// SipHash-1-3 of the little-endian bytes of `words`.
fn sip13(key: [u64; 2], words: &[u64]) -> u64 {
    sip::<1, 3>(key, words)
}

/// SipHash-c-d over whole 64-bit words (a message whose length is a multiple
/// of 8, so the last block carries only the length).
fn sip<const C: usize, const D: usize>(key: [u64; 2], words: &[u64]) -> u64 {
    let [k0, k1] = key;
    let mut v = [
        k0 ^ 0x736f_6d65_7073_6575,
        k1 ^ 0x646f_7261_6e64_6f6d,
        k0 ^ 0x6c79_6765_6e65_7261,
        k1 ^ 0x7465_6462_7974_6573,
    ];
    let compress = |v: &mut [u64; 4], m: u64, rounds: usize| {
        v[3] ^= m;
        for _ in 0..rounds {
            sip_round(v);
        }
        v[0] ^= m;
    };
    for &m in words {
        compress(&mut v, m, C);
    }
    let len_bytes = (words.len() as u64).wrapping_mul(8);
    compress(&mut v, len_bytes << 56, C);
    v[2] ^= 0xff;
    for _ in 0..D {
        sip_round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

fn sip_round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13) ^ v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16) ^ v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21) ^ v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17) ^ v[2];
    v[2] = v[2].rotate_left(32);
}

/// Marks a bucket absent from the non-empty list.
const NOT_LISTED: u16 = u16::MAX;

/// A table of fixed-size buckets of entry ids (btcd's `addrNew` or
/// `addrTried`), plus the list of its non-empty buckets.
///
/// btcd draws a bucket at random and draws again while it is empty, which
/// with one address in 1 024 buckets means a thousand draws per pick.
/// Drawing uniformly from the non-empty buckets gives exactly the same
/// distribution in one draw. Buckets are index-ordered `Vec`s, so every
/// choice is a function of the seed and the operations.
#[derive(Clone, Debug)]
pub(crate) struct Table {
    buckets: Vec<Vec<u32>>,
    capacity: usize,
    /// The non-empty buckets, in no meaningful (but deterministic) order.
    nonempty: Vec<u16>,
    /// For each bucket, its index in `nonempty`, or `NOT_LISTED`.
    position: Vec<u16>,
}

impl Table {
    /// `count` empty buckets of `capacity` entries each.
    pub(crate) fn new(count: usize, capacity: usize) -> Table {
        Table {
            buckets: vec![Vec::new(); count],
            capacity,
            nonempty: Vec::new(),
            position: vec![NOT_LISTED; count],
        }
    }

    /// The entries of bucket `b` (empty for an out-of-range index).
    pub(crate) fn entries(&self, b: u16) -> &[u32] {
        self.buckets.get(usize::from(b)).map_or(&[], Vec::as_slice)
    }

    /// Whether bucket `b` has no room (an out-of-range bucket has none).
    pub(crate) fn is_full(&self, b: u16) -> bool {
        self.buckets
            .get(usize::from(b))
            .is_none_or(|bucket| bucket.len() >= self.capacity)
    }

    /// Adds `id` to bucket `b` if there is room; false otherwise.
    pub(crate) fn push(&mut self, b: u16, id: u32) -> bool {
        let capacity = self.capacity;
        let Some(bucket) = self.buckets.get_mut(usize::from(b)) else {
            return false;
        };
        if bucket.len() >= capacity {
            return false;
        }
        bucket.push(id);
        if bucket.len() == 1 {
            if let Some(pos) = self.position.get_mut(usize::from(b)) {
                *pos = u16::try_from(self.nonempty.len()).unwrap_or(NOT_LISTED);
                self.nonempty.push(b);
            }
        }
        true
    }

    /// Removes `id` from bucket `b`; false if it was not there.
    pub(crate) fn remove(&mut self, b: u16, id: u32) -> bool {
        let Some(bucket) = self.buckets.get_mut(usize::from(b)) else {
            return false;
        };
        let Some(i) = bucket.iter().position(|&e| e == id) else {
            return false;
        };
        bucket.swap_remove(i);
        if bucket.is_empty() {
            self.unlist(b);
        }
        true
    }

    /// Puts `new` where `old` is in bucket `b` (tried-table eviction keeps
    /// the slot); false if `old` was not there.
    pub(crate) fn replace(&mut self, b: u16, old: u32, new: u32) -> bool {
        let entry = self
            .buckets
            .get_mut(usize::from(b))
            .and_then(|bucket| bucket.iter_mut().find(|e| **e == old));
        match entry {
            Some(entry) => {
                *entry = new;
                true
            }
            None => false,
        }
    }

    /// A uniformly random non-empty bucket, then a uniformly random entry in
    /// it: btcd's draw, without its retries on empty buckets.
    pub(crate) fn pick(&self, rng: &mut Rng) -> Option<u32> {
        let i = rng.below(self.nonempty.len() as u64);
        let b = *self.nonempty.get(usize::try_from(i).ok()?)?;
        let bucket = self.buckets.get(usize::from(b))?;
        let j = rng.below(bucket.len() as u64);
        bucket.get(usize::try_from(j).ok()?).copied()
    }

    /// Heap bytes held, from capacities.
    pub(crate) fn heap_bytes(&self) -> usize {
        let inner: usize = self
            .buckets
            .iter()
            .map(|b| b.capacity() * std::mem::size_of::<u32>())
            .sum();
        inner
            + self.buckets.capacity() * std::mem::size_of::<Vec<u32>>()
            + (self.nonempty.capacity() + self.position.capacity()) * std::mem::size_of::<u16>()
    }

    /// Every bucket with its index, in index order (for tests).
    #[cfg(test)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u16, &[u32])> {
        self.buckets
            .iter()
            .enumerate()
            .map(|(b, bucket)| (u16::try_from(b).unwrap_or(NOT_LISTED), bucket.as_slice()))
    }

    /// Drops bucket `b` from the non-empty list in O(1).
    fn unlist(&mut self, b: u16) {
        let Some(pos) = self.position.get_mut(usize::from(b)) else {
            return;
        };
        let i = usize::from(std::mem::replace(pos, NOT_LISTED));
        if i >= self.nonempty.len() {
            return;
        }
        self.nonempty.swap_remove(i);
        if let Some(&moved) = self.nonempty.get(i) {
            if let Some(p) = self.position.get_mut(usize::from(moved)) {
                *p = u16::try_from(i).unwrap_or(NOT_LISTED);
            }
        }
    }

    /// Checks the non-empty list against the buckets (for tests).
    #[cfg(test)]
    pub(crate) fn check(&self) -> Result<(), String> {
        for (b, bucket) in self.iter() {
            if bucket.len() > self.capacity {
                return Err(format!(
                    "bucket {b} holds {} > {}",
                    bucket.len(),
                    self.capacity
                ));
            }
            let pos = self.position[usize::from(b)];
            if bucket.is_empty() != (pos == NOT_LISTED) {
                return Err(format!(
                    "bucket {b}: listed {pos} with {} entries",
                    bucket.len()
                ));
            }
            if pos != NOT_LISTED && self.nonempty.get(usize::from(pos)) != Some(&b) {
                return Err(format!("bucket {b}: position {pos} is wrong"));
            }
        }
        let listed = self.buckets.iter().filter(|b| !b.is_empty()).count();
        if listed != self.nonempty.len() {
            return Err(format!(
                "{} listed, {listed} non-empty",
                self.nonempty.len()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::Flavor;
    use super::*;
    use std::net::IpAddr;

    const BTCD: Geometry = Flavor::Btcd.geometry();

    /// Our word-oriented SipHash is the standard one: checked at 2-4 rounds
    /// against std's (deprecated but stable) `SipHasher`, which is SipHash-2-4.
    #[test]
    #[allow(deprecated)]
    fn sip_matches_the_reference_implementation() {
        use std::hash::{Hasher, SipHasher};
        let key = [0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908];
        for words in [&[][..], &[1][..], &[1, 2, 3][..], &[u64::MAX, 0, 42, 7][..]] {
            let mut h = SipHasher::new_with_keys(key[0], key[1]);
            let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
            h.write(&bytes);
            assert_eq!(sip::<2, 4>(key, words), h.finish(), "{words:?}");
        }
    }

    #[test]
    fn hashes_are_pinned_so_saved_books_and_traces_stay_valid() {
        // A change here moves every address of every saved book.
        let key = HashKey([1, 2]);
        let g = GroupKey::of("1.2.3.4".parse().unwrap());
        let s = GroupKey::of("5.6.7.8".parse().unwrap());
        let pinned = (
            key.new_bucket(&BTCD, g, s),
            key.tried_bucket(&BTCD, "1.2.3.4:8333".parse().unwrap()),
        );
        assert_eq!(pinned, PINNED);
    }
    const PINNED: (u16, u16) = (910, 5);

    #[test]
    fn the_key_changes_placement() {
        let g = GroupKey::of("1.2.3.4".parse().unwrap());
        let differs = (0..64).any(|s| {
            let src = GroupKey::of(IpAddr::from([9, s, 1, 1]));
            HashKey([1, 2]).new_bucket(&BTCD, g, src) != HashKey([3, 4]).new_bucket(&BTCD, g, src)
        });
        assert!(differs);
    }

    #[test]
    fn one_source_group_reaches_at_most_64_new_buckets() {
        let key = HashKey([11, 22]);
        let src = GroupKey::of("5.6.7.8".parse().unwrap());
        let mut seen = std::collections::BTreeSet::new();
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let g = GroupKey::of(IpAddr::from([a, b, 1, 1]));
                seen.insert(key.new_bucket(&BTCD, g, src));
            }
        }
        assert!(seen.len() <= 64, "{}", seen.len());
        assert!(seen.len() > 32, "the 64 slots are used: {}", seen.len());
        assert!(seen.iter().all(|&b| usize::from(b) < BTCD.new_buckets));
    }

    #[test]
    fn one_group_reaches_at_most_8_tried_buckets() {
        let key = HashKey([5, 6]);
        let mut seen = std::collections::BTreeSet::new();
        for c in 0..=255u8 {
            for port in [8333, 8334, 18333] {
                seen.insert(key.tried_bucket(&BTCD, SocketAddr::from(([7, 7, c, 1], port))));
            }
        }
        assert!(seen.len() <= 8 && seen.len() >= 4, "{}", seen.len());
        assert!(seen.iter().all(|&b| usize::from(b) < BTCD.tried_buckets));
    }

    #[test]
    fn group_words_are_distinct() {
        let groups = [
            GroupKey::Local,
            GroupKey::Unroutable,
            GroupKey::Ipv4([0, 0]),
            GroupKey::Ipv4([1, 2]),
            GroupKey::Ipv6([0, 0, 0, 0]),
            GroupKey::Ipv6([0, 0, 1, 2]),
            GroupKey::HeNet(0),
            GroupKey::HeNet(15),
            GroupKey::Tor(0),
            GroupKey::Tor(15),
        ];
        let words: std::collections::BTreeSet<u64> =
            groups.iter().map(|&g| group_word(g)).collect();
        assert_eq!(words.len(), groups.len());
    }

    #[test]
    fn table_tracks_nonempty_buckets_and_capacity() {
        let mut t = Table::new(8, 2);
        let mut rng = Rng::new(1);
        assert_eq!(t.pick(&mut rng), None);
        assert!(t.push(3, 10));
        assert!(t.push(3, 11));
        assert!(!t.push(3, 12), "full");
        assert!(t.is_full(3));
        assert!(!t.push(99, 1), "out of range");
        assert!(t.is_full(99));
        assert!(t.push(5, 20));
        t.check().unwrap();
        for _ in 0..100 {
            assert!(matches!(t.pick(&mut rng), Some(10 | 11 | 20)));
        }
        assert!(t.replace(3, 11, 12));
        assert!(!t.replace(3, 11, 13));
        assert!(t.remove(3, 10));
        assert!(!t.remove(3, 10));
        assert!(t.remove(3, 12));
        t.check().unwrap();
        assert_eq!(t.entries(3), &[] as &[u32]);
        assert_eq!(t.entries(99), &[] as &[u32]);
        for _ in 0..20 {
            assert_eq!(t.pick(&mut rng), Some(20));
        }
        assert!(t.remove(5, 20));
        t.check().unwrap();
        assert_eq!(t.pick(&mut rng), None);
        assert!(t.heap_bytes() > 0);
    }
}
