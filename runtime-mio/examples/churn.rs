//! Churn through the reactor: `--n` automatic outbound connections (default
//! 8) to `--k` listeners (default 8) that close every connection as soon as
//! they accept it; the application drops each peer at EOF and the manager
//! replaces it, until `--total` connections (default 20 000) were made.
//!
//! The listeners are the application's, in the same `Poll` as the reactor
//! (embedded mode), so the socket work is the same as in `raw_churn.rs`,
//! which does it with no manager. Compare in one sitting:
//!
//! ```text
//! cargo run --release -p connmgr-mio --example raw_churn
//! cargo run --release -p connmgr-mio --example churn
//! ```

#[path = "common/measure.rs"]
mod measure;

use std::io::Read;
use std::time::{Duration, Instant};

use connmgr::Config;
use connmgr_mio::{Builder, Event, Mio, Peer, StaticList};
use mio::{Events, Interest, Poll, Token};

const REACTOR_TOKENS: std::ops::Range<Token> = Token(1 << 20)..Token(2 << 20);
const PEER_TOKENS: usize = 4 << 20;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u32 = measure::arg("--n", 8);
    let k: usize = measure::arg("--k", 8);
    let total: usize = measure::arg("--total", 20_000);

    let mut poll = Poll::new()?;
    let mut listeners = Vec::new();
    for i in 0..k {
        let mut listener = connmgr_mio::listen("127.0.0.1:0".parse()?)?;
        poll.registry()
            .register(&mut listener, Token(i), Interest::READABLE)?;
        listeners.push(listener);
    }
    let addrs = listeners
        .iter()
        .map(|l| l.local_addr())
        .collect::<Result<Vec<_>, _>>()?;

    let config = Config {
        target_outbound: n,
        ..Config::default()
    };
    let mut reactor = Builder::new(config)
        .address_source(Box::new(StaticList::new(addrs)))
        .runtime(Mio::embedded(poll.registry(), REACTOR_TOKENS)?)
        .build()?;

    // The application's peers: a slab indexed by token - PEER_TOKENS.
    let mut peers: Vec<Option<Peer>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut events = Events::with_capacity(1024);
    let mut connected = 0usize;
    let mut buf = [0u8; 64];

    let cpu_before = measure::cpu_us();
    let started = Instant::now();
    reactor.start()?;
    while connected < total {
        assert!(started.elapsed() < Duration::from_secs(120), "too slow");
        poll.poll(&mut events, reactor.timeout())?;
        for event in events.iter() {
            let token = event.token();
            if reactor.owns(token) {
                reactor.handle_event(event);
            } else if token.0 < k {
                // Close every connection at once.
                while let Ok((stream, _)) = listeners[token.0].accept() {
                    drop(stream);
                }
            } else if let Some(slot) = peers.get_mut(token.0 - PEER_TOKENS) {
                let eof = slot
                    .as_mut()
                    .is_some_and(|peer| !matches!(peer.read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock));
                if eof {
                    // EOF (or an error): drop the peer; the manager hears Closed.
                    *slot = None;
                    free.push(token.0 - PEER_TOKENS);
                }
            }
        }
        reactor.advance();
        while let Some(event) = reactor.next_event() {
            if let Event::Connected {
                stream: mut peer, ..
            } = event
            {
                connected += 1;
                let index = free.pop().unwrap_or_else(|| {
                    peers.push(None);
                    peers.len() - 1
                });
                poll.registry().register(
                    &mut peer,
                    Token(PEER_TOKENS + index),
                    Interest::READABLE,
                )?;
                peers[index] = Some(peer);
            }
        }
    }
    let wall = started.elapsed();
    let cpu = measure::cpu_us() - cpu_before;
    let stats = reactor.shutdown()?;
    println!(
        "churn (reactor) N={n} K={k}: {connected} connections in {:.3} s = {:.0} conn/s; CPU {:.1} µs/conn (user+sys); {} dials, {} failed",
        wall.as_secs_f64(),
        connected as f64 / wall.as_secs_f64(),
        cpu as f64 / connected as f64,
        stats.dials,
        stats.dial_failures,
    );
    Ok(())
}
