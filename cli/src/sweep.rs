//! Seed sweeps: one experiment run for a range of seeds, spread over
//! threads (`--jobs`) and over machines (`--shard K/N`), summarised, and
//! the shards' summaries merged (`connmgr sim merge`).
//!
//! Every run is independent and deterministic, so how the seeds are spread
//! changes nothing but the wall time: results are gathered and printed in
//! seed order. A shard takes every N-th seed of the range, so any batch
//! scheduler (a CI matrix, Kubernetes jobs, Slurm) can run the shards
//! without coordination, and `merge` checks that they add up.

use std::fmt;
use std::io::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant as WallClock;

use connmgr_sim::{Sim, SimConfig};
use serde::{Deserialize, Serialize};

use crate::{Error, Outcome};

/// Shard `index` (1-based) of `count`: every `count`-th seed of the range,
/// starting with its `index`-th.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// Which shard, from 1.
    pub index: u64,
    /// How many shards.
    pub count: u64,
}

impl Shard {
    fn seeds(self, range: Range<u64>) -> impl Iterator<Item = u64> {
        let step = usize::try_from(self.count).unwrap_or(usize::MAX);
        range.skip((self.index - 1) as usize).step_by(step)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("{s:?} is not a shard; write K/N with 1 <= K <= N, e.g. 3/8");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// What a sweep (or a shard of one) found; shards of one experiment merge.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// The experiment: the `connmgr sim` options other than seeds, shard
    /// and jobs. Only summaries of one experiment merge.
    pub experiment: String,
    /// The seed range swept.
    pub seeds: Range<u64>,
    /// The shards this summary covers, of how many (a single shard's
    /// summary covers one; a merge, several).
    pub shards: Vec<u64>,
    /// How many shards the range was split into.
    pub shard_count: u64,
    /// Runs made.
    pub runs: u64,
    /// Nodes over all runs, and how many reached their target.
    pub nodes: u64,
    /// See `nodes`.
    pub reached: u64,
    /// Invariant checks run.
    pub checks: u64,
    /// Seeds whose run broke an invariant.
    pub failures: Vec<u64>,
    /// Runs whose victim ended eclipsed (attack experiments only).
    pub eclipsed: Option<u64>,
    /// The attacker's entries in the victim's tried table as it went down
    /// to restart, and the table's size, summed over runs.
    #[serde(default)]
    pub tried_at_restart: Option<[u64; 2]>,
    /// The 2015 paper's eclipse probability at each run's tried share,
    /// summed over runs: with 0.9.3's time-biased selection, the same under
    /// one outbound per group, and with uniform selection (a bitcoind 0.9.3
    /// victim attacked in rounds only).
    #[serde(default)]
    pub model: Option<[f64; 3]>,
}

impl Summary {
    fn outcome(&self) -> Outcome {
        if self.failures.is_empty() {
            Outcome::Success
        } else {
            Outcome::Failure
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shards = if self.shard_count == 1 {
            String::new()
        } else {
            format!(
                ", shard{} {} of {}",
                if self.shards.len() == 1 { "" } else { "s" },
                self.shards
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
                self.shard_count
            )
        };
        writeln!(
            f,
            "seeds {}..{}{shards}: {} runs of {}",
            self.seeds.start, self.seeds.end, self.runs, self.experiment
        )?;
        writeln!(
            f,
            "  nodes that reached their target: {}/{}",
            self.reached, self.nodes
        )?;
        let runs = self.runs.saturating_sub(self.failures.len() as u64).max(1);
        if let Some(eclipsed) = self.eclipsed {
            let (low, high) = crate::grid::wilson(eclipsed, runs);
            writeln!(
                f,
                "  the victim eclipsed in {eclipsed} of {runs} runs ({:.1}%, 95% interval {:.1}–{:.1}%)",
                eclipsed as f64 / runs as f64 * 100.0,
                low * 100.0,
                high * 100.0
            )?;
        }
        if let Some([attacker, size]) = self.tried_at_restart {
            writeln!(
                f,
                "  attacker share of the victim's tried table as it went down: {:.1}% ({:.0} of {:.0} a run)",
                attacker as f64 / size.max(1) as f64 * 100.0,
                attacker as f64 / runs as f64,
                size as f64 / runs as f64
            )?;
        }
        if let Some([biased, grouped, uniform]) = self.model {
            let pct = |sum: f64| sum / runs as f64 * 100.0;
            writeln!(
                f,
                "  Heilman et al. 2015 model at these shares: eclipse {:.1}% (0.9.3's time-biased selection), {:.1}% (the same, one outbound per group), {:.1}% (uniform selection, f^8)",
                pct(biased),
                pct(grouped),
                pct(uniform)
            )?;
        }
        writeln!(f, "  invariant checks: {}", self.checks)?;
        if self.failures.is_empty() {
            write!(f, "  failures: none")
        } else {
            write!(
                f,
                "  failures: {} (seeds {:?})",
                self.failures.len(),
                self.failures
            )
        }
    }
}

/// What one run gave.
struct RunResult {
    seed: u64,
    nodes: u64,
    reached: u64,
    checks: u64,
    eclipsed: bool,
    tried_at_restart: Option<(usize, usize)>,
    model: Option<[f64; 3]>,
    failure: Option<String>,
}

/// Runs `config(seed)` for every seed of `shard` of `seeds` on `jobs`
/// threads; prints failures (in seed order) and the summary.
pub fn sweep(
    experiment: String,
    seeds: Range<u64>,
    shard: Shard,
    jobs: usize,
    attack: bool,
    config: impl Fn(u64) -> SimConfig + Sync,
    traces: &[(usize, PathBuf)],
) -> Summary {
    let todo: Vec<u64> = shard.seeds(seeds.clone()).collect();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results = Mutex::new(Vec::with_capacity(todo.len()));
    let wall = WallClock::now();
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, todo.len().max(1)) {
            scope.spawn(|| {
                while let Some(&seed) = todo.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let result = run(seed, config(seed), traces);
                    results
                        .lock()
                        .expect("no worker panics holding it")
                        .push(result);
                    let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if finished.is_multiple_of(100) && finished < todo.len() {
                        eprint!(
                            "\r  {finished}/{} seeds, {:.0}s",
                            todo.len(),
                            wall.elapsed().as_secs_f64()
                        );
                        let _ = std::io::stderr().flush();
                    }
                }
            });
        }
    });
    eprint!("\r");
    let mut results = results.into_inner().expect("no worker panicked");
    results.sort_by_key(|r| r.seed);
    let mut summary = Summary {
        experiment,
        seeds,
        shards: vec![shard.index],
        shard_count: shard.count,
        runs: results.len() as u64,
        nodes: 0,
        reached: 0,
        checks: 0,
        failures: Vec::new(),
        eclipsed: attack.then_some(0),
        tried_at_restart: None,
        model: None,
    };
    for r in results {
        if let Some(failure) = r.failure {
            println!("{failure}\n");
            summary.failures.push(r.seed);
            continue;
        }
        summary.nodes += r.nodes;
        summary.reached += r.reached;
        summary.checks += r.checks;
        if let Some(eclipsed) = &mut summary.eclipsed {
            *eclipsed += u64::from(r.eclipsed);
        }
        if let Some((attacker, size)) = r.tried_at_restart {
            let [a, n] = summary.tried_at_restart.get_or_insert([0, 0]);
            *a += attacker as u64;
            *n += size as u64;
        }
        if let Some(model) = r.model {
            let sums = summary.model.get_or_insert([0.0; 3]);
            for (sum, p) in sums.iter_mut().zip(model) {
                *sum += p;
            }
        }
    }
    summary
}

