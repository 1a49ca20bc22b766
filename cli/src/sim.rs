//! `connmgr sim`: run the deterministic network simulator and report.
//!
//! One seed gives a readable report (per node when the network is small);
//! `--seeds A..B` runs a range and summarises, which is how the soak is run.

use connmgr::AddressBook;
use std::fs;
use std::ops::Range;
use std::path::PathBuf;
use std::time::{Duration, Instant as WallClock};

use connmgr_sim::{
    Attack, AttackModel, FaultProfile, Report, Shutdown, Sim, SimConfig, ATTACK_START,
};

use crate::sweep::{self, MergeArgs, Shard};
use crate::{grid, plot};
use crate::{Error, Outcome};

/// Arguments of `connmgr sim`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    /// `merge`: add up the summaries of a sweep's shards.
    #[command(subcommand)]
    pub command: Option<SimCommand>,
    /// The seed that decides everything.
    #[arg(long, default_value_t = 1, conflicts_with = "seeds")]
    pub seed: u64,
    /// Run every seed in a range, e.g. `0..1000`, and summarise.
    #[arg(long, value_parser = parse_range)]
    pub seeds: Option<Range<u64>>,
    /// Number of nodes.
    #[arg(long, default_value_t = 100)]
    pub nodes: usize,
    /// Virtual time to simulate: `600`, `600s`, `10m` or `1h`.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub duration: Duration,
    /// What goes wrong: none, mixed, harsh, restart-storm (every node
    /// crashes half-way) or clean-restart (every node stops cleanly
    /// half-way, keeping its anchors).
    #[arg(long, default_value = "mixed")]
    pub faults: FaultProfile,
    /// Record a node's inputs as a trace: `NODE:FILE` (repeatable). Later
    /// lives of a node that crashed go to `FILE.1`, `FILE.2`, …; with
    /// `--seeds`, each seed's to `FILE.seed-S` (and `FILE.seed-S.1`, …).
    #[arg(long, value_parser = parse_trace)]
    pub trace: Vec<(usize, PathBuf)>,
    /// Draw outbound connections over time (a few nodes and the mean) as
    /// SVG; with `--seeds` and several attacks or presets, the eclipse
    /// probability against the attacker's addresses, a line per preset.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Print one line per node (the default for 40 nodes or fewer).
    #[arg(long)]
    pub per_node: bool,
    /// Attack the last node: `botnet:N` (N bots, a /16 each) or
    /// `infrastructure:SxT` (S /16s of T addresses). The attacker's nodes
    /// keep connections to the victim and advertise their addresses and
    /// trash; the victim then restarts, and the report says whether every
    /// outbound connection it then holds goes to the attacker. With
    /// `--seeds`, several (comma-separated) make a table of eclipse
    /// probabilities, one column per preset, drawn by `--plot`.
    #[arg(long, value_parser = parse_attack, value_delimiter = ',')]
    pub attack: Vec<AttackModel>,
    /// How long the attack runs (from 60 s on) before the victim restarts.
    #[arg(long, default_value = "20m", value_parser = parse_duration)]
    pub attack_period: Duration,
    /// The victim stops cleanly (keeping its anchors) instead of crashing.
    #[arg(long)]
    pub clean_restart: bool,
    /// Attack in rounds, as the 2015 paper's attacker: every attacker
    /// address connects once a round, completes the handshake, advertises
    /// and leaves (instead of holding a connection).
    #[arg(long, value_parser = parse_duration)]
    pub attack_round: Option<Duration>,
    /// The share of honest nodes others can connect to, in percent (the
    /// rest dial out only and never announce themselves): about 11 on
    /// Bitcoin's network. The seed nodes and a victim always are.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u8).range(1..=100))]
    pub reachable: u8,
    /// Bitcoin Core's address trickle: what a node shares with a peer
    /// leaves in one message per interval, drawn with this mean (Core:
    /// `30s`). Without it every share leaves at once.
    #[arg(long, value_parser = parse_duration)]
    pub addr_trickle: Option<Duration>,
    /// The share of nodes on Tor alone, in percent (onion addresses,
    /// `onlynet` onion); with `--onion` or `--i2p`, every second IP node
    /// also reaches both overlays, at most two connections each.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub onion: u8,
    /// The share of nodes on I2P alone, in percent.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub i2p: u8,
    /// Every node's config: `default` (Bitcoin Core's hardening), `btcd`
    /// (btcd's exact behaviour, its book kept by the simulated application)
    /// or `bitcoind-0.9.3` (the node the 2015 eclipse paper attacked); with
    /// `--seeds`, several (`default,btcd`) compare them.
    #[arg(long, default_value = "default", value_parser = connmgr_sim::PRESETS, value_delimiter = ',')]
    pub preset: Vec<String>,
    /// With `--seeds`: how many runs at once (default: every core). The
    /// results do not depend on it.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// With `--seeds`: run only shard K of N (every N-th seed, from the
    /// K-th), to spread a sweep over machines; `connmgr sim merge` adds the
    /// shards' summaries up.
    #[arg(long, default_value = "1/1", requires = "seeds")]
    pub shard: Shard,
    /// With `--seeds`: also write the summary here, as JSON (what `merge`
    /// reads).
    #[arg(long, requires = "seeds")]
    pub summary: Option<PathBuf>,
}

