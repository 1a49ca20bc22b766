//! `connmgr demo`: twenty nodes on 127.0.0.1, with the tokio adapter.
//!
//! Each node keeps a small number of automatic outbound connections,
//! bootstrapping from a shared seed list (the first few nodes) and learning
//! the rest by gossip: on every connection both sides send one line with
//! their own listening address and a few they know, and hand what they hear
//! to their address book (`Handle::learned`). One node keeps a permanent
//! connection to another. Each also keeps two block-relay-only connections
//! and makes a feeler now and then. A few nodes are stopped cleanly and
//! restarted on the same address during the run, with their peers file:
//! their book is kept and their block-relay-only peers (anchors) are dialled
//! first. A status table shows each node's outbound (block-relay-only and
//! feelers among them), inbound, pending and retrying counts. One node's
//! inputs are recorded as a trace and replayed at the end, which must be
//! identical.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, IsTerminal, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use connmgr::{Advertised, Config, Counts};
use connmgr_tokio::{Builder, Event, Events, Handle, PeerStream};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

use crate::sim::parse_duration;
use crate::{Error, Outcome};

/// Seeds: the first nodes, known to everyone at start.
const SEEDS: usize = 3;
/// The node whose trace is recorded and replayed.
const TRACED: usize = 1;
/// At most this many addresses a node passes on per connection.
const GOSSIP: usize = 8;

/// Arguments of `connmgr demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Number of nodes.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u16).range(6..=200))]
    pub nodes: u16,
    /// Automatic outbound connections each node keeps.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub target: u32,
    /// How long the demo runs: `15s` (at most `25s`).
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Where to write the recorded node's trace (default: a temporary file).
    #[arg(long)]
    pub trace: Option<PathBuf>,
}

/// One node of the demo, running or stopped.
struct Node {
    addr: SocketAddr,
    /// Addresses this node passes on; shared by its lives.
    known: Arc<Mutex<Vec<SocketAddr>>>,
    handle: Option<Handle>,
    lives: u32,
    /// Its peers file, so a restart keeps its book and its anchors.
    peers: PathBuf,
}

/// What happens when, as a fraction of the run.
enum Step {
    Kill(usize),
    Restart(usize),
}

fn script(nodes: usize) -> Vec<(f64, Step)> {
    let (a, b) = (5 % nodes, 11 % nodes);
    vec![
        (0.30, Step::Kill(a)),
        (0.33, Step::Kill(b)),
        (0.50, Step::Restart(a)),
        (0.55, Step::Kill(0)),
        (0.62, Step::Restart(b)),
        (0.75, Step::Restart(0)),
    ]
}

