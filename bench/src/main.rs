//! `connmgr-bench`: figures that can be set side by side with other
//! implementations measured the same way.
//!
//! Each run prints one line: the mode, then space-separated `key=value`
//! fields. Modes:
//!
//! - `establish N=<n> K=<k> runtime=<r> secs=<s> rss_kb=<kb>`: `K`
//!   listeners in this process on 127.0.0.1 accept and hold every
//!   connection; the manager targets `N` outbound connections, its address
//!   source cycling over the listeners; the time from start to the `N`-th
//!   connected peer, and the peak resident memory of the run;
//! - `churn conns=<c> N=<n> K=<k> runtime=<r> secs=<s> per_sec=<x>`: the
//!   listeners close each connection as soon as they accept it; at EOF the
//!   application drops the peer and the manager replaces it; the time to
//!   `c` connected peers;
//! - `mockchurn conns=<c> N=<n> secs=<s> per_sec=<r>`: the churn cycle with no
//!   sockets (connected peer closes → replacement requested → address →
//!   dial → connected), the core alone;
//! - `scale live=<n> ns_per_input=<x> bytes_per_conn=<b>`: the core's cost per
//!   input and its heap per connection with `n` live connections.
//!
//! `--runtime` chooses what runs `establish` and `churn`: `mio`
//! (`connmgr-mio`), `tokio` and `smol` (when built in, see `Cargo.toml`'s
//! features), or `raw`: the same socket operations in a minimal
//! non-blocking mio loop with no manager at all, the physical limit; and,
//! for churn, `tokio-bare`: the same work in plain tokio tasks, what tokio
//! itself costs at a given `--threads`.
//!
//! ```text
//! cargo run --release -p connmgr-bench -- --mode mockchurn --repeat 3
//! cargo run --release -p connmgr-bench -- --mode churn --runtime raw --repeat 3
//! cargo run --release -p connmgr-bench -- --mode establish --runtime mio --n 4000
//! ```

#[allow(unsafe_code)] // a counting wrapper around the system allocator
mod alloc;
mod mock;
mod net;

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
    /// Time and memory to establish N connections to K listeners on loopback.
    Establish,
    /// Connections per second when K listeners close every connection at once.
    Churn,
}

/// What `mockchurn` drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Through {
    /// `ConnManager` alone.
    Core,
    /// `connmgr_net::Core`, as every runtime drives it.
    Runtime,
}

/// What runs the `establish` and `churn` modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Runtime {
    /// The manager on `connmgr-mio`'s reactor, in the benchmark's own `Poll`.
    Mio,
    /// No manager: the same socket operations in a minimal mio loop.
    Raw,
    /// The manager on `connmgr-tokio` (cargo feature `tokio`).
    Tokio,
    /// No manager: the same socket work in plain tokio tasks, one per slot
    /// (cargo feature `tokio`); what tokio itself costs, at `--threads`.
    TokioBare,
    /// The manager on `connmgr-smol` (cargo feature `smol`).
    Smol,
}

impl Runtime {
    fn name(self) -> &'static str {
        match self {
            Runtime::Mio => "mio",
            Runtime::Raw => "raw",
            Runtime::Tokio => "tokio",
            Runtime::TokioBare => "tokio-bare",
            Runtime::Smol => "smol",
        }
    }
}