/// Subcommands of `connmgr sim`.
#[derive(Debug, clap::Subcommand)]
pub enum SimCommand {
    /// Add up the summaries of a sweep's shards into one report.
    Merge(MergeArgs),
}

/// Runs the simulation(s) and prints the report.
pub fn run(args: &Args) -> Result<Outcome, Error> {
    if let Some(SimCommand::Merge(merge)) = &args.command {
        return sweep::merge(merge);
    }
    if args.nodes == 0 {
        return Err("--nodes must be at least 1".into());
    }
    if u16::from(args.onion) + u16::from(args.i2p) > 100 {
        return Err(format!(
            "--onion {} and --i2p {} add up to more than 100 %",
            args.onion, args.i2p
        ));
    }
    let attackers = args.attack.iter().map(|a| a.addresses()).max().unwrap_or(0);
    let per_node = args
        .preset
        .iter()
        .filter_map(|name| connmgr_sim::preset(name))
        .map(|config| bytes_per_node(config.address_book))
        .max()
        .unwrap_or(BYTES_PER_NODE_BOOK_OUTSIDE)
        * u64::from(args.reachable.max(25))
        / 100;
    fits_in_memory(args.nodes, per_node, attackers)?;
    if let Some((node, _)) = args.trace.iter().find(|(node, _)| *node >= args.nodes) {
        return Err(format!(
            "--trace names node {node}, but there are only {} nodes (0..{})",
            args.nodes, args.nodes
        ));
    }
    let mut attacks: Vec<Option<AttackModel>> = Vec::new();
    for model in &args.attack {
        if !attacks.contains(&Some(*model)) {
            attacks.push(Some(*model));
        }
    }
    if attacks.is_empty() {
        attacks.push(None);
    }
    if !args.attack.is_empty() {
        let restart = ATTACK_START + args.attack_period + args.faults.restart_after;
        if restart >= args.duration {
            return Err(format!(
                "the victim restarts {}s in (60 s, then --attack-period, then 30 s), after the run ends at {}s: make --duration longer or --attack-period shorter",
                restart.as_secs(),
                args.duration.as_secs()
            ));
        }
    }
    let variants: Vec<Variant<'_>> = args
        .preset
        .iter()
        .flat_map(|preset| {
            attacks
                .iter()
                .map(move |&attack| Variant { preset, attack })
        })
        .collect();
    match (&args.seeds, variants.as_slice()) {
        (None, [one]) => run_one(args, one),
        (Some(range), [one]) => run_range(args, range.clone(), one),
        (Some(_), _) if args.attack.is_empty() => {
            Err("several presets make a table of eclipse probabilities: give --attack".into())
        }
        (Some(range), _) => grid::run(args, range.clone(), &variants),
        (None, _) => {
            Err("several attacks or presets make a table over seeds: give --seeds A..B".into())
        }
    }
}

/// One experiment of a grid: which preset, which attack.
#[derive(Clone, Copy, Debug)]
pub struct Variant<'a> {
    /// One of [`connmgr_sim::PRESETS`].
    pub preset: &'a str,
    /// The attack, if any.
    pub attack: Option<AttackModel>,
}

pub(crate) fn config(args: &Args, seed: u64, variant: &Variant<'_>) -> SimConfig {
    let mut config = SimConfig::new(seed, args.nodes, args.duration, args.faults.clone());
    if let Some(node_config) = connmgr_sim::preset(variant.preset) {
        config.node_config = node_config;
    }
    config.traced = args.trace.iter().map(|(node, _)| *node).collect();
    config.reachable_percent = args.reachable;
    config.addr_trickle = args.addr_trickle.unwrap_or_default();
    config.onion_percent = args.onion;
    config.i2p_percent = args.i2p;
    config.attack = variant.attack.map(|model| Attack {
        restart: if args.clean_restart {
            Shutdown::Clean
        } else {
            Shutdown::Crash
        },
        round: args.attack_round,
        ..Attack::new(model, args.attack_period)
    });
    config
}

