//! Start, stop, and the ends of connections: disconnect, remove, closed.
//!
//! `Disconnect` lets the policy act (a permanent peer is redialled, an
//! automatic one replaced); `Remove` never does. On a request that is not
//! connected yet both cancel it, as in btcd, but the dial in flight is
//! cancelled too, and the application is told with `GaveUp`.

use crate::timers::Owner;
use crate::{Action, ConnId, ConnKind, Direction, Ignored, PeerEvent, Reason};

use super::conn::{handshake, Phase};
use super::{ConnManager, Lifecycle};

/// What happens after a connection ends.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Then {
    /// Redial a permanent peer, replace an automatic one.
    FollowPolicy,
    /// Nothing: the id is done.
    End,
}

impl ConnManager {
    pub(super) fn on_start(&mut self) -> Result<(), Ignored> {
        match self.lifecycle {
            Lifecycle::Running => return Err(Ignored::AlreadyStarted),
            Lifecycle::Stopped => return Err(Ignored::Stopped),
            Lifecycle::Idle => {}
        }
        self.lifecycle = Lifecycle::Running;
        // The target in effect: none without automatic outbound.
        let target_outbound = match self.config.automatic_outbound {
            true => self.config.target_outbound,
            false => 0,
        };
        tracing::info!(target_outbound, "started");
        for id in std::mem::take(&mut self.queued) {
            let Some(conn) = self.conns.get(&id) else {
                continue;
            };
            match (conn.phase, conn.kind) {
                (Phase::Queued, kind) if kind.is_automatic() => self.request_address(id),
                (Phase::Queued, _) => self.dial(id),
                _ => {}
            }
        }
        self.dial_anchors();
        for kind in [ConnKind::Automatic, ConnKind::BlockRelay] {
            let (target, have) = self.automatic_target(kind);
            for _ in have..target {
                self.new_automatic(kind);
            }
        }
        self.arm_persist();
        self.arm_feeler();
        Ok(())
    }

