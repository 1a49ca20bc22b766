//! Counters of every decision and every ignored input.

use crate::{ConnKind, Network};

/// Live connections by kind. Automatic requests count from the moment they
/// are made, so `automatic_pending + automatic_established` is what is held
/// at or below `target_outbound`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Counts {
    /// Automatic requests not (yet) connected, including throttled ones.
    pub automatic_pending: u32,
    /// Automatic connections established.
    pub automatic_established: u32,
    /// Block-relay-only requests not (yet) connected, including throttled
    /// ones.
    pub block_relay_pending: u32,
    /// Block-relay-only connections established.
    pub block_relay_established: u32,
    /// Feeler connections, pending or established: at most one.
    pub feelers: u32,
    /// Address-fetch connections, pending or established.
    pub addr_fetches: u32,
    /// Manual requests not yet connected.
    pub manual_pending: u32,
    /// Manual connections established.
    pub manual_established: u32,
    /// Permanent requests not connected (dialling or backing off).
    pub permanent_pending: u32,
    /// Permanent connections established.
    pub permanent_established: u32,
    /// Inbound connections admitted, allow-listed ones excepted: this is
    /// what `max_inbound` bounds.
    pub inbound: u32,
    /// Inbound connections admitted from the allow-list.
    pub inbound_allowlisted: u32,
    /// Dials in flight, of any kind.
    pub dialing: u32,
    /// Established connections (of any kind, in or out) whose handshake
    /// succeeded: the ready ones among the connected.
    pub handshaked: u32,
}

impl Counts {
    /// Automatic requests, pending and established: never above the target.
    pub fn automatic(&self) -> u32 {
        self.automatic_pending + self.automatic_established
    }

    /// Block-relay-only requests, pending and established: never above
    /// `block_relay_outbound`.
    pub fn block_relay(&self) -> u32 {
        self.block_relay_pending + self.block_relay_established
    }

    /// Outbound requests of every kind not connected: dialling, waiting for
    /// an address, or waiting for their next try.
    pub fn outbound_pending(&self) -> u32 {
        self.automatic_pending
            + self.block_relay_pending
            + self.manual_pending
            + self.permanent_pending
    }

    /// Established outbound connections of every kind.
    pub fn outbound_established(&self) -> u32 {
        self.automatic_established
            + self.block_relay_established
            + self.manual_established
            + self.permanent_established
    }
}

/// Established connections by kind and network: what
/// [`ConnManager::peer_counts`](crate::ConnManager::peer_counts) tallies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PeerCounts {
    /// Indexed by [`ConnKind::index`], then [`Network::index`].
    counts: [[u32; Network::ALL.len()]; ConnKind::ALL.len()],
}

impl PeerCounts {
    /// Established connections of `kind` on `network`.
    pub fn get(&self, kind: ConnKind, network: Network) -> u32 {
        self.counts[kind.index()][network.index()]
    }

    /// Every kind and network with its count, zeros included.
    pub fn iter(&self) -> impl Iterator<Item = (ConnKind, Network, u32)> + '_ {
        ConnKind::ALL.into_iter().flat_map(move |kind| {
            Network::ALL
                .into_iter()
                .map(move |network| (kind, network, self.get(kind, network)))
        })
    }

    pub(crate) fn add(&mut self, kind: ConnKind, network: Network) {
        let n = &mut self.counts[kind.index()][network.index()];
        *n = n.saturating_add(1);
    }
}

