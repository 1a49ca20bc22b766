//! `connmgr node --metrics ADDR`: the manager's metrics served in
//! Prometheus's text format, by the `metrics-exporter-prometheus` crate's
//! own HTTP listener, on the node's tokio runtime.

use std::net::SocketAddr;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

use crate::Error;

/// Dials complete in milliseconds on a LAN, seconds over Tor, and time out
/// at `dial_timeout` (seconds).
const DIAL_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Connections last from a refused handshake (a second) to weeks.
const LIFETIME_BUCKETS: [f64; 10] = [
    1.0,
    10.0,
    60.0,
    300.0,
    1_800.0,
    3_600.0,
    21_600.0,
    86_400.0,
    604_800.0,
    2_592_000.0,
];

/// Installs the exporter as the process's `metrics` recorder and starts
/// serving `http://ADDR/metrics`. Must run inside the tokio runtime, and
/// before the manager is built (its handles register then).
pub fn serve(addr: SocketAddr) -> Result<(), Error> {
    let histogram = |name: &str| Matcher::Full(name.to_owned());
    PrometheusBuilder::new()
        .with_http_listener(addr)
        .set_buckets_for_metric(histogram("connmgr_dial_duration_seconds"), &DIAL_BUCKETS)
        .and_then(|b| {
            b.set_buckets_for_metric(
                histogram("connmgr_connection_duration_seconds"),
                &LIFETIME_BUCKETS,
            )
        })
        .and_then(PrometheusBuilder::install)
        .map_err(|e| format!("--metrics {addr}: {e}"))
}
