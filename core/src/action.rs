//! Everything the manager asks its runtime to do.

use crate::input::{AddressError, DialError};
use crate::{ConnId, ConnKind, Instant, ListenerId, PeerAddr, PeerEvent, Route};

/// An instruction for the runtime, drained with
/// [`ConnManager::poll_action`](crate::ConnManager::poll_action).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[must_use]
pub enum Action {
    /// Find an address for this automatic request and answer with
    /// `Input::AddressResult` (btcd's `GetNewAddress`, inverted).
    RequestAddress {
        /// The request.
        id: ConnId,
    },
    /// Open a TCP connection and answer with `Input::DialResult` carrying the
    /// same `attempt`. The core owns the timeout: do not add your own.
    Dial {
        /// The request.
        id: ConnId,
        /// Tags this dial so a late result is recognised.
        attempt: u32,
        /// Where to connect.
        addr: PeerAddr,
        /// What the connection is for, and so what the application should
        /// run on it.
        kind: ConnKind,
        /// How to reach the peer: directly, or through the proxy the
        /// config gives its network. (Left out of a trace when direct, so
        /// a trace without proxies reads as version 5 wrote it.)
        #[cfg_attr(
            feature = "serde",
            serde(default, skip_serializing_if = "Route::is_direct")
        )]
        route: Route,
    },
    /// Abandon this dial: drop it if in flight, close its socket if it
    /// already connected. No result is expected any more.
    CancelDial {
        /// The request.
        id: ConnId,
        /// The attempt to abandon.
        attempt: u32,
    },
    /// Save these block-relay-only peers as the anchors of the next start
    /// (`Input::Anchors`). Emitted by `Stop`, before it closes them, when
    /// the config keeps block-relay-only connections: only a clean stop
    /// makes anchors. The runtime writes them crash-safely beside the
    /// peers file, and deletes that file when it reads it back.
    SaveAnchors {
        /// At most two, each with a completed handshake.
        addrs: Vec<PeerAddr>,
    },
    /// Close the connection of `id`: the established one, or, when `id` has
    /// ended, the socket that a late `DialResult` just handed in. Use
    /// `shutdown(2)` if the application holds the stream.
    Close {
        /// The connection.
        id: ConnId,
        /// Why.
        reason: Reason,
    },
    /// A retry (same id) or throttled replacement (new id) is scheduled.
    /// Informational: `poll_timeout` stays authoritative.
    RetryAfter {
        /// The request that will act at `at`.
        id: ConnId,
        /// When.
        at: Instant,
    },
    /// Stop accepting on this listener until `until` (or a `ResumeListener`).
    PauseListener {
        /// The listener.
        listener: ListenerId,
        /// When it will be resumed.
        until: Instant,
    },
    /// Accept again on this listener.
    ResumeListener {
        /// The listener.
        listener: ListenerId,
    },
    /// The manager stopped: close every listener.
    CloseListeners,
    /// Save what the runtime persists (the address book) now, crash-safely:
    /// asked every `Config::persist_interval` while running, so that what
    /// was learned survives a crash. A failed save must leave the old file
    /// as it was; the manager carries on either way.
    Persist,
    /// Tell the application.
    NotifyPeer(PeerEvent),
}

/// Who opened a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Direction {
    /// We dialled.
    Outbound,
    /// A listener accepted it.
    Inbound,
}

/// Why a connection or request ended; carried by `Close`, `Disconnected` and
/// `GaveUp`, and counted in [`Stats`](crate::Stats).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum Reason {
    /// The application asked with `Disconnect`.
    Disconnected,
    /// The application asked with `Remove`.
    Removed,
    /// The manager stopped.
    Stopped,
    /// The connection ended (`Input::Closed`).
    PeerClosed,
    /// The dial failed (a timeout is `DialFailed(TimedOut)`).
    DialFailed(DialError),
    /// No address could be had.
    NoAddress(AddressError),
    /// Inbound is at `max_inbound`.
    InboundFull,
    /// An inbound connection arrived while the manager was not running.
    NotRunning,
    /// A dial succeeded after its request had ended.
    StaleDial,
    /// The application asked (`Ban`).
    Requested,
    /// Inbound from this host (IPv4 address or IPv6 /64) is at
    /// `max_inbound_per_ip`.
    IpLimit,
    /// Inbound from this network group is at `max_inbound_per_group`.
    GroupLimit,
    /// Closed for network diversity: the extra connection to a network
    /// that had too few outbound peers is ready, and this full-relay peer's
    /// network keeps its minimum without it.
    NetworkDiversity,
    /// Inbound over this network (IPv4, Tor, …) is at its
    /// `Config::networks` `max_inbound`.
    NetworkLimit,
    /// This network group is connecting faster than `inbound_rate_per_group`.
    RateLimited,
    /// The address is banned.
    Banned,
    /// Evicted to make room for a new inbound connection, by Bitcoin
    /// Core's rules ([`eviction`](crate::eviction)).
    Evicted,
    /// Its misbehaviour score reached `ban_threshold`.
    Misbehaving,
    /// No handshake within `Config::handshake_timeout`.
    HandshakeTimeout,
    /// A feeler connection did its job: the peer completed its handshake.
    FeelerDone,
    /// The application named it the least useful full-relay outbound peer
    /// while there was one above the target (`Input::LeastUseful`).
    LeastUseful,
    /// An address-fetch connection did its job: the peer sent addresses.
    AddressesFetched,
    /// An address-fetch connection's peer sent no addresses within 5
    /// minutes of connecting.
    AddrFetchTimeout,
}
