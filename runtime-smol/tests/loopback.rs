//! The smol adapter on loopback: end to end, refused, a manager's close of a
//! stream the application holds, a reset, and a recorded run replayed.
//! Each driver runs on a thread of its own; every wait is bounded.

use std::future::Future;
use std::io::BufReader;
use std::net::SocketAddr;
use std::time::Duration;

use async_io::Timer;
use connmgr::{Config, DialError, Direction, Reason};
use connmgr_smol::{Builder, Event, Events, Handle};
use connmgr_store::StaticList;
use futures_lite::{future, AsyncReadExt, AsyncWriteExt};

const WAIT: Duration = Duration::from_secs(10);

fn config() -> Config {
    Config {
        automatic_outbound: false,
        retry_interval: Duration::from_millis(50),
        max_retry_interval: Duration::from_millis(200),
        ..Config::default()
    }
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Builds a manager and runs its driver on a thread.
fn start(builder: Builder) -> (Handle, Events) {
    let (handle, events, driver) = builder.build().unwrap();
    std::thread::spawn(|| async_io::block_on(driver));
    (handle, events)
}

/// Runs a test body with a hard time limit.
fn bounded(body: impl Future<Output = ()>) {
    async_io::block_on(future::or(body, async {
        Timer::after(Duration::from_secs(30)).await;
        panic!("test exceeded 30 s");
    }));
}

async fn next(events: &mut Events, what: &str) -> Event {
    future::or(
        async {
            events
                .recv()
                .await
                .unwrap_or_else(|| panic!("events ended: {what}"))
        },
        async {
            Timer::after(WAIT).await;
            panic!("timed out waiting for {what}");
        },
    )
    .await
}

async fn until(events: &mut Events, what: &str, f: impl Fn(&Event) -> bool) -> Event {
    loop {
        let event = next(events, what).await;
        if f(&event) {
            return event;
        }
    }
}

fn closed_port() -> SocketAddr {
    std::net::TcpListener::bind(loopback())
        .unwrap()
        .local_addr()
        .unwrap()
}

#[test]
fn connect_and_accept_end_to_end() {
    bounded(async {
        let (server, mut server_events) = start(Builder::new(config()).listen(loopback()));
        let (client, mut client_events) = start(Builder::new(config()));
        let addr = server.listen_addrs()[0];
        let id = client.connect(addr, false).await.unwrap();
        let Event::Connected {
            id: got,
            direction,
            mut stream,
            ..
        } = next(&mut client_events, "Connected").await
        else {
            panic!("expected Connected");
        };
        assert_eq!((got, direction), (id, Direction::Outbound));
        let Event::Connected {
            id: inbound_id,
            stream: mut inbound,
            ..
        } = next(&mut server_events, "inbound").await
        else {
            panic!("expected Connected");
        };
        stream.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        inbound.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");

        drop(stream);
        let Event::Disconnected { id: d, reason } = next(&mut client_events, "Disconnected").await
        else {
            panic!("expected Disconnected");
        };
        assert_eq!((d, reason), (id, Reason::PeerClosed));
        let mut rest = Vec::new();
        assert_eq!(inbound.read_to_end(&mut rest).await.unwrap(), 0);
        let Event::Disconnected { id: d, .. } =
            next(&mut server_events, "inbound Disconnected").await
        else {
            panic!("expected Disconnected");
        };
        assert_eq!(d, inbound_id);

        let stats = client.shutdown().await.unwrap();
        assert_eq!(
            (
                stats.dial_successes,
                stats.disconnected,
                stats.ignored_inputs
            ),
            (1, 1, 0)
        );
        let stats = server.shutdown().await.unwrap();
        assert_eq!((stats.inbound_accepted, stats.ignored_inputs), (1, 0));
        assert!(client_events.recv().await.is_none());
    });
}

#[test]
fn refused_and_manager_close_and_reset() {
    bounded(async {
        let (client, mut events) = start(Builder::new(config()));
        // Refused: a manual request gives up.
        let id = client.connect(closed_port(), false).await.unwrap();
        let Event::GaveUp { id: got, reason } = next(&mut events, "GaveUp").await else {
            panic!("expected GaveUp");
        };
        assert_eq!((got, reason), (id, Reason::DialFailed(DialError::Refused)));

        // The manager closes a stream the application holds: shutdown(2).
        let peer = std::net::TcpListener::bind(loopback()).unwrap();
        let id = client
            .connect(peer.local_addr().unwrap(), false)
            .await
            .unwrap();
        let Event::Connected { mut stream, .. } = next(&mut events, "Connected").await else {
            panic!("expected Connected");
        };
        client.disconnect(id).await.unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(stream.read(&mut buf).await.unwrap(), 0);
        drop(stream);

        // A reset mid-connection reaches the manager.
        let id = client
            .connect(peer.local_addr().unwrap(), false)
            .await
            .unwrap();
        let Event::Connected { mut stream, .. } = until(&mut events, "Connected", |e| {
            matches!(e, Event::Connected { .. })
        })
        .await
        else {
            unreachable!()
        };
        let (_first, _) = peer.accept().unwrap();
        let (remote, _) = peer.accept().unwrap();
        socket2::SockRef::from(&remote)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(remote);
        let err = stream.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
        let Event::Disconnected { id: got, reason } = until(
            &mut events,
            "Disconnected",
            |e| matches!(e, Event::Disconnected { id: d, .. } if *d == id),
        )
        .await
        else {
            unreachable!()
        };
        assert_eq!((got, reason), (id, Reason::PeerClosed));
        client.shutdown().await.unwrap();
    });
}

#[test]
fn a_recorded_run_replays_identically() {
    let dir = std::env::temp_dir().join(format!("connmgr-smol-trace-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (server_trace, client_trace) = (dir.join("server.jsonl"), dir.join("client.jsonl"));
    bounded(async {
        let (server, mut server_events) = start(
            Builder::new(config())
                .listen(loopback())
                .record_trace(&server_trace),
        );
        let addr = server.listen_addrs()[0];
        let client_config = Config {
            automatic_outbound: true,
            target_outbound: 2,
            ..config()
        };
        let (client, mut client_events) = start(
            Builder::new(client_config)
                .address_source(Box::new(StaticList::new(vec![addr, closed_port()])))
                .record_trace(&client_trace),
        );
        let permanent = client.connect(addr, true).await.unwrap();
        let mut held = Vec::new();
        let mut permanent_seen = 0;
        while permanent_seen < 2 {
            match next(&mut client_events, "events").await {
                Event::Connected { id, stream, .. } if id == permanent => {
                    permanent_seen += 1;
                    if permanent_seen == 1 {
                        drop(stream);
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
        let stats = client.shutdown().await.unwrap();
        server.shutdown().await.unwrap();
        drop(held);
        assert!(stats.dial_failures >= 1, "{stats:?}");
        for path in [&client_trace, &server_trace] {
            let report =
                connmgr::trace::replay(BufReader::new(std::fs::File::open(path).unwrap())).unwrap();
            assert!(report.is_identical(), "{}: {report}", path.display());
        }
    });
    std::fs::remove_dir_all(&dir).unwrap();
}
