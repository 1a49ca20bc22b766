//! A small node on the reactor's own loop: it listens, keeps `--target`
//! automatic outbound connections to addresses from its seeds, holds every
//! peer until it closes, and prints what happens and a status line a second.
//!
//! Try two of them, each seeding the other:
//!
//! ```text
//! cargo run -p connmgr-mio --example node -- --listen 127.0.0.1:18444 --seed 127.0.0.1:18445
//! cargo run -p connmgr-mio --example node -- --listen 127.0.0.1:18445 --seed 127.0.0.1:18444
//! ```
//!
//! Options: `--target N` (default 2), `--seconds S` (default 10),
//! `--trace FILE` (record a trace; check it with `connmgr replay FILE`).

#[path = "common/measure.rs"]
mod measure;

use std::collections::HashMap;
use std::io::Read;
use std::net::SocketAddr;
use std::time::Duration;

use connmgr::Config;
use connmgr_mio::{Builder, Event, LoopEvent, Peer};
use mio::{Interest, Token};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listen: SocketAddr = measure::arg("--listen", "127.0.0.1:0".parse()?);
    let seed: Option<SocketAddr> = measure::arg("--seed", String::new()).parse().ok();
    let config = Config {
        target_outbound: measure::arg("--target", 2),
        ..Config::default()
    };
    let seconds: u64 = measure::arg("--seconds", 10);

    let mut builder = Builder::new(config)
        .listen(listen)
        .seeds(seed)
        .accept_local_addresses(true);
    let trace: String = measure::arg("--trace", String::new());
    if !trace.is_empty() {
        builder = builder.record_trace(trace);
    }
    let mut reactor = builder.build()?;
    println!("listening on {}", reactor.listen_addrs()[0]);
    reactor.start()?;

    // Our peers, registered in the reactor's registry with tokens above its
    // own, so their readiness comes back as `LoopEvent::Ready`.
    let mut peers: HashMap<Token, Peer> = HashMap::new();
    let mut next = connmgr_mio::DEFAULT_TOKENS.end.0;
    for _ in 0..seconds {
        reactor.run_for(Duration::from_secs(1), |reactor, event| match event {
            LoopEvent::Peer(Event::Connected {
                stream: mut peer, ..
            }) => {
                println!(
                    "connected {} {:?} {}",
                    peer.id(),
                    peer.direction(),
                    peer.peer_addr()
                );
                let token = Token(next);
                next += 1;
                let registered = reactor
                    .registry()
                    .register(&mut peer, token, Interest::READABLE);
                if registered.is_ok() {
                    peers.insert(token, peer);
                }
            }
            LoopEvent::Ready(ready) => {
                let mut buf = [0u8; 4096];
                let token = ready.token();
                let closed = peers
                    .get_mut(&token)
                    .is_none_or(|peer| matches!(peer.read(&mut buf), Ok(0) | Err(_)));
                if closed {
                    // Dropping the peer tells the manager.
                    peers.remove(&token);
                }
            }
            LoopEvent::Peer(Event::Disconnected { id, reason }) => {
                println!("disconnected {id}: {reason:?}")
            }
            LoopEvent::Peer(Event::GaveUp { id, reason }) => println!("gave up {id}: {reason:?}"),
            LoopEvent::Peer(Event::Banned { subnet, until, .. }) => {
                println!("banned {subnet} until {until}")
            }
            _ => {}
        })?;
        let c = reactor.manager().counts();
        println!(
            "status: outbound {} inbound {} pending {} dialing {}",
            c.outbound_established(),
            c.inbound,
            c.outbound_pending(),
            c.dialing
        );
    }
    let stats = reactor.shutdown()?;
    println!(
        "stopped: {} dials, {} connected, {} inbound accepted",
        stats.dials, stats.dial_successes, stats.inbound_accepted
    );
    Ok(())
}
