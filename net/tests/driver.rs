//! The shared driver end to end on loopback, once per runtime: each test is
//! written once, generic over a [`Harness`], and instantiated for tokio and
//! smol at the bottom. Every wait is bounded by `WAIT`, every test by
//! `TEST_LIMIT`.

mod common;

use std::io::{BufReader, Read, Write};
use std::time::Duration;

use connmgr::trace::{replay, ReplayReport};
use connmgr::{ConnKind, DialError, Direction, Event, Reason};
use connmgr_net::{BuildError, Builder, Error};
use connmgr_store::StaticList;

use common::*;

async fn connect_and_accept_end_to_end<H: Harness>() {
    let (server, mut server_events) = H::start(Builder::new(config()).listen(loopback())).unwrap();
    let (client, mut client_events) = H::start(Builder::new(config())).unwrap();
    let addr = server.listen_addrs()[0];
    assert_ne!(addr.port(), 0);

    let id = client.connect(addr, false).await.unwrap();
    let Event::Connected {
        id: got,
        addr: remote,
        direction,
        kind,
        mut stream,
    } = next::<H>(&mut client_events, "outbound Connected").await
    else {
        panic!("expected Connected");
    };
    assert_eq!(
        (got, remote, direction, kind),
        (id, addr.into(), Direction::Outbound, ConnKind::Manual)
    );
    let Event::Connected {
        id: inbound_id,
        direction,
        addr: from,
        stream: mut inbound,
        ..
    } = next::<H>(&mut server_events, "inbound Connected").await
    else {
        panic!("expected Connected");
    };
    assert_eq!(direction, Direction::Inbound);
    assert_eq!(server.counts().await.unwrap().inbound, 1);
    assert_eq!(client.counts().await.unwrap().manual_established, 1);

    // Data flows both ways.
    H::write_all(&mut stream, b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        got += H::read(&mut inbound, &mut buf[got..]).await.unwrap();
    }
    assert_eq!(&buf, b"ping");
    assert_ne!(from.port(), 0);

    // The client drops its stream: its manager hears Closed; the server's
    // stream reads end-of-file, which tells the server's manager.
    drop(stream);
    let Event::Disconnected { id: d, reason } = next::<H>(&mut client_events, "Disconnected").await
    else {
        panic!("expected Disconnected");
    };
    assert_eq!((d, reason), (id, Reason::PeerClosed));
    assert_eq!(H::read(&mut inbound, &mut buf).await.unwrap(), 0);
    let Event::Disconnected { id: d, reason } =
        next::<H>(&mut server_events, "inbound Disconnected").await
    else {
        panic!("expected Disconnected");
    };
    assert_eq!((d, reason), (inbound_id, Reason::PeerClosed));

    let stats = client.shutdown().await.unwrap();
    assert_eq!(
        (stats.dials, stats.dial_successes, stats.disconnected),
        (1, 1, 1)
    );
    assert_eq!(stats.ignored_inputs, 0);
    let stats = server.shutdown().await.unwrap();
    assert_eq!(stats.inbound_accepted, 1);
    assert_eq!(stats.ignored_inputs, 0);
    // After shutdown the events end and the handle says so.
    assert!(client_events.recv().await.is_none());
    assert!(matches!(client.stats().await, Err(Error::Stopped)));
    assert!(matches!(client.shutdown().await, Err(Error::Stopped)));
}

async fn a_close_shuts_down_the_stream_the_application_holds<H: Harness>() {
    let (server, mut server_events) = H::start(Builder::new(config()).listen(loopback())).unwrap();
    let (client, mut client_events) = H::start(Builder::new(config())).unwrap();
    let id = client
        .connect(server.listen_addrs()[0], false)
        .await
        .unwrap();
    let Event::Connected { mut stream, .. } = next::<H>(&mut client_events, "Connected").await
    else {
        panic!("expected Connected");
    };
    let Event::Connected {
        stream: mut inbound,
        ..
    } = next::<H>(&mut server_events, "inbound").await
    else {
        panic!("expected Connected");
    };

    // The application still holds `stream`; the manager closes it.
    client.disconnect(id).await.unwrap();
    let Event::Disconnected { reason, .. } = next::<H>(&mut client_events, "Disconnected").await
    else {
        panic!("expected Disconnected");
    };
    assert_eq!(reason, Reason::Disconnected);
    let mut buf = [0u8; 8];
    let read = H::read(&mut stream, &mut buf).await.unwrap();
    assert_eq!(read, 0, "shut down: end-of-file");
    assert!(
        H::write_all(&mut stream, b"x").await.is_err(),
        "shut down: writes fail"
    );
    // The peer sees the end too.
    assert_eq!(H::read(&mut inbound, &mut buf).await.unwrap(), 0);
    drop((stream, inbound));

    // A disconnect of an ended id is the core's to refuse.
    assert!(matches!(
        client.disconnect(id).await,
        Err(Error::Ignored(_))
    ));
    let stats = client.shutdown().await.unwrap();
    // The stream's own end-of-file report came after the manager's close:
    // not fed to the core.
    assert_eq!(stats.ignored_inputs, 1, "only the second disconnect");
    server.shutdown().await.unwrap();
}

