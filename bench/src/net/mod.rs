//! The socket benchmarks: `establish` and `churn` on loopback, run by one
//! of the runtimes, or by `raw`, the same socket work with no manager.
//!
//! Every runtime is measured against the same harness: `K` listeners in
//! this process on `127.0.0.1`, bound with the system's `somaxconn` backlog
//! (mio's and std's 128 overflows under a burst of connects and costs SYN
//! retransmits of a second each), and an address source cycling over them.

pub mod mio;
pub mod raw;
#[cfg(feature = "smol")]
pub mod smol;
#[cfg(feature = "tokio")]
pub mod tokio;

use std::fs::File;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

/// How long a clean-up may overrun the run's deadline.
#[cfg_attr(not(any(feature = "tokio", feature = "smol")), allow(dead_code))]
const CLEANUP_GRACE: Duration = Duration::from_secs(2);

/// `k` non-blocking listeners on `127.0.0.1` (ports chosen by the system),
/// each with the `somaxconn` backlog.
pub fn listeners(k: usize) -> io::Result<Vec<std::net::TcpListener>> {
    let backlog = connmgr_net::somaxconn();
    (0..k)
        .map(|_| connmgr_net::listen(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), backlog))
        .collect()
}

/// What an `establish` run measured.
#[derive(Debug)]
pub struct Establish {
    /// From start to the `n`-th connected peer (or to the timeout).
    pub secs: f64,
    /// Peak resident memory of the process during the run, in kB.
    pub rss_kb: u64,
    /// Connected peers when the clock stopped: `n` unless timed out.
    pub connected: usize,
    /// Connections the listeners hold when memory was read: `connected`
    /// unless they could not accept them all in time (out of descriptors).
    pub held: usize,
    /// CPU time (user + system, all threads) of the run, in microseconds.
    pub cpu_us: u64,
}

/// What a `churn` run measured.
#[derive(Debug)]
pub struct Churn {
    /// Connected peers counted: `conns` unless timed out.
    pub conns: u64,
    /// From start to the last connected peer counted.
    pub secs: f64,
    /// CPU time (user + system, all threads) of the run, in microseconds.
    pub cpu_us: u64,
}

/// A run's clock: wall time from `start`, CPU time, the deadline, and peak
/// memory reset at the start so that `--repeat` reports each run's own.
///
/// `/proc/self/stat` and `/proc/self/status` are opened once, at the
/// start, and re-read through those descriptors: a run that uses up every
/// descriptor it may open can still be measured.
pub struct Meter {
    started: Instant,
    deadline: Instant,
    cpu_at_start: u64,
    stat: Option<File>,
    status: Option<File>,
}

impl Meter {
    /// Resets the process's peak RSS (`VmHWM`) to its current RSS, so that
    /// a run's peak is its own; then starts the clocks.
    pub fn start(timeout: Duration) -> Meter {
        // "5" resets the peak RSS (proc(5), Linux 4.0+); if this fails the
        // peak is since process start, the same for a single run.
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let started = Instant::now();
        let mut meter = Meter {
            started,
            deadline: started + timeout,
            cpu_at_start: 0,
            stat: File::open("/proc/self/stat").ok(),
            status: File::open("/proc/self/status").ok(),
        };
        meter.cpu_at_start = meter.cpu_total_us();
        meter
    }

    /// Restarts the wall clock (not the deadline): for the moment the
    /// measured work begins, after the set-up.
    pub fn restart(&mut self) {
        self.started = Instant::now();
        self.cpu_at_start = self.cpu_total_us();
    }

    /// Seconds since the start.
    pub fn secs(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// CPU time since the start, in microseconds.
    pub fn cpu_us(&self) -> u64 {
        self.cpu_total_us().saturating_sub(self.cpu_at_start)
    }

    /// The peak resident memory of the process since the start, in kB
    /// (`VmHWM`); 0 if it cannot be read.
    pub fn peak_rss_kb(&self) -> u64 {
        let status = self.status.as_ref().and_then(read_proc).unwrap_or_default();
        status_field_kb(&status, "VmHWM").unwrap_or(0)
    }

    /// CPU time of this process (user + system, every thread) in
    /// microseconds, from `/proc/self/stat` (clock ticks, 10 ms on Linux).
    fn cpu_total_us(&self) -> u64 {
        let stat = self.stat.as_ref().and_then(read_proc).unwrap_or_default();
        // Fields after the command name, which is in parentheses and may
        // hold spaces: state is field 3, utime 14, stime 15.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            return 0;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        (ticks(11) + ticks(12)) * 10_000
    }

    /// The run's deadline (the async runtimes make one timer of it).
    #[cfg_attr(not(any(feature = "tokio", feature = "smol")), allow(dead_code))]
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// How long the clean-up after a run (shutting the manager down) may
    /// take: what is left of the run, and a little grace.
    #[cfg_attr(not(any(feature = "tokio", feature = "smol")), allow(dead_code))]
    pub fn cleanup_deadline(&self) -> Instant {
        self.deadline.max(Instant::now()) + CLEANUP_GRACE
    }

    /// Time left before the deadline; zero once passed.
    pub fn left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Whether the deadline has passed.
    pub fn expired(&self) -> bool {
        Instant::now() >= self.deadline
    }
}

/// The whole of a `/proc` file, read again from its start.
fn read_proc(file: &File) -> Option<String> {
    let mut buf = vec![0u8; 4096];
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(2 * len, 0);
        }
        match file.read_at(&mut buf[len..], len as u64) {
            Ok(0) => break,
            Ok(read) => len += read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    buf.truncate(len);
    String::from_utf8(buf).ok()
}

/// A field of `/proc/self/status` in kB (`VmRSS`, `VmHWM`).
fn status_field_kb(status: &str, field: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// `timeout` capped at `left`: a poll never sleeps past the deadline.
pub fn poll_timeout(timeout: Option<Duration>, left: Duration) -> Option<Duration> {
    Some(timeout.map_or(left, |t| t.min(left)))
}

/// The soft limit on open descriptors (`ulimit -n`), from
/// `/proc/self/limits`.
pub fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Whether a read result means the connection is over: end of file, or an
/// error other than "no data yet". (Nobody writes in these benchmarks, so
/// data is not expected; it is read and ignored.)
pub fn is_over(read: &io::Result<usize>) -> bool {
    match read {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
        ),
    }
}
