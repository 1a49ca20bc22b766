//! A table of eclipse probabilities: every attack against every preset,
//! each over the same seeds, with a 95 % Wilson interval, and its plot.

use std::ops::Range;
use std::path::Path;
use std::time::Instant as WallClock;

use plotters::prelude::*;

use crate::sim::{config, experiment, jobs, Args, Variant};
use crate::sweep::{self, Shard};
use crate::{Error, Outcome};

/// One cell: how often the victim ended eclipsed.
struct Cell {
    preset: String,
    attack: String,
    addresses: usize,
    eclipsed: u64,
    runs: u64,
}

/// Runs every variant over `seeds` and prints the table (and draws it with
/// `--plot`). Failures (broken invariants) are printed and fail the run.
pub fn run(args: &Args, seeds: Range<u64>, variants: &[Variant<'_>]) -> Result<Outcome, Error> {
    if args.shard != (Shard { index: 1, count: 1 })
        || args.summary.is_some()
        || !args.trace.is_empty()
    {
        return Err(
            "--shard, --summary and --trace take one experiment: give one --attack and one --preset"
                .into(),
        );
    }
    let jobs = jobs(args)?;
    let wall = WallClock::now();
    let mut cells = Vec::new();
    let mut failed = false;
    for variant in variants {
        let summary = sweep::sweep(
            experiment(args, variant),
            seeds.clone(),
            args.shard,
            jobs,
            variant.attack.is_some(),
            |seed| config(args, seed, variant),
            &[],
        );
        failed |= !summary.failures.is_empty();
        if !summary.failures.is_empty() {
            println!("{summary}\n");
        }
        cells.push(Cell {
            preset: variant.preset.to_owned(),
            attack: variant.attack.map_or("none".to_owned(), |a| a.to_string()),
            addresses: variant.attack.map_or(0, |a| a.addresses()),
            eclipsed: summary.eclipsed.unwrap_or(0),
            runs: summary.runs.saturating_sub(summary.failures.len() as u64),
        });
    }
    print!("{}", table(&cells, &seeds));
    println!(
        "  wall time {:.1}s on {jobs} thread{}",
        wall.elapsed().as_secs_f64(),
        if jobs == 1 { "" } else { "s" }
    );
    if let Some(path) = &args.plot {
        svg(&cells, path).map_err(|e| format!("cannot draw {}: {e}", path.display()))?;
        println!("eclipse probability drawn to {}", path.display());
    }
    Ok(if failed {
        Outcome::Failure
    } else {
        Outcome::Success
    })
}

/// The table: one row per attack, one column per preset.
fn table(cells: &[Cell], seeds: &Range<u64>) -> String {
    let presets = distinct(cells.iter().map(|c| c.preset.as_str()));
    let attacks = distinct(cells.iter().map(|c| c.attack.as_str()));
    let mut out = format!(
        "eclipse probability over seeds {}..{} (95% Wilson interval)\n{:<26}{:>10}",
        seeds.start, seeds.end, "attack", "addresses"
    );
    for preset in &presets {
        out.push_str(&format!("  {preset:<24}"));
    }
    out.push('\n');
    for attack in &attacks {
        let row: Vec<&Cell> = cells.iter().filter(|c| c.attack == *attack).collect();
        let addresses = row.first().map_or(0, |c| c.addresses);
        out.push_str(&format!("{attack:<26}{addresses:>10}"));
        for preset in &presets {
            let text = row
                .iter()
                .find(|c| c.preset == *preset)
                .map_or("-".into(), |c| {
                    let (lo, hi) = wilson(c.eclipsed, c.runs);
                    format!(
                        "{}/{} {:.0}% [{:.0}, {:.0}]",
                        c.eclipsed,
                        c.runs,
                        share(c.eclipsed, c.runs) * 100.0,
                        lo * 100.0,
                        hi * 100.0
                    )
                });
            out.push_str(&format!("  {text:<24}"));
        }
        out.push('\n');
    }
    out
}

fn distinct<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen: Vec<&str> = Vec::new();
    for item in items {
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    seen
}

fn share(k: u64, n: u64) -> f64 {
    k as f64 / n.max(1) as f64
}

/// The 95 % Wilson score interval of `k` successes in `n` trials.
pub(crate) fn wilson(k: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (p, n, z) = (share(k, n), n as f64, 1.96_f64);
    let denominator = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denominator;
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denominator;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Eclipse probability against the attacker's addresses, a line per preset.
fn svg(cells: &[Cell], path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (960, 540)).into_drawing_area();
    root.fill(&WHITE)?;
    let most = cells.iter().map(|c| c.addresses).max().unwrap_or(1).max(1) as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption("eclipse probability", ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..most * 1.05, 0.0..1.0)?;
    chart
        .configure_mesh()
        .x_desc("attacker addresses")
        .y_desc("victims eclipsed")
        .draw()?;
    for (i, preset) in distinct(cells.iter().map(|c| c.preset.as_str()))
        .into_iter()
        .enumerate()
    {
        let color = Palette99::pick(i).to_rgba();
        let mut points: Vec<(f64, f64)> = cells
            .iter()
            .filter(|c| c.preset == preset)
            .map(|c| (c.addresses as f64, share(c.eclipsed, c.runs)))
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(preset.to_owned())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color));
        chart.draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, 4, color.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wilson_interval_holds_the_share_and_narrows_with_runs() {
        let (lo, hi) = wilson(5, 10);
        assert!(lo < 0.5 && 0.5 < hi);
        let (lo2, hi2) = wilson(50, 100);
        assert!(hi2 - lo2 < hi - lo);
        assert_eq!(wilson(0, 10).0, 0.0);
        assert!(
            (wilson(0, 40).1 - 0.0876).abs() < 0.001,
            "{:?}",
            wilson(0, 40)
        );
    }
}