/// Benchmarks for connmgr; one output line per measurement.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// What to measure.
    #[arg(long, value_enum, default_value = "mockchurn")]
    mode: Mode,
    /// Target outbound connections (mockchurn and churn: default 8;
    /// establish: 4000), or a single live count for scale (default: 1e3,
    /// 1e4, 1e5, 1e6).
    #[arg(long)]
    n: Option<u32>,
    /// Listeners on 127.0.0.1 (establish, churn).
    #[arg(long, default_value_t = 8)]
    k: u32,
    /// Connections to complete (mockchurn: default 10 000 000; churn:
    /// 20 000).
    #[arg(long)]
    conns: Option<u64>,
    /// What runs establish and churn; raw is the same socket work with no
    /// manager.
    #[arg(long, value_enum, default_value = "mio")]
    runtime: Runtime,
    /// Worker threads of the tokio runtime: 1 is a `current_thread`
    /// runtime, the one core raw and mio use; more is a `multi_thread`
    /// runtime. raw, mio and smol run on one thread.
    #[arg(long, default_value_t = 1)]
    threads: u32,
    /// Also print `cpu_us_per_conn=<x>` (user + system time of the whole
    /// process per connection; steadier than wall time on a busy machine)
    /// at the end of establish and churn lines.
    #[arg(long)]
    cpu: bool,
    /// What mockchurn drives: the core alone, or the core as the runtimes
    /// drive it (`connmgr_net::Core`).
    #[arg(long, value_enum, default_value = "core")]
    through: Through,
    /// Record metrics (cargo feature `metrics`; a Prometheus recorder is
    /// installed): mockchurn `--through runtime`, and the mio runtime.
    #[arg(long)]
    metrics: bool,
    /// Runs per measurement; one line each.
    #[arg(long, default_value_t = 1)]
    repeat: u32,
    /// Upper bound on one run, in seconds; a run stops there and reports
    /// what it did.
    #[arg(long, default_value_t = 60.0)]
    timeout: f64,
}

