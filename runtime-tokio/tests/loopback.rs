//! The tokio adapter end to end on loopback: every test is bounded by
//! `common::WAIT` per wait and a global timeout.

mod common;

use std::io::BufReader;
use std::time::Duration;

use connmgr::{DialError, Direction, Reason};
use connmgr_store::StaticList;
use connmgr_tokio::{BuildError, Builder, Error, Event};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use common::*;

/// Runs a test body with a hard time limit.
async fn bounded<F: std::future::Future<Output = ()>>(f: F) {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("test exceeded 30 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_and_accept_end_to_end() {
    bounded(async {
        let (server, mut server_events) =
            Builder::new(config()).listen(loopback()).spawn().unwrap();
        let (client, mut client_events) = Builder::new(config()).spawn().unwrap();
        let addr = server.listen_addrs()[0];
        assert_ne!(addr.port(), 0);

        let id = client.connect(addr, false).await.unwrap();
        let Event::Connected {
            id: got,
            addr: remote,
            direction,
            permanent,
            mut stream,
        } = next(&mut client_events, "outbound Connected").await
        else {
            panic!("expected Connected");
        };
        assert_eq!(
            (got, remote, direction, permanent),
            (id, addr, Direction::Outbound, false)
        );
        assert_eq!(stream.link().id(), id);
        let Event::Connected {
            id: inbound_id,
            direction,
            stream: mut inbound,
            ..
        } = next(&mut server_events, "inbound Connected").await
        else {
            panic!("expected Connected");
        };
        assert_eq!(direction, Direction::Inbound);
        assert_eq!(inbound.link().peer_addr(), stream.local_addr().unwrap());

        // Data flows both ways.
        stream.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        inbound.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        inbound.write_all(b"pong").await.unwrap();
        stream.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"pong");

        let counts = client.counts().await.unwrap();
        assert_eq!(counts.manual_established, 1);
        assert_eq!(server.counts().await.unwrap().inbound, 1);

        // The client drops its stream: its manager hears Closed; the server's
        // stream reads end-of-file, which tells the server's manager.
        drop(stream);
        let Event::Disconnected { id: d, reason } = next(&mut client_events, "Disconnected").await
        else {
            panic!("expected Disconnected");
        };
        assert_eq!((d, reason), (id, Reason::PeerClosed));
        let mut rest = Vec::new();
        assert_eq!(inbound.read_to_end(&mut rest).await.unwrap(), 0);
        assert!(inbound.link().is_closed());
        let Event::Disconnected { id: d, reason } =
            next(&mut server_events, "inbound Disconnected").await
        else {
            panic!("expected Disconnected");
        };
        assert_eq!((d, reason), (inbound_id, Reason::PeerClosed));
        assert_eq!(server.counts().await.unwrap().inbound, 0);

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
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_shuts_down_the_stream_the_application_holds() {
    bounded(async {
        let (server, mut server_events) =
            Builder::new(config()).listen(loopback()).spawn().unwrap();
        let (client, mut client_events) = Builder::new(config()).spawn().unwrap();
        let id = client
            .connect(server.listen_addrs()[0], false)
            .await
            .unwrap();
        let Event::Connected { mut stream, .. } = next(&mut client_events, "Connected").await
        else {
            panic!("expected Connected");
        };
        let Event::Connected {
            stream: mut inbound,
            ..
        } = next(&mut server_events, "inbound").await
        else {
            panic!("expected Connected");
        };

        // The application still holds `stream`; the manager closes it.
        client.disconnect(id).await.unwrap();
        let Event::Disconnected { reason, .. } = next(&mut client_events, "Disconnected").await
        else {
            panic!("expected Disconnected");
        };
        assert_eq!(reason, Reason::Disconnected);
        let mut buf = [0u8; 8];
        assert_eq!(
            stream.read(&mut buf).await.unwrap(),
            0,
            "shut down: end-of-file"
        );
        assert!(
            stream.write_all(b"x").await.is_err(),
            "shut down: writes fail"
        );
        // The peer sees the end too.
        assert_eq!(inbound.read(&mut buf).await.unwrap(), 0);
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
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_gives_up_or_retries_per_policy() {
    bounded(async {
        let (client, mut events) = Builder::new(config()).spawn().unwrap();
        let addr = closed_port();

        // A manual request tries once and gives up.
        let id = client.connect(addr, false).await.unwrap();
        let Event::GaveUp { id: got, reason } = next(&mut events, "GaveUp").await else {
            panic!("expected GaveUp");
        };
        assert_eq!((got, reason), (id, Reason::DialFailed(DialError::Refused)));

        // A permanent one is redialled with backoff until the peer appears.
        let id = client.connect(addr, true).await.unwrap();
        let deadline = tokio::time::Instant::now() + WAIT;
        while client.stats().await.unwrap().retries_scheduled < 3 {
            assert!(tokio::time::Instant::now() < deadline, "no retries");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let Event::Connected {
            id: got,
            permanent,
            stream,
            ..
        } = until(&mut events, "Connected", |e| {
            matches!(e, Event::Connected { .. })
        })
        .await
        else {
            unreachable!()
        };
        assert_eq!((got, permanent), (id, true));
        let (_peer, _) = listener.accept().await.unwrap();

        // Remove ends it for good.
        client.remove(id).await.unwrap();
        let Event::Disconnected { reason, .. } = next(&mut events, "Disconnected").await else {
            panic!("expected Disconnected");
        };
        assert_eq!(reason, Reason::Removed);
        drop(stream);
        let stats = client.shutdown().await.unwrap();
        assert!(stats.dial_failures >= 4, "{stats:?}");
        assert_eq!(stats.dial_successes, 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dial_that_never_completes_hits_the_cores_timeout() {
    bounded(async {
        let hole = blackhole();
        let mut config = config();
        config.dial_timeout = Duration::from_millis(300);
        let (client, mut events) = Builder::new(config).spawn().unwrap();
        let started = std::time::Instant::now();
        let id = client.connect(hole.addr, false).await.unwrap();
        let Event::GaveUp { id: got, reason } = next(&mut events, "GaveUp").await else {
            panic!("expected GaveUp");
        };
        let took = started.elapsed();
        assert_eq!((got, reason), (id, Reason::DialFailed(DialError::TimedOut)));
        assert!(took >= Duration::from_millis(290), "gave up after {took:?}");
        let stats = client.shutdown().await.unwrap();
        assert_eq!((stats.dial_timeouts, stats.dial_failures), (1, 1));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_mid_connection_reaches_the_manager() {
    bounded(async {
        let peer = tokio::net::TcpListener::bind(loopback()).await.unwrap();
        let (client, mut events) = Builder::new(config()).spawn().unwrap();
        let id = client
            .connect(peer.local_addr().unwrap(), false)
            .await
            .unwrap();
        let (mut remote, _) = peer.accept().await.unwrap();
        let Event::Connected { mut stream, .. } = next(&mut events, "Connected").await else {
            panic!("expected Connected");
        };
        remote.write_all(b"half a message").await.unwrap();
        // SO_LINGER 0: close sends a reset.
        socket2::SockRef::from(&remote)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(remote);

        let mut buf = Vec::new();
        let err = loop {
            let mut chunk = [0u8; 64];
            match stream.read(&mut chunk).await {
                Ok(0) => panic!("end-of-file instead of a reset"),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}");
        assert!(stream.link().is_closed());
        let Event::Disconnected { id: got, reason } = next(&mut events, "Disconnected").await
        else {
            panic!("expected Disconnected");
        };
        assert_eq!((got, reason), (id, Reason::PeerClosed));
        let stats = client.shutdown().await.unwrap();
        assert_eq!(stats.disconnected, 1);
        assert_eq!(
            stats.ignored_inputs, 0,
            "the drop after the reset is not reported twice"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_in_use_is_a_clear_error_naming_it() {
    bounded(async {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let err = Builder::new(config())
            .listen(loopback())
            .listen(addr)
            .spawn()
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
        let (handle, _events) = Builder::new(config()).listen(addr).spawn().unwrap();
        handle.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawning_outside_a_runtime_says_so() {
    let err = std::thread::spawn(|| Builder::new(config()).spawn().map(drop).unwrap_err())
        .join()
        .unwrap();
    assert!(matches!(err, BuildError::Runtime(_)), "{err}");
    assert!(err.to_string().contains("within a tokio runtime"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_outbound_fills_the_target_from_the_address_source() {
    bounded(async {
        let mut servers = Vec::new();
        for _ in 0..3 {
            servers.push(Builder::new(config()).listen(loopback()).spawn().unwrap());
        }
        let seeds: Vec<_> = servers.iter().map(|(h, _)| h.listen_addrs()[0]).collect();
        let mut config = config();
        config.automatic_outbound = true;
        config.target_outbound = 3;
        // The default source: the address book, with loopback let in.
        let (client, mut events) = Builder::new(config.clone())
            .seeds(seeds.clone())
            .accept_local_addresses(true)
            .spawn()
            .unwrap();
        let mut streams = Vec::new();
        let mut addrs = Vec::new();
        while streams.len() < 3 {
            if let Event::Connected { addr, stream, .. } = until(&mut events, "Connected", |e| {
                matches!(e, Event::Connected { .. })
            })
            .await
            {
                addrs.push(addr);
                streams.push(stream);
            }
        }
        addrs.sort();
        let mut want = seeds.clone();
        want.sort();
        assert_eq!(addrs, want, "one connection to each seed");
        assert_eq!(client.counts().await.unwrap().automatic_established, 3);

        // A static list works the same way.
        let (other, mut other_events) = Builder::new(config)
            .address_source(Box::new(StaticList::new(seeds)))
            .spawn()
            .unwrap();
        for _ in 0..3 {
            until(&mut other_events, "Connected", |e| {
                matches!(e, Event::Connected { .. })
            })
            .await;
        }
        other.shutdown().await.unwrap();
        client.shutdown().await.unwrap();
        for (server, _) in servers {
            server.shutdown().await.unwrap();
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_beyond_the_limit_is_closed_by_the_core() {
    bounded(async {
        let mut server_config = config();
        server_config.max_inbound = 1;
        let (server, mut server_events) = Builder::new(server_config)
            .listen(loopback())
            .spawn()
            .unwrap();
        let addr = server.listen_addrs()[0];
        let first = tokio::net::TcpStream::connect(addr).await.unwrap();
        let Event::Connected { stream: _held, .. } = next(&mut server_events, "inbound").await
        else {
            panic!("expected Connected");
        };
        let mut second = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut buf = [0u8; 1];
        let n = tokio::time::timeout(WAIT, second.read(&mut buf))
            .await
            .expect("closed");
        assert!(
            matches!(n, Ok(0) | Err(_)),
            "refused connection closed: {n:?}"
        );
        let stats = server.shutdown().await.unwrap();
        assert_eq!(
            (stats.inbound_accepted, stats.inbound_rejected_full),
            (1, 1)
        );
        drop(first);
    })
    .await;
}

/// Peers files survive a restart: what the book learned is saved at
/// shutdown and loaded by the next run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_address_book_is_saved_at_shutdown_and_loaded_again() {
    bounded(async {
        let dir = temp_dir("peers");
        let path = dir.join("peers.json");
        let (handle, _events) = Builder::new(config())
            .peers_file(&path)
            .accept_local_addresses(true)
            .spawn()
            .unwrap();
        let learned: std::net::SocketAddr = "127.0.0.1:18444".parse().unwrap();
        handle.learned(learned, learned.ip()).await.unwrap();
        handle.shutdown().await.unwrap();
        let book = connmgr_store::load(&path, 1).unwrap().expect("saved");
        assert!(book.contains(learned));
        std::fs::remove_dir_all(&dir).unwrap();
    })
    .await;
}

/// A real run on loopback, recorded on both sides, replays identically.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_run_replays_identically() {
    bounded(async {
        let dir = temp_dir("trace");
        let (server_trace, client_trace) = (dir.join("server.jsonl"), dir.join("client.jsonl"));
        let (server, mut server_events) = Builder::new(config())
            .listen(loopback())
            .record_trace(&server_trace)
            .spawn()
            .unwrap();
        let mut client_config = config();
        client_config.automatic_outbound = true;
        client_config.target_outbound = 2;
        client_config.dial_timeout = Duration::from_millis(300);
        let addr = server.listen_addrs()[0];
        let hole = blackhole();
        let (client, mut client_events) = Builder::new(client_config)
            .address_source(Box::new(StaticList::new(vec![addr, closed_port()])))
            .record_trace(&client_trace)
            .spawn()
            .unwrap();

        // Automatic connections, some refused; a permanent peer that drops
        // and comes back; a timed-out dial; an application disconnect.
        let permanent = client.connect(addr, true).await.unwrap();
        let timed_out = client.connect(hole.addr, false).await.unwrap();
        until(
            &mut client_events,
            "timeout",
            |e| matches!(e, Event::GaveUp { id, .. } if *id == timed_out),
        )
        .await;
        let mut held = Vec::new();
        let mut permanent_seen = 0;
        while permanent_seen < 2 {
            match next(&mut client_events, "events").await {
                Event::Connected { id, stream, .. } if id == permanent => {
                    permanent_seen += 1;
                    if permanent_seen == 1 {
                        drop(stream); // it drops: redialled
                    } else {
                        held.push(stream);
                    }
                }
                Event::Connected { stream, .. } => held.push(stream),
                _ => {}
            }
            while let Some(event) = server_events.try_recv() {
                if let Event::Connected { stream, .. } = event {
                    held.push(stream);
                }
            }
        }
        if let Some(auto) = held
            .iter()
            .find(|s| s.link().id() != permanent)
            .map(|s| s.link().id())
        {
            let _ = client.disconnect(auto).await;
        }
        let client_stats = client.shutdown().await.unwrap();
        server.shutdown().await.unwrap();
        drop(held);

        for (path, who) in [(&client_trace, "client"), (&server_trace, "server")] {
            let file = std::fs::File::open(path).unwrap();
            let report = connmgr::trace::replay(BufReader::new(file)).unwrap();
            assert!(report.is_identical(), "{who}: {report}");
            println!("{who}: {report}");
        }
        let file = std::fs::File::open(&client_trace).unwrap();
        let connmgr::trace::ReplayReport::Identical { inputs, .. } =
            connmgr::trace::replay(BufReader::new(file)).unwrap()
        else {
            unreachable!()
        };
        assert_eq!(inputs, client_stats.inputs, "every input was recorded");
        assert!(client_stats.dial_failures >= 1 && client_stats.dial_timeouts == 1);
        std::fs::remove_dir_all(&dir).unwrap();
    })
    .await;
}
