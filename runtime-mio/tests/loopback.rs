//! The reactor on its own `Poll`, on loopback: connect and accept, the
//! faults a dial or a connection meets, and the errors a user sees.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::{full_listener, manual_config, read_to_end, refused_addr, run_until, Seen};
use connmgr::{Config, ConnKind, DialError, Direction, Reason};
use connmgr_mio::{BuildError, Builder, Error, Event, LoopEvent, Mio, StaticList};
use mio::{Interest, Token};

const LIMIT: Duration = Duration::from_secs(10);

#[test]
fn connects_and_accepts_end_to_end() {
    let mut reactor = Builder::new(manual_config())
        .listen("127.0.0.1:0".parse().unwrap())
        .build()
        .unwrap();
    let addr = reactor.listen_addrs()[0];
    assert_ne!(addr.port(), 0);
    reactor.start().unwrap();
    let out_id = reactor.connect(addr, false).unwrap();

    // Register the inbound peer with a token of ours and read through
    // `LoopEvent::Ready`, as an application would.
    let app_token = Token(connmgr_mio::DEFAULT_TOKENS.end.0 + 1);
    let mut outbound = None;
    let mut inbound = None;
    let mut received = Vec::new();
    let mut sent = false;
    let deadline = std::time::Instant::now() + LIMIT;
    while received != b"hello" && std::time::Instant::now() < deadline {
        reactor
            .run_for(Duration::from_millis(10), |reactor, event| match event {
                LoopEvent::Peer(Event::Connected {
                    stream: mut peer, ..
                }) => match peer.direction() {
                    Direction::Outbound => outbound = Some(peer),
                    Direction::Inbound => {
                        reactor
                            .registry()
                            .register(&mut peer, app_token, Interest::READABLE)
                            .unwrap();
                        inbound = Some(peer);
                    }
                },
                LoopEvent::Ready(ready) => {
                    assert_eq!(ready.token(), app_token);
                    let mut buf = [0u8; 64];
                    let n = inbound.as_mut().unwrap().read(&mut buf).unwrap();
                    received.extend_from_slice(&buf[..n]);
                }
                other => panic!("unexpected {other:?}"),
            })
            .unwrap();
        if let (Some(peer), false) = (&mut outbound, sent) {
            peer.write_all(b"hello").unwrap();
            sent = true;
        }
    }
    assert_eq!(received, b"hello");
    let outbound = outbound.unwrap();
    let inbound = inbound.unwrap();
    assert_eq!(outbound.id(), out_id);
    assert_eq!(outbound.peer_addr(), addr);
    assert_eq!(
        inbound.peer_addr(),
        outbound.get_ref().local_addr().unwrap()
    );
    let counts = reactor.manager().counts();
    assert_eq!((counts.manual_established, counts.inbound), (1, 1));

    // The application drops both ends: the manager hears `Closed` for each.
    drop(outbound);
    drop(inbound);
    let mut seen = Seen::default();
    assert!(run_until(&mut reactor, &mut seen, LIMIT, |seen, _| seen
        .disconnected
        .len()
        == 2));
    assert!(seen
        .disconnected
        .iter()
        .all(|(_, reason)| *reason == Reason::PeerClosed));
    let counts = reactor.manager().counts();
    assert_eq!((counts.manual_established, counts.inbound), (0, 0));
    assert_eq!(reactor.manager().stats().ignored_inputs, 0);
    reactor.shutdown().unwrap();
}

#[test]
fn automatic_outbound_takes_addresses_from_the_source() {
    let remote = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let config = Config {
        target_outbound: 3,
        block_relay_outbound: 0,
        address_book: connmgr::AddressBook::External,
        ..Config::default()
    };
    let mut reactor = Builder::new(config)
        .address_source(Box::new(StaticList::new(vec![remote
            .local_addr()
            .unwrap()])))
        .build()
        .unwrap();
    reactor.start().unwrap();
    let mut seen = Seen::default();
    assert!(run_until(&mut reactor, &mut seen, LIMIT, |seen, _| seen
        .connected
        == 3));
    assert_eq!(reactor.manager().counts().automatic_established, 3);
    assert_eq!(reactor.manager().stats().address_requests, 3);
    assert!(seen
        .peers
        .iter()
        .all(|p| p.peer_addr() == remote.local_addr().unwrap()));
    reactor.shutdown().unwrap();
}