async fn refused_gives_up_or_retries_per_policy<H: Harness>() {
    let (client, mut events) = H::start(Builder::new(config())).unwrap();
    let addr = closed_port();

    // A manual request tries once and gives up.
    let id = client.connect(addr, false).await.unwrap();
    let Event::GaveUp { id: got, reason } = next::<H>(&mut events, "GaveUp").await else {
        panic!("expected GaveUp");
    };
    assert_eq!((got, reason), (id, Reason::DialFailed(DialError::Refused)));

    // A permanent one is redialled with backoff until the peer appears.
    let id = client.connect(addr, true).await.unwrap();
    eventually::<H, _>("three retries", || async {
        client.stats().await.unwrap().retries_scheduled >= 3
    })
    .await;
    let listener = std::net::TcpListener::bind(addr).unwrap();
    let Event::Connected {
        id: got,
        kind,
        stream,
        ..
    } = until::<H>(&mut events, "Connected", |e| {
        matches!(e, Event::Connected { .. })
    })
    .await
    else {
        unreachable!()
    };
    assert_eq!((got, kind), (id, ConnKind::Permanent));
    let (_peer, _) = listener.accept().unwrap();

    // Remove ends it for good.
    client.remove(id).await.unwrap();
    let Event::Disconnected { reason, .. } = next::<H>(&mut events, "Disconnected").await else {
        panic!("expected Disconnected");
    };
    assert_eq!(reason, Reason::Removed);
    drop(stream);
    let stats = client.shutdown().await.unwrap();
    assert!(stats.dial_failures >= 4, "{stats:?}");
    assert_eq!(stats.dial_successes, 1);
}

async fn a_dial_that_never_completes_hits_the_cores_timeout<H: Harness>() {
    let hole = blackhole();
    let mut config = config();
    config.dial_timeout = Duration::from_millis(300);
    let (client, mut events) = H::start(Builder::new(config)).unwrap();
    let started = std::time::Instant::now();
    let id = client.connect(hole.addr, false).await.unwrap();
    let Event::GaveUp { id: got, reason } = next::<H>(&mut events, "GaveUp").await else {
        panic!("expected GaveUp");
    };
    let took = started.elapsed();
    assert_eq!((got, reason), (id, Reason::DialFailed(DialError::TimedOut)));
    assert!(took >= Duration::from_millis(290), "gave up after {took:?}");
    let stats = client.shutdown().await.unwrap();
    assert_eq!((stats.dial_timeouts, stats.dial_failures), (1, 1));
}

