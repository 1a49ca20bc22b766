//! EMFILE on accept: the listener pauses instead of spinning, and accepting
//! resumes when descriptors free up.
//!
//! The parent test re-runs this test binary in a child process whose
//! RLIMIT_NOFILE is lowered (`ulimit -n` in `sh`, which then `exec`s it),
//! with `CONNMGR_MIO_EMFILE_CHILD` set; the child fills its descriptor table
//! and measures its own CPU time (utime + stime from `/proc/self/stat`)
//! while its listener faces EMFILE.

mod common;

use std::fs::File;
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{manual_config, run_until, Seen};
use connmgr_mio::Builder;

const CHILD_ENV: &str = "CONNMGR_MIO_EMFILE_CHILD";
const NOFILE: u32 = 128;
const CLIENTS: usize = 8;
const ERROR_PERIOD: Duration = Duration::from_millis(1500);

#[test]
fn emfile_pauses_the_listener_and_accepting_resumes() {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -n {NOFILE} && exec \"$0\" \"$@\""))
        .arg(&exe)
        .args(["--exact", "emfile_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the child did not finish within 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "child failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    // The harness prints "test emfile_child ... " on the same line.
    let report = stdout
        .find("EMFILE:")
        .and_then(|at| stdout[at..].lines().next())
        .unwrap_or_else(|| panic!("no report from the child:\n{stdout}"));
    println!("{report}");
}

/// CPU time of this process (user + system), in clock ticks (USER_HZ,
/// 100 per second on Linux). `stat` is `/proc/self/stat`, opened before the
/// descriptor table was filled; each read at offset 0 is fresh.
fn cpu_ticks(stat: &File) -> u64 {
    use std::os::unix::fs::FileExt;
    let mut buf = [0u8; 1024];
    let n = stat.read_at(&mut buf, 0).unwrap();
    let stat = std::str::from_utf8(&buf[..n]).unwrap();
    // Fields after the command name, which is in parentheses.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 here.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn emfile_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return; // only meaningful in the child the test above starts
    }
    let mut reactor = Builder::new(manual_config())
        .listen("127.0.0.1:0".parse().unwrap())
        .build()
        .unwrap();
    let addr = reactor.listen_addrs()[0];
    reactor.start().unwrap();
    // Clients wait in the listener's queue (the kernel completes their
    // handshakes without accept).
    let clients: Vec<TcpStream> = (0..CLIENTS)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    let stat = File::open("/proc/self/stat").unwrap();
    // Fill the descriptor table.
    let mut filler = Vec::new();
    let error = loop {
        match File::open("/dev/null") {
            Ok(file) => filler.push(file),
            Err(e) => break e,
        }
        assert!(filler.len() <= NOFILE as usize, "the limit was not lowered");
    };
    assert_eq!(error.raw_os_error(), Some(libc::EMFILE), "{error}");

    // The error period: every accept fails with EMFILE.
    let mut seen = Seen::default();
    let cpu_before = cpu_ticks(&stat);
    let started = Instant::now();
    let _ = run_until(&mut reactor, &mut seen, ERROR_PERIOD, |_, _| false);
    let wall = started.elapsed();
    let cpu = cpu_ticks(&stat) - cpu_before;
    let stats = reactor.manager().stats();
    assert_eq!(seen.connected, 0);
    assert!(stats.accept_failures >= 3, "{stats:?}");
    assert!(stats.listener_pauses >= 3, "{stats:?}");
    // A spinning accept loop would burn the whole period (150 ticks).
    let cpu_ms = cpu * 10;
    assert!(
        cpu_ms * 10 < wall.as_millis() as u64,
        "{cpu_ms} ms of CPU in {wall:?}"
    );

    // Descriptors free up: accepting resumes (within the 1 s pause cap).
    drop(filler);
    let freed = Instant::now();
    assert!(run_until(
        &mut reactor,
        &mut seen,
        Duration::from_secs(5),
        |seen, _| seen.connected == CLIENTS
    ));
    let resumed_after = freed.elapsed();
    println!(
        "EMFILE: {} accept failures and {} listener pauses in {:?} of errors, {} ms of CPU (user+sys) in that time; all {} queued connections accepted {:?} after descriptors were freed",
        stats.accept_failures, stats.listener_pauses, wall, cpu_ms, CLIENTS, resumed_after
    );
    drop(clients);
    reactor.shutdown().unwrap();
}