/// Declares [`Stats`] and [`Stats::fields`] from one list of fields, so
/// that an exporter walking the fields cannot miss one added later.
macro_rules! stats {
    (
        $(#[$meta:meta])*
        pub struct Stats {
            $( $(#[doc = $doc:literal])* pub $field:ident: u64, )*
        }
    ) => {
        $(#[$meta])*
        pub struct Stats {
            $( $(#[doc = $doc])* pub $field: u64, )*
        }

        impl Stats {
            /// How many counters there are.
            pub const LEN: usize = [$(stringify!($field)),*].len();

            /// Every counter with its field's name, in declaration order
            /// (for metrics and reports).
            pub fn fields(&self) -> [(&'static str, u64); Stats::LEN] {
                [$((stringify!($field), self.$field)),*]
            }

            /// Every counter's name with its documentation (the lines of
            /// its doc comment, each starting with a space), for metrics'
            /// help texts.
            pub const DOCS: [(&'static str, &'static str); Stats::LEN] =
                [$((stringify!($field), concat!($($doc),*))),*];
        }
    };
}

stats! {
    /// Monotonic counters since construction. Cheap to copy; take a snapshot
    /// with [`ConnManager::stats`](crate::ConnManager::stats).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
    #[non_exhaustive]
    pub struct Stats {
        /// Inputs handled.
        pub inputs: u64,
        /// Addresses asked for: `RequestAddress` actions, or lookups in the
        /// book inside.
        pub address_requests: u64,
        /// Address results that were errors.
        pub address_failures: u64,
        /// Addresses refused because their group was at its outbound limit.
        pub addresses_refused_group_full: u64,
        /// Addresses refused because their network is unreachable or at its
        /// outbound limit (`Config::networks`).
        pub addresses_refused_network: u64,
        /// Extra full-relay connections opened to a network below its minimum.
        pub network_peers: u64,
        /// Full-relay peers closed once such an extra connection was ready.
        pub network_peer_evictions: u64,
        /// `Dial` actions emitted.
        pub dials: u64,
        /// Dials that connected.
        pub dial_successes: u64,
        /// Dials that failed (timeouts included).
        pub dial_failures: u64,
        /// Dials cancelled by the core's timeout.
        pub dial_timeouts: u64,
        /// Permanent-peer retries scheduled.
        pub retries_scheduled: u64,
        /// Automatic requests replaced at once.
        pub replacements: u64,
        /// Automatic replacements delayed by the failure throttle.
        pub throttled_replacements: u64,
        /// Requests that ended without a connection (`GaveUp`).
        pub gave_up: u64,
        /// Established connections that ended (`Disconnected`).
        pub disconnected: u64,
        /// Inbound connections admitted.
        pub inbound_accepted: u64,
        /// Inbound connections refused because inbound was full.
        pub inbound_rejected_full: u64,
        /// Inbound connections refused because the manager was not running.
        pub inbound_rejected_not_running: u64,
        /// Accept errors reported.
        pub accept_failures: u64,
        /// Listener pauses ordered.
        pub listener_pauses: u64,
        /// Late successful dials answered with `Close`.
        pub late_sockets_closed: u64,
        /// Inputs ignored: unknown or finished ids, stale attempts, duplicates,
        /// inputs in the wrong state or after `Stop`.
        pub ignored_inputs: u64,
        /// Inputs whose time was earlier than the time already seen (clamped).
        pub time_went_backwards: u64,
        /// Inbound refused: the IP is at its limit.
        pub inbound_rejected_ip_limit: u64,
        /// Inbound refused: the network group is at its limit.
        pub inbound_rejected_group_limit: u64,
        /// Inbound refused: the network (IPv4, Tor, …) is at its limit.
        pub inbound_rejected_network_limit: u64,
        /// Inbound refused: the network group is connecting too fast.
        pub inbound_rejected_rate_limited: u64,
        /// Inbound refused: the address is banned.
        pub inbound_rejected_banned: u64,
        /// Inbound connections evicted for newcomers.
        pub evictions: u64,
        /// Facts about peers taken (`Input::PeerFact`), for eviction.
        pub peer_facts: u64,
        /// Addresses refused for dialling because they are banned.
        pub addresses_refused_banned: u64,
        /// Bans set (asked for or automatic).
        pub bans: u64,
        /// Bans lifted with `Unban`.
        pub unbans: u64,
        /// Connections closed because their address was banned.
        pub closed_banned: u64,
        /// Misbehaviour reports taken.
        pub misbehaviour_reports: u64,
        /// `Persist` actions emitted (every `persist_interval` while running).
        pub persist_requests: u64,
        /// Handshakes reported (`Handshaked`).
        pub handshakes: u64,
        /// Connections closed for want of a handshake.
        pub handshake_timeouts: u64,
        /// Times the tip went stale (`Input::TipStale`), each opening an extra
        /// full-relay outbound slot.
        pub stale_tips: u64,
        /// Full-relay outbound peers closed as the least useful.
        pub least_useful_evicted: u64,
        /// Anchors dialled at start.
        pub anchors_dialled: u64,
        /// Feeler connections started.
        pub feelers: u64,
        /// Feelers whose peer completed its handshake.
        pub feelers_handshaked: u64,
        /// Address-fetch connections asked for (`FetchAddresses`).
        pub addr_fetches: u64,
        /// Address-fetch connections closed because their addresses came.
        pub addr_fetches_answered: u64,
        /// Address-fetch connections closed after 5 minutes without them.
        pub addr_fetch_timeouts: u64,
        /// Addresses offered to the book inside (after the caps below).
        pub addresses_offered: u64,
        /// Addresses new to the book inside (the ones it relays).
        pub addresses_learned: u64,
        /// Advertised addresses dropped by a connection's token bucket.
        pub addresses_rate_limited: u64,
        /// Address messages ignored whole for carrying over 1 000 addresses.
        pub address_messages_oversized: u64,
        /// `getaddr` answers given (`ShareAddresses` to an asking peer).
        pub address_samples_shared: u64,
        /// Fresh announcements passed on to other peers.
        pub addresses_relayed: u64,
    }
}
