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
use std::path::{Path, PathBuf};
use std::time::Duration;

use connmgr::{Config, Direction, PeerAddr, Reason};
use connmgr_tokio::{Builder, Event, Events, Handle, PeerStream};
use tokio::io::AsyncReadExt;

use crate::config_file::NodeFile;
use crate::logging::{FilterFrom, Reload};
use crate::networks::NetworkArgs;
use crate::signals::{Asked, Signals};
use crate::sim::parse_duration;
use crate::status::StatusLines;
use crate::{Error, Outcome};

/// Arguments of `connmgr node`. Each overrides the config file's value.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Read the node's options and the manager's config from this TOML
    /// file (`connmgr config --default` prints one); flags override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
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
    /// Automatic outbound connections to keep; 0 dials only `--connect`
    /// peers [default: 8, or the file's `manager.target_outbound`].
    #[arg(long)]
    pub target: Option<u32>,
    /// The address book: loaded at start if it exists, saved at shutdown
    /// (required, here or as the file's `node.peers_file`).
    #[arg(long, value_name = "FILE")]
    pub peers_file: Option<PathBuf>,
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
    /// Time between status lines: `10s`, `1m` [default: 10s].
    #[arg(long, value_parser = parse_duration)]
    pub status_every: Option<Duration>,
    /// Serve Prometheus metrics at `http://ADDR/metrics` (names in
    /// docs/METRICS.md).
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<SocketAddr>,
    /// What to log, as a tracing filter (`info`, `warn,connmgr=debug`)
    /// [default: `RUST_LOG`, else the file's `node.log`, else `info`].
    #[arg(long, value_name = "FILTER")]
    pub log: Option<String>,
    /// Proxies and reachable networks.
    #[command(flatten)]
    pub networks: NetworkArgs,
}

/// What the node runs with: the config file's values, overridden by the
/// flags given.
#[derive(Debug)]
struct Settings {
    config: Config,
    listen: Vec<SocketAddr>,
    listen_onion: Vec<SocketAddr>,
    connect: Vec<PeerAddr>,
    seeds: Vec<PeerAddr>,
    peers_file: PathBuf,
    allow_local: bool,
    trace: Option<PathBuf>,
    status_every: Duration,
    metrics: Option<SocketAddr>,
    log: String,
}

impl Settings {
    /// Merges the file (if any) and the flags; a list given as flags
    /// replaces the file's list.
    fn new(args: &Args) -> Result<Settings, Error> {
        let file = match &args.config {
            Some(path) => NodeFile::load(path)?,
            None => NodeFile::default(),
        };
        let (mut config, node) = (file.manager, file.node);
        match args.target {
            Some(0) => config.automatic_outbound = false,
            Some(target) => config.target_outbound = target,
            None => {}
        }
        args.networks.apply(&mut config);
        config.validate().map_err(|e| e.to_string())?;
        let peers_file = args.peers_file.clone().or(node.peers_file).ok_or(
            "no peers file: give --peers-file FILE, or peers_file in the config file's [node] table",
        )?;
        Ok(Settings {
            config,
            listen: flags_or(&args.listen, node.listen),
            listen_onion: flags_or(&args.listen_onion, node.listen_onion),
            connect: flags_or(&args.connect, node.connect),
            seeds: flags_or(&args.seed, node.seeds),
            peers_file,
            allow_local: args.allow_local || node.allow_local,
            trace: args.trace.clone().or(node.trace),
            status_every: args.status_every.unwrap_or(node.status_every),
            metrics: args.metrics.or(node.metrics),
            log: node.log,
        })
    }
}

/// The list given as flags, if any was, else the file's.
fn flags_or<T: Clone>(flags: &[T], file: Vec<T>) -> Vec<T> {
    if flags.is_empty() {
        file
    } else {
        flags.to_vec()
    }
}

/// Runs the node until Ctrl-C or SIGTERM.
pub fn run(args: &Args) -> Result<Outcome, Error> {
    let settings = Settings::new(args)?;
    check(&settings)?;
    let logging = crate::logging::init(args.log.as_deref(), &settings.log)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the tokio runtime: {e}"))?;
    runtime.block_on(node(&settings, args.config.as_deref(), &logging))
}

/// Refuses what a user can type but cannot mean, before anything starts.
fn check(args: &Settings) -> Result<(), Error> {
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

async fn node(args: &Settings, file: Option<&Path>, logging: &Reload) -> Result<Outcome, Error> {
    let config = args.config.clone();
    // What the node runs with, as it runs with it (the seed is never shown).
    tracing::info!(?config, config_file = ?file, "configuration");
    tracing::info!(
        peers_file = %args.peers_file.display(),
        trace = ?args.trace,
        seeds = args.seeds.len(),
        connect = args.connect.len(),
        allow_local = args.allow_local,
        "node"
    );
    if args.seeds.is_empty() && args.connect.is_empty() && !args.peers_file.exists() {
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
        .seeds(args.seeds.iter().copied())
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
    let mut lines = StatusLines::default();
    loop {
        tokio::select! {
            asked = signals.next() => match asked {
                Asked::Stop => break,
                Asked::Save => {
                    match handle.save().await {
                        Ok(()) => tracing::info!(peers_file = %args.peers_file.display(), "saved on SIGHUP"),
                        Err(error) => tracing::warn!(%error, "SIGHUP: not saved"),
                    }
                    reload_log_filter(file, logging);
                }
            },
            _ = status.tick() => {
                let (Ok(counts), Ok(stats)) = (handle.counts().await, handle.stats().await) else {
                    return Err("the connection manager stopped unexpectedly".into());
                };
                println!("{}", lines.line(&args.config, &counts, &stats));
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

/// SIGHUP: rereads the config file's `node.log` and applies it, unless
/// `--log` or `RUST_LOG` chose the filter. Nothing else is reloaded: the
/// rest of the file takes effect at the next start.
fn reload_log_filter(file: Option<&Path>, logging: &Reload) {
    let Some(path) = file else { return };
    if logging.from != FilterFrom::File {
        tracing::info!("SIGHUP: the log filter comes from --log or RUST_LOG; not reread");
        return;
    }
    match NodeFile::load(path).and_then(|file| logging.set(&file.node.log).map(|()| file)) {
        Ok(file) => {
            tracing::info!(filter = %file.node.log, "SIGHUP: log filter reread from the config file")
        }
        Err(error) => {
            tracing::warn!(%error, "SIGHUP: the config file was not reread; logging as before")
        }
    }
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
