//! What the application can ask about one connection.

use crate::Instant;

/// The kind of a connection, fixed for its whole life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ConnKind {
    /// Made by the manager to reach `target_outbound`; replaced when it fails
    /// or ends. A full-relay peer: blocks, transactions and addresses.
    Automatic,
    /// Made by the manager to reach `block_relay_outbound`, replaced like
    /// [`Automatic`](ConnKind::Automatic). The application relays only
    /// blocks on it (no transactions, no addresses), so the peer cannot
    /// tell it apart from a light client and an attacker cannot map it
    /// from gossip (Bitcoin Core's block-relay-only connections).
    BlockRelay,
    /// A short test of an address in the book, made by the manager every
    /// `feeler_interval` on average: a new address (moved to the tried
    /// table if it answers), or a tried one that a newcomer would evict
    /// (kept if it answers). Closed as soon as its handshake completes;
    /// never counted in a target. The application runs only the handshake.
    Feeler,
    /// Asked for with `FetchAddresses`: one try, to ask the peer for
    /// addresses (`getaddr`) and close once they come, or after 5 minutes
    /// (Bitcoin Core's address-fetch connections, for a node whose book
    /// is empty or that wants fresh addresses from a seed node). Never
    /// counted in a target.
    AddrFetch,
    /// Asked for with a non-permanent `Connect`: one try, one connection.
    Manual,
    /// Asked for with a permanent `Connect`: redialled with backoff for ever.
    Permanent,
    /// Accepted by a listener.
    Inbound,
}

impl ConnKind {
    /// Whether the manager makes and replaces connections of this kind to
    /// keep a target.
    pub fn is_automatic(self) -> bool {
        matches!(self, ConnKind::Automatic | ConnKind::BlockRelay)
    }

    /// Whether addresses are exchanged over connections of this kind:
    /// not over block-relay-only ones (which must not be mapped), nor
    /// feelers (which only handshake).
    pub fn relays_addresses(self) -> bool {
        !matches!(self, ConnKind::BlockRelay | ConnKind::Feeler)
    }
}

/// Where a connection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ConnState {
    /// Asked for before `Start`; acted on at `Start`.
    Queued,
    /// Waiting for an `AddressResult`.
    AwaitingAddress,
    /// A `Dial` is in flight.
    Dialing {
        /// The attempt a result must carry.
        attempt: u32,
    },
    /// Connected.
    Established,
    /// Waiting until `until`: a permanent peer's backoff, or a throttled
    /// replacement (btcd's "failing").
    Waiting {
        /// When it acts again.
        until: Instant,
    },
    /// Ended. Ids are never reused, so this is final.
    Finished,
    /// Never handed out by this manager.
    Unknown,
}

impl ConnState {
    /// Whether the request is still trying to connect (btcd's "pending").
    pub fn is_pending(self) -> bool {
        matches!(
            self,
            ConnState::Queued
                | ConnState::AwaitingAddress
                | ConnState::Dialing { .. }
                | ConnState::Waiting { .. }
        )
    }

    /// Whether the id has ended for good.
    pub fn is_final(self) -> bool {
        self == ConnState::Finished
    }
}

/// A snapshot of one live connection or request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnInfo {
    /// Its kind.
    pub kind: ConnKind,
    /// Its state.
    pub state: ConnState,
    /// The address it dials or is connected to; `None` while an automatic
    /// request waits for one.
    pub addr: Option<crate::PeerAddr>,
    /// Consecutive failures counted for backoff (permanent peers).
    pub retry_count: u32,
}
