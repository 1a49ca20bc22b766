//! The address book inside the manager: which one ([`AddressBook`]), what
//! feeds it ([`Advertised`]), and its saved form ([`BookSnapshot`]).
//!
//! With a book inside, the manager answers its own address requests (no
//! `RequestAddress` is emitted) and learns from inputs: the addresses peers
//! advertise (`Input::Learned`), handshakes (`Input::Handshaked`), dial
//! outcomes and disconnections. Every choice the book makes is then a
//! function of the inputs, so it is in the trace, replayed, simulated and
//! fuzzed with the rest.

use crate::{Instant, PeerAddr};

/// Which address book answers the manager's automatic address requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum AddressBook {
    /// None inside: the application answers `Action::RequestAddress` with
    /// `Input::AddressResult`, as btcd's connmgr calls its
    /// `GetNewAddress` (the runtimes then use btcd's book outside the core).
    External,
    /// btcd's address manager ([`crate::addrbook`]) inside the core.
    Btcd,
    /// Bitcoin Core's address manager ([`crate::addrman`]) inside the core,
    /// with its selection loop, test-before-evict and `addr` rate limits.
    #[default]
    Core,
    /// bitcoind 0.9.3's address manager, the one Heilman et al. eclipsed
    /// in 2015 ([`crate::addrbook::Flavor::Bitcoind093`]): for measuring
    /// eclipse attacks against the paper in the simulator, never for a
    /// node. It takes an inbound peer's address into its tried table.
    #[cfg_attr(feature = "serde", serde(rename = "bitcoind-0.9.3"))]
    Bitcoind093,
}

/// One address a peer advertised: where, and when the peer says it was
/// last seen (its gossip timestamp, on the clock the manager's instants
/// use: nanoseconds since the Unix epoch in the runtimes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Advertised {
    /// The address.
    pub addr: PeerAddr,
    /// When it was last seen, as claimed.
    pub seen: Instant,
}

impl Advertised {
    /// An address claimed to be seen at `seen`.
    pub fn new(addr: impl Into<PeerAddr>, seen: Instant) -> Advertised {
        Advertised {
            addr: addr.into(),
            seen,
        }
    }
}

/// How full the book inside is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct BookCounts {
    /// Addresses heard of, never reached.
    pub new: usize,
    /// Addresses that completed a handshake.
    pub tried: usize,
    /// Addresses waiting for their tried slot (test-before-evict).
    pub collisions: usize,
}

/// What rebuilding a saved book kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Restored {
    /// Addresses in the rebuilt book.
    pub kept: usize,
    /// Saved addresses left out: unroutable, or their slot was taken.
    pub dropped: usize,
    /// The kind of the saved book, when it was not the kind configured and
    /// its addresses were moved into a new book of the configured kind.
    pub migrated_from: Option<AddressBook>,
}

/// Why [`ConnManager::with_book`](crate::ConnManager::with_book) failed.
#[cfg(feature = "serde")]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RestoreError {
    /// The config was refused.
    Config(crate::ConfigError),
    /// The saved book is corrupt.
    Snapshot(crate::addrbook::SnapshotError),
}

#[cfg(feature = "serde")]
impl std::fmt::Display for RestoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RestoreError::Config(e) => write!(f, "{e}"),
            RestoreError::Snapshot(e) => write!(f, "the saved address book is corrupt: {e}"),
        }
    }
}

#[cfg(feature = "serde")]
impl std::error::Error for RestoreError {}

/// A saved address book of either kind: what the runtimes write to disk and
/// what a trace header carries.
#[cfg(feature = "serde")]
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "book", rename_all = "lowercase")]
pub enum BookSnapshot {
    /// btcd's book.
    Btcd(crate::addrbook::Snapshot),
    /// Bitcoin Core's book.
    Core(crate::addrman::Snapshot),
    /// bitcoind 0.9.3's book (btcd's, with 0.9.3's rules).
    #[serde(rename = "bitcoind-0.9.3")]
    Bitcoind093(crate::addrbook::Snapshot),
}

#[cfg(feature = "serde")]
impl BookSnapshot {
    /// The kind of book saved.
    pub fn kind(&self) -> AddressBook {
        match self {
            BookSnapshot::Btcd(_) => AddressBook::Btcd,
            BookSnapshot::Core(_) => AddressBook::Core,
            BookSnapshot::Bitcoind093(_) => AddressBook::Bitcoind093,
        }
    }

    /// Addresses saved.
    pub fn len(&self) -> usize {
        match self {
            BookSnapshot::Btcd(s) | BookSnapshot::Bitcoind093(s) => s.addresses.len(),
            BookSnapshot::Core(s) => s.addresses.len(),
        }
    }

    /// Every saved address, and whether it is in the tried table.
    pub fn addresses(&self) -> Vec<(PeerAddr, bool)> {
        match self {
            BookSnapshot::Btcd(s) | BookSnapshot::Bitcoind093(s) => s
                .addresses
                .iter()
                .map(|a| (a.addr.into(), a.tried))
                .collect(),
            BookSnapshot::Core(s) => s.addresses.iter().map(|a| (a.addr, a.tried)).collect(),
        }
    }

    /// Whether no address is saved.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