#[test]
fn the_default_book_source_dials_its_seeds() {
    let remote = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let config = Config {
        target_outbound: 1,
        ..Config::default()
    };
    let mut reactor = Builder::new(config)
        .seeds([remote.local_addr().unwrap()])
        .accept_local_addresses(true)
        .build()
        .unwrap();
    reactor.start().unwrap();
    let mut seen = Seen::default();
    assert!(run_until(&mut reactor, &mut seen, LIMIT, |seen, _| seen
        .connected
        == 1));
    assert_eq!(seen.peers[0].peer_addr(), remote.local_addr().unwrap());
    reactor.shutdown().unwrap();
}

#[test]
fn a_refused_connection_is_a_failed_dial() {
    let mut reactor = Builder::new(manual_config()).build().unwrap();
    reactor.start().unwrap();
    let id = reactor.connect(refused_addr(), false).unwrap();
    let mut seen = Seen::default();
    assert!(run_until(&mut reactor, &mut seen, LIMIT, |seen, _| !seen
        .gave_up
        .is_empty()));
    assert_eq!(seen.gave_up, [(id, Reason::DialFailed(DialError::Refused))]);
    assert_eq!(reactor.sockets(), 0);
    reactor.shutdown().unwrap();
}

#[test]
fn a_dial_that_never_completes_hits_the_cores_timeout() {
    let full = full_listener();
    let config = Config {
        dial_timeout: Duration::from_millis(300),
        ..manual_config()
    };
    let mut reactor = Builder::new(config).build().unwrap();
    reactor.start().unwrap();
    let started = std::time::Instant::now();
    let id = reactor.connect(full.addr, false).unwrap();
    let mut seen = Seen::default();
    assert!(run_until(&mut reactor, &mut seen, LIMIT, |seen, _| !seen
        .gave_up
        .is_empty()));
    let took = started.elapsed();
    assert_eq!(
        seen.gave_up,
        [(id, Reason::DialFailed(DialError::TimedOut))]
    );
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    let stats = reactor.manager().stats();
    assert_eq!((stats.dial_timeouts, stats.dial_successes), (1, 0));
    // The cancelled dial's socket is closed.
    assert_eq!(reactor.sockets(), 0);
    reactor.shutdown().unwrap();
}

#[test]
fn a_peer_reset_mid_connection_reaches_the_manager_as_closed() {
    let remote = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut reactor = Builder::new(manual_config()).build().unwrap();
    reactor.start().unwrap();
    let id = reactor.connect(remote.local_addr().unwrap(), true).unwrap();
    let mut seen = Seen::default();
    assert!(run_until(&mut reactor, &mut seen, LIMIT, |seen, _| seen
        .connected
        == 1));

    // The remote resets: linger 0, then close.
    let (accepted, _) = remote.accept().unwrap();
    socket2::SockRef::from(&accepted)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(accepted);

    // The application sees the reset and drops the peer.
    let peer = seen.take_peer(id);
    let error = read_to_end(&peer, LIMIT).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset);
    drop(peer);
    assert!(run_until(&mut reactor, &mut seen, LIMIT, |seen, _| !seen
        .disconnected
        .is_empty()));
    assert_eq!(seen.disconnected, [(id, Reason::PeerClosed)]);
    // A permanent peer: the manager schedules its redial.
    assert_eq!(reactor.manager().counts().permanent_pending, 1);
    assert_eq!(reactor.manager().stats().retries_scheduled, 1);
    reactor.shutdown().unwrap();
}

