//! `connmgr node`: one real node on the tokio adapter.
//!
//! Listens, keeps `--target` automatic outbound connections from its address
//! book (loaded from and saved to `--peers-file`), and a permanent
//! connection to every `--connect` peer. It speaks no protocol: each
//! connection is held open until either side ends it. Logs go to standard
//! error through `tracing` (filter with `RUST_LOG`, default `info`); a
//! one-line status goes to standard output periodically. Ctrl-C (or
//! SIGTERM) shuts it down gracefully and saves the peers file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use connmgr::{Config, Counts, Direction, Stats};
use connmgr_tokio::{Builder, Event, Events, PeerStream};
use tokio::io::AsyncReadExt;
use tracing_subscriber::EnvFilter;

use crate::sim::parse_duration;
use crate::{Error, Outcome};

/// Arguments of `connmgr node`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Listen for inbound connections on this address (repeatable).
    #[arg(long, value_name = "ADDR")]
    pub listen: Vec<SocketAddr>,
    /// Keep a permanent connection to this peer, redialled with backoff
    /// (repeatable).
    #[arg(long, value_name = "ADDR", num_args = 1..)]
    pub connect: Vec<SocketAddr>,
    /// Automatic outbound connections to keep; 0 dials only `--connect` peers.
    #[arg(long, default_value_t = 8)]
    pub target: u32,
    /// The address book: loaded at start if it exists, saved at shutdown.
    #[arg(long, value_name = "FILE")]
    pub peers_file: PathBuf,
    /// Addresses to add to the address book at start (repeatable).
    #[arg(long, value_name = "ADDR")]
    pub seed: Vec<SocketAddr>,
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
}

/// Runs the node until Ctrl-C or SIGTERM.
pub fn run(args: &Args) -> Result<Outcome, Error> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the tokio runtime: {e}"))?;
    runtime.block_on(node(args))
}

async fn node(args: &Args) -> Result<Outcome, Error> {
    if args.status_every.is_zero() {
        return Err("--status-every must be positive".into());
    }
    let mut config = Config::default();
    if args.target == 0 {
        config.automatic_outbound = false;
    } else {
        config.target_outbound = args.target;
    }
    let mut builder = Builder::new(config)
        .peers_file(&args.peers_file)
        .seeds(args.seed.iter().copied())
        .accept_local_addresses(args.allow_local);
    for &addr in &args.listen {
        builder = builder.listen(addr);
    }
    if let Some(trace) = &args.trace {
        builder = builder.record_trace(trace);
    }
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
    tokio::spawn(serve(events));

    let mut status = tokio::time::interval(args.status_every);
    status.tick().await;
    loop {
        tokio::select! {
            () = stop_signal() => break,
            _ = status.tick() => {
                let (Ok(counts), Ok(stats)) = (handle.counts().await, handle.stats().await) else {
                    return Err("the connection manager stopped unexpectedly".into());
                };
                println!("{}", status_line(&counts, &stats));
            }
        }
    }
    tracing::info!("shutting down");
    let stats = handle.shutdown().await.map_err(|e| e.to_string())?;
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
    let pending = counts.automatic_pending + counts.manual_pending + counts.permanent_pending;
    format!(
        "status: outbound {} (automatic {}, permanent {}, manual {})  inbound {}  pending {}  \
         retrying {}  | dials {}, failed {}, timed out {}",
        counts.outbound_established(),
        counts.automatic_established,
        counts.permanent_established,
        counts.manual_established,
        counts.inbound,
        counts.dialing,
        pending.saturating_sub(counts.dialing),
        stats.dials,
        stats.dial_failures,
        stats.dial_timeouts,
    )
}

/// Ctrl-C, or SIGTERM on Unix.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Logs every peer event and holds each connection until it ends.
async fn serve(mut events: Events) {
    while let Some(event) = events.recv().await {
        match event {
            Event::Connected {
                id,
                addr,
                direction,
                permanent,
                stream,
                ..
            } => {
                let direction = match direction {
                    Direction::Outbound => "outbound",
                    Direction::Inbound => "inbound",
                };
                tracing::info!(conn = id.raw(), %addr, direction, permanent, "connected");
                tokio::spawn(hold(stream));
            }
            Event::Disconnected { id, reason } => {
                tracing::info!(conn = id.raw(), ?reason, "disconnected");
            }
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
