//! `connmgr status --metrics ADDR`: a readable summary of a running node,
//! read from its metrics endpoint (`connmgr node --metrics ADDR`).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::{Error, Outcome};

/// Arguments of `connmgr status`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The node's metrics address (its `--metrics`).
    #[arg(long, value_name = "ADDR")]
    pub metrics: SocketAddr,
}

/// The most a scrape may be: a node's is about 20 KiB.
const MAX_SCRAPE: u64 = 4 << 20;

/// How long the node has to answer.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Runs `connmgr status`.
pub fn run(args: &Args) -> Result<Outcome, Error> {
    let text = fetch(args.metrics)?;
    let samples = Samples::parse(&text);
    if samples.sum("connmgr_inputs_total", &[]).is_none() {
        return Err(format!(
            "{} serves metrics, but not a connmgr node's (no connmgr_inputs_total)",
            args.metrics
        ));
    }
    print!("{}", summary(args.metrics, &samples));
    Ok(Outcome::Success)
}

/// `GET /metrics` over HTTP/1.0; the body.
fn fetch(addr: SocketAddr) -> Result<String, Error> {
    let failed = |e: std::io::Error| {
        format!("cannot read metrics from {addr}: {e} (is the node running with --metrics {addr}?)")
    };
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(failed)?;
    stream.set_read_timeout(Some(TIMEOUT)).map_err(failed)?;
    stream.set_write_timeout(Some(TIMEOUT)).map_err(failed)?;
    stream
        .write_all(format!("GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .map_err(failed)?;
    let mut response = Vec::new();
    stream
        .take(MAX_SCRAPE)
        .read_to_end(&mut response)
        .map_err(failed)?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("{addr} did not answer in HTTP"))?;
    let status = head.lines().next().unwrap_or_default();
    if !status.contains(" 200 ") {
        return Err(format!("{addr} answered {status:?}, not 200 OK"));
    }
    Ok(body.to_owned())
}

/// A sample's labels, by name.
type Labels = BTreeMap<String, String>;

/// The samples of a scrape in Prometheus's text format, by name.
#[derive(Debug, Default)]
struct Samples {
    by_name: BTreeMap<String, Vec<(Labels, f64)>>,
}

impl Samples {
    fn parse(text: &str) -> Samples {
        let mut samples = Samples::default();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, labels(rest.trim_end_matches('}'))),
                None => (series, BTreeMap::new()),
            };
            samples
                .by_name
                .entry(name.to_owned())
                .or_default()
                .push((labels, value));
        }
        samples
    }

    /// The sum of `name`'s samples whose labels include `with`; `None` if
    /// the scrape has no such metric.
    fn sum(&self, name: &str, with: &[(&str, &str)]) -> Option<f64> {
        let samples = self.by_name.get(name)?;
        Some(
            samples
                .iter()
                .filter(|(labels, _)| has(labels, with))
                .map(|(_, value)| value)
                .sum(),
        )
    }

    /// `name`'s samples summed by the value of `label`, largest first,
    /// zeros left out.
    fn by(&self, name: &str, label: &str, with: &[(&str, &str)]) -> Vec<(String, f64)> {
        let mut sums: BTreeMap<String, f64> = BTreeMap::new();
        for (labels, value) in self.by_name.get(name).into_iter().flatten() {
            if has(labels, with) {
                if let Some(key) = labels.get(label) {
                    *sums.entry(key.clone()).or_default() += value;
                }
            }
        }
        let mut sums: Vec<_> = sums.into_iter().filter(|(_, v)| *v != 0.0).collect();
        sums.sort_by(|a, b| b.1.total_cmp(&a.1));
        sums
    }
}

/// Whether `labels` include every pair of `with`.
fn has(labels: &Labels, with: &[(&str, &str)]) -> bool {
    with.iter()
        .all(|(k, v)| labels.get(*k).is_some_and(|l| l == v))
}

/// `a="x",b="y"` (values without escapes: connmgr's labels have none).
fn labels(text: &str) -> Labels {
    text.split(',')
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            Some((
                key.trim().to_owned(),
                value.trim().trim_matches('"').to_owned(),
            ))
        })
        .collect()
}

