//! Anchors (Bitcoin Core's, PR #17428): the block-relay-only peers of a run
//! that stopped cleanly are the first connections of the next one. An
//! attacker who filled the address book while the node was down (or who
//! restarts it by crashing it) must still displace peers the node already
//! trusted. Only a clean `Stop` reports anchors (`Action::SaveAnchors`); the
//! runtime deletes the file once it has read it back, so a crash leaves
//! none behind and an unclean restart dials none.

use crate::{Action, ConnKind, Ignored, PeerAddr};

use super::conn::{Conn, Phase};
use super::{ConnManager, Lifecycle};

/// Core's `MAX_BLOCK_RELAY_ONLY_ANCHORS`.
const MAX_ANCHORS: usize = 2;

impl ConnManager {
    pub(super) fn on_anchors(&mut self, addrs: Vec<PeerAddr>) -> Result<(), Ignored> {
        if self.lifecycle != Lifecycle::Idle {
            return Err(Ignored::AlreadyStarted);
        }
        let keep = MAX_ANCHORS.min(self.config.block_relay_outbound as usize);
        self.anchors = Vec::with_capacity(keep);
        for addr in addrs {
            if self.anchors.len() == keep {
                break;
            }
            // One peer given twice (or as two spellings of one socket
            // address, which are one `PeerAddr`) is one anchor: dialling
            // both would open two connections to one peer.
            if addr.is_dialable() && !self.anchors.contains(&addr) {
                self.anchors.push(addr);
            }
        }
        Ok(())
    }

    /// At `Start`: the anchors become the first block-relay-only requests,
    /// dialled before anything else. An anchor whose group is already full,
    /// or whose network is unreachable or full, is skipped (as Core skips
    /// an anchor of a network it no longer reaches).
    pub(super) fn dial_anchors(&mut self) {
        if !self.config.automatic_outbound {
            self.anchors.clear();
            return;
        }
        let limit = self.config.max_outbound_per_group;
        for addr in std::mem::take(&mut self.anchors) {
            let group = crate::GroupKey::of_host(addr.host());
            let network = addr.network();
            let network_takes =
                (self.config.networks).takes_outbound(network, self.groups.on_network(network));
            if !network_takes
                || (limit > 0 && !group.is_exempt() && self.groups.get(&group) >= limit)
            {
                continue;
            }
            let mut conn = Conn::new(ConnKind::BlockRelay, Phase::Queued, Some(addr));
            conn.group = Some(self.groups.add_in(addr, group));
            let id = self.insert(conn);
            self.stats.anchors_dialled += 1;
            tracing::info!(conn = id.raw(), %addr, "dialling an anchor");
            self.dial(id);
        }
    }

    /// At `Stop`, before the connections close: the block-relay-only peers
    /// whose handshake completed, for the next start.
    pub(super) fn save_anchors(&mut self) {
        if self.config.block_relay_outbound == 0 {
            return;
        }
        let mut ids: Vec<_> = self
            .conns
            .iter()
            .filter(|(_, c)| {
                c.kind == ConnKind::BlockRelay && c.phase == Phase::Established && c.handshaked
            })
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        let addrs = ids
            .iter()
            .filter_map(|id| self.conns.get(id)?.addr)
            .take(MAX_ANCHORS)
            .collect();
        self.emit(Action::SaveAnchors { addrs });
    }
}
