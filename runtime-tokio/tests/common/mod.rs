//! Helpers shared by the loopback tests (included with `mod common`).

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use connmgr::Config;
use connmgr_tokio::{Event, Events};
use socket2::{Domain, Protocol, Socket, Type};

/// How long any one wait in a test may take.
pub const WAIT: Duration = Duration::from_secs(10);

/// A config for tests: no automatic outbound unless asked, fast retries.
pub fn config() -> Config {
    Config {
        automatic_outbound: false,
        retry_interval: Duration::from_millis(50),
        max_retry_interval: Duration::from_millis(200),
        ..Config::default()
    }
}

/// 127.0.0.1 with a port chosen by the system.
pub fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// The next event, or a panic naming what was awaited.
pub async fn next(events: &mut Events, what: &str) -> Event {
    match tokio::time::timeout(WAIT, events.recv()).await {
        Ok(Some(event)) => event,
        Ok(None) => panic!("events ended while waiting for {what}"),
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// Events until one matches, skipping others (bounded by `WAIT`).
pub async fn until(events: &mut Events, what: &str, f: impl Fn(&Event) -> bool) -> Event {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, events.recv()).await {
            Ok(Some(event)) if f(&event) => return event,
            Ok(Some(_)) => continue,
            Ok(None) => panic!("events ended while waiting for {what}"),
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }
}

/// An address nobody listens on (a port just released).
pub fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// A listener whose accept queue is full and never drained: a dial to it
/// never completes (the SYN is dropped). Keep the result alive.
pub struct Blackhole {
    /// Where it listens.
    pub addr: SocketAddr,
    _listener: Socket,
    _queued: Vec<std::net::TcpStream>,
}

/// Makes a [`Blackhole`]: backlog 0, filled until a connect times out.
pub fn blackhole() -> Blackhole {
    let listener = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
    listener.bind(&loopback().into()).unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    let mut queued = Vec::new();
    for _ in 0..16 {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(stream) => queued.push(stream),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                return Blackhole {
                    addr,
                    _listener: listener,
                    _queued: queued,
                }
            }
            Err(e) => panic!("filling the backlog: {e}"),
        }
    }
    panic!("the backlog of {addr} never filled");
}

/// A fresh directory for one test's files.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("connmgr-tokio-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
