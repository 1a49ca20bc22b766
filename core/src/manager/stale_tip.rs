//! An extra full-relay outbound peer while the chain tip is stale (Bitcoin
//! Core's `CheckForStaleTipAndEvictPeers`): peers that withhold blocks
//! cannot keep the node behind for long if it keeps trying one more peer.
//! The application, which sees the blocks, reports the tip stale and, once
//! the extra peer is connected, which full-relay peer is the least useful;
//! the manager closes that one. While the tip stays stale the slot it
//! frees is refilled, so the node keeps sampling new peers; once the tip
//! advances, the target returns to normal.

use std::time::Duration;

use crate::{ConnId, ConnKind, Ignored, Reason};

use super::conn::Phase;
use super::lifecycle::Then;
use super::ConnManager;

/// Core's `MINIMUM_CONNECT_TIME`: a peer gets this long to prove useful.
const MINIMUM_CONNECT_TIME: Duration = Duration::from_secs(30);

impl ConnManager {
    pub(super) fn on_tip_stale(&mut self, stale: bool) -> Result<(), Ignored> {
        if self.extra_full_relay == stale {
            return Ok(());
        }
        self.extra_full_relay = stale;
        if stale {
            self.stats.stale_tips += 1;
            tracing::info!("chain tip stale: one more full-relay outbound peer");
            self.replace(ConnKind::Automatic);
        }
        Ok(())
    }

    pub(super) fn on_least_useful(&mut self, id: ConnId) -> Result<(), Ignored> {
        let conn = self.conns.get(&id).ok_or_else(|| self.missing(id))?;
        let refuse = |why| Err(Ignored::NotAllowed { id, why });
        if conn.kind != ConnKind::Automatic || conn.phase != Phase::Established {
            return refuse(
                "only an established full-relay outbound peer is evicted as least useful",
            );
        }
        if self.counts.automatic_established <= self.config.target_outbound {
            return refuse("full-relay outbound peers are not above the target");
        }
        if self.now - conn.connected_at < MINIMUM_CONNECT_TIME {
            return refuse("connected for less than 30 seconds");
        }
        self.stats.least_useful_evicted += 1;
        self.end(id, Reason::LeastUseful, Then::FollowPolicy)
    }
}
