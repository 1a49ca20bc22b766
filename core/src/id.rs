//! Identifiers handed out by the core.

use std::fmt;

/// One outbound connection request (btcd's `ConnReq`) or one accepted inbound
/// connection.
///
/// Ids come from a counter starting at 1 and are never reused, so a late
/// result for an id that has ended can always be told apart from a live one.
/// A permanent request keeps its id across every redial, as in btcd.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct ConnId(u64);

impl ConnId {
    /// The id with this raw value. Ids are normally obtained from the
    /// manager; this exists for runtimes that store them and for tests.
    pub const fn from_raw(raw: u64) -> ConnId {
        ConnId(raw)
    }

    /// The raw value, for logs and maps.
    pub const fn raw(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conn {}", self.0)
    }
}

/// A listening socket, numbered by the runtime that owns it.
///
/// The core never opens listeners; it only learns their ids from
/// `Accepted`/`AcceptFailed` and answers with pause and resume actions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct ListenerId(pub u32);

impl fmt::Display for ListenerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "listener {}", self.0)
    }
}
