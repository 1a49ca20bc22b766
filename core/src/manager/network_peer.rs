//! Bitcoin Core's extra outbound peer for network diversity
//! (bitcoin/bitcoin#27213): when every full-relay slot is taken and a
//! reachable network the book knows addresses of has fewer outbound
//! connections than its minimum, one extra full-relay connection goes to
//! that network; once it is ready, the youngest full-relay peer of a
//! network with more than its minimum is closed, so the target holds.
//!
//! Checked on the feeler timer (Core checks on its own, every five minutes
//! or so). The extra connection is made before any peer is closed: a
//! network whose addresses do not answer costs a dial, never a working
//! peer, so filling the book with dead addresses of one network cannot
//! make the node churn its peers.

use crate::{ConnId, ConnKind, Network, Reason};

use super::conn::{Conn, Phase};
use super::lifecycle::Then;
use super::ConnManager;

impl ConnManager {
    /// At the feeler timer: the extra connection to a network below its
    /// minimum, if the full-relay slots are full and the book holds an
    /// address of it.
    pub(super) fn maybe_network_peer(&mut self) {
        let full = self.counts.automatic_established >= self.config.target_outbound;
        if self.network_peer.is_some() || !full || !self.config.automatic_outbound {
            return;
        }
        let Some(network) = self.network_below_minimum() else {
            return;
        };
        let Ok(addr) = self.select_address(Some(network)) else {
            return;
        };
        let mut conn = Conn::new(ConnKind::Automatic, Phase::Queued, Some(addr));
        conn.group = Some(self.groups.add(addr));
        let id = self.insert(conn);
        self.network_peer = Some(id);
        self.stats.network_peers += 1;
        tracing::info!(conn = id.raw(), %addr, %network, "an extra peer for a network without one");
        self.dial(id);
    }

    /// The extra connection `id` is ready: close the youngest full-relay
    /// peer of a network that keeps its minimum without it (or, if there is
    /// none, the extra one itself), back to the target.
    /// (Inline: it runs on every connection made, and is almost never it.)
    #[inline]
    pub(super) fn network_peer_ready(&mut self, id: ConnId) {
        if self.network_peer == Some(id) {
            self.close_for_network_diversity(id);
        }
    }

    fn close_for_network_diversity(&mut self, id: ConnId) {
        self.network_peer = None;
        let networks = &self.config.networks;
        let groups = &self.groups;
        let spare = |net: Network| groups.on_network(net) > networks.minimum(net);
        let victim = self
            .conns
            .iter()
            .filter(|(other, c)| {
                **other != id
                    && c.kind == ConnKind::Automatic
                    && c.phase == Phase::Established
                    && c.network().is_some_and(spare)
            })
            .max_by_key(|(other, c)| (c.connected_at, **other))
            .map(|(other, _)| *other);
        let closed = victim.unwrap_or(id);
        self.stats.network_peer_evictions += 1;
        tracing::info!(
            conn = closed.raw(),
            extra = id.raw(),
            "closed for network diversity"
        );
        let _ = self.end(closed, Reason::NetworkDiversity, Then::FollowPolicy);
    }

    /// A record ends: if it was the extra connection, another may be tried.
    pub(super) fn network_peer_gone(&mut self, id: ConnId) {
        if self.network_peer == Some(id) {
            self.network_peer = None;
        }
    }
}
