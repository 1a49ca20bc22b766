//! Inbound admission and listener pauses.
//!
//! Admission is btcd's `limitInbound`: below `max_inbound` a connection is
//! admitted, otherwise closed at once and counted. Unlike btcd, an accept
//! error pauses its listener (5 ms doubling to 1 s by default) instead of
//! letting the accept loop spin, and the next successful accept resets the
//! pause.

use std::net::SocketAddr;

use crate::timers::{Owner, TimerSeq};
use crate::{backoff, AcceptError, Action, ConnId, ConnKind, Direction, Ignored, ListenerId};
use crate::{PeerEvent, Reason};

use super::conn::{Conn, Phase};
use super::{ConnManager, Lifecycle};

/// A listener's accept-error backoff.
#[derive(Debug, Default)]
pub(crate) struct ListenerPause {
    /// Consecutive accept errors.
    pub failures: u32,
    /// The resume timer while paused.
    pub timer: Option<TimerSeq>,
}

impl ConnManager {
    pub(super) fn on_accepted(&mut self, listener: ListenerId, remote: SocketAddr) -> ConnId {
        if let Some(pause) = self.listeners.get_mut(&listener) {
            pause.failures = 0;
            if pause.timer.is_none() {
                self.listeners.remove(&listener);
            }
        }
        let refusal = if self.lifecycle != Lifecycle::Running {
            self.stats.inbound_rejected_not_running += 1;
            Some(Reason::NotRunning)
        } else if self.counts.inbound >= self.config.max_inbound {
            self.stats.inbound_rejected_full += 1;
            Some(Reason::InboundFull)
        } else {
            None
        };
        if let Some(reason) = refusal {
            let id = self.fresh_id();
            tracing::debug!(conn = id.raw(), %remote, ?reason, "inbound refused");
            self.emit(Action::Close { id, reason });
            return id;
        }
        let mut conn = Conn::new(ConnKind::Inbound, Phase::Established, Some(remote));
        conn.connected_at = self.now;
        let id = self.insert(conn);
        self.stats.inbound_accepted += 1;
        tracing::debug!(conn = id.raw(), %remote, %listener, "inbound admitted");
        self.emit(Action::NotifyPeer(PeerEvent::Connected {
            id,
            addr: remote,
            direction: Direction::Inbound,
            permanent: false,
        }));
        id
    }

    pub(super) fn on_accept_failed(
        &mut self,
        listener: ListenerId,
        error: AcceptError,
    ) -> Result<(), Ignored> {
        self.stats.accept_failures += 1;
        if self.lifecycle == Lifecycle::Stopped {
            return Err(Ignored::Stopped);
        }
        tracing::debug!(%listener, %error, "accept failed");
        let initial = self.config.accept_pause_initial;
        if initial.is_zero() {
            return Ok(());
        }
        let pause = self.listeners.entry(listener).or_default();
        if pause.timer.is_some() {
            // Raced with the pause already ordered; it stands.
            return Ok(());
        }
        pause.failures = pause.failures.saturating_add(1);
        let delay = backoff::doubling(pause.failures, initial, self.config.accept_pause_max);
        let until = self.now + delay;
        pause.timer = Some(self.timers.schedule(until, Owner::Listener(listener)));
        self.stats.listener_pauses += 1;
        self.emit(Action::PauseListener { listener, until });
        Ok(())
    }

    pub(super) fn listener_timer_fired(&mut self, listener: ListenerId) {
        if let Some(pause) = self.listeners.get_mut(&listener) {
            pause.timer = None;
        }
        self.emit(Action::ResumeListener { listener });
    }
}
