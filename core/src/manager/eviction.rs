//! Inbound eviction: the facts the application reports about its peers,
//! and the choice of whom to evict when a newcomer finds inbound full
//! (see [`crate::eviction`] for the rules).

use std::net::IpAddr;

use crate::eviction::{select_to_evict, Candidate};
use crate::{Action, ConnId, ConnKind, Ignored, PeerEvent, PeerFact, Reason};

use super::conn::{Conn, Phase};
use super::ConnManager;

impl ConnManager {
    pub(super) fn on_peer_fact(&mut self, id: ConnId, fact: PeerFact) -> Result<(), Ignored> {
        let now = self.now;
        let Some(conn) = self.conns.get_mut(&id) else {
            return Err(self.missing(id));
        };
        if conn.phase != Phase::Established {
            let state = conn.state();
            return Err(Ignored::UnexpectedState { id, state });
        }
        conn.facts.record(fact, now);
        self.stats.peer_facts += 1;
        Ok(())
    }

    /// The inbound peer to evict for a newcomer, if eviction is on and one
    /// is not protected. Looks at every inbound connection, as Bitcoin
    /// Core does: O(n) in inbound connections, and only when inbound is
    /// full.
    pub(super) fn eviction_victim(&self) -> Option<ConnId> {
        if !self.config.evict_when_full {
            return None;
        }
        let candidates = self
            .conns
            .iter()
            .filter(|(_, conn)| evictable(conn))
            .filter_map(|(id, conn)| self.candidate(*id, conn))
            .collect();
        select_to_evict(candidates)
    }

    fn candidate(&self, id: ConnId, conn: &Conn) -> Option<Candidate> {
        let ip = conn.addr?.host().ip()?;
        Some(Candidate {
            id,
            connected: conn.connected_at,
            keyed_group: self.inbound.keyed_group(ip),
            is_local: is_local(ip),
            network: conn.network()?,
            facts: conn.facts,
        })
    }

    pub(super) fn evict(&mut self, id: ConnId) {
        tracing::debug!(conn = id.raw(), "evicted");
        self.stats.evictions += 1;
        self.stats.disconnected += 1;
        self.emit(Action::Close {
            id,
            reason: Reason::Evicted,
        });
        self.emit(Action::NotifyPeer(PeerEvent::Disconnected {
            id,
            reason: Reason::Evicted,
        }));
        self.take(id);
    }
}

/// Core's `IsLocal`: this machine (127.0.0.0/8, ::1) or "this network"
/// (0.0.0.0/8).
fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.octets()[0] == 0,
        IpAddr::V6(v6) => v6.is_loopback(),
    }
}

/// Whether eviction may weigh `conn`: an established inbound connection
/// not from the allow-list (`noban` peers are left out by the rules).
fn evictable(conn: &Conn) -> bool {
    conn.kind == ConnKind::Inbound && conn.phase == Phase::Established && !conn.allowlisted
}
