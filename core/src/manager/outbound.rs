//! Outbound requests: addresses, dials, timeouts, retries and replacement.
//!
//! btcd's rules (`docs/BTCD.md`, "Retry, backoff and throttling"): a permanent request is redialled
//! under its own id with linear backoff; a failed automatic request is
//! replaced by a new one, at once while fewer than `max_failed_attempts`
//! consecutive failures have happened and after `throttle_interval` from
//! then on. Deliberate differences: a failed manual request gives up (btcd
//! leaves it pending for ever), the failed request leaves at once and only
//! its replacement waits, and automatic requests never exceed the target.

use crate::group::GroupKey;
use crate::{
    backoff, Action, AddressError, Backoff, ConnId, ConnKind, DialError, Direction, Ignored,
};
use crate::{PeerAddr, PeerEvent, Reason};

use super::conn::{enter, Conn, Phase};
use super::{ConnManager, Lifecycle};

impl ConnManager {
    pub(super) fn on_connect(
        &mut self,
        addr: PeerAddr,
        permanent: bool,
    ) -> Result<ConnId, Ignored> {
        if self.lifecycle == Lifecycle::Stopped {
            return Err(Ignored::Stopped);
        }
        if self.banned_peer(addr) {
            return Err(Ignored::Banned);
        }
        let kind = if permanent {
            ConnKind::Permanent
        } else {
            ConnKind::Manual
        };
        let mut conn = Conn::new(kind, Phase::Queued, Some(addr));
        conn.group = Some(self.groups.add(addr));
        let id = self.insert(conn);
        tracing::debug!(conn = id.raw(), %addr, permanent, "connect requested");
        if self.lifecycle == Lifecycle::Running {
            self.dial(id);
        } else {
            self.queued.push(id);
        }
        Ok(id)
    }

    pub(super) fn on_new_conn_req(&mut self) -> Result<ConnId, Ignored> {
        if self.lifecycle == Lifecycle::Stopped {
            return Err(Ignored::Stopped);
        }
        if !self.config.automatic_outbound {
            return Err(Ignored::ConnectMode);
        }
        if self.counts.automatic() >= self.config.target_outbound {
            return Err(Ignored::AtTarget);
        }
        if self.lifecycle == Lifecycle::Running {
            return Ok(self.new_automatic(ConnKind::Automatic));
        }
        let id = self.insert(Conn::new(ConnKind::Automatic, Phase::Queued, None));
        self.queued.push(id);
        Ok(id)
    }

    /// A fresh automatic request of `kind`, asking for its address at once.
    pub(super) fn new_automatic(&mut self, kind: ConnKind) -> ConnId {
        let id = self.insert(Conn::new(kind, Phase::AwaitingAddress, None));
        self.ask_address(id);
        id
    }

    /// How many connections of automatic `kind` the manager keeps, and
    /// how many it has (pending or established).
    pub(super) fn automatic_target(&self, kind: ConnKind) -> (u32, u32) {
        if !self.config.automatic_outbound {
            return (0, 0);
        }
        match kind {
            ConnKind::Automatic => {
                let extra = u32::from(self.extra_full_relay);
                (self.config.target_outbound + extra, self.counts.automatic())
            }
            ConnKind::BlockRelay => (self.config.block_relay_outbound, self.counts.block_relay()),
            _ => (0, 0),
        }
    }

