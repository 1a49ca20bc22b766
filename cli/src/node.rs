//! `connmgr node`: one real node on the tokio adapter.
//!
//! Listens, keeps `--target` automatic outbound connections from its address
//! book (loaded from and saved to `--peers-file`), and a permanent
//! connection to every `--connect` peer. It speaks no protocol: each
//! connection is held open until either side ends it. Logs go to standard
//! error through `tracing` (filter with `RUST_LOG`, default `info`); a
//! one-line status goes to standard output periodically. The peers file is
//! saved every 10 minutes, on SIGHUP, and at shutdown: SIGTERM or Ctrl-C
//! shut it down gracefully, a second one exits at once.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use connmgr::{Config, Counts, Direction, PeerAddr, Reason, Stats};
use connmgr_tokio::{Builder, Event, Events, Handle, PeerStream};
use tokio::io::AsyncReadExt;

use crate::networks::NetworkArgs;
use crate::signals::{Asked, Signals};
use crate::sim::parse_duration;
use crate::{Error, Outcome};

/// Arguments of `connmgr node`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Listen for inbound connections on this address (repeatable).
    #[arg(long, value_name = "ADDR")]
    pub listen: Vec<SocketAddr>,
    /// Listen on this address as the local target of a Tor onion service
    /// (torrc's `HiddenServicePort`): its connections come from Tor at
    /// 127.0.0.1 and count as Tor (repeatable).
    #[arg(long, value_name = "ADDR")]
    pub listen_onion: Vec<SocketAddr>,
    /// Keep a permanent connection to this peer, redialled with backoff
    /// (repeatable): `IP:PORT`, `[IPv6]:PORT`, `NAME.onion:PORT`,
    /// `NAME.b32.i2p:0`.
    #[arg(long, value_name = "ADDR", num_args = 1..)]
    pub connect: Vec<PeerAddr>,
    /// Automatic outbound connections to keep; 0 dials only `--connect` peers.
    #[arg(long, default_value_t = 8)]
    pub target: u32,
    /// The address book: loaded at start if it exists, saved at shutdown.
    #[arg(long, value_name = "FILE")]
    pub peers_file: PathBuf,
    /// Addresses to add to the address book at start (repeatable).
    #[arg(long, value_name = "ADDR")]
    pub seed: Vec<PeerAddr>,
    /// Let loopback and private addresses into the address book (for
    /// running several nodes on one machine or a LAN).
    #[arg(long)]
    pub allow_local: bool,
    /// Record every input of the manager to FILE, for `connmgr replay`.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Time between status lines: `10s`, `1m`.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub status_every: Duration,
    /// Serve Prometheus metrics at `http://ADDR/metrics` (names in
    /// docs/METRICS.md).
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<SocketAddr>,
    /// Proxies and reachable networks.
    #[command(flatten)]
    pub networks: NetworkArgs,
}

/// Runs the node until Ctrl-C or SIGTERM.
pub fn run(args: &Args) -> Result<Outcome, Error> {
    check(args)?;
    crate::logging::init("info")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the tokio runtime: {e}"))?;
    runtime.block_on(node(args))
}

