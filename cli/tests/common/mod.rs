//! What the command's tests share: the built binary, its output read line
//! by line on a thread, and every wait bounded.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Child;
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_connmgr");

/// Lines of a child's standard output, read on a thread.
pub fn lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().expect("piped stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a line containing `needle`; returns it.
pub fn wait_for(
    rx: &mpsc::Receiver<String>,
    needle: &str,
    within: Duration,
    child: &mut Child,
) -> String {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return line,
            Ok(_) => {}
            Err(_) => {
                let _ = child.kill();
                panic!("no line containing {needle:?} within {within:?}");
            }
        }
    }
}

/// Sends `signal` (`"TERM"`, `"INT"`, `"HUP"`) to the child, as an
/// operator's `kill` does.
pub fn signal(child: &Child, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} failed");
}

/// Waits for the child to exit, killing it after `within`.
pub fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("did not exit within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("connmgr-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `N` distinct ports on 127.0.0.1 that were free a moment ago (for
/// listeners whose port cannot be asked back, such as the metrics
/// endpoint's): all held until all are chosen, so none is given twice.
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: [_; N] =
        std::array::from_fn(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap());
    listeners.map(|l| l.local_addr().unwrap().port())
}

/// The body of `GET /metrics` from a node's metrics endpoint, retried
/// (bounded) until the endpoint answers.
pub fn scrape(port: u16) -> String {
    use std::io::{Read, Write};
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = std::net::TcpStream::connect(("127.0.0.1", port)).and_then(|mut s| {
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
            let mut response = String::new();
            s.read_to_string(&mut response)?;
            Ok(response)
        });
        match got {
            Ok(response) if response.lines().next().is_some_and(|l| l.contains(" 200 ")) => {
                let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
                return body.to_owned();
            }
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            other => panic!("no metrics on port {port}: {other:?}"),
        }
    }
}

/// The value of the sample `series` (name and labels, as printed) in a
/// scrape; `None` if it is not there.
pub fn sample(scrape: &str, series: &str) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.trim().parse().ok()
    })
}