fn parse_attack(s: &str) -> Result<AttackModel, String> {
    s.parse()
}

fn run_one(args: &Args, variant: &Variant<'_>) -> Result<Outcome, Error> {
    let wall = WallClock::now();
    let mut sim = Sim::new(config(args, args.seed, variant));
    // Runs of more than a few seconds report progress on standard error.
    if args.nodes as f64 * args.duration.as_secs_f64() > 2_000_000.0 {
        let total = args.duration.as_secs_f64();
        let mut next_report = 0.0;
        sim = sim.on_sample(move |sample| {
            let at = sample.at.as_secs_f64();
            if at >= next_report {
                eprintln!(
                    "  {at:>6.0}s / {total:.0}s simulated, mean outbound {:.2}, {:.0}s wall",
                    sample.mean,
                    wall.elapsed().as_secs_f64()
                );
                next_report += total / 10.0;
            }
        });
    }
    let report = match sim.run() {
        Ok(report) => report,
        Err(failure) => {
            println!("{failure}");
            return Ok(Outcome::Failure);
        }
    };
    let elapsed = wall.elapsed();
    println!("{report}");
    let node_seconds = args.nodes as f64 * args.duration.as_secs_f64();
    println!(
        "  wall time {:.2}s: {:.0} simulated node-seconds per second",
        elapsed.as_secs_f64(),
        node_seconds / elapsed.as_secs_f64().max(1e-9)
    );
    if args.per_node || args.nodes <= 40 {
        print!("\n{}", report.node_table());
    }
    for line in write_traces(&args.trace, None, &report)? {
        println!("{line}");
    }
    if let Some(path) = &args.plot {
        plot::outbound_svg(&report, path)
            .map_err(|e| format!("cannot draw {}: {e}", path.display()))?;
        println!("plot written to {}", path.display());
    }
    Ok(Outcome::Success)
}

/// Writes the traces `report` recorded, as `--trace` asked (one seed of a
/// sweep's files named after it); says what was written.
pub(crate) fn write_traces(
    traces: &[(usize, PathBuf)],
    seed: Option<u64>,
    report: &Report,
) -> Result<Vec<String>, String> {
    let mut written = Vec::new();
    for (node, path) in traces {
        let Some((_, lives)) = report.traces.iter().find(|(n, _)| n == node) else {
            continue;
        };
        let base = match seed {
            Some(seed) => format!("{}.seed-{seed}", path.display()),
            None => path.display().to_string(),
        };
        for (life, bytes) in lives.iter().enumerate() {
            let path = if life == 0 {
                PathBuf::from(&base)
            } else {
                PathBuf::from(format!("{base}.{life}"))
            };
            fs::write(&path, bytes)
                .map_err(|e| format!("cannot write trace {}: {e}", path.display()))?;
            written.push(format!(
                "trace of node {node} (life {life}) written to {}",
                path.display()
            ));
        }
    }
    Ok(written)
}

/// `--jobs`, or every core.
pub(crate) fn jobs(args: &Args) -> Result<usize, Error> {
    match args.jobs {
        Some(0) => Err("--jobs must be at least 1".into()),
        Some(n) => Ok(n),
        None => Ok(std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)),
    }
}

fn run_range(args: &Args, seeds: Range<u64>, variant: &Variant<'_>) -> Result<Outcome, Error> {
    let jobs = jobs(args)?;
    let wall = WallClock::now();
    let summary = sweep::sweep(
        experiment(args, variant),
        seeds,
        args.shard,
        jobs,
        variant.attack.is_some(),
        |seed| config(args, seed, variant),
        &args.trace,
    );
    let outcome = sweep::report(&summary, args.summary.as_deref())?;
    println!(
        "  wall time {:.1}s on {jobs} thread{}",
        wall.elapsed().as_secs_f64(),
        if jobs == 1 { "" } else { "s" }
    );
    Ok(outcome)
}

/// The options that make one experiment (all but seeds, shard, jobs).
pub(crate) fn experiment(args: &Args, variant: &Variant<'_>) -> String {
    config(args, 0, variant).options()
}