/// Refuses what a user can type but cannot mean, before anything starts.
fn check(args: &Args) -> Result<(), Error> {
    if args.status_every.is_zero() {
        return Err("--status-every must be positive".into());
    }
    let mut seen = std::collections::BTreeSet::new();
    for addr in args.listen.iter().chain(&args.listen_onion) {
        if !seen.insert(addr) {
            return Err(format!("--listen {addr} is given twice"));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for addr in &args.connect {
        if addr.port() == 0 {
            return Err(format!(
                "--connect {addr}: port 0 is not a port to connect to; give the peer's listening port"
            ));
        }
        if args.listen.iter().any(|listen| addr == listen) {
            return Err(format!(
                "--connect {addr} is this node's own --listen address; a node does not connect to itself"
            ));
        }
        if !seen.insert(addr) {
            return Err(format!(
                "--connect {addr} is given twice; one permanent connection per peer"
            ));
        }
    }
    Ok(())
}

async fn node(args: &Args) -> Result<Outcome, Error> {
    let mut config = Config::default();
    if args.target == 0 {
        config.automatic_outbound = false;
    } else {
        config.target_outbound = args.target;
    }
    args.networks.apply(&mut config);
    config.validate().map_err(|e| e.to_string())?;
    // What the node runs with, as it runs with it (the seed is never shown).
    tracing::info!(?config, "configuration");
    tracing::info!(
        peers_file = %args.peers_file.display(),
        trace = ?args.trace,
        seeds = args.seed.len(),
        connect = args.connect.len(),
        allow_local = args.allow_local,
        "node"
    );
    if args.seed.is_empty() && args.connect.is_empty() && !args.peers_file.exists() {
        tracing::warn!(
            "nothing to connect to yet: no peers file, no --seed and no --connect; the node waits for inbound peers"
        );
    }
    if let Some(addr) = args.metrics {
        crate::metrics::serve(addr)?;
        tracing::info!(%addr, "metrics at http://{addr}/metrics");
        println!("metrics on http://{addr}/metrics");
    }
    let mut builder = Builder::new(config)
        .metrics(args.metrics.is_some())
        .peers_file(&args.peers_file)
        .seeds(args.seed.iter().copied())
        .accept_local_addresses(args.allow_local);
    for &addr in &args.listen {
        builder = builder.listen(addr);
    }
    for &addr in &args.listen_onion {
        builder = builder.listen_as(addr, connmgr::Network::Onion);
    }
    if let Some(trace) = &args.trace {
        builder = builder.record_trace(trace);
    }
    let mut signals = Signals::install()?;
    let (handle, events) = builder.spawn().map_err(|e| e.to_string())?;
    for addr in handle.listen_addrs() {
        tracing::info!(%addr, "listening");
        println!("listening on {addr}");
    }
    for &addr in &args.connect {
        let id = handle
            .connect(addr, true)
            .await
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        tracing::info!(conn = id.raw(), %addr, "permanent peer");
    }
    tokio::spawn(serve(handle.clone(), events));

    let mut status = tokio::time::interval(args.status_every);
    status.tick().await;
    loop {
        tokio::select! {
            asked = signals.next() => match asked {
                Asked::Stop => break,
                Asked::Save => match handle.save().await {
                    Ok(()) => tracing::info!(peers_file = %args.peers_file.display(), "saved on SIGHUP"),
                    Err(error) => tracing::warn!(%error, "SIGHUP: not saved"),
                },
            },
            _ = status.tick() => {
                let (Ok(counts), Ok(stats)) = (handle.counts().await, handle.stats().await) else {
                    return Err("the connection manager stopped unexpectedly".into());
                };
                println!("{}", status_line(&counts, &stats));
            }
        }
    }
    tracing::info!("shutting down (a second SIGTERM or Ctrl-C exits at once)");
    let stats = tokio::select! {
        stopped = handle.shutdown() => stopped.map_err(|e| e.to_string())?,
        () = signals.next_stop() => {
            // The peers file is as the last save left it: whole.
            eprintln!("second stop signal: exiting without saving");
            std::process::exit(130);
        }
    };
    println!(
        "stopped: {} dials, {} connected, {} inbound accepted; peers saved to {}",
        stats.dials,
        stats.dial_successes,
        stats.inbound_accepted,
        args.peers_file.display()
    );
    if let Some(trace) = &args.trace {
        println!(
            "trace: {} (check it with `connmgr replay`)",
            trace.display()
        );
    }
    Ok(Outcome::Success)
}

fn status_line(counts: &Counts, stats: &Stats) -> String {
    format!(
        "status: outbound {} (automatic {}, block-relay {}, permanent {}, manual {})  feeler {}  \
         addr-fetch {}  inbound {}  pending {}  retrying {}  | dials {}, failed {}, timed out {}",
        counts.outbound_established(),
        counts.automatic_established,
        counts.block_relay_established,
        counts.permanent_established,
        counts.manual_established,
        counts.feelers,
        counts.addr_fetches,
        counts.inbound,
        counts.dialing,
        counts.outbound_pending().saturating_sub(counts.dialing),
        stats.dials,
        stats.dial_failures,
        stats.dial_timeouts,
    )
}

/// Logs every peer event and holds each connection until it ends. The node
/// speaks no protocol, so a connection is ready as soon as it is made: it
/// reports the handshake at once (an application reports it after its
/// protocol's `version`/`verack`).
async fn serve(handle: Handle, mut events: Events) {
    while let Some(event) = events.recv().await {
        match event {
            Event::Connected {
                id,
                addr,
                direction,
                kind,
                stream,
                ..
            } => {
                let direction = match direction {
                    Direction::Outbound => "outbound",
                    Direction::Inbound => "inbound",
                };
                tracing::info!(conn = id.raw(), %addr, direction, ?kind, "connected");
                tokio::spawn(hold(stream));
                if handle.handshaked(id).await.is_err() {
                    return;
                }
            }
            Event::Disconnected { id, reason } => {
                tracing::info!(conn = id.raw(), ?reason, "disconnected");
            }
            // The manager says once that it has no address to dial; a line
            // per request that found none would drown the log.
            Event::GaveUp {
                id,
                reason: reason @ Reason::NoAddress(_),
            } => tracing::debug!(conn = id.raw(), ?reason, "gave up"),
            Event::GaveUp { id, reason } => {
                tracing::info!(conn = id.raw(), ?reason, "gave up");
            }
            Event::Banned {
                subnet,
                until,
                reason,
            } => {
                tracing::warn!(%subnet, %until, ?reason, "banned");
            }
            Event::Unbanned { subnet } => tracing::info!(%subnet, "unbanned"),
            other => tracing::debug!(?other, "event"),
        }
    }
}

/// Reads and discards until the connection ends.
async fn hold(mut stream: PeerStream) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
}