async fn a_reset_mid_connection_reaches_the_manager<H: Harness>() {
    let peer = std::net::TcpListener::bind(loopback()).unwrap();
    let (client, mut events) = H::start(Builder::new(config())).unwrap();
    let id = client
        .connect(peer.local_addr().unwrap(), false)
        .await
        .unwrap();
    let (mut remote, _) = peer.accept().unwrap();
    let Event::Connected { mut stream, .. } = next::<H>(&mut events, "Connected").await else {
        panic!("expected Connected");
    };
    remote.write_all(b"half a message").unwrap();
    // SO_LINGER 0: close sends a reset.
    socket2::SockRef::from(&remote)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(remote);

    let err = loop {
        let mut chunk = [0u8; 64];
        match H::read(&mut stream, &mut chunk).await {
            Ok(0) => panic!("end-of-file instead of a reset"),
            Ok(_) => {}
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}");
    let Event::Disconnected { id: got, reason } = next::<H>(&mut events, "Disconnected").await
    else {
        panic!("expected Disconnected");
    };
    assert_eq!((got, reason), (id, Reason::PeerClosed));
    drop(stream);
    let stats = client.shutdown().await.unwrap();
    assert_eq!(stats.disconnected, 1);
    assert_eq!(
        stats.ignored_inputs, 0,
        "the drop after the reset is not reported twice"
    );
}

async fn an_address_in_use_is_a_clear_error_naming_it<H: Harness>() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let err = H::start(Builder::new(config()).listen(loopback()).listen(addr))
        .map(drop)
        .unwrap_err();
    assert!(
        matches!(&err, BuildError::Listen { addr: a, .. } if *a == addr),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains(&addr.to_string()), "{text}");
    assert!(text.contains("in use"), "{text}");
    // The first listener was released: its address can be bound again.
    drop(taken);
    let (handle, _events) = H::start(Builder::new(config()).listen(addr)).unwrap();
    handle.shutdown().await.unwrap();
}

async fn automatic_outbound_fills_the_target_from_the_address_source<H: Harness>() {
    // Six peers for a target of three: every loopback address falls in one
    // new bucket of Core's book, where two may take the same slot (1 in
    // 64) and the later one is dropped; six leave three with all but
    // negligible odds.
    let mut servers = Vec::new();
    for _ in 0..6 {
        servers.push(H::start(Builder::new(config()).listen(loopback())).unwrap());
    }
    let seeds: Vec<_> = servers.iter().map(|(h, _)| h.listen_addrs()[0]).collect();
    let mut config = config();
    config.automatic_outbound = true;
    config.target_outbound = 3;
    config.block_relay_outbound = 0;
    // The default: the address book inside the manager, with loopback let in.
    let (client, mut events) = H::start(
        Builder::new(config.clone())
            .seeds(seeds.clone())
            .accept_local_addresses(true),
    )
    .unwrap();
    let mut streams = Vec::new();
    let mut addrs = Vec::new();
    while streams.len() < 3 {
        if let Event::Connected { addr, stream, .. } = until::<H>(&mut events, "Connected", |e| {
            matches!(e, Event::Connected { .. })
        })
        .await
        {
            addrs.push(addr);
            streams.push(stream);
        }
    }
    // The book's choice is random (keyed by the drawn seed), but never
    // twice the same address: three seeds, once each, and the target met.
    addrs.sort();
    addrs.dedup();
    assert_eq!(addrs.len(), 3, "{addrs:?}");
    assert!(
        addrs.iter().all(|a| seeds.iter().any(|s| a == s)),
        "{addrs:?}"
    );
    assert_eq!(client.counts().await.unwrap().automatic_established, 3);

    // The application's own source works the same way, with the book
    // outside the manager.
    config.address_book = connmgr::AddressBook::External;
    let source = Box::new(StaticList::new(seeds));
    let (other, mut other_events) = H::start(Builder::new(config).address_source(source)).unwrap();
    for _ in 0..3 {
        until::<H>(&mut other_events, "Connected", |e| {
            matches!(e, Event::Connected { .. })
        })
        .await;
    }
    other.shutdown().await.unwrap();
    client.shutdown().await.unwrap();
    for (server, _) in servers {
        server.shutdown().await.unwrap();
    }
}

