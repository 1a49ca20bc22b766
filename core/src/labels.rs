//! Stable `snake_case` names for the enums an operator counts by: metric
//! labels and log fields. They are part of the API: dashboards and alerts
//! are written against them, so a name never changes once published (a new
//! variant gets a new name).

use crate::{ConnKind, DialError, Reason};

impl Reason {
    /// Every [`label`](Reason::label), once.
    pub const LABELS: [&'static str; 23] = [
        "disconnected",
        "removed",
        "stopped",
        "peer_closed",
        "dial_failed",
        "no_address",
        "inbound_full",
        "not_running",
        "stale_dial",
        "requested",
        "ip_limit",
        "group_limit",
        "network_diversity",
        "network_limit",
        "rate_limited",
        "banned",
        "evicted",
        "misbehaving",
        "handshake_timeout",
        "feeler_done",
        "least_useful",
        "addresses_fetched",
        "addr_fetch_timeout",
    ];

    /// Its name without what it carries (`DialFailed(Refused)` is
    /// `dial_failed`; the dial error has its own [`DialError::label`]).
    pub const fn label(&self) -> &'static str {
        Reason::LABELS[self.index()]
    }

    /// Its position in [`LABELS`](Reason::LABELS).
    pub const fn index(&self) -> usize {
        match self {
            Reason::Disconnected => 0,
            Reason::Removed => 1,
            Reason::Stopped => 2,
            Reason::PeerClosed => 3,
            Reason::DialFailed(_) => 4,
            Reason::NoAddress(_) => 5,
            Reason::InboundFull => 6,
            Reason::NotRunning => 7,
            Reason::StaleDial => 8,
            Reason::Requested => 9,
            Reason::IpLimit => 10,
            Reason::GroupLimit => 11,
            Reason::NetworkDiversity => 12,
            Reason::NetworkLimit => 13,
            Reason::RateLimited => 14,
            Reason::Banned => 15,
            Reason::Evicted => 16,
            Reason::Misbehaving => 17,
            Reason::HandshakeTimeout => 18,
            Reason::FeelerDone => 19,
            Reason::LeastUseful => 20,
            Reason::AddressesFetched => 21,
            Reason::AddrFetchTimeout => 22,
        }
    }
}

impl DialError {
    /// Every [`label`](DialError::label), in declaration order.
    pub const LABELS: [&'static str; 6] = [
        "refused",
        "timed_out",
        "unreachable",
        "reset",
        "exhausted",
        "other",
    ];

    /// Its name.
    pub const fn label(&self) -> &'static str {
        DialError::LABELS[*self as usize]
    }
}

impl ConnKind {
    /// Every kind, in declaration order.
    pub const ALL: [ConnKind; 7] = [
        ConnKind::Automatic,
        ConnKind::BlockRelay,
        ConnKind::Feeler,
        ConnKind::AddrFetch,
        ConnKind::Manual,
        ConnKind::Permanent,
        ConnKind::Inbound,
    ];

    /// Its name.
    pub const fn label(&self) -> &'static str {
        match self {
            ConnKind::Automatic => "automatic",
            ConnKind::BlockRelay => "block_relay",
            ConnKind::Feeler => "feeler",
            ConnKind::AddrFetch => "addr_fetch",
            ConnKind::Manual => "manual",
            ConnKind::Permanent => "permanent",
            ConnKind::Inbound => "inbound",
        }
    }

    /// Its position in [`ALL`](ConnKind::ALL).
    pub const fn index(&self) -> usize {
        *self as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AddressError;
    use std::collections::HashSet;

    fn unique_snake_case(labels: &[&str]) {
        let set: HashSet<_> = labels.iter().collect();
        assert_eq!(set.len(), labels.len(), "a label is used twice: {labels:?}");
        for label in labels {
            assert!(
                label.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{label} is not snake_case"
            );
        }
    }

    #[test]
    fn every_reason_has_its_own_label() {
        let reasons = [
            Reason::Disconnected,
            Reason::Removed,
            Reason::Stopped,
            Reason::PeerClosed,
            Reason::DialFailed(DialError::Refused),
            Reason::NoAddress(AddressError::Empty),
            Reason::InboundFull,
            Reason::NotRunning,
            Reason::StaleDial,
            Reason::Requested,
            Reason::IpLimit,
            Reason::GroupLimit,
            Reason::NetworkDiversity,
            Reason::NetworkLimit,
            Reason::RateLimited,
            Reason::Banned,
            Reason::Evicted,
            Reason::Misbehaving,
            Reason::HandshakeTimeout,
            Reason::FeelerDone,
            Reason::LeastUseful,
            Reason::AddressesFetched,
            Reason::AddrFetchTimeout,
        ];
        let labels: Vec<_> = reasons.iter().map(Reason::label).collect();
        assert_eq!(labels, Reason::LABELS);
        unique_snake_case(&Reason::LABELS);
        // The label is the variant's name: `Debug` spells it in CamelCase.
        for reason in reasons {
            let debug = format!("{reason:?}");
            let name = debug.split('(').next().unwrap_or_default();
            assert_eq!(name.to_lowercase(), reason.label().replace('_', ""));
        }
    }

    #[test]
    fn every_dial_error_and_kind_has_its_own_label() {
        let errors = [
            DialError::Refused,
            DialError::TimedOut,
            DialError::Unreachable,
            DialError::Reset,
            DialError::Exhausted,
            DialError::Other,
        ];
        for error in errors {
            assert_eq!(
                format!("{error:?}").to_lowercase(),
                error.label().replace('_', "")
            );
        }
        unique_snake_case(&DialError::LABELS);
        let kinds: Vec<_> = ConnKind::ALL.iter().map(ConnKind::label).collect();
        unique_snake_case(&kinds);
        for (i, kind) in ConnKind::ALL.iter().enumerate() {
            assert_eq!(kind.index(), i);
            assert_eq!(
                format!("{kind:?}").to_lowercase(),
                kind.label().replace('_', "")
            );
        }
    }
}
