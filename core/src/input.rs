//! Everything that can change the manager's state.
//!
//! One enum on purpose: a log of `(Instant, Input)` is then a complete
//! record, which is what makes replay and fuzzing cover everything.

use std::fmt;
use std::net::SocketAddr;

use crate::{Advertised, ConnId, Instant, ListenerId, Network, PeerAddr, PeerFact, Subnet};

/// An event or command for [`ConnManager::handle`](crate::ConnManager::handle).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Input {
    /// Begin: make the automatic outbound requests and dial what was queued.
    Start,
    /// End: cancel dials and timers, close every connection, close listeners.
    Stop,
    /// Dial `addr`; a permanent request is redialled with backoff for ever.
    /// Returns the new [`ConnId`].
    Connect {
        /// Where to connect.
        addr: PeerAddr,
        /// Redial with backoff whenever it fails or drops.
        permanent: bool,
    },
    /// Connect to `addr` only to ask it for addresses: a short-lived
    /// [`ConnKind::AddrFetch`](crate::ConnKind) connection, closed once the
    /// peer's addresses come (`Learned` with more than one) or after 5
    /// minutes. Returns the new [`ConnId`].
    FetchAddresses {
        /// The peer to ask (a seed node, typically).
        addr: PeerAddr,
    },
    /// Ask for one more automatic outbound connection, if below the target.
    /// Returns the new [`ConnId`].
    NewConnReq,
    /// Close a connection (or cancel a pending request) and let the policy
    /// act: a permanent peer is redialled, an automatic one replaced.
    Disconnect {
        /// The connection.
        id: ConnId,
    },
    /// Close a connection (or cancel a pending request) for good.
    Remove {
        /// The connection.
        id: ConnId,
    },
    /// The answer to [`Action::RequestAddress`](crate::Action::RequestAddress).
    AddressResult {
        /// The request that asked.
        id: ConnId,
        /// The address to dial, or why there is none.
        result: Result<PeerAddr, AddressError>,
    },
    /// The answer to [`Action::Dial`](crate::Action::Dial).
    DialResult {
        /// The request that dialled.
        id: ConnId,
        /// The attempt number from the `Dial` action.
        attempt: u32,
        /// Whether the TCP connection was established.
        result: Result<(), DialError>,
    },
    /// A listener accepted a connection. Returns the new inbound [`ConnId`],
    /// even when the connection is refused (it is then closed at once).
    Accepted {
        /// The listener.
        listener: ListenerId,
        /// The remote address.
        remote: SocketAddr,
        /// The network the connection came over, when the listener knows
        /// better than the remote address: `Some(Network::Onion)` for the
        /// local target of a Tor onion service, whose connections all come
        /// from Tor at 127.0.0.1. `None`: the remote address's network.
        #[cfg_attr(
            feature = "serde",
            serde(default, skip_serializing_if = "Option::is_none")
        )]
        network: Option<Network>,
    },
    /// A listener's accept failed.
    AcceptFailed {
        /// The listener.
        listener: ListenerId,
        /// What went wrong.
        error: AcceptError,
    },
    /// An established connection ended (EOF, reset, or the application
    /// dropped it).
    Closed {
        /// The connection.
        id: ConnId,
    },
    /// Time passed; fire the timers that are due.
    Tick,
    /// Refuse and never dial addresses in `subnet` until `until`; live
    /// connections in it are closed. Allow-listed addresses are exempt.
    /// Banning a subnet again replaces its end time.
    Ban {
        /// What to ban.
        subnet: Subnet,
        /// When the ban ends.
        until: Instant,
    },
    /// Lift a ban set with `Ban` (the same subnet).
    Unban {
        /// The banned subnet.
        subnet: Subnet,
    },
    /// A connected peer misbehaved: add to its ban score (btcd's
    /// `DynamicBanScore`: a persistent part, and a transient part that halves
    /// every minute). At `ban_threshold` its address is banned.
    Misbehaved {
        /// The connection.
        id: ConnId,
        /// Added for good.
        persistent: u32,
        /// Added, then decaying.
        transient: u32,
    },
    /// The protocol's handshake with the peer of an established connection
    /// succeeded (Bitcoin's `version`/`verack`): the peer is ready, and only
    /// now is its address a good one. Without it within
    /// `Config::handshake_timeout` the connection is closed.
    Handshaked {
        /// The connection.
        id: ConnId,
    },
    /// Addresses to put in the book inside the manager: advertised by the
    /// peer of connection `from` (its `addr` message, with Bitcoin Core's
    /// caps: at most 1 000 at once, a token bucket per connection, a
    /// completed handshake), or, with `from: None`, the application's own
    /// (a seed list, DNS seeds, a config file). Needs a book inside
    /// (`Config::address_book` not `External`).
    Learned {
        /// Who advertised them; `None` for the application itself.
        from: Option<ConnId>,
        /// The addresses, each with the time it was claimed to be seen.
        addrs: Vec<Advertised>,
    },
    /// The inbound peer of `id` asked for addresses (`getaddr`): answered
    /// with `Action::ShareAddresses`, once per connection, from a sample of
    /// the book refreshed daily. Needs a book inside.
    AddressesRequested {
        /// The connection.
        id: ConnId,
    },
    /// The block-relay-only peers of the last run, saved when it stopped
    /// cleanly (`Action::SaveAnchors`): before `Start`, so that the first
    /// block-relay-only connections go to them, before any address from
    /// the book. An attacker who filled the book while the node was down
    /// still finds these connections taken. At most `block_relay_outbound`
    /// are used.
    Anchors {
        /// The addresses, in the order saved.
        addrs: Vec<PeerAddr>,
    },
    /// Whether the application's chain tip has gone without advancing for
    /// longer than blocks normally take (Bitcoin Core: 30 minutes), a sign
    /// that the outbound peers may be withholding blocks. While stale, the
    /// manager keeps one full-relay outbound connection above the target;
    /// `stale: false` (the tip advanced) stops that.
    TipStale {
        /// Stale (`true`) or advancing again (`false`).
        stale: bool,
    },
    /// The application's verdict on its full-relay outbound peers: `id` is
    /// the least useful (Core: the one that announced a new block longest
    /// ago). While full-relay outbound connections are above the target
    /// (the extra one of a stale tip has connected), it is closed with
    /// `Reason::LeastUseful`, provided it has been connected for at least
    /// 30 seconds (Core's `MINIMUM_CONNECT_TIME`); otherwise ignored.
    LeastUseful {
        /// The connection.
        id: ConnId,
    },
    /// Something the application learned about the peer of `id` (its
    /// ping, a novel block or transaction, its relay flag, its
    /// permissions), for inbound eviction to weigh.
    PeerFact {
        /// The connection.
        id: ConnId,
        /// What was learned.
        fact: PeerFact,
    },
}

/// Why an address source had no address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum AddressError {
    /// The source knows no address at all.
    Empty,
    /// The source knows addresses, but none passed its policy
    /// (btcd: "no valid connect address").
    NoneSuitable,
    /// Every address offered fell in a group already at its outbound limit,
    /// or was banned, `max_address_retries` times in a row.
    GroupsFull,
}

/// Why a dial failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum DialError {
    /// The peer refused the connection.
    Refused,
    /// The dial did not complete within the timeout.
    TimedOut,
    /// No route to the peer, or the network is down.
    Unreachable,
    /// The connection was reset during the handshake.
    Reset,
    /// The runtime is out of a resource (file descriptors, ports).
    Exhausted,
    /// Anything else.
    Other,
}

/// Why an accept failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum AcceptError {
    /// Out of file descriptors (EMFILE, ENFILE).
    TooManyOpenFiles,
    /// Out of memory or buffers (ENOBUFS, ENOMEM).
    OutOfMemory,
    /// Anything else.
    Other,
}

macro_rules! display_as_debug {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self, f)
            }
        }
    )*};
}
display_as_debug!(AddressError, DialError, AcceptError);
