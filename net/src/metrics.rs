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
//! copied out once a second of the manager's time, not at every input, and
//! so are the durations measured since. What the hot path pays: per
//! connection, a map entry for its start time and a sample pushed into
//! reserved room, and per reason or dial error an atomic increment on a
//! handle registered at build; never a lock, nor an allocation beyond the
//! map's growth to the most connections held at once.

use std::time::Duration;

use connmgr::{
    Action, ConnKind, ConnManager, DialError, Direction, Event, IdMap, Input, Instant, Network,
    Reason, Stats,
};
use metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Counter,
    Gauge, Histogram, Unit,
};

/// How often the manager's counters and gauges are copied out, and the
/// durations measured since handed to the recorder.
const REPORT_EVERY: Duration = Duration::from_secs(1);

/// Durations held before a report at most; a histogram whose buffer fills
/// is handed over at once, so memory stays bounded under any churn.
const BUFFERED: usize = 4096;

/// A histogram and the samples measured since the last report. Recording
/// into an exporter's histogram reads a clock and may allocate (the
/// Prometheus exporter's does, every 64 samples); a push into this buffer's
/// reserved room does neither.
struct Durations {
    histogram: Histogram,
    samples: Vec<f64>,
}

impl Durations {
    fn new(histogram: Histogram) -> Durations {
        Durations {
            histogram,
            samples: Vec::with_capacity(BUFFERED),
        }
    }

    fn record(&mut self, duration: Duration) {
        if self.samples.len() == BUFFERED {
            self.flush();
        }
        self.samples.push(duration.as_secs_f64());
    }

    fn flush(&mut self) {
        for sample in self.samples.drain(..) {
            self.histogram.record(sample);
        }
    }
}

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

/// Where a connection's duration is measured from.
#[derive(Clone, Copy)]
enum Since {
    /// Its dial started then.
    Dialling(Instant),
    /// It was made then.
    Connected(Instant, Direction),
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
    dial_seconds: Durations,
    /// Indexed by [`Direction`]: outbound, inbound.
    lifetime_seconds: [Durations; 2],
    /// When each dial in flight started, or its connection was made: one
    /// entry per connection for its whole life, updated in place (ids are
    /// the manager's: a fast hasher is safe).
    since: IdMap<Since>,
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
            dial_seconds: Durations::new(histogram!("connmgr_dial_duration_seconds")),
            lifetime_seconds: [
                Durations::new(histogram!(
                    "connmgr_connection_duration_seconds",
                    "direction" => "outbound"
                )),
                Durations::new(histogram!(
                    "connmgr_connection_duration_seconds",
                    "direction" => "inbound"
                )),
            ],
            since: IdMap::default(),
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
        self.dial_seconds.flush();
        for lifetimes in &mut self.lifetime_seconds {
            lifetimes.flush();
        }
    }

    /// Sees an input before the manager does.
    pub(crate) fn input(&mut self, now: Instant, input: &Input) {
        if let Input::DialResult { id, result, .. } = input {
            if let Some(Since::Dialling(started)) = self.since.get(id) {
                self.dial_seconds.record(now - *started);
            }
            if let Err(error) = result {
                self.dial_errors[*error as usize].increment(1);
                self.since.remove(id);
            }
        }
    }

    /// Sees an action as the runtime takes it, at the manager's `now`.
    pub(crate) fn action(&mut self, now: Instant, action: &Action) {
        match action {
            Action::Dial { id, .. } => {
                self.since.insert(*id, Since::Dialling(now));
            }
            Action::CancelDial { id, .. } => {
                self.since.remove(id);
            }
            Action::NotifyPeer(event) => self.event(now, event),
            _ => {}
        }
    }

    fn event(&mut self, now: Instant, event: &connmgr::PeerEvent) {
        match event {
            Event::Connected { id, direction, .. } => {
                let connected = Since::Connected(now, *direction);
                match self.since.get_mut(id) {
                    Some(since) => *since = connected,
                    None => {
                        self.since.insert(*id, connected);
                    }
                }
            }
            Event::Disconnected { id, reason } => {
                self.disconnected[reason.index()].increment(1);
                if let Some(Since::Connected(at, direction)) = self.since.remove(id) {
                    let i = usize::from(direction == Direction::Inbound);
                    self.lifetime_seconds[i].record(now - at);
                }
            }
            Event::GaveUp { id, reason } => {
                self.gave_up[reason.index()].increment(1);
                self.since.remove(id);
            }
            _ => {}
        }
    }
}
