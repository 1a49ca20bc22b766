//! Bans and misbehaviour.
//!
//! A banned address is refused on accept and never dialled, until the ban
//! expires (by virtual time, checked when the address is seen) or is lifted.
//! Setting a ban closes the live connections it covers; that scan is the one
//! place besides `Stop` that looks at every connection, and bans are rare.
//! Allow-listed addresses are exempt.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasherDefault;

use crate::{Action, ConnId, Host, Ignored, Instant, PeerEvent, Reason, Subnet};

use super::conn::Phase;
use super::ConnManager;
use crate::ids::IdHasher;

/// The ban list: single addresses in a map, wider subnets in a short list.
#[derive(Debug, Default)]
pub(crate) struct Bans {
    /// Single addresses: IP ones, onion and I2P names.
    hosts: HashMap<Host, Instant, BuildHasherDefault<IdHasher>>,
    subnets: BTreeMap<Subnet, Instant>,
}

impl Bans {
    fn insert(&mut self, subnet: Subnet, until: Instant) {
        if subnet.is_host() {
            self.hosts.insert(subnet.network(), until);
        } else {
            self.subnets.insert(subnet, until);
        }
    }

    fn remove(&mut self, subnet: &Subnet) -> bool {
        if subnet.is_host() {
            self.hosts.remove(&subnet.network()).is_some()
        } else {
            self.subnets.remove(subnet).is_some()
        }
    }

    /// Whether no ban is set (the common case, checked first to keep the
    /// hot path free of lookups).
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty() && self.subnets.is_empty()
    }

    /// Whether the peer at `host` is banned at `now`, without tidying
    /// expired bans.
    pub fn covers(&self, host: Host, now: Instant) -> bool {
        let host = single(host);
        self.hosts.get(&host).is_some_and(|&until| until > now)
            || self
                .subnets
                .iter()
                .any(|(subnet, &until)| until > now && subnet.contains_host(host))
    }

    /// Whether the peer at `host` is banned at `now`; expired bans are
    /// dropped on the way.
    pub fn is_banned(&mut self, host: Host, now: Instant) -> bool {
        let host = single(host);
        if let Some(&until) = self.hosts.get(&host) {
            if until > now {
                return true;
            }
            self.hosts.remove(&host);
        }
        if self.subnets.is_empty() {
            return false;
        }
        self.subnets.retain(|_, until| *until > now);
        self.subnets.keys().any(|subnet| subnet.contains_host(host))
    }
}

/// The key a single-address ban of `host` is kept under: a CJDNS address
/// is banned as the IP address it is.
fn single(host: Host) -> Host {
    Subnet::of_host(host).network()
}

/// Whether `host` is in `allowlist`: an IP address (or CJDNS's) in one of
/// its subnets. Exempt from bans and inbound limits; the one test of it.
pub(super) fn allowlisted(allowlist: &[Subnet], host: Host) -> bool {
    host.ip()
        .is_some_and(|ip| allowlist.iter().any(|subnet| subnet.contains(ip)))
}

impl ConnManager {
    /// Whether dialling or admitting the peer at `host` is forbidden by a
    /// ban (an allow-listed IP address never is).
    pub(super) fn banned(&mut self, host: Host) -> bool {
        if self.bans.is_empty() {
            return false;
        }
        let now = self.now;
        !allowlisted(&self.config.allowlist, host) && self.bans.is_banned(host, now)
    }

    /// Whether a ban covers the peer at `addr`.
    pub(super) fn banned_peer(&mut self, addr: crate::PeerAddr) -> bool {
        self.banned(addr.host())
    }

    pub(super) fn on_ban(&mut self, subnet: Subnet, until: Instant) -> Result<(), Ignored> {
        self.ban(subnet, until, Reason::Requested);
        Ok(())
    }

    pub(super) fn on_unban(&mut self, subnet: Subnet) -> Result<(), Ignored> {
        if !self.bans.remove(&subnet) {
            return Err(Ignored::NotBanned);
        }
        self.stats.unbans += 1;
        tracing::info!(%subnet, "unbanned");
        self.emit(Action::NotifyPeer(PeerEvent::Unbanned { subnet }));
        Ok(())
    }

    pub(super) fn on_misbehaved(
        &mut self,
        id: ConnId,
        persistent: u32,
        transient: u32,
    ) -> Result<(), Ignored> {
        let conn = self.conns.get(&id).ok_or_else(|| self.missing(id))?;
        if conn.phase != Phase::Established {
            return Err(Ignored::UnexpectedState {
                id,
                state: conn.state(),
            });
        }
        let Some(host) = conn.addr.map(|a| a.host()) else {
            return Ok(());
        };
        self.stats.misbehaviour_reports += 1;
        let now = self.now;
        let score = self.scores.entry(id).or_default();
        let total = score.increase(persistent, transient, now);
        tracing::debug!(conn = id.raw(), total, "misbehaved");
        let threshold = self.config.ban_threshold;
        let noban = conn.facts.noban;
        let allowed = allowlisted(&self.config.allowlist, host);
        if threshold > 0 && total >= threshold && !noban && !allowed {
            let until = now + self.config.ban_duration;
            self.ban(Subnet::of_host(host), until, Reason::Misbehaving);
        }
        Ok(())
    }

    /// Records the ban, tells the application, and ends what it covers.
    fn ban(&mut self, subnet: Subnet, until: Instant, reason: Reason) {
        self.bans.insert(subnet, until);
        self.stats.bans += 1;
        tracing::info!(%subnet, %until, ?reason, "banned");
        self.emit(Action::NotifyPeer(PeerEvent::Banned {
            subnet,
            until,
            reason,
        }));
        let close_reason = if reason == Reason::Requested {
            Reason::Banned
        } else {
            reason
        };
        let mut covered: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| {
                c.addr
                    .is_some_and(|a| subnet.contains_host(a.host()) && !c.allowlisted)
            })
            .map(|(id, _)| *id)
            .collect();
        covered.sort_unstable();
        for id in covered {
            self.end_banned(id, close_reason);
        }
    }

    /// Ends one connection or request whose address is banned; an automatic
    /// one is replaced, nothing is redialled.
    pub(super) fn end_banned(&mut self, id: ConnId, reason: Reason) {
        let Some(conn) = self.conns.get(&id) else {
            return;
        };
        let kind = conn.kind;
        self.stats.closed_banned += 1;
        if conn.phase == Phase::Established {
            self.emit(Action::Close { id, reason });
            self.stats.disconnected += 1;
            self.emit(Action::NotifyPeer(PeerEvent::Disconnected { id, reason }));
            self.take(id);
        } else {
            if conn.phase == Phase::Dialing {
                let attempt = conn.attempt;
                self.emit(Action::CancelDial { id, attempt });
            }
            self.give_up(id, reason);
        }
        self.replace(kind);
    }
}
