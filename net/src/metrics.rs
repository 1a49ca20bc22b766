//! What the manager reports through the [`metrics`] facade (feature
//! `metrics`, turned on per manager with `Builder::metrics`).
//!
//! The library installs no exporter: the application picks one (the
//! `connmgr` command serves Prometheus's text format) and must install it
//! before it builds the manager, since the handles are registered once, at
//! build. Names and labels are listed in `docs/METRICS.md`.
//!
//! The manager's own counters ([`Stats`](connmgr::Stats)) and gauges
//! ([`Counts`](connmgr::Counts), [`PeerCounts`](connmgr::PeerCounts)) are
//! copied out once a second of the manager's time, not at every input: the
//! hot path pays a comparison and, per connection, a map entry for its
//! start time, never a lock or an allocation beyond the maps' growth.
//! Reasons, dial errors and the two durations are counted as their events
//! pass, into handles registered at build.

use std::collections::HashMap;
use std::time::Duration;

use connmgr::{
    Action, ConnId, ConnKind, ConnManager, DialError, Direction, Event, Input, Instant, Network,
    Reason, Stats,
};
use metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Counter,
    Gauge, Histogram, Unit,
};

/// How often the manager's counters and gauges are copied out.
const REPORT_EVERY: Duration = Duration::from_secs(1);

/// Stats fields reported as one family with a label, by prefix: the
/// prefix, the family's name and its help text.
const FAMILIES: [(&str, &str, &str); 2] = [
    (
        "inbound_rejected_",
        "connmgr_inbound_rejected_total",
        "Inbound connections refused, by reason.",
    ),
    (
        "addresses_refused_",
        "connmgr_addresses_refused_total",
        "Addresses for outbound connections refused by the manager, by reason.",
    ),
];

/// Stats fields reported labelled by [`Reason`] instead (their sums).
const BY_REASON: [&str; 2] = ["disconnected", "gave_up"];

/// The Prometheus name and label of a [`Stats`] field; `None` for the
/// fields reported by reason.
fn stat_metric(field: &'static str) -> Option<(String, Option<&'static str>)> {
    if BY_REASON.contains(&field) {
        return None;
    }
    for (prefix, family, _) in FAMILIES {
        if let Some(reason) = field.strip_prefix(prefix) {
            return Some((family.to_owned(), Some(reason)));
        }
    }
    Some((format!("connmgr_{field}_total"), None))
}

/// Gives every metric its help text and unit.
fn describe() {
    for (field, doc) in Stats::DOCS {
        if let Some((name, None)) = stat_metric(field) {
            describe_counter!(name, doc.trim());
        }
    }
    for (_, family, help) in FAMILIES {
        describe_counter!(family, help);
    }
    describe_counter!(
        "connmgr_disconnected_total",
        "Established connections that ended, by reason."
    );
    describe_counter!(
        "connmgr_gave_up_total",
        "Connection requests given up without connecting, by reason."
    );
    describe_counter!(
        "connmgr_dial_errors_total",
        "Dials the runtime reported failed, by error (the manager's own dial timeouts are connmgr_dial_timeouts_total)."
    );
    describe_gauge!(
        "connmgr_peers",
        "Established connections, by direction, kind and network."
    );
    describe_gauge!(
        "connmgr_outbound_pending",
        "Outbound requests not connected (waiting for an address, dialling or backing off), by kind."
    );
    describe_gauge!(
        "connmgr_outbound_target",
        "Outbound connections the config asks for, by kind."
    );
    describe_gauge!(
        "connmgr_inbound_max",
        "Inbound connections the config admits (max_inbound)."
    );
    describe_gauge!("connmgr_dials_in_flight", "Dials in flight, of any kind.");
    describe_gauge!(
        "connmgr_handshaked_peers",
        "Established connections whose handshake succeeded."
    );
    describe_gauge!(
        "connmgr_book_addresses",
        "Addresses in the address book inside the manager, by table."
    );
    describe_histogram!(
        "connmgr_dial_duration_seconds",
        Unit::Seconds,
        "Time from a dial to its result, as the runtime reported it."
    );
    describe_histogram!(
        "connmgr_connection_duration_seconds",
        Unit::Seconds,
        "How long established connections lasted, by direction."
    );
}

fn direction_label(kind: ConnKind) -> &'static str {
    match kind {
        ConnKind::Inbound => "inbound",
        _ => "outbound",
    }
}

/// The registered handles and the start times the durations need.
pub(crate) struct Metrics {
    /// One per [`Stats::fields`] entry, in its order.
    stats: Vec<Option<Counter>>,
    disconnected: Vec<Counter>,
    gave_up: Vec<Counter>,
    dial_errors: Vec<Counter>,
    /// Indexed by `ConnKind::index`, then `Network::index`.
    peers: Vec<Vec<Gauge>>,
    /// Automatic, block-relay-only, manual, permanent.
    pending: [Gauge; 4],
    dialing: Gauge,
    handshaked: Gauge,
    book_new: Gauge,
    book_tried: Gauge,
    dial_seconds: Histogram,
    /// Indexed by [`Direction`]: outbound, inbound.
    lifetime_seconds: [Histogram; 2],
    dials: HashMap<ConnId, Instant>,
    connected: HashMap<ConnId, (Instant, Direction)>,
    next_report: Instant,
}