fn run(seed: u64, config: SimConfig, traces: &[(usize, PathBuf)]) -> RunResult {
    match Sim::new(config.clone()).run() {
        Ok(report) => {
            if let Err(e) = crate::sim::write_traces(traces, Some(seed), &report) {
                eprintln!("seed {seed}: {e}");
            }
            let restart = report.eclipse.as_ref().and_then(|e| e.tried_at_restart);
            RunResult {
                seed,
                nodes: report.nodes.len() as u64,
                reached: report.reached_target() as u64,
                checks: report.checks(),
                eclipsed: report.eclipse.as_ref().is_some_and(|e| e.eclipsed),
                tried_at_restart: restart,
                model: restart.and_then(|tried| connmgr_sim::paper::predicted(&config, tried)),
                failure: None,
            }
        }
        Err(failure) => RunResult {
            seed,
            nodes: 0,
            reached: 0,
            checks: 0,
            eclipsed: false,
            tried_at_restart: None,
            model: None,
            failure: Some(failure.to_string()),
        },
    }
}

/// Prints `summary`, writes it to `path` if asked, and says how it went.
pub fn report(summary: &Summary, path: Option<&Path>) -> Result<Outcome, Error> {
    println!("{summary}");
    if let Some(path) = path {
        write_summary(summary, path)?;
    }
    Ok(summary.outcome())
}

fn write_summary(summary: &Summary, path: &Path) -> Result<(), Error> {
    let json = serde_json::to_string_pretty(summary).expect("a summary serializes");
    std::fs::write(path, json + "\n")
        .map_err(|e| format!("cannot write the summary {}: {e}", path.display()))?;
    Ok(())
}

/// Arguments of `connmgr sim merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// Summaries written by `connmgr sim --seeds A..B --shard K/N --summary FILE`.
    #[arg(required = true)]
    pub summaries: Vec<PathBuf>,
    /// Also write the merged summary here.
    #[arg(long)]
    pub summary: Option<PathBuf>,
}

