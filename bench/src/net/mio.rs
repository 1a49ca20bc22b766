//! `runtime=mio`: the manager on `connmgr-mio`'s reactor, embedded in the
//! benchmark's own `Poll` next to the listeners, so that the socket work is
//! the same as `raw`'s in one thread.

use std::io::{self, Read};
use std::ops::Range;
use std::time::Duration;

use connmgr::Config;
use connmgr_mio::{Builder, Event, Mio, Peer, Reactor, StaticList};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

use super::{is_over, listeners, poll_timeout, Churn, Establish, Meter};

/// Listener `i` has token `i`; the reactor's dials use these; the peers
/// handed to the application `PEERS + slot`.
const REACTOR_TOKENS: Range<Token> = Token(1 << 20)..Token(2 << 20);
const PEERS: usize = 4 << 20;

/// Any error of the benchmark's set-up or loop.
type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The harness: `k` listeners in a `Poll`, and a reactor in the same `Poll`
/// targeting `n` automatic outbound connections, its address source
/// cycling over the listeners.
fn harness(n: usize, k: usize, metrics: bool) -> Result<(Poll, Vec<TcpListener>, Reactor)> {
    let poll = Poll::new()?;
    let mut mio_listeners = Vec::with_capacity(k);
    for (i, listener) in listeners(k)?.into_iter().enumerate() {
        let mut listener = TcpListener::from_std(listener);
        poll.registry()
            .register(&mut listener, Token(i), Interest::READABLE)?;
        mio_listeners.push(listener);
    }
    let addrs = mio_listeners
        .iter()
        .map(TcpListener::local_addr)
        .collect::<io::Result<Vec<_>>>()?;
    let n = u32::try_from(n)?;
    let config = Config {
        target_outbound: n,
        // No listener of the manager's here; loopback is exempt from group
        // limits anyway.
        max_inbound: n,
        ..Config::btcd()
    };
    let builder = Builder::new(config);
    #[cfg(feature = "metrics")]
    let builder = builder.metrics(metrics);
    #[cfg(not(feature = "metrics"))]
    let _ = metrics;
    let reactor = builder
        .address_source(Box::new(StaticList::new(addrs)))
        .runtime(Mio::embedded(poll.registry(), REACTOR_TOKENS)?)
        .build()?;
    Ok((poll, mio_listeners, reactor))
}

/// The manager targets `n` outbound connections to `k` listeners that
/// accept and hold every one; the clock stops at the `n`-th connected peer.
pub fn establish(n: usize, k: usize, timeout: Duration, metrics: bool) -> Result<Establish> {
    let mut meter = Meter::start(timeout);
    let (mut poll, listeners, mut reactor) = harness(n, k, metrics)?;
    let mut events = Events::with_capacity(1024);
    let mut accepted: Vec<TcpStream> = Vec::with_capacity(n);
    let mut peers: Vec<Peer> = Vec::with_capacity(n);
    let accept = |accepted: &mut Vec<TcpStream>, i: usize| {
        while let Ok((stream, _)) = listeners[i].accept() {
            accepted.push(stream);
        }
    };

    meter.restart();
    reactor.start()?;
    // Peers connected during `start` (none on Linux, where connect is
    // non-blocking even on loopback) would be queued here.
    while peers.len() < n && !meter.expired() {
        while let Some(event) = reactor.next_event() {
            if let Event::Connected { stream: peer, .. } = event {
                peers.push(peer);
            }
        }
        if peers.len() >= n {
            break;
        }
        poll.poll(&mut events, poll_timeout(reactor.timeout(), meter.left()))?;
        for event in events.iter() {
            if reactor.owns(event.token()) {
                reactor.handle_event(event);
            } else {
                accept(&mut accepted, event.token().0);
            }
        }
        reactor.advance();
    }
    let secs = meter.secs();
    let cpu_us = meter.cpu_us();
    // Both ends held before memory is read.
    while accepted.len() < peers.len() && !meter.expired() {
        poll.poll(&mut events, poll_timeout(reactor.timeout(), meter.left()))?;
        for i in 0..k {
            accept(&mut accepted, i);
        }
        reactor.advance();
    }
    let rss_kb = meter.peak_rss_kb();
    let held = accepted.len();
    let connected = peers.len();
    if connected >= n {
        let established = reactor.manager().counts().automatic_established as usize;
        if established != n {
            return Err(format!("the manager counts {established} established, not {n}").into());
        }
    }
    drop(peers);
    reactor.shutdown()?;
    Ok(Establish {
        secs,
        rss_kb,
        connected,
        held,
        cpu_us,
    })
}

/// The manager keeps `n` outbound connections to `k` listeners that close
/// every connection as soon as they accept it; the application drops each
/// peer at EOF and the manager replaces it. Counts connected peers up to
/// `conns`.
pub fn churn(n: usize, k: usize, conns: u64, timeout: Duration, metrics: bool) -> Result<Churn> {
    let mut meter = Meter::start(timeout);
    let (mut poll, listeners, mut reactor) = harness(n, k, metrics)?;
    let mut events = Events::with_capacity(1024);
    // The application's peers: a slab indexed by token - PEERS.
    let mut peers: Vec<Option<Peer>> = Vec::with_capacity(n);
    let mut free: Vec<usize> = Vec::with_capacity(n);
    let mut buf = [0u8; 64];
    let mut done = 0u64;

    meter.restart();
    reactor.start()?;
    'run: while !meter.expired() {
        while let Some(event) = reactor.next_event() {
            if let Event::Connected {
                stream: mut peer, ..
            } = event
            {
                done += 1;
                if done >= conns {
                    break 'run;
                }
                let index = free.pop().unwrap_or_else(|| {
                    peers.push(None);
                    peers.len() - 1
                });
                poll.registry()
                    .register(&mut peer, Token(PEERS + index), Interest::READABLE)?;
                peers[index] = Some(peer);
            }
        }
        poll.poll(&mut events, poll_timeout(reactor.timeout(), meter.left()))?;
        for event in events.iter() {
            let token = event.token();
            if reactor.owns(token) {
                reactor.handle_event(event);
            } else if token.0 < k {
                // Close every connection at once.
                while let Ok((stream, _)) = listeners[token.0].accept() {
                    drop(stream);
                }
            } else if let Some(slot) = peers.get_mut(token.0 - PEERS) {
                if slot
                    .as_mut()
                    .is_some_and(|peer| is_over(&peer.read(&mut buf)))
                {
                    // EOF: drop the peer; the reactor reports `Closed`.
                    *slot = None;
                    free.push(token.0 - PEERS);
                }
            }
        }
        reactor.advance();
    }
    let secs = meter.secs();
    let cpu_us = meter.cpu_us();
    drop(peers);
    reactor.shutdown()?;
    Ok(Churn {
        conns: done,
        secs,
        cpu_us,
    })
}
