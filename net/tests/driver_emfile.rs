//! EMFILE on accept, on every runtime of the shared driver: the listener
//! pauses instead of spinning, and accepts again once descriptors are free.
//!
//! The test re-runs this test binary as a child under `ulimit -n` (so the
//! descriptor limit is lowered for the child only); the child fills its
//! descriptor table, the parent connects to it, and the child measures its
//! own CPU time over the error period from `/proc/self/stat`.

mod common;

use std::io::{BufRead, BufReader, Read, Seek};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use connmgr::{Config, Event};
use connmgr_net::Builder;

use common::{Harness, Smol, Tokio};

/// Set in the child's environment to the runtime it must run.
const CHILD: &str = "CONNMGR_DRIVER_EMFILE_CHILD";
/// Connections the parent makes while the child is out of descriptors.
const CLIENTS: usize = 3;
/// How long the child stays out of descriptors.
const ERROR_PERIOD: Duration = Duration::from_millis(1500);
/// Linux reports /proc times in USER_HZ, 100 per second.
const TICK_MS: u64 = 10;

/// User + system CPU time of this process, in milliseconds.
fn cpu_ms(stat: &mut std::fs::File) -> u64 {
    let mut text = String::new();
    stat.rewind().unwrap();
    stat.read_to_string(&mut text).unwrap();
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = &text[text.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15; `rest` starts at field 3.
    let utime: u64 = fields[11].parse().unwrap();
    let stime: u64 = fields[12].parse().unwrap();
    (utime + stime) * TICK_MS
}

/// The child's side: does nothing unless run by the parent.
#[test]
fn emfile_child() {
    match std::env::var(CHILD).as_deref() {
        Ok("tokio") => Tokio::run(child::<Tokio>()),
        Ok("smol") => Smol::run(child::<Smol>()),
        _ => {}
    }
}

async fn child<H: Harness>() {
    let config = Config {
        automatic_outbound: false,
        ..Config::default()
    };
    let (handle, mut events) = H::start(Builder::new(config).listen(common::loopback())).unwrap();
    let mut stat = std::fs::File::open("/proc/self/stat").unwrap();
    println!("LISTEN {}", handle.listen_addrs()[0]);

    // Fill the descriptor table.
    let mut hog = Vec::new();
    loop {
        match std::fs::File::open("/dev/null") {
            Ok(file) => hog.push(file),
            Err(e) if e.raw_os_error() == Some(24) => break,
            Err(e) => panic!("unexpected error filling descriptors: {e}"),
        }
        assert!(hog.len() < 100_000, "no descriptor limit");
    }
    println!("FULL {}", hog.len());

    // The parent connects now; wait for the first accept error.
    common::eventually::<H, _>("an accept error", || async {
        handle.stats().await.unwrap().accept_failures > 0
    })
    .await;
    let (cpu0, t0) = (cpu_ms(&mut stat), Instant::now());
    H::sleep(ERROR_PERIOD).await;
    let (cpu1, window) = (cpu_ms(&mut stat), t0.elapsed());
    let stats = handle.stats().await.unwrap();

    // Free descriptors: accepting resumes at the end of the current pause.
    drop(hog);
    let freed = Instant::now();
    let mut streams = Vec::new();
    while streams.len() < CLIENTS {
        match common::timeout::<H, _>(Duration::from_secs(5), events.recv()).await {
            Some(Some(Event::Connected { stream, .. })) => streams.push(stream),
            Some(Some(_)) => {}
            Some(None) | None => break,
        }
    }
    println!(
        "RESULT cpu_ms={} window_ms={} accept_failures={} pauses={} accepted={} resume_ms={}",
        cpu1 - cpu0,
        window.as_millis(),
        stats.accept_failures,
        stats.listener_pauses,
        streams.len(),
        freed.elapsed().as_millis()
    );
    drop(streams);
    handle.shutdown().await.unwrap();
}

/// What the child measured.
#[derive(Debug)]
struct Measured {
    cpu_ms: u64,
    window_ms: u64,
    accept_failures: u64,
    pauses: u64,
    accepted: usize,
    resume_ms: u64,
}

fn run_child(runtime: &str) -> Measured {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -n 256 && exec "$0" "$@""#)
        .arg(exe)
        .args(["emfile_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, runtime)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run the test binary as a child");
    let (tx, lines) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut expect = |prefix: &str| -> String {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                // libtest may print "test emfile_child ... " on the same line.
                Ok(line) => {
                    if let Some(at) = line.find(prefix) {
                        return line[at + prefix.len()..].to_owned();
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!("the child never printed {prefix:?}");
                }
            }
        }
    };
    let addr: std::net::SocketAddr = expect("LISTEN ").trim().parse().unwrap();
    let filled: usize = expect("FULL ").trim().parse().unwrap();
    assert!(filled > 100, "the child had only {filled} free descriptors");
    // The kernel completes these handshakes into the backlog even though
    // the child cannot accept them.
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap())
        .collect();
    let result = expect("RESULT ");
    drop(clients);
    let status = child.wait().unwrap();
    assert!(status.success(), "child failed: {status}");
    let field = |name: &str| -> u64 {
        result
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("{name} missing in {result}"))
            .parse()
            .unwrap()
    };
    Measured {
        cpu_ms: field("cpu_ms"),
        window_ms: field("window_ms"),
        accept_failures: field("accept_failures"),
        pauses: field("pauses"),
        accepted: field("accepted") as usize,
        resume_ms: field("resume_ms"),
    }
}

/// Spinning would burn about one core for the whole window; with 5 ms
/// doubling to 1 s there are a handful of errors, each followed by a pause.
fn check(runtime: &str) {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    let m = run_child(runtime);
    println!("{runtime}: {m:?}");
    assert!(
        m.cpu_ms * 4 <= m.window_ms,
        "{runtime}: the process used {} ms of CPU in {} ms of accept errors: spinning? {m:?}",
        m.cpu_ms,
        m.window_ms
    );
    assert!((1..=20).contains(&m.accept_failures), "{runtime}: {m:?}");
    assert!(
        m.pauses >= 1 && m.pauses <= m.accept_failures,
        "{runtime}: {m:?}"
    );
    assert_eq!(m.accepted, CLIENTS, "{runtime}: accepting resumed: {m:?}");
    assert!(m.resume_ms < 3_000, "{runtime}: {m:?}");
}

#[test]
fn tokio_pauses_accepting_on_emfile_and_resumes_when_descriptors_free_up() {
    check("tokio");
}

#[test]
fn smol_pauses_accepting_on_emfile_and_resumes_when_descriptors_free_up() {
    check("smol");
}
