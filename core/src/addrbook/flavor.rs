//! Which release's rules the book follows: btcd's, or bitcoind 0.9.3's,
//! the book Heilman, Kendler, Zohar and Goldberg eclipsed in 2015.
//!
//! btcd's address manager is a port of bitcoind's from before the 2015
//! countermeasures, with larger tables. Parameterised with 0.9.3's sizes and
//! its three behaviours that the attack exploits, the same code is 0.9.3's
//! book, so the simulator can check the paper's analysis against it:
//!
//! - **time-biased selection**: an address's chance is multiplied by
//!   `600 / (600 + seconds since it was last seen)`, so fresh addresses,
//!   which an attacker refreshes at will, are preferred;
//! - **tried/new bias**: the table is chosen with odds that move toward the
//!   new table as outbound connections open (`nUnkBias = 10 + 10·ω`);
//! - **"bitcoin eviction"**: a full tried bucket inspects 4 random entries
//!   and evicts the one that succeeded longest ago; a full new bucket
//!   drops its first terrible entry, else the oldest of 4 random picks.
//!
//! A successful handshake also refreshes the address's timestamp, and the
//! manager moves an inbound peer's address straight to tried (0.9.3 did so
//! when the peer's `version` named its own address): the attacker's lever.
//! It is a research flavour for the simulator, never a node's choice.

/// The rules of an [`AddrBook`](super::AddrBook).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Flavor {
    /// btcd's `addrmgr`.
    #[default]
    Btcd,
    /// bitcoind 0.9.3's `CAddrMan`: small tables, time-biased selection,
    /// tried/new odds biased by open outbound connections, "bitcoin
    /// eviction".
    Bitcoind093,
}

/// Table sizes and spreads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub(crate) new_buckets: usize,
    pub(crate) new_bucket_size: usize,
    pub(crate) tried_buckets: usize,
    pub(crate) tried_bucket_size: usize,
    /// New buckets one source group can reach.
    pub(crate) new_per_source_group: u64,
    /// Tried buckets one address group can reach.
    pub(crate) tried_per_group: u64,
    /// New buckets one address may occupy (at most [`MAX_NEW_PER_ADDRESS`]).
    pub(crate) new_per_address: usize,
}

/// The most new buckets one address may occupy in any flavour.
pub(crate) const MAX_NEW_PER_ADDRESS: usize = 8;

/// btcd: `newBucketCount` 1 024 × `newBucketSize` 64, `triedBucketCount`
/// 64 × `triedBucketSize` 256, 64 new buckets per source group, 8 tried
/// buckets per group, 8 new buckets per address.
const BTCD: Geometry = Geometry {
    new_buckets: 1024,
    new_bucket_size: 64,
    tried_buckets: 64,
    tried_bucket_size: 256,
    new_per_source_group: 64,
    tried_per_group: 8,
    new_per_address: MAX_NEW_PER_ADDRESS,
};

/// bitcoind 0.9.3 `addrman.h`: new 256 × 64, tried 64 × 64, 32 new buckets
/// per source group, 4 tried buckets per group, 4 new buckets per address.
const BITCOIND_093: Geometry = Geometry {
    new_buckets: 256,
    new_bucket_size: 64,
    tried_buckets: 64,
    tried_bucket_size: 64,
    new_per_source_group: 32,
    tried_per_group: 4,
    new_per_address: 4,
};

/// bitcoind 0.9.3 `ADDRMAN_TRIED_ENTRIES_INSPECT_ON_EVICT`.
pub(crate) const INSPECT_ON_EVICT: usize = 4;

impl Flavor {
    pub(crate) const fn geometry(self) -> Geometry {
        match self {
            Flavor::Btcd => BTCD,
            Flavor::Bitcoind093 => BITCOIND_093,
        }
    }

    /// The most addresses a book of this flavour holds.
    pub const fn max_addresses(self) -> usize {
        let g = self.geometry();
        g.new_buckets * g.new_bucket_size + g.tried_buckets * g.tried_bucket_size
    }

    /// Whether this is 0.9.3's book.
    pub(crate) const fn is_093(self) -> bool {
        matches!(self, Flavor::Bitcoind093)
    }
}
