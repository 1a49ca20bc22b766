//! Every runtime dials an IP peer through a real SOCKS5 server
//! (`microsocks`), on loopback: the core routes IPv4 through the proxy,
//! the runtime runs the shared handshake, the peer is reported under its
//! own address, and bytes flow both ways through the tunnel.

mod common;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use common::{echo_server, Proxy};
use connmgr::{Config, Event};

const LIMIT: Duration = Duration::from_secs(10);

/// Manual connections only, IPv4 through `proxy` (microsocks has no
/// credentials configured, so no isolation: it would refuse them).
fn config(proxy: SocketAddr) -> Config {
    let mut config = Config {
        automatic_outbound: false,
        ..Config::default()
    };
    config.networks.ipv4.proxy = Some(connmgr::Proxy {
        addr: proxy,
        isolate: false,
    });
    config
}

#[test]
fn tokio_reaches_an_ip_peer_through_the_proxy() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let proxy = Proxy::start(None);
    let peer = echo_server();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (handle, mut events) = connmgr_tokio::Builder::new(config(proxy.addr))
            .spawn()
            .unwrap();
        handle.connect(peer, false).await.unwrap();
        let event = tokio::time::timeout(LIMIT, events.recv()).await.unwrap();
        let Some(Event::Connected {
            addr, mut stream, ..
        }) = event
        else {
            panic!("expected Connected");
        };
        assert_eq!(addr, peer);
        stream.write_all(b"version").await.unwrap();
        let mut back = [0u8; 7];
        stream.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"version");
        handle.shutdown().await.unwrap();
    });
}

#[test]
fn smol_reaches_an_ip_peer_through_the_proxy() {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    let proxy = Proxy::start(None);
    let peer = echo_server();
    async_io::block_on(async {
        let (handle, mut events, driver) = connmgr_smol::Builder::new(config(proxy.addr))
            .build()
            .unwrap();
        let test = async {
            handle.connect(peer, false).await.unwrap();
            let Some(Event::Connected {
                addr, mut stream, ..
            }) = events.recv().await
            else {
                panic!("expected Connected");
            };
            assert_eq!(addr, peer);
            stream.write_all(b"version").await.unwrap();
            let mut back = [0u8; 7];
            stream.read_exact(&mut back).await.unwrap();
            assert_eq!(&back, b"version");
            handle.shutdown().await.unwrap();
        };
        let limit = async {
            async_io::Timer::after(LIMIT).await;
            panic!("timed out");
        };
        futures_lite::future::or(futures_lite::future::zip(test, driver), limit).await;
    });
}

#[test]
fn mio_reaches_an_ip_peer_through_the_proxy() {
    let proxy = Proxy::start(None);
    let peer = echo_server();
    let mut reactor = connmgr_mio::Builder::new(config(proxy.addr))
        .build()
        .unwrap();
    reactor.start().unwrap();
    reactor.connect(peer, false).unwrap();
    let mut stream = None;
    let deadline = std::time::Instant::now() + LIMIT;
    while stream.is_none() && std::time::Instant::now() < deadline {
        reactor
            .run_for(Duration::from_millis(10), |_, event| {
                if let connmgr_mio::LoopEvent::Peer(Event::Connected { stream: s, .. }) = event {
                    stream = Some(s);
                }
            })
            .unwrap();
    }
    let mut stream = stream.expect("connected through the proxy");
    assert_eq!(stream.peer_addr(), peer);
    stream.write_all(b"version").unwrap();
    let mut back = Vec::new();
    while back.len() < 7 && std::time::Instant::now() < deadline {
        let mut buf = [0u8; 16];
        match stream.read(&mut buf) {
            Ok(n) => back.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(back, b"version");
    drop(stream);
    reactor.shutdown().unwrap();
}
