//! Establish `--n` connections (default 4 000) to `--k` listeners (default
//! 8) in one process, and hold them all: the time it takes, and resident
//! memory per 1 000 connections (`VmRSS` after minus before, both ends
//! included).
//!
//! Modes:
//! - default: the reactor dials (`target_outbound = n`); the listeners are
//!   the application's, in the same `Poll`, and hold what they accept;
//! - `--reactor-listeners`: the reactor's own listeners accept too, so the
//!   manager handles both ends (`max_inbound = n`) and the application
//!   holds `2n` peers;
//! - `--raw`: a minimal mio loop doing the same socket work, no manager.
//!
//! ```text
//! cargo run --release -p connmgr-mio --example establish -- --raw
//! cargo run --release -p connmgr-mio --example establish
//! cargo run --release -p connmgr-mio --example establish -- --reactor-listeners
//! ```

#[path = "common/measure.rs"]
mod measure;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use connmgr::Config;
use connmgr_mio::{Builder, Event, LoopEvent, Mio, StaticList};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

const REACTOR_TOKENS: std::ops::Range<Token> = Token(1 << 20)..Token(2 << 20);
const CLIENT_TOKENS: usize = 4 << 20;
const LIMIT: Duration = Duration::from_secs(60);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = measure::arg("--n", 4_000);
    let k: usize = measure::arg("--k", 8);
    let mode = if measure::flag("--raw") {
        "raw mio"
    } else if measure::flag("--reactor-listeners") {
        "reactor, its own listeners"
    } else {
        "reactor, application listeners"
    };
    let rss_before = measure::status_kb("VmRSS");
    let cpu_before = measure::cpu_us();
    let (took, held) = match mode {
        "raw mio" => raw(n, k)?,
        "reactor, its own listeners" => reactor_listeners(n, k)?,
        _ => app_listeners(n, k)?,
    };
    let cpu = measure::cpu_us() - cpu_before;
    let rss_after = measure::status_kb("VmRSS");
    let per_1000 = (rss_after.saturating_sub(rss_before)) as f64 * 1000.0 / n as f64;
    println!(
        "establish ({mode}) N={n} K={k}: {:.3} s = {:.0} conn/s; CPU {:.1} µs/conn; VmRSS {rss_before} -> {rss_after} kB = {per_1000:.0} kB per 1000 connections; peak VmHWM {} kB; {held} sockets held",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
        cpu as f64 / n as f64,
        measure::status_kb("VmHWM"),
    );
    Ok(())
}

fn listeners(poll: &Poll, k: usize) -> std::io::Result<(Vec<TcpListener>, Vec<SocketAddr>)> {
    let mut listeners = Vec::new();
    for i in 0..k {
        let mut listener = connmgr_mio::listen("127.0.0.1:0".parse().unwrap())?;
        poll.registry()
            .register(&mut listener, Token(i), Interest::READABLE)?;
        listeners.push(listener);
    }
    let addrs = listeners
        .iter()
        .map(|l| l.local_addr())
        .collect::<Result<_, _>>()?;
    Ok((listeners, addrs))
}

/// The reactor dials; the application's listeners accept and hold.
fn app_listeners(n: usize, k: usize) -> Result<(Duration, usize), Box<dyn std::error::Error>> {
    let mut poll = Poll::new()?;
    let (listeners, addrs) = listeners(&poll, k)?;
    let config = Config {
        target_outbound: u32::try_from(n)?,
        ..Config::default()
    };
    let mut reactor = Builder::new(config)
        .address_source(Box::new(StaticList::new(addrs)))
        .runtime(Mio::embedded(poll.registry(), REACTOR_TOKENS)?)
        .build()?;
    let mut events = Events::with_capacity(1024);
    let mut accepted = Vec::with_capacity(n);
    let mut peers = Vec::with_capacity(n);
    let started = Instant::now();
    reactor.start()?;
    while peers.len() < n || accepted.len() < n {
        assert!(started.elapsed() < LIMIT, "too slow");
        poll.poll(&mut events, reactor.timeout())?;
        for event in events.iter() {
            if reactor.owns(event.token()) {
                reactor.handle_event(event);
            } else {
                while let Ok((stream, _)) = listeners[event.token().0].accept() {
                    accepted.push(stream);
                }
            }
        }
        reactor.advance();
        while let Some(event) = reactor.next_event() {
            if let Event::Connected { stream: peer, .. } = event {
                peers.push(peer);
            }
        }
    }
    let took = started.elapsed();
    assert_eq!(reactor.manager().counts().automatic_established as usize, n);
    Ok((took, peers.len() + accepted.len()))
}

/// The reactor dials and accepts; the application holds both ends.
fn reactor_listeners(n: usize, k: usize) -> Result<(Duration, usize), Box<dyn std::error::Error>> {
    let config = Config {
        target_outbound: u32::try_from(n)?,
        max_inbound: u32::try_from(n)?,
        ..Config::default()
    };
    let mut builder = Builder::new(config).address_source(Box::new(StaticList::default()));
    for _ in 0..k {
        builder = builder.listen("127.0.0.1:0".parse()?);
    }
    let mut reactor = builder.build()?;
    // The addresses to dial are the listeners' own, known once bound.
    *reactor.source_mut() = Box::new(StaticList::new(reactor.listen_addrs().to_vec()));
    let mut peers = Vec::with_capacity(2 * n);
    let started = Instant::now();
    reactor.start()?;
    while peers.len() < 2 * n {
        assert!(started.elapsed() < LIMIT, "too slow");
        reactor.run_for(Duration::from_millis(1), |_, event| {
            if let LoopEvent::Peer(Event::Connected { stream: peer, .. }) = event {
                peers.push(peer);
            }
        })?;
    }
    let took = started.elapsed();
    let counts = reactor.manager().counts();
    assert_eq!(counts.automatic_established as usize, n);
    assert_eq!(counts.inbound as usize, n);
    Ok((took, peers.len()))
}

/// No manager: connect n, accept n, hold them.
fn raw(n: usize, k: usize) -> Result<(Duration, usize), Box<dyn std::error::Error>> {
    let mut poll = Poll::new()?;
    let (listeners, addrs) = listeners(&poll, k)?;
    let mut events = Events::with_capacity(1024);
    let mut accepted = Vec::with_capacity(n);
    let started = Instant::now();
    let mut clients: Vec<(TcpStream, bool)> = Vec::with_capacity(n);
    for i in 0..n {
        let mut stream = TcpStream::connect(addrs[i % k])?;
        poll.registry()
            .register(&mut stream, Token(CLIENT_TOKENS + i), Interest::WRITABLE)?;
        clients.push((stream, false));
    }
    let mut connected = 0;
    while connected < n || accepted.len() < n {
        assert!(started.elapsed() < LIMIT, "too slow");
        poll.poll(&mut events, None)?;
        for event in events.iter() {
            let token = event.token().0;
            if token < k {
                while let Ok((stream, _)) = listeners[token].accept() {
                    accepted.push(stream);
                }
                continue;
            }
            let (stream, done) = &mut clients[token - CLIENT_TOKENS];
            if !*done && matches!(stream.take_error(), Ok(None)) && stream.peer_addr().is_ok() {
                *done = true;
                connected += 1;
                poll.registry().deregister(stream)?;
            }
        }
    }
    Ok((started.elapsed(), clients.len() + accepted.len()))
}