async fn inbound_beyond_the_limit_is_closed_by_the_core<H: Harness>() {
    let mut server_config = config();
    server_config.max_inbound = 1;
    let (server, mut server_events) =
        H::start(Builder::new(server_config).listen(loopback())).unwrap();
    let addr = server.listen_addrs()[0];
    let first = std::net::TcpStream::connect(addr).unwrap();
    let Event::Connected { stream: _held, .. } = next::<H>(&mut server_events, "inbound").await
    else {
        panic!("expected Connected");
    };
    let mut second = std::net::TcpStream::connect(addr).unwrap();
    second.set_read_timeout(Some(WAIT)).unwrap();
    let read = second.read(&mut [0u8; 1]);
    assert!(
        matches!(read, Ok(0))
            || matches!(&read, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
        "the refused connection is closed: {read:?}"
    );
    let stats = server.shutdown().await.unwrap();
    assert_eq!(
        (stats.inbound_accepted, stats.inbound_rejected_full),
        (1, 1)
    );
    drop(first);
}

/// Peers files survive a restart: what the book learned is saved at
/// shutdown and loaded by the next run.
async fn the_address_book_is_saved_at_shutdown_and_loaded_again<H: Harness>() {
    let dir = temp_dir(&format!("peers-{}", H::NAME));
    let path = dir.join("peers.json");
    let builder = Builder::new(config())
        .peers_file(&path)
        .accept_local_addresses(true);
    let (handle, _events) = H::start(builder).unwrap();
    let learned: std::net::SocketAddr = "127.0.0.1:18444".parse().unwrap();
    handle
        .learned(None, vec![advertised(learned)])
        .await
        .unwrap();
    handle.shutdown().await.unwrap();
    assert_eq!(saved_state(&path, learned), Some(false), "saved, as new");
    // And loaded by the next run, which saves it again.
    let builder = Builder::new(config())
        .peers_file(&path)
        .accept_local_addresses(true);
    let (handle, _events) = H::start(builder).unwrap();
    assert_eq!(
        handle
            .query(|m| m.book_counts())
            .await
            .unwrap()
            .map(|c| c.new),
        Some(1)
    );
    handle.shutdown().await.unwrap();
    assert_eq!(saved_state(&path, learned), Some(false));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// What was learned reaches the disk while the node runs, not only at a
/// clean shutdown: a crash loses at most one interval.
async fn the_address_book_is_saved_periodically_while_running<H: Harness>() {
    let dir = temp_dir(&format!("periodic-{}", H::NAME));
    let path = dir.join("peers.json");
    let config = connmgr::Config {
        persist_interval: Duration::from_millis(100),
        ..config()
    };
    let builder = Builder::new(config)
        .peers_file(&path)
        .accept_local_addresses(true);
    let (handle, _events) = H::start(builder).unwrap();
    let learned: std::net::SocketAddr = "127.0.0.1:18444".parse().unwrap();
    handle
        .learned(None, vec![advertised(learned)])
        .await
        .unwrap();
    eventually::<H, _>("a periodic save", || async {
        saved_state(&path, learned).is_some()
    })
    .await;
    assert!(handle.stats().await.unwrap().persist_requests >= 1);
    // And on demand (an operator's SIGHUP).
    handle.save().await.unwrap();
    handle.shutdown().await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// TCP connected is not "good": the address book promotes a peer only once
/// the application reports its handshake, and a peer that never completes
/// one is closed.
async fn a_peer_is_good_only_after_its_handshake<H: Harness>() {
    let dir = temp_dir(&format!("handshake-{}", H::NAME));
    let path = dir.join("peers.json");
    let (server, _server_events) = H::start(Builder::new(config()).listen(loopback())).unwrap();
    let addr = server.listen_addrs()[0];
    let client_config = connmgr::Config {
        handshake_timeout: Duration::from_millis(300),
        ..config()
    };
    let builder = Builder::new(client_config)
        .peers_file(&path)
        .seeds([addr])
        .accept_local_addresses(true);
    let (client, mut events) = H::start(builder).unwrap();
    let tried = |path: &std::path::Path| saved_state(path, addr).expect("known");

    // Connected, no handshake: not good, and closed in time.
    let id = client.connect(addr, false).await.unwrap();
    let Event::Connected { stream, .. } = next::<H>(&mut events, "Connected").await else {
        panic!("expected Connected");
    };
    client.save().await.unwrap();
    assert!(!tried(&path), "a bare TCP connection promoted the address");
    let Event::Disconnected { id: gone, reason } = next::<H>(&mut events, "timeout").await else {
        panic!("expected Disconnected");
    };
    assert_eq!((gone, reason), (id, Reason::HandshakeTimeout));
    drop(stream);

    // Connected and handshaked: ready, and good.
    let id = client.connect(addr, false).await.unwrap();
    let Event::Connected { stream, .. } = next::<H>(&mut events, "Connected").await else {
        panic!("expected Connected");
    };
    client.handshaked(id).await.unwrap();
    let Event::Ready {
        id: ready,
        direction,
        ..
    } = next::<H>(&mut events, "Ready").await
    else {
        panic!("expected Ready");
    };
    assert_eq!((ready, direction), (id, Direction::Outbound));
    assert_eq!(client.counts().await.unwrap().handshaked, 1);
    client.save().await.unwrap();
    assert!(tried(&path), "the handshaked peer's address is good");
    drop(stream);
    client.shutdown().await.unwrap();
    server.shutdown().await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A real run on loopback, recorded on both sides with the default (secret,
/// drawn) seed, replays identically.
async fn a_recorded_run_replays_identically<H: Harness>() {
    let dir = temp_dir(&format!("trace-{}", H::NAME));
    let (server_trace, client_trace) = (dir.join("server.jsonl"), dir.join("client.jsonl"));
    let builder = Builder::new(config())
        .listen(loopback())
        .record_trace(&server_trace);
    let (server, mut server_events) = H::start(builder).unwrap();
    let mut client_config = config();
    client_config.automatic_outbound = true;
    client_config.target_outbound = 2;
    client_config.dial_timeout = Duration::from_millis(300);
    client_config.address_book = connmgr::AddressBook::External;
    let addr = server.listen_addrs()[0];
    let hole = blackhole();
    let source = Box::new(StaticList::new(vec![addr, closed_port()]));
    let builder = Builder::new(client_config)
        .address_source(source)
        .record_trace(&client_trace);
    let (client, mut client_events) = H::start(builder).unwrap();

    // Automatic connections, some refused; a permanent peer that drops and
    // comes back; a timed-out dial; an application disconnect.
    let permanent = client.connect(addr, true).await.unwrap();
    let timed_out = client.connect(hole.addr, false).await.unwrap();
    until::<H>(
        &mut client_events,
        "timeout",
        |e| matches!(e, Event::GaveUp { id, .. } if *id == timed_out),
    )
    .await;
    let mut held = Vec::new();
    let mut permanent_seen = 0;
    while permanent_seen < 2 {
        match next::<H>(&mut client_events, "events").await {
            Event::Connected { id, stream, .. } if id == permanent => {
                permanent_seen += 1;
                if permanent_seen == 1 {
                    drop(stream); // it drops: redialled
                } else {
                    held.push((id, stream));
                }
            }
            Event::Connected { id, stream, .. } => held.push((id, stream)),
            _ => {}
        }
        while let Some(event) = server_events.try_recv() {
            if let Event::Connected { id, stream, .. } = event {
                held.push((id, stream));
            }
        }
    }
    if let Some(&(auto, _)) = held.iter().find(|(id, _)| *id != permanent) {
        let _ = client.disconnect(auto).await;
    }
    let client_stats = client.shutdown().await.unwrap();
    server.shutdown().await.unwrap();
    drop(held);

    for (path, who) in [(&client_trace, "client"), (&server_trace, "server")] {
        let file = std::fs::File::open(path).unwrap();
        let report = replay(BufReader::new(file)).unwrap();
        assert!(report.is_identical(), "{who}: {report}");
    }
    let file = std::fs::File::open(&client_trace).unwrap();
    let ReplayReport::Identical { inputs, .. } = replay(BufReader::new(file)).unwrap() else {
        unreachable!()
    };
    assert_eq!(inputs, client_stats.inputs, "every input was recorded");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// With the address book inside the manager, a real run replays with the
/// book's own choices: a first run learns addresses and saves them; a
/// second, recorded, starts from the saved book (carried in the trace's
/// header), picks its addresses, hears more from a peer and shares with
/// another; its trace replays identically.
async fn a_run_with_the_book_inside_replays_identically<H: Harness>() {
    let dir = temp_dir(&format!("book-trace-{}", H::NAME));
    let (peers, trace) = (dir.join("peers.json"), dir.join("client.jsonl"));
    let (server, _server_events) = H::start(Builder::new(config()).listen(loopback())).unwrap();
    let addr = server.listen_addrs()[0];

    // First life: the server and a dead address are learned, and saved.
    let builder = Builder::new(config())
        .peers_file(&peers)
        .accept_local_addresses(true);
    let (first, _events) = H::start(builder).unwrap();
    let known = vec![advertised(addr), advertised(closed_port())];
    first.learned(None, known).await.unwrap();
    // Both loopback addresses fall in one new bucket placed by the secret
    // key; one in 64 keys puts them in one slot, and the book keeps one.
    let saved = first.shutdown().await.unwrap().addresses_learned;
    assert!((1..=2).contains(&saved), "{saved} addresses saved");

    // Second life, recorded: automatic connections from the saved book.
    let mut client_config = config();
    client_config.automatic_outbound = true;
    client_config.target_outbound = 2;
    // Full-relay only: the one peer that answers must be heard on addresses,
    // which a block-relay-only connection is not.
    client_config.block_relay_outbound = 0;
    client_config.dial_timeout = Duration::from_millis(300);
    let builder = Builder::new(client_config)
        .listen(loopback())
        .peers_file(&peers)
        .accept_local_addresses(true)
        .record_trace(&trace);
    let (client, mut events) = H::start(builder).unwrap();
    let Event::Connected { id, stream, .. } = until::<H>(&mut events, "Connected", |e| {
        matches!(e, Event::Connected { .. })
    })
    .await
    else {
        unreachable!()
    };
    client.handshaked(id).await.unwrap();
    // The server tells of two more peers.
    let more = vec![
        advertised("127.0.0.2:18444".parse().unwrap()),
        advertised("127.0.0.3:18444".parse().unwrap()),
    ];
    client.learned(Some(id), more).await.unwrap();
    // Every loopback address shares one new bucket, placed by the secret
    // key: one of the two may lose its slot to an address learned before.
    let stats = client.stats().await.unwrap();
    assert_eq!(stats.addresses_offered, 2, "the outbound peer is heard");
    assert!((1..=2).contains(&stats.addresses_learned), "{stats:?}");

    // An inbound peer asks for addresses and is answered.
    let inbound_addr = client.listen_addrs()[0];
    let _dialled = server.connect(inbound_addr, false).await.unwrap();
    let Event::Connected {
        id: inbound,
        stream: inbound_stream,
        ..
    } = until::<H>(&mut events, "inbound", |e| {
        matches!(
            e,
            Event::Connected {
                direction: Direction::Inbound,
                ..
            }
        )
    })
    .await
    else {
        unreachable!()
    };
    client.handshaked(inbound).await.unwrap();
    client.addresses_requested(inbound).await.unwrap();
    let Event::ShareAddresses { id: to, addrs } = until::<H>(&mut events, "ShareAddresses", |e| {
        matches!(e, Event::ShareAddresses { .. })
    })
    .await
    else {
        unreachable!()
    };
    assert_eq!(to, inbound);
    assert!(addrs.len() <= 4, "a share of the book: {addrs:?}");

    drop((stream, inbound_stream));
    let stats = client.shutdown().await.unwrap();
    server.shutdown().await.unwrap();

    let report = connmgr::trace::replay(std::io::BufReader::new(
        std::fs::File::open(&trace).unwrap(),
    ))
    .unwrap();
    assert!(report.is_identical(), "{report}");
    let header = connmgr::trace::TraceReader::new(std::io::BufReader::new(
        std::fs::File::open(&trace).unwrap(),
    ))
    .unwrap()
    .header()
    .clone();
    assert_eq!(
        header.book.map(|b| b.len() as u64),
        Some(saved),
        "the saved book is in the header"
    );
    assert!(stats.inputs > 5);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Anchors across a clean restart: the block-relay-only peer of the first
/// life is saved beside the peers file at shutdown, and the second life
/// dials it first, as block-relay-only, having deleted the file (so a crash
/// now would leave no anchors behind).
async fn anchors_survive_a_clean_restart_and_are_read_once<H: Harness>() {
    let dir = temp_dir(&format!("anchors-{}", H::NAME));
    let peers = dir.join("peers.json");
    let anchors_file = connmgr_store::anchors_path(&peers);
    // Four peers: every loopback address falls in one new bucket of the
    // book, where two may take the same slot (1 in 64); four leave at
    // least two with all but negligible odds.
    let peers_running: Vec<_> = (0..4)
        .map(|_| H::start(Builder::new(config()).listen(loopback())).unwrap())
        .collect();
    let servers: Vec<_> = peers_running
        .iter()
        .map(|(h, _)| h.listen_addrs()[0])
        .collect();
    let client_config = || connmgr::Config {
        automatic_outbound: true,
        target_outbound: 1,
        block_relay_outbound: 1,
        dial_timeout: Duration::from_secs(1),
        ..config()
    };
    let builder = || {
        Builder::new(client_config())
            .peers_file(&peers)
            .accept_local_addresses(true)
    };

    // First life: one full-relay and one block-relay-only peer.
    let (first, mut events) = H::start(builder().seeds(servers)).unwrap();
    let mut block_relay = None;
    let mut held = Vec::new();
    for _ in 0..2 {
        let Event::Connected {
            id,
            addr,
            kind,
            stream,
            ..
        } = until::<H>(&mut events, "Connected", |e| {
            matches!(e, Event::Connected { .. })
        })
        .await
        else {
            unreachable!()
        };
        first.handshaked(id).await.unwrap();
        if kind == ConnKind::BlockRelay {
            block_relay = Some(addr);
        }
        held.push(stream);
    }
    let anchor = block_relay.expect("a block-relay-only peer");
    first.shutdown().await.unwrap();
    let saved = std::fs::read_to_string(&anchors_file).unwrap();
    assert!(saved.contains(&anchor.to_string()), "{saved}");
    drop(held);

    // Second life: the anchor first, and the file gone.
    let (second, mut events) = H::start(builder()).unwrap();
    assert!(!anchors_file.exists(), "read once, then deleted");
    let Event::Connected { addr, kind, .. } = until::<H>(&mut events, "the anchor", |e| {
        matches!(
            e,
            Event::Connected {
                kind: ConnKind::BlockRelay,
                ..
            }
        )
    })
    .await
    else {
        unreachable!()
    };
    assert_eq!((addr, kind), (anchor, ConnKind::BlockRelay));
    assert_eq!(second.stats().await.unwrap().anchors_dialled, 1);
    second.shutdown().await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Instantiates every test above for one harness.
macro_rules! suite {
    ($module:ident, $runtime:ident) => {
        mod $module {
            use super::*;

            fn run<F: std::future::Future<Output = ()> + Send + 'static>(test: F) {
                <common::$runtime as Harness>::run(test)
            }

            #[test]
            fn anchors_survive_a_clean_restart_and_are_read_once() {
                run(super::anchors_survive_a_clean_restart_and_are_read_once::<common::$runtime>())
            }

            #[test]
            fn a_run_with_the_book_inside_replays_identically() {
                run(super::a_run_with_the_book_inside_replays_identically::<common::$runtime>())
            }

            #[test]
            fn connect_and_accept_end_to_end() {
                run(super::connect_and_accept_end_to_end::<common::$runtime>())
            }

            #[test]
            fn a_close_shuts_down_the_stream_the_application_holds() {
                run(super::a_close_shuts_down_the_stream_the_application_holds::<common::$runtime>())
            }

            #[test]
            fn refused_gives_up_or_retries_per_policy() {
                run(super::refused_gives_up_or_retries_per_policy::<common::$runtime>())
            }

            #[test]
            fn a_dial_that_never_completes_hits_the_cores_timeout() {
                run(super::a_dial_that_never_completes_hits_the_cores_timeout::<common::$runtime>())
            }

            #[test]
            fn a_reset_mid_connection_reaches_the_manager() {
                run(super::a_reset_mid_connection_reaches_the_manager::<common::$runtime>())
            }

            #[test]
            fn an_address_in_use_is_a_clear_error_naming_it() {
                run(super::an_address_in_use_is_a_clear_error_naming_it::<common::$runtime>())
            }

            #[test]
            fn automatic_outbound_fills_the_target_from_the_address_source() {
                run(super::automatic_outbound_fills_the_target_from_the_address_source::<
                    common::$runtime,
                >())
            }

            #[test]
            fn inbound_beyond_the_limit_is_closed_by_the_core() {
                run(super::inbound_beyond_the_limit_is_closed_by_the_core::<common::$runtime>())
            }

            #[test]
            fn the_address_book_is_saved_at_shutdown_and_loaded_again() {
                run(super::the_address_book_is_saved_at_shutdown_and_loaded_again::<
                    common::$runtime,
                >())
            }

            #[test]
            fn the_address_book_is_saved_periodically_while_running() {
                run(super::the_address_book_is_saved_periodically_while_running::<
                    common::$runtime,
                >())
            }

            #[test]
            fn a_peer_is_good_only_after_its_handshake() {
                run(super::a_peer_is_good_only_after_its_handshake::<common::$runtime>())
            }

            #[test]
            fn a_recorded_run_replays_identically() {
                run(super::a_recorded_run_replays_identically::<common::$runtime>())
            }
        }
    };
}

suite!(tokio, Tokio);
suite!(smol, Smol);