fn parse_range(s: &str) -> Result<Range<u64>, String> {
    let (a, b) = s
        .split_once("..")
        .ok_or_else(|| format!("{s:?} is not a range like 0..1000"))?;
    let start: u64 = a
        .trim()
        .parse()
        .map_err(|_| format!("{a:?} is not a seed number"))?;
    let end: u64 = b
        .trim()
        .parse()
        .map_err(|_| format!("{b:?} is not a seed number"))?;
    if end <= start {
        return Err(format!("the range {s} is empty; write A..B with A < B"));
    }
    Ok(start..end)
}

/// A positive duration, written as in a config file (`600s`, `10m`,
/// `1h 30m`, `250ms`: `connmgr::serde_duration`), or a bare number of
/// seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let duration = match s.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => connmgr::serde_duration::parse(s)?,
    };
    if duration.is_zero() {
        return Err("the duration must be positive".into());
    }
    Ok(duration)
}

fn parse_trace(s: &str) -> Result<(usize, PathBuf), String> {
    let (node, file) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?} is not NODE:FILE"))?;
    let node = node
        .parse()
        .map_err(|_| format!("{node:?} is not a node number"))?;
    if file.is_empty() {
        return Err(format!("{s:?} names no file"));
    }
    Ok((node, PathBuf::from(file)))
}

/// What a simulated node whose book is the application's takes at most,
/// with a margin (an attacker node too): 1 000 btcd nodes over 10 minutes
/// peaked at 75 MB, 10 000 at 988 MB (`docs/BENCHMARKS.md`).
const BYTES_PER_NODE_BOOK_OUTSIDE: u64 = 128 << 10;

/// What a simulated node takes at most, with a margin, by the book inside
/// its manager: 10 000 default nodes over an hour peaked at 4.7 GB (474 KB
/// a node, 3 727 addresses a book; a bigger network fills the books more);
/// bitcoind 0.9.3's grow with what they hold (1 000 nodes: 272 MB). A
/// book holds at most the reachable nodes' addresses, so `run` scales the
/// figure by the reachable share, down to a quarter: 30 000 nodes with
/// 10 % reachable peaked at 3.2 GB (105 KB a node).
fn bytes_per_node(book: AddressBook) -> u64 {
    match book {
        AddressBook::Core => 512 << 10,
        AddressBook::Bitcoind093 => 384 << 10,
        AddressBook::Btcd | AddressBook::External => BYTES_PER_NODE_BOOK_OUTSIDE,
    }
}

/// Refuses, before allocating anything, a network of `nodes` nodes of
/// `per_node` bytes (and `attackers` attacker nodes) that cannot fit in
/// this machine's available memory, saying how many nodes would.
fn fits_in_memory(nodes: usize, per_node: u64, attackers: usize) -> Result<(), Error> {
    let attackers = (attackers as u64).saturating_mul(BYTES_PER_NODE_BOOK_OUTSIDE);
    let need = (nodes as u64)
        .saturating_mul(per_node)
        .saturating_add(attackers);
    let Some(available) = available_memory() else {
        return Ok(());
    };
    if need <= available {
        return Ok(());
    }
    let gib = |bytes: u64| bytes as f64 / f64::from(1u32 << 30);
    Err(format!(
        "--nodes {nodes} needs about {:.1} GiB ({} KiB per node) and {:.1} GiB are available: at most {} nodes fit",
        gib(need),
        per_node >> 10,
        gib(available),
        available.saturating_sub(attackers) / per_node
    ))
}

/// `MemAvailable` of `/proc/meminfo`, in bytes; `None` where there is none.
fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units_and_refuse_nonsense() {
        assert_eq!(parse_duration("600"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("ten").unwrap_err().contains("ten"));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(2 * 86_400)));
        assert!(parse_duration("5 parsecs").unwrap_err().contains("unit"));
    }

    #[test]
    fn seed_ranges_parse_and_empty_ones_are_refused() {
        assert_eq!(parse_range("0..1000"), Ok(0..1000));
        assert!(parse_range("5..5").unwrap_err().contains("empty"));
        assert!(parse_range("7").is_err());
    }

    #[test]
    fn traces_are_node_colon_file() {
        assert_eq!(
            parse_trace("3:out.jsonl"),
            Ok((3, PathBuf::from("out.jsonl")))
        );
        assert!(parse_trace("x:out").is_err());
        assert!(parse_trace("3:").is_err());
    }
}
