//! Where Bitcoin Core puts an address: its keyed bucket and position
//! functions, bit-exact, so that for the same key an address lands in the
//! same slot here as in Core (Core's own unit tests pin the numbers; they
//! are ported in `tests.rs`).
//!
//! Core hashes with `HashWriter` (double SHA-256 over Core's serialization)
//! and keeps the first 8 bytes little-endian (`GetCheapHash`). Byte vectors
//! (groups, service keys) are serialized with a one-byte length prefix (the
//! CompactSize of a length under 253), integers little-endian.
//!
//! - new bucket: `H(key, group, source group) % 64` picks one of 64 buckets
//!   a source group may reach; `H(key, source group, that) % 1024` is the
//!   bucket. One peer's gossip can thus fill at most 64 of the 1 024.
//! - tried bucket: `H(key, service key) % 8` picks one of 8 buckets a group
//!   may reach; `H(key, group, that) % 256` is the bucket.
//! - position: `H(key, 'N' or 'K', bucket, service key) % 64`. Each address
//!   has one fixed slot per bucket: it can neither choose nor evict a chosen
//!   victim (the 2015 eclipse paper's "deterministic random eviction").

use sha2::{Digest, Sha256};

use super::netgroup::{host_group, service_key};
use crate::{Host, PeerAddr};

/// Buckets in the new table (Core `ADDRMAN_NEW_BUCKET_COUNT`).
pub(crate) const NEW_BUCKETS: usize = 1 << 10;
/// Buckets in the tried table (Core `ADDRMAN_TRIED_BUCKET_COUNT`).
pub(crate) const TRIED_BUCKETS: usize = 1 << 8;
/// Slots in every bucket (Core `ADDRMAN_BUCKET_SIZE`).
pub(crate) const BUCKET_SIZE: usize = 1 << 6;
/// Tried buckets one group can reach (Core `ADDRMAN_TRIED_BUCKETS_PER_GROUP`).
const TRIED_BUCKETS_PER_GROUP: u64 = 8;
/// New buckets one source group can reach
/// (Core `ADDRMAN_NEW_BUCKETS_PER_SOURCE_GROUP`).
const NEW_BUCKETS_PER_SOURCE_GROUP: u64 = 64;

/// The secret that decides placement (Core's `nKey`, 256 bits).
///
/// With it, anyone can compute where an address goes; without it, nobody
/// can aim addresses at a chosen bucket. Its `Debug` shows nothing of it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct BucketKey([u8; 32]);

impl BucketKey {
    /// A key of these bytes (in Core's serialization order).
    pub const fn from_bytes(bytes: [u8; 32]) -> BucketKey {
        BucketKey(bytes)
    }

    /// The key's bytes, to save the book.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Core's deterministic test key, `uint256{1}`: for porting Core's
    /// tests, never for a node.
    pub const fn core_test_key() -> BucketKey {
        let mut bytes = [0; 32];
        bytes[0] = 1;
        BucketKey(bytes)
    }

    /// The new-table bucket of `addr` heard of from `source` (Core
    /// `AddrInfo::GetNewBucket`). The port does not count.
    pub fn new_bucket(&self, addr: PeerAddr, source: Host) -> usize {
        let (addr_group, source_group) = (host_group(addr.host()), host_group(source));
        let hash1 = self
            .hasher()
            .bytes(addr_group.as_bytes())
            .bytes(source_group.as_bytes())
            .cheap();
        let hash2 = self
            .hasher()
            .bytes(source_group.as_bytes())
            .u64(hash1 % NEW_BUCKETS_PER_SOURCE_GROUP)
            .cheap();
        (hash2 % NEW_BUCKETS as u64) as usize
    }

    /// The tried-table bucket of `addr` (Core `AddrInfo::GetTriedBucket`).
    pub fn tried_bucket(&self, addr: PeerAddr) -> usize {
        let hash1 = self.hasher().bytes(service_key(addr).as_bytes()).cheap();
        let hash2 = self
            .hasher()
            .bytes(host_group(addr.host()).as_bytes())
            .u64(hash1 % TRIED_BUCKETS_PER_GROUP)
            .cheap();
        (hash2 % TRIED_BUCKETS as u64) as usize
    }

    /// The slot of `addr` in `bucket` of the new (`new == true`) or tried
    /// table (Core `AddrInfo::GetBucketPosition`).
    pub fn position(&self, addr: PeerAddr, new: bool, bucket: usize) -> usize {
        let hash = self
            .hasher()
            .u8(if new { b'N' } else { b'K' })
            .i32(bucket as i32)
            .bytes(service_key(addr).as_bytes())
            .cheap();
        (hash % BUCKET_SIZE as u64) as usize
    }

    fn hasher(&self) -> HashWriter {
        HashWriter(Sha256::new().chain_update(self.0))
    }
}

impl std::fmt::Debug for BucketKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BucketKey(..)")
    }
}

/// Core's `HashWriter`: SHA-256d over Core's serialization of what is fed.
struct HashWriter(Sha256);

impl HashWriter {
    fn u8(mut self, v: u8) -> HashWriter {
        self.0.update([v]);
        self
    }

    fn i32(mut self, v: i32) -> HashWriter {
        self.0.update(v.to_le_bytes());
        self
    }

    fn u64(mut self, v: u64) -> HashWriter {
        self.0.update(v.to_le_bytes());
        self
    }

    /// A byte vector: CompactSize length (one byte, as every vector hashed
    /// here is shorter than 253 bytes), then the bytes.
    fn bytes(mut self, v: &[u8]) -> HashWriter {
        debug_assert!(v.len() < 253);
        self.0.update([v.len() as u8]);
        self.0.update(v);
        self
    }

    /// Core `GetCheapHash`: the first 8 bytes of the double hash, as a
    /// little-endian number.
    fn cheap(self) -> u64 {
        let once = self.0.finalize();
        let twice = Sha256::digest(once);
        let mut first = [0; 8];
        first.copy_from_slice(&twice[..8]);
        u64::from_le_bytes(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_redacted_in_debug_output() {
        assert_eq!(format!("{:?}", BucketKey::core_test_key()), "BucketKey(..)");
    }
}