#[test]
fn a_close_from_the_manager_shuts_the_applications_stream_down() {
    let remote = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut reactor = Builder::new(manual_config()).build().unwrap();
    reactor.start().unwrap();
    let id = reactor
        .connect(remote.local_addr().unwrap(), false)
        .unwrap();
    let mut seen = Seen::default();
    assert!(run_until(&mut reactor, &mut seen, LIMIT, |seen, _| seen
        .connected
        == 1));
    let (mut accepted, _) = remote.accept().unwrap();

    reactor.disconnect(id).unwrap();
    // The application reads EOF, and so does the remote.
    let peer = seen.take_peer(id);
    read_to_end(&peer, LIMIT).unwrap();
    accepted.set_read_timeout(Some(LIMIT)).unwrap();
    assert_eq!(accepted.read(&mut [0u8; 8]).unwrap(), 0);
    drop(peer);
    // Let the reactor see the drop.
    let _ = run_until(
        &mut reactor,
        &mut seen,
        Duration::from_millis(50),
        |_, _| false,
    );
    // The drop after the manager's close is not reported again.
    assert_eq!(seen.disconnected, [(id, Reason::Disconnected)]);
    assert_eq!(reactor.manager().stats().ignored_inputs, 0);
    reactor.shutdown().unwrap();
}

#[test]
fn an_address_in_use_is_a_clear_error_naming_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let error = Builder::new(manual_config())
        .listen(addr)
        .build()
        .unwrap_err();
    assert!(
        matches!(&error, BuildError::Listen { addr: a, source } if *a == addr && source.kind() == std::io::ErrorKind::AddrInUse),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains(&addr.to_string()), "{message}");
    assert!(message.contains("in use"), "{message}");
}

#[test]
fn inbound_beyond_max_inbound_is_closed_on_arrival() {
    let config = Config {
        max_inbound: 1,
        ..manual_config()
    };
    let mut reactor = Builder::new(config)
        .listen("127.0.0.1:0".parse().unwrap())
        .build()
        .unwrap();
    let addr = reactor.listen_addrs()[0];
    reactor.start().unwrap();
    let first = std::net::TcpStream::connect(addr).unwrap();
    let mut seen = Seen::default();
    assert!(run_until(&mut reactor, &mut seen, LIMIT, |seen, _| seen
        .connected
        == 1));
    let mut second = std::net::TcpStream::connect(addr).unwrap();
    second.set_read_timeout(Some(LIMIT)).unwrap();
    assert!(run_until(&mut reactor, &mut seen, LIMIT, |_, r| r
        .manager()
        .stats()
        .inbound_rejected_full
        == 1));
    // The refused connection is closed at once: the client reads EOF.
    assert_eq!(second.read(&mut [0u8; 8]).unwrap(), 0);
    assert_eq!(seen.connected, 1);
    drop(first);
    reactor.shutdown().unwrap();
}

#[test]
fn run_refuses_a_reactor_built_into_another_poll() {
    let poll = mio::Poll::new().unwrap();
    let mut reactor = Builder::new(manual_config())
        .runtime(Mio::embedded(poll.registry(), Token(0)..Token(8)).unwrap())
        .build()
        .unwrap();
    let error = reactor
        .run_for(Duration::from_millis(1), |_, _| {})
        .unwrap_err();
    assert!(
        matches!(&error, Error::Io(e) if e.kind() == std::io::ErrorKind::Unsupported),
        "{error}"
    );
    assert!(error.to_string().contains("handle_event"), "{error}");
}

#[test]
fn a_token_range_too_small_for_the_listeners_is_an_error() {
    let poll = mio::Poll::new().unwrap();
    let error = Builder::new(manual_config())
        .listen("127.0.0.1:0".parse().unwrap())
        .runtime(Mio::embedded(poll.registry(), Token(5)..Token(6)).unwrap())
        .build()
        .unwrap_err();
    assert!(matches!(error, BuildError::Runtime(_)), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("has 1 tokens; the reactor needs at least 2"),
        "{error}"
    );
}

