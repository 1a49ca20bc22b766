//! `connmgr-bench`: figures that can be set side by side with other
//! implementations measured the same way.
//!
//! Each run prints one line: the mode, then space-separated `key=value`
//! fields. Modes:
//!
//! - `mockchurn conns=<c> N=<n> secs=<s> per_sec=<r>`: the churn cycle with no
//!   sockets (connected peer closes → replacement requested → address →
//!   dial → connected), the core alone;
//! - `scale live=<n> ns_per_input=<x> bytes_per_conn=<b>`: the core's cost per
//!   input and its heap per connection with `n` live connections.
//!
//! ```text
//! cargo run --release -p connmgr-bench -- --mode mockchurn --repeat 3
//! ```

#[allow(unsafe_code)] // a counting wrapper around the system allocator
mod alloc;
mod mock;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};

#[global_allocator]
static ALLOCATOR: alloc::Counting = alloc::Counting;

/// What to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// The churn cycle through the core alone.
    Mockchurn,
    /// Cost per input and bytes per connection at 1e3..1e6 live connections.
    Scale,
}

/// Benchmarks for connmgr; one output line per measurement.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// What to measure.
    #[arg(long, value_enum, default_value = "mockchurn")]
    mode: Mode,
    /// Target outbound connections (mockchurn), or a single live count for
    /// scale (default: 1e3, 1e4, 1e5, 1e6).
    #[arg(long)]
    n: Option<u32>,
    /// Connections to complete (mockchurn).
    #[arg(long, default_value_t = 10_000_000)]
    conns: u64,
    /// Runs per measurement; one line each.
    #[arg(long, default_value_t = 1)]
    repeat: u32,
    /// Upper bound on one run, in seconds; a run stops there and reports
    /// what it did.
    #[arg(long, default_value_t = 60.0)]
    timeout: f64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let Ok(timeout) = Duration::try_from_secs_f64(args.timeout) else {
        eprintln!("error: --timeout must be a positive number of seconds");
        return ExitCode::from(2);
    };
    for _ in 0..args.repeat {
        match args.mode {
            Mode::Mockchurn => {
                let n = args.n.unwrap_or(8);
                if n == 0 {
                    eprintln!("error: --n must be at least 1 for mockchurn");
                    return ExitCode::from(2);
                }
                let r = mock::churn(n, args.conns, timeout);
                println!(
                    "mockchurn conns={} N={} secs={:.3} per_sec={:.0}",
                    r.conns,
                    n,
                    r.secs,
                    r.conns as f64 / r.secs
                );
            }
            Mode::Scale => {
                let sizes = match args.n {
                    Some(n) => vec![n],
                    None => vec![1_000, 10_000, 100_000, 1_000_000],
                };
                for live in sizes {
                    let r = mock::scale(live, timeout);
                    println!(
                        "scale live={} ns_per_input={:.1} bytes_per_conn={:.0}",
                        live, r.ns_per_input, r.bytes_per_conn
                    );
                }
            }
        }
    }
    ExitCode::SUCCESS
}