    /// Ends everything the manager owns, in id order so the actions are
    /// deterministic.
    pub(super) fn on_stop(&mut self) -> Result<(), Ignored> {
        if self.lifecycle == Lifecycle::Stopped {
            return Err(Ignored::AlreadyStopped);
        }
        self.lifecycle = Lifecycle::Stopped;
        tracing::info!(live = self.conns.len(), "stopping");
        self.save_anchors();
        for timer in [&mut self.periodic.persist, &mut self.periodic.feeler] {
            if timer.take().is_some() {
                self.timers.cancelled();
            }
        }
        let mut ids: Vec<ConnId> = self.conns.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let Some(conn) = self.take(id) else {
                debug_assert!(false, "{id} listed and not found");
                continue;
            };
            match conn.phase {
                Phase::Established => {
                    self.book_lost((conn.kind, conn.handshaked, conn.addr));
                    self.emit(Action::Close {
                        id,
                        reason: Reason::Stopped,
                    });
                    self.stats.disconnected += 1;
                    self.emit(Action::NotifyPeer(PeerEvent::Disconnected {
                        id,
                        reason: Reason::Stopped,
                    }));
                }
                phase => {
                    if phase == Phase::Dialing {
                        self.emit(Action::CancelDial {
                            id,
                            attempt: conn.attempt,
                        });
                    }
                    self.stats.gave_up += 1;
                    self.emit(Action::NotifyPeer(PeerEvent::GaveUp {
                        id,
                        reason: Reason::Stopped,
                    }));
                }
            }
        }
        self.queued.clear();
        self.timers.clear();
        self.listeners.clear();
        self.groups.clear();
        self.emit(Action::CloseListeners);
        Ok(())
    }

    pub(super) fn on_disconnect(&mut self, id: ConnId) -> Result<(), Ignored> {
        self.end(id, Reason::Disconnected, Then::FollowPolicy)
    }

    pub(super) fn on_remove(&mut self, id: ConnId) -> Result<(), Ignored> {
        self.end(id, Reason::Removed, Then::End)
    }

    pub(super) fn on_closed(&mut self, id: ConnId) -> Result<(), Ignored> {
        let conn = self.conns.get(&id).ok_or_else(|| self.missing(id))?;
        if conn.phase != Phase::Established {
            return Err(Ignored::UnexpectedState {
                id,
                state: conn.state(),
            });
        }
        self.connection_lost(id, Reason::PeerClosed, Then::FollowPolicy);
        Ok(())
    }

    /// The application ends `id`: close it if connected, cancel it if not.
    pub(super) fn end(&mut self, id: ConnId, reason: Reason, then: Then) -> Result<(), Ignored> {
        let conn = self.conns.get(&id).ok_or_else(|| self.missing(id))?;
        if conn.phase == Phase::Established {
            self.emit(Action::Close { id, reason });
            self.connection_lost(id, reason, then);
        } else {
            self.cancel_pending(id, reason, then);
        }
        Ok(())
    }

    pub(super) fn connection_lost(&mut self, id: ConnId, reason: Reason, then: Then) {
        if let Some(conn) = self.conns.get(&id) {
            let ended = (conn.kind, conn.handshaked, conn.addr);
            let counted = !matches!(
                conn.kind,
                ConnKind::Inbound | ConnKind::Feeler | ConnKind::AddrFetch
            );
            if self.handshake_gate() && counted && !conn.handshaked {
                // Connected but never ready: as good as a failed dial, so
                // a full peer that drops newcomers is not hammered.
                self.failed_attempts = self.failed_attempts.saturating_add(1);
            }
            self.book_lost(ended);
        }
        self.ready.remove(id);
        self.stats.disconnected += 1;
        tracing::debug!(conn = id.raw(), ?reason, "disconnected");
        self.emit(Action::NotifyPeer(PeerEvent::Disconnected { id, reason }));
        let redial = then == Then::FollowPolicy;
        match self.conns.get_mut(&id) {
            Some(conn) if redial && conn.kind == ConnKind::Permanent => {
                if self.now - conn.connected_at >= self.config.stable_after {
                    conn.retry_count = 0;
                }
                self.schedule_retry(id);
            }
            _ => {
                let ended = self.take(id);
                if let (true, Some(conn)) = (redial, ended) {
                    self.replace(conn.kind);
                }
            }
        }
    }

    fn cancel_pending(&mut self, id: ConnId, reason: Reason, then: Then) {
        let Some(conn) = self.conns.get(&id) else {
            return;
        };
        let kind = conn.kind;
        if conn.phase == Phase::Dialing {
            let attempt = conn.attempt;
            self.emit(Action::CancelDial { id, attempt });
        }
        self.give_up(id, reason);
        if then == Then::FollowPolicy {
            self.replace(kind);
        }
    }

    /// Schedules the next periodic `Persist`, if the config asks for them.
    fn arm_persist(&mut self) {
        let interval = self.config.persist_interval;
        if !interval.is_zero() {
            let at = self.now + interval;
            self.periodic.persist = Some(self.timers.schedule(at, Owner::Persist));
        }
    }

    /// Asks the runtime to save, and schedules the next time.
    pub(super) fn persist_timer_fired(&mut self) {
        self.periodic.persist = None;
        if self.lifecycle != Lifecycle::Running {
            debug_assert!(false, "a Persist timer outlived the run");
            return;
        }
        self.stats.persist_requests += 1;
        self.emit(Action::Persist);
        self.arm_persist();
    }

    /// The peer of `id` completed its handshake: it is ready, and its
    /// handshake timer stops.
    pub(super) fn on_handshaked(&mut self, id: ConnId) -> Result<(), Ignored> {
        let Some(conn) = self.conns.get_mut(&id) else {
            return Err(self.missing(id));
        };
        if conn.phase != Phase::Established {
            return Err(Ignored::UnexpectedState {
                id,
                state: conn.state(),
            });
        }
        if conn.handshaked {
            return Err(Ignored::AlreadyHandshaked(id));
        }
        let Some(addr) = conn.addr else {
            debug_assert!(false, "{id} established without an address");
            return Ok(());
        };
        handshake(&mut self.counts, conn);
        // An established connection's one timer is its handshake's.
        conn.disarm(&mut self.timers);
        let kind = conn.kind;
        let direction = match kind {
            ConnKind::Inbound => Direction::Inbound,
            _ => Direction::Outbound,
        };
        self.stats.handshakes += 1;
        if kind.relays_addresses() {
            // Relayed addresses go to ready peers: never over a
            // block-relay-only connection, which must not be mapped.
            self.ready.insert(id);
        }
        tracing::debug!(conn = id.raw(), %addr, "handshaked");
        if direction == Direction::Outbound {
            self.failed_attempts = 0;
        }
        self.book_good(addr, direction);
        self.emit(Action::NotifyPeer(PeerEvent::Ready {
            id,
            addr,
            direction,
        }));
        if kind == ConnKind::AddrFetch {
            self.arm_addr_fetch_deadline(id);
        }
        self.network_peer_ready(id);
        if kind == ConnKind::Feeler {
            // Its job is done: the book heard the address is good.
            self.stats.feelers_handshaked += 1;
            let reason = Reason::FeelerDone;
            self.emit(Action::Close { id, reason });
            self.connection_lost(id, reason, Then::End);
        }
        Ok(())
    }

    /// Whether a connection counts only once its handshake is done (a
    /// handshake timeout is set). Without the gate, as in btcd, a TCP
    /// connection is a success.
    pub(super) fn handshake_gate(&self) -> bool {
        !self.config.handshake_timeout.is_zero()
    }

    /// Starts the handshake clock of a connection that just became
    /// established, if the config sets one.
    pub(super) fn await_handshake(&mut self, id: ConnId) {
        if !self.handshake_gate() {
            // No handshake to wait for: an address fetch's clock starts now.
            if self.conns.get(&id).map(|c| c.kind) == Some(ConnKind::AddrFetch) {
                self.arm_addr_fetch_deadline(id);
            }
            return;
        }
        let timeout = self.config.handshake_timeout;
        let at = self.now + timeout;
        if let Some(conn) = self.conns.get_mut(&id) {
            conn.arm(&mut self.timers, id, at);
        }
    }

    /// The handshake of `id` did not come in time: close it, and let the
    /// policy act as for a lost connection.
    pub(super) fn handshake_timed_out(&mut self, id: ConnId) {
        self.stats.handshake_timeouts += 1;
        tracing::debug!(conn = id.raw(), "no handshake in time");
        let reason = Reason::HandshakeTimeout;
        self.emit(Action::Close { id, reason });
        self.connection_lost(id, reason, Then::FollowPolicy);
    }
}