/// Runs the demo and replays the recorded trace.
pub fn run(args: &Args) -> Result<Outcome, Error> {
    if args.duration < Duration::from_secs(3) || args.duration > Duration::from_secs(25) {
        return Err("--duration must be between 3s and 25s".into());
    }
    let trace = args.trace.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("connmgr-demo-{}.trace.jsonl", std::process::id()))
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the tokio runtime: {e}"))?;
    runtime.block_on(demo(args, &trace))?;
    drop(runtime);

    let file = File::open(&trace).map_err(|e| format!("cannot open {}: {e}", trace.display()))?;
    let report = connmgr::trace::replay(BufReader::new(file))
        .map_err(|e| format!("{}: {e}", trace.display()))?;
    println!("trace of node {TRACED}: {}", trace.display());
    println!("replay: {report}");
    Ok(if report.is_identical() {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}

fn node_config(args: &Args) -> Config {
    Config {
        target_outbound: args.target,
        // Livelier than btcd's seconds-to-minutes, for a short demo.
        retry_interval: Duration::from_millis(500),
        max_retry_interval: Duration::from_secs(4),
        throttle_interval: Duration::from_secs(1),
        dial_timeout: Duration::from_secs(2),
        ..Config::default()
    }
}

fn start(
    args: &Args,
    index: usize,
    node: &mut Node,
    seeds: &[SocketAddr],
    trace: Option<&Path>,
) -> Result<(), Error> {
    let config = node_config(args);
    let seeds = seeds.iter().copied().filter(|s| *s != node.addr);
    let mut builder = Builder::new(config)
        .listen(node.addr)
        .seeds(seeds)
        .peers_file(&node.peers)
        .accept_local_addresses(true);
    if let Some(path) = trace {
        builder = builder.record_trace(path);
    }
    let (handle, events) = builder.spawn().map_err(|e| format!("node {index}: {e}"))?;
    node.addr = handle.listen_addrs()[0];
    node.lives += 1;
    tokio::spawn(serve(handle.clone(), events, node.addr, node.known.clone()));
    node.handle = Some(handle);
    Ok(())
}

/// A node's application: every connection gets a gossip exchange and is
/// then held until it ends.
async fn serve(
    handle: Handle,
    mut events: Events,
    me: SocketAddr,
    known: Arc<Mutex<Vec<SocketAddr>>>,
) {
    while let Some(event) = events.recv().await {
        if let Event::Connected { stream, .. } = event {
            tokio::spawn(peer(handle.clone(), stream, me, known.clone()));
        }
    }
}

async fn peer(
    handle: Handle,
    stream: PeerStream,
    me: SocketAddr,
    known: Arc<Mutex<Vec<SocketAddr>>>,
) {
    let id = stream.link().id();
    let line = {
        let known = known.lock().unwrap_or_else(|e| e.into_inner());
        let mut line = me.to_string();
        for addr in known.iter().rev().take(GOSSIP) {
            line.push(' ');
            line.push_str(&addr.to_string());
        }
        line.push('\n');
        line
    };
    let (read, mut write) = tokio::io::split(stream);
    if write.write_all(line.as_bytes()).await.is_err() {
        return;
    }
    // The peer's line, read no further than a line of ours can be long: a
    // peer that never ends it costs a few kilobytes, not all the memory.
    let mut gossip = tokio::io::BufReader::new(read.take(GOSSIP_LINE_BYTES));
    let mut line = String::new();
    if gossip.read_line(&mut line).await.is_ok_and(|n| n > 0) {
        // The line is the demo's handshake: the peer is ready.
        if handle.handshaked(id).await.is_err() {
            return;
        }
        let heard: Vec<SocketAddr> = line
            .split_whitespace()
            .filter_map(|a| a.parse::<SocketAddr>().ok())
            .filter(|&addr| addr != me)
            .collect();
        {
            let mut known = known.lock().unwrap_or_else(|e| e.into_inner());
            for &addr in &heard {
                if !known.contains(&addr) {
                    known.push(addr);
                }
            }
        }
        // Claimed seen now: the demo's clock is the Unix time, as the
        // manager's.
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let now = connmgr::Instant::from_nanos(unix.as_nanos() as u64);
        let advertised = heard.into_iter().map(|a| Advertised::new(a, now)).collect();
        // Over its caps (a token a peer), the book takes fewer: fine.
        let _ = handle.learned(Some(id), advertised).await;
    }
    // Hold the connection until either side ends it, reading what comes
    // into a fixed buffer.
    let mut read = gossip.into_inner().into_inner();
    let mut buf = [0u8; 1024];
    while matches!(read.read(&mut buf).await, Ok(n) if n > 0) {}
}

/// The longest gossip line read from a peer: its own address and `GOSSIP`
/// others, each at most 47 characters (`[v6]:port`), and spaces.
const GOSSIP_LINE_BYTES: u64 = 64 * (GOSSIP as u64 + 1);

/// One row of the table.
#[derive(Clone, Copy, Default)]
struct Row {
    up: bool,
    counts: Counts,
}

impl Row {
    fn outbound(&self) -> u32 {
        self.counts.outbound_established()
    }
    fn pending(&self) -> u32 {
        self.counts.dialing
    }
    /// Requests waiting for their next try (backoff or throttle).
    fn retrying(&self) -> u32 {
        let c = &self.counts;
        c.outbound_pending().saturating_sub(c.dialing)
    }
}

async fn demo(args: &Args, trace: &Path) -> Result<(), Error> {
    let count = usize::from(args.nodes);
    let started = Instant::now();
    let tty = std::io::stdout().is_terminal();
    println!(
        "connmgr demo: {count} nodes on 127.0.0.1, target {} outbound each, seeds: nodes 0-{}, \
         for {} s",
        args.target,
        SEEDS - 1,
        args.duration.as_secs()
    );
    let files = std::env::temp_dir().join(format!("connmgr-demo-{}", std::process::id()));
    std::fs::create_dir_all(&files).map_err(|e| format!("{}: {e}", files.display()))?;
    let mut nodes: Vec<Node> = (0..count)
        .map(|i| Node {
            addr: "127.0.0.1:0".parse().expect("an address"),
            known: Arc::new(Mutex::new(Vec::new())),
            handle: None,
            lives: 0,
            peers: files.join(format!("node-{i}.peers.json")),
        })
        .collect();
    // The seeds start first: everyone else needs their addresses.
    let mut seeds = Vec::new();
    for (i, node) in nodes.iter_mut().enumerate() {
        let traced = (i == TRACED).then_some(trace);
        start(args, i, node, &seeds, traced)?;
        // Node 0 starts knowing nobody: it learns from those who dial it.
        if i < SEEDS {
            seeds.push(node.addr);
        }
    }
    // One permanent peer: the last node always wants the first killed one.
    let permanent_target = script(count)
        .iter()
        .find_map(|(_, s)| match s {
            Step::Kill(i) => Some(*i),
            Step::Restart(_) => None,
        })
        .unwrap_or(0);
    let last = count - 1;
    if let Some(h) = &nodes[last].handle {
        let _ = h.connect(nodes[permanent_target].addr, true).await;
    }
    let mut log: VecDeque<String> = VecDeque::new();
    let note = |log: &mut VecDeque<String>, text: String| {
        let line = format!("{:5.1}s  {text}", started.elapsed().as_secs_f64());
        if tty {
            log.push_back(line);
            if log.len() > 6 {
                log.pop_front();
            }
        } else {
            println!("{line}");
        }
    };
    note(
        &mut log,
        format!("all {count} nodes started; node {last} keeps a permanent connection to node {permanent_target}"),
    );

    let mut steps = script(count).into_iter().peekable();
    let refresh = if tty {
        Duration::from_millis(250)
    } else {
        Duration::from_secs(2)
    };
    let mut drawn_lines = 0usize;
    let mut next_draw = Instant::now();
    let mut restarts = 0;
    while started.elapsed() < args.duration {
        let elapsed = started.elapsed().as_secs_f64() / args.duration.as_secs_f64();
        while let Some((_, step)) = steps.next_if(|(at, _)| *at <= elapsed) {
            match step {
                Step::Kill(i) => {
                    if let Some(h) = nodes[i].handle.take() {
                        let _ = h.shutdown().await;
                        note(&mut log, format!("node {i} stopped (every socket closed)"));
                    }
                }
                Step::Restart(i) => {
                    let traced = (i == TRACED).then_some(trace);
                    start(args, i, &mut nodes[i], &seeds, traced)?;
                    restarts += 1;
                    let anchors = match &nodes[i].handle {
                        Some(h) => h.stats().await.map_or(0, |s| s.anchors_dialled),
                        None => 0,
                    };
                    note(
                        &mut log,
                        format!(
                            "node {i} restarted on {}: its book kept, {anchors} block-relay-only anchors dialled first",
                            nodes[i].addr
                        ),
                    );
                }
            }
        }
        if Instant::now() >= next_draw {
            let rows = rows(&nodes).await;
            if tty {
                drawn_lines = draw_table(&nodes, &rows, &log, drawn_lines, started);
            } else {
                println!("{}", status_line(&rows, started));
            }
            next_draw += refresh;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let rows = rows(&nodes).await;
    if tty {
        draw_table(&nodes, &rows, &log, drawn_lines, started);
    } else {
        println!("{}", status_line(&rows, started));
    }
    let reached = rows
        .iter()
        .filter(|r| r.up && r.counts.automatic_established >= args.target)
        .count();
    let mut dials = 0;
    let mut connected = 0;
    for node in &mut nodes {
        if let Some(h) = node.handle.take() {
            if let Ok(stats) = h.shutdown().await {
                dials += stats.dials;
                connected += stats.dial_successes;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&files);
    println!(
        "stopped all nodes after {:.1} s: {reached}/{count} at their target at the end, \
         {restarts} restarts; the survivors dialled {dials} times, {connected} connected",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn rows(nodes: &[Node]) -> Vec<Row> {
    let mut rows = Vec::with_capacity(nodes.len());
    for node in nodes {
        let row = match &node.handle {
            Some(h) => match h.counts().await {
                Ok(counts) => Row { up: true, counts },
                Err(_) => Row::default(),
            },
            None => Row::default(),
        };
        rows.push(row);
    }
    rows
}

fn totals(rows: &[Row]) -> (usize, u32, u32, u32, u32) {
    rows.iter().fold((0, 0, 0, 0, 0), |(up, o, i, p, r), row| {
        (
            up + usize::from(row.up),
            o + row.outbound(),
            i + row.counts.inbound,
            p + row.pending(),
            r + row.retrying(),
        )
    })
}

/// One line for logs and pipes.
fn status_line(rows: &[Row], started: Instant) -> String {
    let (up, o, i, p, r) = totals(rows);
    let mut line = format!(
        "{:5.1}s  up {up}/{}  outbound {o}  inbound {i}  pending {p}  retrying {r}  | out/in:",
        started.elapsed().as_secs_f64(),
        rows.len()
    );
    for row in rows {
        if row.up {
            line.push_str(&format!(" {}/{}", row.outbound(), row.counts.inbound));
        } else {
            line.push_str(" -");
        }
    }
    line
}

/// Redraws the table in place; returns the number of lines drawn.
fn draw_table(
    nodes: &[Node],
    rows: &[Row],
    log: &VecDeque<String>,
    previous: usize,
    started: Instant,
) -> usize {
    let mut out = String::new();
    if previous > 0 {
        out.push_str(&format!("\x1b[{previous}A"));
    }
    let mut lines = 0;
    let mut line = |out: &mut String, text: String| {
        out.push_str(&text);
        out.push_str("\x1b[K\n");
        lines += 1;
    };
    line(
        &mut out,
        format!(
            "t = {:4.1}s   node  address           state  outbound  (block-relay  feeler)  inbound  pending  retrying",
            started.elapsed().as_secs_f64()
        ),
    );
    for (i, (node, row)) in nodes.iter().zip(rows).enumerate() {
        let role = if i < SEEDS { "seed" } else { "" };
        let traced = if i == TRACED { "traced" } else { "" };
        let text = if row.up {
            format!(
                "              {i:>4}  {:<16}  up     {:>8}  {:>12}  {:>6}   {:>7}  {:>7}  {:>8}  {role} {traced}",
                node.addr,
                row.outbound(),
                row.counts.block_relay_established,
                row.counts.feelers,
                row.counts.inbound,
                row.pending(),
                row.retrying()
            )
        } else {
            format!(
                "              {i:>4}  {:<16}  DOWN   {:>8}  {:>12}  {:>6}   {:>7}  {:>7}  {:>8}  {role}",
                node.addr, "-", "-", "-", "-", "-", "-"
            )
        };
        line(&mut out, text);
    }
    let (up, o, i, p, r) = totals(rows);
    line(
        &mut out,
        format!(
            "              all   {up:>2}/{:<2} up                {o:>8}                         {i:>7}  {p:>7}  {r:>8}",
            rows.len()
        ),
    );
    line(&mut out, String::new());
    for entry in log {
        line(&mut out, format!("  {entry}"));
    }
    for _ in log.len()..6 {
        line(&mut out, String::new());
    }
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
    lines
}
