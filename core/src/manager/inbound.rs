//! Inbound admission and listener pauses.
//!
//! Admission starts from btcd's `limitInbound` (below `max_inbound` a
//! connection is admitted, otherwise closed at once and counted) and adds,
//! each configurable: an allow-list, bans, a per-group arrival rate, per-IP
//! and per-group limits, and eviction when full. Every refusal carries its
//! reason in the `Close` and in `Stats`. Unlike btcd, an accept error pauses
//! its listener (5 ms doubling to 1 s by default) instead of letting the
//! accept loop spin, and the next successful accept resets the pause.

use std::net::{IpAddr, SocketAddr};

use crate::group::GroupKey;
use crate::timers::{Owner, TimerSeq};
use crate::{backoff, AcceptError, Action, ConnId, ConnKind, Direction, Ignored, ListenerId};
use crate::{Host, Network, PeerEvent, Reason};

use super::bans::allowlisted;
use super::conn::{Conn, Phase};
use super::{ConnManager, Lifecycle};

/// A listener's accept-error backoff.
#[derive(Debug, Default)]
pub(crate) struct ListenerPause {
    /// Consecutive accept errors.
    pub failures: u32,
    /// The resume timer while paused.
    pub timer: Option<TimerSeq>,
    /// Whether this episode of errors was reported at warn level (once).
    pub reported: bool,
}

impl ConnManager {
    pub(super) fn on_accepted(
        &mut self,
        listener: ListenerId,
        remote: SocketAddr,
        overlay: Option<Network>,
    ) -> ConnId {
        if let Some(pause) = self.listeners.get_mut(&listener) {
            if pause.reported {
                tracing::info!(%listener, errors = pause.failures, "accepting again");
            }
            pause.failures = 0;
            pause.reported = false;
            if pause.timer.is_none() {
                self.listeners.remove(&listener);
            }
        }
        let ip = remote.ip().to_canonical();
        let network = overlay.unwrap_or(Network::of(ip));
        let allowlisted = allowlisted(&self.config.allowlist, Host::Ip(ip));
        if let Some(reason) = self.refusal(ip, network, allowlisted) {
            let id = self.fresh_id();
            tracing::debug!(conn = id.raw(), %remote, ?reason, "inbound refused");
            self.emit(Action::Close { id, reason });
            return id;
        }
        let mut conn = Conn::new(ConnKind::Inbound, Phase::Established, Some(remote.into()));
        conn.connected_at = self.now;
        conn.allowlisted = allowlisted;
        conn.overlay = overlay;
        conn.addr_tokens = super::addresses::initial_addr_tokens(ConnKind::Inbound, self.now);
        let id = self.insert(conn);
        self.stats.inbound_accepted += 1;
        tracing::debug!(conn = id.raw(), %remote, %listener, "inbound admitted");
        self.emit(Action::NotifyPeer(PeerEvent::Connected {
            id,
            addr: remote.into(),
            direction: Direction::Inbound,
            kind: ConnKind::Inbound,
            stream: (),
        }));
        self.await_handshake(id);
        id
    }

    /// Why a connection from `ip` must be refused, if it must; makes room by
    /// eviction when inbound is full and eviction is on. The checks run in
    /// this order, and the first that fails is the reason: running, ban,
    /// arrival rate, per-IP limit, per-group limit, per-network limit,
    /// room. Allow-listed
    /// addresses pass them all; local and unroutable ones skip the rate and
    /// the per-IP and per-group limits.
    fn refusal(&mut self, ip: IpAddr, network: Network, allowlisted: bool) -> Option<Reason> {
        if self.lifecycle != Lifecycle::Running {
            self.stats.inbound_rejected_not_running += 1;
            return Some(Reason::NotRunning);
        }
        if allowlisted {
            return None;
        }
        let now = self.now;
        if self.bans.is_banned(Host::Ip(ip), now) {
            self.stats.inbound_rejected_banned += 1;
            return Some(Reason::Banned);
        }
        let group = GroupKey::of(ip);
        let c = &self.config;
        if !group.is_exempt() {
            let (rate, burst) = (c.inbound_rate_per_group, c.inbound_burst_per_group);
            if rate > 0 && !self.inbound.take_token(group, now, rate, burst) {
                self.stats.inbound_rejected_rate_limited += 1;
                return Some(Reason::RateLimited);
            }
            if c.max_inbound_per_ip > 0 && self.inbound.count_host(ip) >= c.max_inbound_per_ip {
                self.stats.inbound_rejected_ip_limit += 1;
                return Some(Reason::IpLimit);
            }
            if c.max_inbound_per_group > 0
                && self.inbound.count_group(group) >= c.max_inbound_per_group
            {
                self.stats.inbound_rejected_group_limit += 1;
                return Some(Reason::GroupLimit);
            }
        }
        let network_max = self.config.networks.get(network).max_inbound;
        if network_max.is_some_and(|max| self.inbound.count_network(network) >= max) {
            self.stats.inbound_rejected_network_limit += 1;
            return Some(Reason::NetworkLimit);
        }
        if self.counts.inbound < self.config.max_inbound {
            return None;
        }
        match self.eviction_victim() {
            Some(victim) => {
                self.evict(victim);
                None
            }
            None => {
                self.stats.inbound_rejected_full += 1;
                Some(Reason::InboundFull)
            }
        }
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
        let pause = self.listeners.entry(listener).or_default();
        if pause.reported {
            tracing::debug!(%listener, %error, "accept failed");
        } else {
            // Once per episode: an operator must hear that inbound
            // connections wait, not a line per error.
            pause.reported = true;
            tracing::warn!(%listener, %error, "accepting failed (out of file descriptors?); inbound connections wait until it succeeds again");
        }
        let initial = self.config.accept_pause_initial;
        if initial.is_zero() {
            return Ok(());
        }
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