#[test]
fn listens_on_ipv6_loopback_when_available() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback here; skipped");
        return;
    }
    let mut reactor = Builder::new(manual_config())
        .listen("[::1]:0".parse().unwrap())
        .build()
        .unwrap();
    let addr = reactor.listen_addrs()[0];
    reactor.start().unwrap();
    reactor.connect(addr, false).unwrap();
    let mut seen = Seen::default();
    assert!(run_until(&mut reactor, &mut seen, LIMIT, |seen, _| seen
        .connected
        == 2));
    reactor.shutdown().unwrap();
}

#[test]
fn dropping_a_permanent_peers_old_connection_does_not_close_its_redial() {
    let remote = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let config = Config {
        retry_interval: Duration::from_millis(50),
        ..manual_config()
    };
    let mut reactor = Builder::new(config).build().unwrap();
    reactor.start().unwrap();
    let id = reactor.connect(remote.local_addr().unwrap(), true).unwrap();
    let mut seen = Seen::default();
    assert!(run_until(&mut reactor, &mut seen, LIMIT, |seen, _| seen
        .connected
        == 1));
    // The manager disconnects it and redials under the same id while the
    // application still holds the first connection.
    reactor.disconnect(id).unwrap();
    let old = seen.take_peer(id);
    assert!(run_until(&mut reactor, &mut seen, LIMIT, |seen, _| seen
        .connected
        == 2));
    let new = seen.take_peer(id);
    assert_eq!(new.id(), old.id());
    // Now the application drops the old one: the new one stays up.
    read_to_end(&old, LIMIT).unwrap();
    drop(old);
    let _ = run_until(
        &mut reactor,
        &mut seen,
        Duration::from_millis(50),
        |_, _| false,
    );
    assert_eq!(seen.disconnected, [(id, Reason::Disconnected)]);
    assert_eq!(reactor.manager().counts().permanent_established, 1);
    // And dropping the new one is reported.
    drop(new);
    assert!(run_until(&mut reactor, &mut seen, LIMIT, |seen, _| seen
        .disconnected
        .len()
        == 2));
    assert_eq!(seen.disconnected[1], (id, Reason::PeerClosed));
    reactor.shutdown().unwrap();
}

