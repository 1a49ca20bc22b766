//! One connection's record, and the bookkeeping every change of it needs.
//!
//! Every phase change goes through [`enter`] so that the per-kind
//! [`Counts`] can never drift from the records they summarise.

use crate::group::GroupKey;
use crate::peer_fact::PeerFacts;
use crate::timers::{Owner, TimerSeq, Timers};
use crate::token_bucket::TokenBucket;
use crate::{ConnId, ConnKind, ConnState, Counts, Instant, Network, PeerAddr};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Queued,
    AwaitingAddress,
    Dialing,
    Established,
    /// Backoff of a permanent peer, or a throttled automatic replacement.
    Waiting,
}

#[derive(Clone, Debug)]
pub(crate) struct Conn {
    pub kind: ConnKind,
    pub phase: Phase,
    pub addr: Option<PeerAddr>,
    /// The group this connection is counted in, while it is counted.
    pub group: Option<GroupKey>,
    pub attempt: u32,
    pub retry_count: u32,
    pub address_retries: u32,
    pub connected_at: Instant,
    pub timer: Option<(TimerSeq, Instant)>,
    /// Inbound from the allow-list: exempt from limits, eviction and bans,
    /// and not counted toward `max_inbound`.
    pub allowlisted: bool,
    /// Established, and its handshake succeeded.
    pub handshaked: bool,
    /// How many advertised addresses the book inside takes from this peer
    /// (set when it is established).
    pub addr_tokens: TokenBucket,
    /// Whether this peer's `getaddr` was answered already.
    pub addresses_shared: bool,
    /// What the application reported of the peer, for eviction.
    pub facts: PeerFacts,
    /// The network an inbound connection came over, when its listener
    /// said (an onion service's target); otherwise its address's.
    pub overlay: Option<Network>,
}

impl Conn {
    pub fn new(kind: ConnKind, phase: Phase, addr: Option<PeerAddr>) -> Conn {
        Conn {
            kind,
            phase,
            addr,
            group: None,
            attempt: 0,
            retry_count: 0,
            address_retries: 0,
            connected_at: Instant::ZERO,
            timer: None,
            allowlisted: false,
            handshaked: false,
            addr_tokens: TokenBucket::holding(0, Instant::ZERO),
            addresses_shared: false,
            facts: PeerFacts::default(),
            overlay: None,
        }
    }

    /// The network the connection is on, once it has an address.
    pub fn network(&self) -> Option<Network> {
        self.overlay.or(self.addr.map(|a| a.network()))
    }

    /// Sets this connection's one timer to `at`, replacing any it had.
    pub fn arm(&mut self, timers: &mut Timers, id: ConnId, at: Instant) {
        self.disarm(timers);
        self.timer = Some((timers.schedule(at, Owner::Conn(id)), at));
    }

    pub fn disarm(&mut self, timers: &mut Timers) {
        if self.timer.take().is_some() {
            timers.cancelled();
        }
    }

    pub fn state(&self) -> ConnState {
        match self.phase {
            Phase::Queued => ConnState::Queued,
            Phase::AwaitingAddress => ConnState::AwaitingAddress,
            Phase::Dialing => ConnState::Dialing {
                attempt: self.attempt,
            },
            Phase::Established => ConnState::Established,
            Phase::Waiting => ConnState::Waiting {
                until: self.timer.map_or(Instant::MAX, |(_, at)| at),
            },
        }
    }
}

/// Moves `conn` to `phase`, keeping `counts` in step.
pub(crate) fn enter(counts: &mut Counts, conn: &mut Conn, phase: Phase) {
    tally(counts, conn, false);
    conn.phase = phase;
    // A handshake belongs to one connection: a redial starts without one.
    conn.handshaked &= phase == Phase::Established;
    tally(counts, conn, true);
}

/// Records `conn`'s handshake, keeping `counts` in step.
pub(crate) fn handshake(counts: &mut Counts, conn: &mut Conn) {
    tally(counts, conn, false);
    conn.handshaked = true;
    tally(counts, conn, true);
}

/// Adds (or removes) `conn`, as it stands, to `counts`.
pub(crate) fn tally(counts: &mut Counts, conn: &Conn, add: bool) {
    let (kind, phase) = (conn.kind, conn.phase);
    let established = phase == Phase::Established;
    let slot = match (kind, established) {
        (ConnKind::Inbound, _) if conn.allowlisted => &mut counts.inbound_allowlisted,
        (ConnKind::Automatic, false) => &mut counts.automatic_pending,
        (ConnKind::Automatic, true) => &mut counts.automatic_established,
        (ConnKind::BlockRelay, false) => &mut counts.block_relay_pending,
        (ConnKind::BlockRelay, true) => &mut counts.block_relay_established,
        (ConnKind::Feeler, _) => &mut counts.feelers,
        (ConnKind::AddrFetch, _) => &mut counts.addr_fetches,
        (ConnKind::Manual, false) => &mut counts.manual_pending,
        (ConnKind::Manual, true) => &mut counts.manual_established,
        (ConnKind::Permanent, false) => &mut counts.permanent_pending,
        (ConnKind::Permanent, true) => &mut counts.permanent_established,
        (ConnKind::Inbound, _) => &mut counts.inbound,
    };
    bump(slot, add);
    if phase == Phase::Dialing {
        bump(&mut counts.dialing, add);
    }
    if established && conn.handshaked {
        bump(&mut counts.handshaked, add);
    }
}

fn bump(slot: &mut u32, add: bool) {
    *slot = if add {
        slot.saturating_add(1)
    } else {
        slot.saturating_sub(1)
    };
}