    pub(super) fn request_address(&mut self, id: ConnId) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        enter(&mut self.counts, conn, Phase::AwaitingAddress);
        self.ask_address(id);
    }

    /// Dials the request's address under a new attempt number, with the
    /// core's timeout armed.
    pub(super) fn dial(&mut self, id: ConnId) {
        if !self.bans.is_empty() {
            let addr = self.conns.get(&id).and_then(|c| c.addr);
            if addr.is_some_and(|a| self.banned_peer(a)) {
                self.end_banned(id, Reason::Banned);
                return;
            }
        }
        let Some(conn) = self.conns.get_mut(&id) else {
            debug_assert!(false, "dial of {id}, which has no record");
            return;
        };
        let Some(addr) = conn.addr else {
            debug_assert!(false, "dial of {id}, which has no address");
            return;
        };
        conn.attempt = conn.attempt.wrapping_add(1);
        let (attempt, kind) = (conn.attempt, conn.kind);
        enter(&mut self.counts, conn, Phase::Dialing);
        conn.arm(&mut self.timers, id, self.now + self.config.dial_timeout);
        self.stats.dials += 1;
        let route = self.config.networks.route(addr.network());
        tracing::debug!(conn = id.raw(), attempt, %addr, ?route, "dial");
        self.emit(Action::Dial {
            id,
            attempt,
            addr,
            kind,
            route,
        });
    }

    pub(super) fn on_address_result(
        &mut self,
        id: ConnId,
        result: Result<PeerAddr, AddressError>,
    ) -> Result<(), Ignored> {
        let conn = self.conns.get(&id).ok_or_else(|| self.missing(id))?;
        if conn.phase != Phase::AwaitingAddress {
            return Err(Ignored::UnexpectedState {
                id,
                state: conn.state(),
            });
        }
        let addr = match result {
            Ok(addr) => addr,
            Err(error) => {
                self.address_failed(id, error);
                return Ok(());
            }
        };
        if std::mem::take(&mut self.short_of_addresses) {
            tracing::info!("addresses to dial again");
        }
        let group = GroupKey::of_host(addr.host());
        let limit = self.config.max_outbound_per_group;
        let network = addr.network();
        let held = self.groups.on_network(network);
        let network_takes = self.config.networks.takes_outbound(network, held);
        let refused = if self.banned_peer(addr) {
            self.stats.addresses_refused_banned += 1;
            Some(("banned", AddressError::GroupsFull))
        } else if !network_takes {
            self.stats.addresses_refused_network += 1;
            Some(("network unreachable or full", AddressError::NoneSuitable))
        } else if limit > 0 && !group.is_exempt() && self.groups.get(&group) >= limit {
            self.stats.addresses_refused_group_full += 1;
            Some(("group full", AddressError::GroupsFull))
        } else {
            None
        };
        if let Some((why, error)) = refused {
            tracing::debug!(conn = id.raw(), %addr, %group, why, "address refused");
            let retries = self.conns.get_mut(&id).map_or(u32::MAX, |conn| {
                conn.address_retries = conn.address_retries.saturating_add(1);
                conn.address_retries
            });
            if retries > self.config.max_address_retries {
                self.address_failed(id, error);
            } else {
                self.ask_address(id);
            }
            return Ok(());
        }
        if let Some(conn) = self.conns.get_mut(&id) {
            conn.addr = Some(addr);
            conn.group = Some(self.groups.add_in(addr, group));
        }
        self.dial(id);
        Ok(())
    }

    fn address_failed(&mut self, id: ConnId, error: AddressError) {
        self.stats.address_failures += 1;
        if self.short_of_addresses {
            tracing::debug!(conn = id.raw(), %error, "no address");
        } else {
            // Once until an address comes: not a line per request for ever.
            self.short_of_addresses = true;
            tracing::warn!(%error, "no address to dial: automatic connections wait for the address source to have some (give the node seeds or peers to connect to)");
        }
        self.request_failed(id, Reason::NoAddress(error));
    }

    pub(super) fn on_dial_result(
        &mut self,
        id: ConnId,
        attempt: u32,
        result: Result<(), DialError>,
    ) -> Result<(), Ignored> {
        let Some(conn) = self.conns.get_mut(&id) else {
            if result.is_ok() {
                // The request ended while this dial was out: the socket it
                // brings is nobody's, so it must not leak (btcd quirk 7 in
                // `docs/BTCD.md`).
                self.stats.late_sockets_closed += 1;
                self.emit(Action::Close {
                    id,
                    reason: Reason::StaleDial,
                });
            }
            return Err(self.missing(id));
        };
        if attempt < conn.attempt {
            return Err(Ignored::StaleAttempt { id, attempt });
        }
        if conn.phase != Phase::Dialing || attempt != conn.attempt {
            return Err(Ignored::UnexpectedState {
                id,
                state: conn.state(),
            });
        }
        conn.disarm(&mut self.timers);
        let addr = conn.addr;
        self.book_dial_ended(addr);
        let Some(conn) = self.conns.get_mut(&id) else {
            debug_assert!(false, "{id} vanished while its dial ended");
            return Ok(());
        };
        if let Err(error) = result {
            self.stats.dial_failures += 1;
            tracing::debug!(conn = id.raw(), attempt, %error, "dial failed");
            self.request_failed(id, Reason::DialFailed(error));
            return Ok(());
        }
        enter(&mut self.counts, conn, Phase::Established);
        conn.connected_at = self.now;
        conn.address_retries = 0;
        conn.addr_tokens = super::addresses::initial_addr_tokens(conn.kind, self.now);
        let kind = conn.kind;
        if !self.handshake_gate() {
            self.failed_attempts = 0;
        }
        self.stats.dial_successes += 1;
        if let Some(addr) = addr {
            tracing::debug!(conn = id.raw(), %addr, ?kind, "connected");
            let direction = Direction::Outbound;
            self.emit(Action::NotifyPeer(PeerEvent::Connected {
                id,
                addr,
                direction,
                kind,
                stream: (),
            }));
        }
        self.await_handshake(id);
        if !self.handshake_gate() {
            self.network_peer_ready(id);
        }
        Ok(())
    }

    /// A dial or address lookup failed: retry a permanent request, give up a
    /// manual one, replace an automatic one.
    pub(super) fn request_failed(&mut self, id: ConnId, reason: Reason) {
        let Some(conn) = self.conns.get(&id) else {
            debug_assert!(false, "failure of {id}, which has no record");
            return;
        };
        let kind = conn.kind;
        if kind == ConnKind::Permanent {
            self.schedule_retry(id);
            return;
        }
        if !matches!(kind, ConnKind::Feeler | ConnKind::AddrFetch) {
            // A feeler tests the book, an address fetch asks a seed; their
            // failures say nothing of our connectivity.
            self.failed_attempts = self.failed_attempts.saturating_add(1);
        }
        self.give_up(id, reason);
        self.replace(kind);
    }

    pub(super) fn give_up(&mut self, id: ConnId, reason: Reason) {
        if self.take(id).is_some() {
            self.stats.gave_up += 1;
            self.emit(Action::NotifyPeer(PeerEvent::GaveUp { id, reason }));
        }
    }

    /// Schedules the next dial of a permanent request, same id, same address.
    pub(super) fn schedule_retry(&mut self, id: ConnId) {
        let Some(conn) = self.conns.get_mut(&id) else {
            debug_assert!(false, "retry of {id}, which has no record");
            return;
        };
        conn.retry_count = conn.retry_count.saturating_add(1);
        let (unit, cap) = (self.config.retry_interval, self.config.max_retry_interval);
        let delay = match self.config.backoff {
            Backoff::Linear => backoff::linear(conn.retry_count, unit, cap),
            Backoff::ExponentialJitter => {
                backoff::full_jitter(conn.retry_count, unit, cap, &mut self.rng)
            }
        };
        let at = self.now + delay;
        enter(&mut self.counts, conn, Phase::Waiting);
        conn.arm(&mut self.timers, id, at);
        self.stats.retries_scheduled += 1;
        tracing::debug!(conn = id.raw(), ?delay, "retry scheduled");
        self.emit(Action::RetryAfter { id, at });
    }

    /// Makes a new request of automatic `kind` in place of one that ended,
    /// unless that would exceed its target (a connection of any other kind
    /// is not replaced). After too many consecutive failures the new
    /// request waits `throttle_interval` before asking for an address.
    pub(super) fn replace(&mut self, kind: ConnKind) {
        let (target, have) = self.automatic_target(kind);
        if self.lifecycle != Lifecycle::Running || have >= target {
            return;
        }
        if self.failed_attempts < self.config.max_failed_attempts {
            self.stats.replacements += 1;
            self.new_automatic(kind);
            return;
        }
        let id = self.insert(Conn::new(kind, Phase::Waiting, None));
        let at = self.now + self.config.throttle_interval;
        if let Some(conn) = self.conns.get_mut(&id) {
            conn.arm(&mut self.timers, id, at);
        }
        self.stats.throttled_replacements += 1;
        tracing::debug!(
            conn = id.raw(),
            failed = self.failed_attempts,
            "replacement throttled"
        );
        self.emit(Action::RetryAfter { id, at });
    }

    pub(super) fn conn_timer_fired(&mut self, id: ConnId) {
        // Only live timers fire, and a record's timer dies with it.
        let Some(conn) = self.conns.get(&id) else {
            debug_assert!(false, "a live timer of {id}, which has no record");
            return;
        };
        match (conn.phase, conn.kind) {
            (Phase::Dialing, _) => {
                let (attempt, addr) = (conn.attempt, conn.addr);
                self.book_dial_ended(addr);
                self.stats.dial_timeouts += 1;
                self.stats.dial_failures += 1;
                tracing::debug!(conn = id.raw(), attempt, "dial timed out");
                self.emit(Action::CancelDial { id, attempt });
                self.request_failed(id, Reason::DialFailed(DialError::TimedOut));
            }
            (Phase::Waiting, kind) if kind.is_automatic() => self.request_address(id),
            (Phase::Waiting, _) => self.dial(id),
            (Phase::Established, ConnKind::AddrFetch)
                if conn.handshaked || !self.handshake_gate() =>
            {
                self.addr_fetch_expired(id);
            }
            (Phase::Established, _) => {
                debug_assert!(!conn.handshaked, "a handshake timer outlived its handshake");
                self.handshake_timed_out(id);
            }
            _ => {}
        }
    }
}