/// A Prometheus recorder as the process's `metrics` recorder (no listener:
/// the benchmark measures recording, not serving).
#[cfg(feature = "metrics")]
fn install_recorder() {
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .expect("no other recorder is installed");
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.metrics {
        #[cfg(feature = "metrics")]
        install_recorder();
        #[cfg(not(feature = "metrics"))]
        {
            eprintln!("error: --metrics needs the `metrics` feature: cargo run --release -p connmgr-bench --features metrics -- …");
            return ExitCode::from(2);
        }
    }
    let Ok(timeout) = Duration::try_from_secs_f64(args.timeout) else {
        eprintln!("error: --timeout must be a positive number of seconds");
        return ExitCode::from(2);
    };
    if matches!(args.mode, Mode::Establish | Mode::Churn) {
        if let Err(message) = runtime_built(args.runtime) {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
        if args.k == 0 || args.n == Some(0) || args.conns == Some(0) {
            eprintln!("error: --n, --k and --conns must be at least 1");
            return ExitCode::from(2);
        }
        let tokio = matches!(args.runtime, Runtime::Tokio | Runtime::TokioBare);
        if args.threads == 0 || (args.threads > 1 && !tokio) {
            eprintln!("error: --threads is 1, or more for tokio only");
            return ExitCode::from(2);
        }
        // Both ends of every connection are in this process.
        let n = u64::from(args.n.unwrap_or(if args.mode == Mode::Establish {
            4_000
        } else {
            8
        }));
        let needed = 2 * n + u64::from(args.k) + 64;
        if let Some(limit) = net::open_files_limit().filter(|&limit| limit < needed) {
            eprintln!(
                "warning: --n {n} needs about {needed} descriptors (both ends in this process); \
                 `ulimit -n` is {limit}"
            );
        }
    }
    let mut status = ExitCode::SUCCESS;
    for _ in 0..args.repeat {
        match args.mode {
            Mode::Establish => {
                let n = args.n.unwrap_or(4_000);
                let r = match establish(&args, n as usize, timeout) {
                    Ok(r) => r,
                    Err(e) => {
                        eprintln!("error: establish with {}: {e}", args.runtime.name());
                        return ExitCode::FAILURE;
                    }
                };
                let cpu = cpu_field(args.cpu, r.cpu_us, r.connected as u64);
                println!(
                    "establish N={} K={} runtime={} secs={:.3} rss_kb={}{cpu}",
                    n,
                    args.k,
                    args.runtime.name(),
                    r.secs,
                    r.rss_kb
                );
                if r.connected < n as usize {
                    eprintln!("warning: timed out with {} of {n} connected", r.connected);
                    status = ExitCode::FAILURE;
                } else if r.held < r.connected {
                    eprintln!(
                        "warning: the listeners accepted only {} of {} connections by the \
                         timeout (out of descriptors?); rss_kb is without the rest",
                        r.held, r.connected
                    );
                    status = ExitCode::FAILURE;
                }
            }
            Mode::Churn => {
                let n = args.n.unwrap_or(8);
                let conns = args.conns.unwrap_or(20_000);
                let r = match churn(&args, n as usize, conns, timeout) {
                    Ok(r) => r,
                    Err(e) => {
                        eprintln!("error: churn with {}: {e}", args.runtime.name());
                        return ExitCode::FAILURE;
                    }
                };
                let cpu = cpu_field(args.cpu, r.cpu_us, r.conns);
                println!(
                    "churn conns={} N={} K={} runtime={} secs={:.3} per_sec={:.0}{cpu}",
                    r.conns,
                    n,
                    args.k,
                    args.runtime.name(),
                    r.secs,
                    r.conns as f64 / r.secs
                );
                if r.conns < conns {
                    eprintln!("warning: timed out with {} of {conns} connections", r.conns);
                    status = ExitCode::FAILURE;
                }
            }
            Mode::Mockchurn => {
                let n = args.n.unwrap_or(8);
                if n == 0 {
                    eprintln!("error: --n must be at least 1 for mockchurn");
                    return ExitCode::from(2);
                }
                let conns = args.conns.unwrap_or(10_000_000);
                let r = match args.through {
                    Through::Core if args.metrics => {
                        eprintln!(
                            "error: the core alone reports no metrics; add --through runtime"
                        );
                        return ExitCode::from(2);
                    }
                    Through::Core => mock::churn(n, conns, timeout),
                    Through::Runtime => {
                        mock::churn_wrapped(mock::wrapped(n, args.metrics), conns, timeout)
                    }
                };
                println!(
                    "mockchurn through={:?} metrics={} conns={} N={} secs={:.3} per_sec={:.0}",
                    args.through,
                    args.metrics,
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
    status
}

/// The optional CPU field of a socket benchmark's line.
fn cpu_field(wanted: bool, cpu_us: u64, conns: u64) -> String {
    if wanted {
        format!(
            " cpu_us_per_conn={:.1}",
            cpu_us as f64 / conns.max(1) as f64
        )
    } else {
        String::new()
    }
}

/// Whether `runtime` is compiled into this binary; if not, what to say.
fn runtime_built(runtime: Runtime) -> Result<(), String> {
    let built = match runtime {
        Runtime::Mio | Runtime::Raw => true,
        Runtime::Tokio | Runtime::TokioBare => cfg!(feature = "tokio"),
        Runtime::Smol => cfg!(feature = "smol"),
    };
    let feature = match runtime {
        Runtime::TokioBare => "tokio",
        other => other.name(),
    };
    if built {
        Ok(())
    } else {
        Err(format!(
            "runtime {} is not built into this benchmark; build it with `--features {feature}`",
            runtime.name()
        ))
    }
}

type BoxError = Box<dyn std::error::Error>;

fn establish(args: &Args, n: usize, timeout: Duration) -> Result<net::Establish, BoxError> {
    let k = args.k as usize;
    match args.runtime {
        Runtime::Raw => Ok(net::raw::establish(n, k, timeout)?),
        Runtime::Mio => net::mio::establish(n, k, timeout, args.metrics),
        #[cfg(feature = "tokio")]
        Runtime::Tokio => net::tokio::establish(n, k, args.threads as usize, timeout),
        #[cfg(feature = "smol")]
        Runtime::Smol => net::smol::establish(n, k, timeout),
        Runtime::TokioBare => Err("tokio-bare measures churn only".into()),
        #[allow(unreachable_patterns)]
        other => Err(runtime_built(other).unwrap_err().into()),
    }
}

fn churn(args: &Args, n: usize, conns: u64, timeout: Duration) -> Result<net::Churn, BoxError> {
    let k = args.k as usize;
    match args.runtime {
        Runtime::Raw => Ok(net::raw::churn(n, k, conns, timeout)?),
        Runtime::Mio => net::mio::churn(n, k, conns, timeout, args.metrics),
        #[cfg(feature = "tokio")]
        Runtime::Tokio => net::tokio::churn(n, k, conns, args.threads as usize, timeout),
        #[cfg(feature = "tokio")]
        Runtime::TokioBare => net::tokio::bare_churn(n, k, conns, args.threads as usize, timeout),
        #[cfg(feature = "smol")]
        Runtime::Smol => net::smol::churn(n, k, conns, timeout),
        #[allow(unreachable_patterns)]
        other => Err(runtime_built(other).unwrap_err().into()),
    }
}