impl Metrics {
    /// Registers every handle with the installed recorder, and the config's
    /// targets (which do not change) once.
    pub(crate) fn register(mgr: &ConnManager) -> Metrics {
        describe();
        let stats = Stats::default()
            .fields()
            .iter()
            .map(|(field, _)| {
                stat_metric(field).map(|(name, reason)| match reason {
                    Some(reason) => counter!(name, "reason" => reason),
                    None => counter!(name),
                })
            })
            .collect();
        let by_reason = |name: &'static str| -> Vec<Counter> {
            Reason::LABELS
                .iter()
                .map(|&reason| counter!(name, "reason" => reason))
                .collect()
        };
        let peers = ConnKind::ALL
            .iter()
            .map(|kind| {
                Network::ALL
                    .iter()
                    .map(|network| {
                        gauge!(
                            "connmgr_peers",
                            "direction" => direction_label(*kind),
                            "kind" => kind.label(),
                            "network" => network.label(),
                        )
                    })
                    .collect()
            })
            .collect();
        let pending = |kind: ConnKind| gauge!("connmgr_outbound_pending", "kind" => kind.label());
        let config = mgr.config();
        let automatic = if config.automatic_outbound {
            config.target_outbound
        } else {
            0
        };
        let target = |kind: ConnKind| gauge!("connmgr_outbound_target", "kind" => kind.label());
        target(ConnKind::Automatic).set(automatic);
        target(ConnKind::BlockRelay).set(config.block_relay_outbound);
        gauge!("connmgr_inbound_max").set(config.max_inbound);
        let mut metrics = Metrics {
            stats,
            disconnected: by_reason("connmgr_disconnected_total"),
            gave_up: by_reason("connmgr_gave_up_total"),
            dial_errors: DialError::LABELS
                .iter()
                .map(|&error| counter!("connmgr_dial_errors_total", "error" => error))
                .collect(),
            peers,
            pending: [
                pending(ConnKind::Automatic),
                pending(ConnKind::BlockRelay),
                pending(ConnKind::Manual),
                pending(ConnKind::Permanent),
            ],
            dialing: gauge!("connmgr_dials_in_flight"),
            handshaked: gauge!("connmgr_handshaked_peers"),
            book_new: gauge!("connmgr_book_addresses", "table" => "new"),
            book_tried: gauge!("connmgr_book_addresses", "table" => "tried"),
            dial_seconds: histogram!("connmgr_dial_duration_seconds"),
            lifetime_seconds: [
                histogram!("connmgr_connection_duration_seconds", "direction" => "outbound"),
                histogram!("connmgr_connection_duration_seconds", "direction" => "inbound"),
            ],
            dials: HashMap::new(),
            connected: HashMap::new(),
            next_report: Instant::ZERO,
        };
        metrics.report(mgr.now(), mgr);
        metrics
    }

    /// When the counters and gauges are next copied out.
    pub(crate) fn next_report(&self) -> Instant {
        self.next_report
    }

    /// Copies the manager's counters and gauges out.
    pub(crate) fn report(&mut self, now: Instant, mgr: &ConnManager) {
        self.next_report = now + REPORT_EVERY;
        for (counter, (_, value)) in self.stats.iter().zip(mgr.stats().fields()) {
            if let Some(counter) = counter {
                counter.absolute(value);
            }
        }
        let peers = mgr.peer_counts();
        for (kind, network, n) in peers.iter() {
            self.peers[kind.index()][network.index()].set(n);
        }
        let counts = mgr.counts();
        let [automatic, block_relay, manual, permanent] = &self.pending;
        automatic.set(counts.automatic_pending);
        block_relay.set(counts.block_relay_pending);
        manual.set(counts.manual_pending);
        permanent.set(counts.permanent_pending);
        self.dialing.set(counts.dialing);
        self.handshaked.set(counts.handshaked);
        if let Some(book) = mgr.book_counts() {
            self.book_new.set(book.new as f64);
            self.book_tried.set(book.tried as f64);
        }
    }

    /// Sees an input before the manager does.
    pub(crate) fn input(&mut self, now: Instant, input: &Input) {
        if let Input::DialResult { id, result, .. } = input {
            if let Some(started) = self.dials.remove(id) {
                self.dial_seconds.record(now - started);
            }
            if let Err(error) = result {
                self.dial_errors[*error as usize].increment(1);
            }
        }
    }

    /// Sees an action as the runtime takes it, at the manager's `now`.
    pub(crate) fn action(&mut self, now: Instant, action: &Action) {
        match action {
            Action::Dial { id, .. } => {
                self.dials.insert(*id, now);
            }
            Action::CancelDial { id, .. } => {
                self.dials.remove(id);
            }
            Action::NotifyPeer(event) => self.event(now, event),
            _ => {}
        }
    }

    fn event(&mut self, now: Instant, event: &connmgr::PeerEvent) {
        match event {
            Event::Connected { id, direction, .. } => {
                self.connected.insert(*id, (now, *direction));
            }
            Event::Disconnected { id, reason } => {
                self.disconnected[reason.index()].increment(1);
                if let Some((since, direction)) = self.connected.remove(id) {
                    let i = usize::from(direction == Direction::Inbound);
                    self.lifetime_seconds[i].record(now - since);
                }
            }
            Event::GaveUp { id, reason } => {
                self.gave_up[reason.index()].increment(1);
                self.dials.remove(id);
            }
            _ => {}
        }
    }
}
