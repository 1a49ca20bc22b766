//! Address-fetch connections (Bitcoin Core's `ADDR_FETCH`): connect to a
//! peer (a seed node, typically) only to ask it for addresses, and leave
//! once they come. A node whose book is empty learns its first addresses
//! this way without giving a seed node one of its lasting slots.

use std::time::Duration;

use crate::{Action, ConnId, ConnKind, Ignored, PeerAddr, Reason};

use super::conn::{Conn, Phase};
use super::lifecycle::Then;
use super::{ConnManager, Lifecycle};

/// How long an address-fetch peer has from connecting to send addresses
/// (Core: ten times its 30 s average address broadcast interval).
const ADDR_FETCH_TIMEOUT: Duration = Duration::from_secs(5 * 60);

impl ConnManager {
    pub(super) fn on_fetch_addresses(&mut self, addr: PeerAddr) -> Result<ConnId, Ignored> {
        if self.lifecycle == Lifecycle::Stopped {
            return Err(Ignored::Stopped);
        }
        if self.banned_peer(addr) {
            return Err(Ignored::Banned);
        }
        // No group slot: it is gone within minutes, like a feeler.
        let id = self.insert(Conn::new(ConnKind::AddrFetch, Phase::Queued, Some(addr)));
        self.stats.addr_fetches += 1;
        tracing::debug!(conn = id.raw(), %addr, "address fetch requested");
        if self.lifecycle == Lifecycle::Running {
            self.dial(id);
        } else {
            self.queued.push(id);
        }
        Ok(id)
    }

    /// Arms the deadline of address-fetch `id`: 5 minutes from connecting.
    pub(super) fn arm_addr_fetch_deadline(&mut self, id: ConnId) {
        if let Some(conn) = self.conns.get_mut(&id) {
            let at = conn.connected_at + ADDR_FETCH_TIMEOUT;
            conn.arm(&mut self.timers, id, at);
        }
    }

    /// Whether `count` addresses from `from` are an address fetch's
    /// answer: a ready address-fetch connection, and more than one
    /// address (a single one is usually the peer announcing itself).
    pub(super) fn fetch_answered(&self, from: Option<ConnId>, count: usize) -> Option<ConnId> {
        let id = from?;
        let conn = self.conns.get(&id)?;
        let ready = conn.phase == Phase::Established && conn.handshaked;
        (conn.kind == ConnKind::AddrFetch && ready && count > 1).then_some(id)
    }

    /// Address fetch `id` did its job: close it.
    pub(super) fn addresses_fetched(&mut self, id: ConnId) {
        self.stats.addr_fetches_answered += 1;
        self.close_addr_fetch(id, Reason::AddressesFetched);
    }

    pub(super) fn addr_fetch_expired(&mut self, id: ConnId) {
        self.stats.addr_fetch_timeouts += 1;
        self.close_addr_fetch(id, Reason::AddrFetchTimeout);
    }

    fn close_addr_fetch(&mut self, id: ConnId, reason: Reason) {
        tracing::debug!(conn = id.raw(), ?reason, "address fetch done");
        self.emit(Action::Close { id, reason });
        self.connection_lost(id, reason, Then::End);
    }
}
