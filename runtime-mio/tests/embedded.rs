//! The reactor inside the application's own `Poll`, next to a source of the
//! application's, with a token range the application chose.

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::{full_listener, manual_config};
use connmgr::{DialError, Direction, Reason};
use connmgr_mio::{Builder, Event, Mio, Peer};
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};

const LIMIT: Duration = Duration::from_secs(10);
const UDP: Token = Token(7);
const REACTOR: std::ops::Range<Token> = Token(100)..Token(110);
const PEERS_FROM: usize = 1_000;

#[test]
fn runs_inside_the_applications_poll_next_to_its_own_sources() {
    let mut poll = Poll::new().unwrap();
    let mut events = Events::with_capacity(64);

    // The application's own source: a UDP socket fed by a sender.
    let mut udp = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    poll.registry()
        .register(&mut udp, UDP, Interest::READABLE)
        .unwrap();
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..5u8 {
        sender.send_to(&[i], udp.local_addr().unwrap()).unwrap();
    }

    let mut reactor = Builder::new(manual_config())
        .listen("127.0.0.1:0".parse().unwrap())
        .runtime(Mio::embedded(poll.registry(), REACTOR).unwrap())
        .build()
        .unwrap();
    assert_eq!(reactor.tokens(), REACTOR);
    let addr = reactor.listen_addrs()[0];
    reactor.start().unwrap();
    let out_id = reactor.connect(addr, false).unwrap();

    let mut datagrams = Vec::new();
    let mut peers: HashMap<Token, Peer> = HashMap::new();
    let mut next_token = PEERS_FROM;
    let mut received = Vec::new();
    let mut disconnected = Vec::new();
    let mut wrote = false;
    let deadline = Instant::now() + LIMIT;
    while disconnected.len() < 2 {
        assert!(Instant::now() < deadline, "timed out");
        let timeout = reactor.timeout().map_or(LIMIT, |t| t.min(LIMIT));
        poll.poll(&mut events, Some(timeout)).unwrap();
        for event in events.iter() {
            let token = event.token();
            if reactor.owns(token) {
                reactor.handle_event(event);
            } else if token == UDP {
                let mut buf = [0u8; 16];
                while let Ok(n) = udp.recv(&mut buf) {
                    datagrams.extend_from_slice(&buf[..n]);
                }
            } else {
                let peer = peers.get_mut(&token).expect("a peer's token");
                let mut buf = [0u8; 64];
                match peer.read(&mut buf) {
                    Ok(0) | Err(_) => {
                        // EOF: the application drops the peer.
                        peers.remove(&token);
                    }
                    Ok(n) => received.extend_from_slice(&buf[..n]),
                }
            }
        }
        reactor.advance();
        while let Some(event) = reactor.next_event() {
            match event {
                Event::Connected {
                    stream: mut peer, ..
                } => {
                    let token = Token(next_token);
                    next_token += 1;
                    poll.registry()
                        .register(&mut peer, token, Interest::READABLE)
                        .unwrap();
                    peers.insert(token, peer);
                }
                Event::Disconnected { id, reason } => disconnected.push((id, reason)),
                other => panic!("unexpected {other:?}"),
            }
        }
        if peers.len() == 2 && !wrote {
            let outbound = peers
                .values_mut()
                .find(|p| p.direction() == Direction::Outbound)
                .unwrap();
            assert_eq!(outbound.id(), out_id);
            outbound.write_all(b"ping").unwrap();
            wrote = true;
        }
        if received == b"ping" && datagrams.len() == 5 && peers.len() == 2 {
            // Done with the connection: drop the outbound end; the inbound
            // end reads EOF and is dropped in turn.
            peers.retain(|_, p| p.direction() == Direction::Inbound);
        }
    }
    assert_eq!(datagrams, [0, 1, 2, 3, 4]);
    assert_eq!(received, b"ping");
    assert!(disconnected
        .iter()
        .all(|(_, reason)| *reason == Reason::PeerClosed));
    let counts = reactor.manager().counts();
    assert_eq!((counts.manual_established, counts.inbound), (0, 0));
    reactor.shutdown().unwrap();

    // The application's source is untouched by the reactor's stop.
    sender.send_to(&[9], udp.local_addr().unwrap()).unwrap();
    poll.poll(&mut events, Some(LIMIT)).unwrap();
    assert!(events.iter().any(|e| e.token() == UDP));
}

#[test]
fn dials_beyond_the_token_range_fail_as_exhausted() {
    let full = full_listener();
    let poll = Poll::new().unwrap();
    // One listener, three dial slots.
    let mut reactor = Builder::new(manual_config())
        .listen("127.0.0.1:0".parse().unwrap())
        .runtime(Mio::embedded(poll.registry(), Token(20)..Token(24)).unwrap())
        .build()
        .unwrap();
    reactor.start().unwrap();
    let ids: Vec<_> = (0..5)
        .map(|_| reactor.connect(full.addr, false).unwrap())
        .collect();
    assert_eq!(reactor.sockets(), 1 + 3);
    assert_eq!(reactor.manager().counts().dialing, 3);
    let mut gave_up = Vec::new();
    while let Some(event) = reactor.next_event() {
        if let Event::GaveUp { id, reason } = event {
            gave_up.push((id, reason));
        }
    }
    let exhausted = Reason::DialFailed(DialError::Exhausted);
    assert_eq!(gave_up, [(ids[3], exhausted), (ids[4], exhausted)]);
    reactor.shutdown().unwrap();
    assert_eq!(reactor.sockets(), 0);
}

#[test]
fn events_for_other_tokens_are_ignored() {
    let mut poll = Poll::new().unwrap();
    let mut udp = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    poll.registry()
        .register(&mut udp, UDP, Interest::READABLE)
        .unwrap();
    let mut reactor = Builder::new(manual_config())
        .runtime(Mio::embedded(poll.registry(), REACTOR).unwrap())
        .build()
        .unwrap();
    reactor.start().unwrap();
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .send_to(b"x", udp.local_addr().unwrap())
        .unwrap();
    let mut events = Events::with_capacity(8);
    poll.poll(&mut events, Some(LIMIT)).unwrap();
    for event in events.iter() {
        assert!(!reactor.owns(event.token()));
        reactor.handle_event(event); // misuse: harmless
    }
    reactor.advance();
    assert!(reactor.next_event().is_none());
    assert_eq!(reactor.manager().stats().ignored_inputs, 0);
    reactor.shutdown().unwrap();
}