/// What was learned reaches the disk while the reactor runs, not only at
/// shutdown.
#[test]
fn the_address_book_is_saved_periodically_while_running() {
    let dir = std::env::temp_dir().join(format!("connmgr-mio-periodic-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("peers.json");
    let config = Config {
        persist_interval: Duration::from_millis(50),
        ..manual_config()
    };
    let mut reactor = Builder::new(config)
        .peers_file(&path)
        .accept_local_addresses(true)
        .build()
        .unwrap();
    reactor.start().unwrap();
    let learned: std::net::SocketAddr = "127.0.0.1:18444".parse().unwrap();
    let known = vec![common::advertised(&reactor, learned)];
    reactor.learned(None, known).unwrap();
    let mut seen = Seen::default();
    let saved = |_: &Seen, _: &connmgr_mio::Reactor| common::saved_state(&path, learned).is_some();
    assert!(run_until(&mut reactor, &mut seen, LIMIT, saved));
    reactor.save().unwrap();
    reactor.shutdown().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Ready only after the handshake, and closed without one in time.
#[test]
fn a_peer_is_ready_after_its_handshake_and_closed_without_one() {
    let remote = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let config = Config {
        handshake_timeout: Duration::from_millis(200),
        ..manual_config()
    };
    let mut reactor = Builder::new(config).build().unwrap();
    reactor.start().unwrap();
    let addr = remote.local_addr().unwrap();
    let silent = reactor.connect(addr, false).unwrap();
    let talker = reactor.connect(addr, false).unwrap();
    let mut seen = Seen::default();
    assert!(run_until(&mut reactor, &mut seen, LIMIT, |s, _| s
        .connected
        == 2));
    reactor.handshaked(talker).unwrap();
    assert!(run_until(&mut reactor, &mut seen, LIMIT, |s, _| s.ready == [talker]));
    assert!(run_until(&mut reactor, &mut seen, LIMIT, |s, _| !s
        .disconnected
        .is_empty()));
    assert_eq!(seen.disconnected, [(silent, Reason::HandshakeTimeout)]);
    assert_eq!(reactor.manager().counts().handshaked, 1);
    reactor.shutdown().unwrap();
}

/// A clean shutdown saves the block-relay-only peer as an anchor next to
/// the peers file; the next start reads it (and deletes the file) and
/// dials it first, as a block-relay-only peer.
#[test]
fn anchors_survive_a_clean_restart_and_are_read_once() {
    let dir = std::env::temp_dir().join(format!("connmgr-mio-anchors-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let peers = dir.join("peers.json");
    let anchors_file = connmgr_store::anchors_path(&peers);
    // Four peers: listening sockets whose backlog completes the
    // connections. Every loopback address falls in one new bucket of the
    // book, where two may take the same slot (1 in 64); four leave at
    // least two with all but negligible odds.
    let servers: Vec<std::net::TcpListener> = (0..4)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let addrs: Vec<_> = servers.iter().map(|s| s.local_addr().unwrap()).collect();
    let build = |seeds: Vec<std::net::SocketAddr>| {
        let config = Config {
            automatic_outbound: true,
            target_outbound: 1,
            block_relay_outbound: 1,
            feeler_interval: Duration::ZERO,
            ..manual_config()
        };
        Builder::new(config)
            .peers_file(&peers)
            .accept_local_addresses(true)
            .seeds(seeds)
            .build()
            .unwrap()
    };
    // Runs `reactor` until `n` connections are made (each handshaked);
    // returns them with their address and kind.
    let connect = |reactor: &mut connmgr_mio::Reactor, n: usize| {
        let mut made = Vec::new();
        let deadline = std::time::Instant::now() + LIMIT;
        while made.len() < n && std::time::Instant::now() < deadline {
            reactor
                .run_for(Duration::from_millis(10), |reactor, event| {
                    if let LoopEvent::Peer(Event::Connected {
                        id,
                        addr,
                        kind,
                        stream,
                        ..
                    }) = event
                    {
                        reactor.handshaked(id).unwrap();
                        made.push((addr, kind, stream));
                    }
                })
                .unwrap();
        }
        made
    };

    // First life: one full-relay and one block-relay-only peer.
    let mut first = build(addrs.clone());
    first.start().unwrap();
    let made = connect(&mut first, 2);
    let anchor = made
        .iter()
        .find(|(_, kind, _)| *kind == ConnKind::BlockRelay)
        .map(|(addr, _, _)| *addr)
        .expect("a block-relay-only peer");
    first.shutdown().unwrap();
    drop(first); // its lock on the peers file goes with it
    let saved = std::fs::read_to_string(&anchors_file).unwrap();
    assert!(saved.contains(&anchor.to_string()), "{saved}");
    drop(made);

    // Second life: the anchor first, and the file gone.
    let mut second = build(Vec::new());
    assert!(!anchors_file.exists(), "read once, then deleted");
    second.start().unwrap();
    let made = connect(&mut second, 2);
    let block_relay: Vec<_> = made
        .iter()
        .filter(|(_, kind, _)| *kind == ConnKind::BlockRelay)
        .map(|(addr, _, _)| *addr)
        .collect();
    assert_eq!(block_relay, vec![anchor]);
    assert_eq!(second.manager().stats().anchors_dialled, 1);
    second.shutdown().unwrap();
    drop(made);
    std::fs::remove_dir_all(&dir).unwrap();
}