/// Merges shards' summaries of one experiment into one, refusing
/// summaries of different experiments or overlapping shards, and saying
/// which shards are missing.
pub fn merge(args: &MergeArgs) -> Result<Outcome, Error> {
    let mut merged: Option<Summary> = None;
    for path in &args.summaries {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let part: Summary = serde_json::from_str(&text).map_err(|e| {
            format!(
                "{}: line {}: not a connmgr sim summary: {e}",
                path.display(),
                e.line()
            )
        })?;
        check(&part).map_err(|e| format!("{}: {e}", path.display()))?;
        merged = Some(match merged {
            None => part,
            Some(acc) => add(acc, part).map_err(|e| format!("{}: {e}", path.display()))?,
        });
    }
    let merged = merged.ok_or("no summaries to merge")?;
    let missing: Vec<u64> = (1..=merged.shard_count)
        .filter(|k| !merged.shards.contains(k))
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "warning: shards {missing:?} of {} are missing: the figures cover part of the range",
            merged.shard_count
        );
    }
    report(&merged, args.summary.as_deref())
}

/// What a summary must satisfy to be added up.
fn check(summary: &Summary) -> Result<(), String> {
    let n = summary.shard_count;
    if n == 0 || summary.shards.iter().any(|k| *k == 0 || *k > n) {
        return Err(format!(
            "shards {:?} of {n}: a shard is numbered 1 to the shard count",
            summary.shards
        ));
    }
    let mut shards = summary.shards.clone();
    shards.sort_unstable();
    shards.dedup();
    if shards.len() != summary.shards.len() {
        return Err(format!("shards {:?}: one is given twice", summary.shards));
    }
    if summary.failures.len() as u64 > summary.runs {
        return Err(format!(
            "{} failures in {} runs: the summary is damaged",
            summary.failures.len(),
            summary.runs
        ));
    }
    Ok(())
}

fn add(mut acc: Summary, part: Summary) -> Result<Summary, String> {
    if part.experiment != acc.experiment {
        return Err(format!(
            "another experiment ({:?}, not {:?}): summaries merge only with their own",
            part.experiment, acc.experiment
        ));
    }
    if part.seeds != acc.seeds || part.shard_count != acc.shard_count {
        return Err(format!(
            "seeds {}..{} in {} shards, not {}..{} in {}: shards of one sweep share its range and shard count",
            part.seeds.start,
            part.seeds.end,
            part.shard_count,
            acc.seeds.start,
            acc.seeds.end,
            acc.shard_count
        ));
    }
    if let Some(k) = part.shards.iter().find(|k| acc.shards.contains(k)) {
        return Err(format!("shard {k} is given twice"));
    }
    acc.shards.extend(&part.shards);
    acc.shards.sort_unstable();
    acc.runs += part.runs;
    acc.nodes += part.nodes;
    acc.reached += part.reached;
    acc.checks += part.checks;
    acc.failures.extend(part.failures);
    acc.failures.sort_unstable();
    acc.eclipsed = match (acc.eclipsed, part.eclipsed) {
        (Some(a), Some(b)) => Some(a + b),
        _ => None,
    };
    acc.tried_at_restart = match (acc.tried_at_restart, part.tried_at_restart) {
        (Some([a, n]), Some([b, m])) => Some([a + b, n + m]),
        (one, other) => one.or(other),
    };
    acc.model = match (acc.model, part.model) {
        (Some([a, b, c]), Some([d, e, g])) => Some([a + d, b + e, c + g]),
        (one, other) => one.or(other),
    };
    Ok(acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_the_range_without_overlap_or_gap() {
        let mut all: Vec<u64> = (1..=3)
            .flat_map(|index| Shard { index, count: 3 }.seeds(10..21).collect::<Vec<_>>())
            .collect();
        all.sort_unstable();
        assert_eq!(all, (10..21).collect::<Vec<_>>());
        let all = Shard { index: 1, count: 1 };
        assert_eq!(all.seeds(5..8).collect::<Vec<_>>(), vec![5, 6, 7]);
    }

    #[test]
    fn a_shard_is_k_of_n() {
        assert_eq!("3/8".parse(), Ok(Shard { index: 3, count: 8 }));
        for bad in ["0/8", "9/8", "3", "a/b", "1/0"] {
            let err = bad.parse::<Shard>().unwrap_err();
            assert!(err.contains("K/N"), "{err}");
        }
    }

    fn summary(shard: u64, runs: u64) -> Summary {
        Summary {
            experiment: "--nodes 5".into(),
            seeds: 0..4,
            shards: vec![shard],
            shard_count: 2,
            runs,
            nodes: runs * 5,
            reached: runs * 5,
            checks: 10,
            failures: vec![shard],
            eclipsed: None,
            tried_at_restart: None,
            model: None,
        }
    }

    #[test]
    fn shards_add_up_and_strangers_are_refused() {
        let merged = add(summary(1, 2), summary(2, 2)).unwrap();
        assert_eq!((merged.runs, merged.checks), (4, 20));
        assert_eq!((merged.shards, merged.failures), (vec![1, 2], vec![1, 2]));
        assert!(add(summary(1, 2), summary(1, 2))
            .unwrap_err()
            .contains("twice"));
        let other = Summary {
            experiment: "--nodes 6".into(),
            ..summary(2, 2)
        };
        assert!(add(summary(1, 2), other)
            .unwrap_err()
            .contains("another experiment"));
    }
}