fn list(pairs: &[(String, f64)]) -> String {
    if pairs.is_empty() {
        return "none".to_owned();
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The summary `connmgr status` prints.
fn summary(addr: SocketAddr, s: &Samples) -> String {
    let n = |name: &str, with: &[(&str, &str)]| s.sum(name, with).unwrap_or(0.0);
    let peers = |kind: &str| n("connmgr_peers", &[("kind", kind)]);
    let target = |kind: &str| n("connmgr_outbound_target", &[("kind", kind)]);
    let pending = |kind: &str| n("connmgr_outbound_pending", &[("kind", kind)]);
    let mut out = format!("node with metrics at {addr}\n");
    out += &format!(
        "outbound:   automatic {}/{}, block-relay {}/{}, permanent {}, manual {}, feeler {}, addr-fetch {}\n",
        peers("automatic"),
        target("automatic"),
        peers("block_relay"),
        target("block_relay"),
        peers("permanent"),
        peers("manual"),
        peers("feeler"),
        peers("addr_fetch"),
    );
    out += &format!(
        "pending:    automatic {}, block-relay {}, permanent {}, manual {}; {} dials in flight\n",
        pending("automatic"),
        pending("block_relay"),
        pending("permanent"),
        pending("manual"),
        n("connmgr_dials_in_flight", &[]),
    );
    out += &format!(
        "inbound:    {} of {} ({})\n",
        peers("inbound"),
        n("connmgr_inbound_max", &[]),
        list(&s.by("connmgr_peers", "network", &[("direction", "inbound")])),
    );
    out += &format!(
        "networks:   outbound {}\n",
        list(&s.by("connmgr_peers", "network", &[("direction", "outbound")])),
    );
    out += &format!(
        "dials:      {} made, {} connected, {} failed ({}), {} timed out\n",
        n("connmgr_dials_total", &[]),
        n("connmgr_dial_successes_total", &[]),
        n("connmgr_dial_failures_total", &[]),
        list(&s.by("connmgr_dial_errors_total", "error", &[])),
        n("connmgr_dial_timeouts_total", &[]),
    );
    out += &format!(
        "ended:      {}\n",
        list(&s.by("connmgr_disconnected_total", "reason", &[]))
    );
    out += &format!(
        "gave up:    {}\n",
        list(&s.by("connmgr_gave_up_total", "reason", &[]))
    );
    out += &format!(
        "refused:    inbound {}; addresses {}\n",
        list(&s.by("connmgr_inbound_rejected_total", "reason", &[])),
        list(&s.by("connmgr_addresses_refused_total", "reason", &[])),
    );
    out += &format!(
        "bans:       {} banned, {} unbanned, {} evicted\n",
        n("connmgr_bans_total", &[]),
        n("connmgr_unbans_total", &[]),
        n("connmgr_evictions_total", &[]),
    );
    if s.sum("connmgr_book_addresses", &[]).is_some() {
        out += &format!(
            "book:       {} new, {} tried\n",
            n("connmgr_book_addresses", &[("table", "new")]),
            n("connmgr_book_addresses", &[("table", "tried")]),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRAPE: &str = "\
# HELP connmgr_peers Established connections.
# TYPE connmgr_peers gauge
connmgr_peers{direction=\"outbound\",kind=\"automatic\",network=\"ipv4\"} 5
connmgr_peers{direction=\"outbound\",kind=\"automatic\",network=\"onion\"} 2
connmgr_peers{direction=\"inbound\",kind=\"inbound\",network=\"ipv4\"} 3
connmgr_outbound_target{kind=\"automatic\"} 8
connmgr_inbound_max 117
connmgr_disconnected_total{reason=\"peer_closed\"} 4
connmgr_disconnected_total{reason=\"evicted\"} 1
connmgr_disconnected_total{reason=\"banned\"} 0
connmgr_inputs_total 99
";

    #[test]
    fn the_summary_adds_up_series_by_label() {
        let samples = Samples::parse(SCRAPE);
        let text = summary("127.0.0.1:9332".parse().unwrap(), &samples);
        assert!(text.contains("automatic 7/8"), "{text}");
        assert!(text.contains("inbound:    3 of 117 (ipv4 3)"), "{text}");
        assert!(text.contains("outbound ipv4 5, onion 2"), "{text}");
        assert!(
            text.contains("ended:      peer_closed 4, evicted 1\n"),
            "{text}"
        );
        assert!(
            !text.contains("book:"),
            "no book gauge, no book line: {text}"
        );
    }
}
