//! Dialling through a SOCKS5 proxy, once per runtime of the shared driver:
//! peers go to the proxy by name or address as the core's route says, with
//! credentials of their own, are reported under their own address, and a
//! proxy's failure is the dial's. The proxy is a recording one
//! (`support/socks_recorder.rs`); `system-tests/` runs a real one.

mod common;
#[path = "support/socks_recorder.rs"]
mod socks_recorder;

use std::collections::BTreeSet;
use std::time::Duration;

use connmgr::{DialError, Event, Network, PeerAddr, Proxy, Reason};
use connmgr_net::Builder;

use common::*;
use socks_recorder::{Answer, Recorder};

const ONIONS: [&str; 2] = [
    "pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion:8333",
    "sp3k262uwy4r2k3ycr5awluarykdpag6a7y33jxop4cs2lu5uz5sseqd.onion:8333",
];

async fn onion_peers_go_to_the_proxy_by_name_with_credentials_of_their_own<H: Harness>() {
    let proxy = Recorder::start(Answer::Connect);
    let mut config = config();
    config.networks.onion.proxy = Some(Proxy::new(proxy.addr));
    let (client, mut events) = H::start(Builder::new(config)).unwrap();
    let peers: Vec<PeerAddr> = ONIONS.iter().map(|s| s.parse().unwrap()).collect();
    for peer in &peers {
        client.connect(*peer, false).await.unwrap();
    }
    let (mut reported, mut streams) = (BTreeSet::new(), Vec::new());
    for _ in &peers {
        let event = next::<H>(&mut events, "Connected").await;
        let Event::Connected {
            addr, mut stream, ..
        } = event
        else {
            panic!("expected Connected");
        };
        reported.insert(addr);
        // The tunnel carries the application's bytes, nothing of the
        // handshake's.
        H::write_all(&mut stream, b"ping").await.unwrap();
        let mut echo = [0u8; 4];
        let mut got = 0;
        while got < 4 {
            got += H::read(&mut stream, &mut echo[got..]).await.unwrap();
        }
        assert_eq!(&echo, b"ping");
        streams.push(stream);
    }
    assert_eq!(
        reported,
        peers.iter().copied().collect(),
        "under their own names"
    );
    let requests = proxy.requests();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert_eq!(
            request.atyp, 3,
            "a domain name: resolved by the proxy, not here"
        );
        assert_eq!(request.port, 8333);
    }
    let asked: BTreeSet<_> = requests.iter().map(|r| r.host.clone()).collect();
    let names: BTreeSet<_> = peers.iter().map(|p| p.host().to_string()).collect();
    assert_eq!(asked, names);
    let users: BTreeSet<_> = requests.iter().map(|r| r.user.clone()).collect();
    assert_eq!(users.len(), 2, "one identity per connection: {requests:?}");
    assert!(users.iter().all(Option::is_some));
    client.shutdown().await.unwrap();
}

async fn an_ip_network_with_a_proxy_sends_its_peers_by_address<H: Harness>() {
    let proxy = Recorder::start(Answer::Connect);
    let mut config = config();
    config.networks.ipv4.proxy = Some(Proxy {
        addr: proxy.addr,
        isolate: false,
    });
    let (client, mut events) = H::start(Builder::new(config)).unwrap();
    let peer: PeerAddr = "203.0.113.5:8333".parse().unwrap();
    client.connect(peer, false).await.unwrap();
    let Event::Connected { addr, .. } = next::<H>(&mut events, "Connected").await else {
        panic!("expected Connected");
    };
    assert_eq!(addr, peer, "the peer's address, not the proxy's");
    let requests = proxy.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        (
            requests[0].atyp,
            requests[0].host.as_str(),
            requests[0].user.clone()
        ),
        (1, "203.0.113.5", None),
        "by address, without credentials when isolation is off"
    );
    client.shutdown().await.unwrap();
}

async fn a_proxys_failure_is_the_dials<H: Harness>() {
    let hole = blackhole();
    let cases = [
        (
            Recorder::start(Answer::Refuse(0x05)).addr,
            DialError::Refused,
        ),
        (
            Recorder::start(Answer::Refuse(0x04)).addr,
            DialError::Unreachable,
        ),
        (
            Recorder::start(Answer::Refuse(0xf0)).addr,
            DialError::Unreachable,
        ),
        (closed_port(), DialError::Refused),
        (hole.addr, DialError::TimedOut),
    ];
    for (proxy, expected) in cases {
        let mut config = config();
        config.dial_timeout = Duration::from_millis(300);
        config.networks.onion.proxy = Some(Proxy::new(proxy));
        let (client, mut events) = H::start(Builder::new(config)).unwrap();
        let peer: PeerAddr = ONIONS[0].parse().unwrap();
        let id = client.connect(peer, false).await.unwrap();
        let Event::GaveUp { id: got, reason } = next::<H>(&mut events, "GaveUp").await else {
            panic!("expected GaveUp");
        };
        assert_eq!((got, reason), (id, Reason::DialFailed(expected)), "{proxy}");
        client.shutdown().await.unwrap();
    }
}

async fn an_onion_peer_without_a_proxy_is_unreachable<H: Harness>() {
    let (client, mut events) = H::start(Builder::new(config())).unwrap();
    let peer: PeerAddr = ONIONS[0].parse().unwrap();
    let id = client.connect(peer, false).await.unwrap();
    let Event::GaveUp { id: got, reason } = next::<H>(&mut events, "GaveUp").await else {
        panic!("expected GaveUp");
    };
    assert_eq!(
        (got, reason),
        (id, Reason::DialFailed(DialError::Unreachable))
    );
    client.shutdown().await.unwrap();
}

async fn an_onion_services_listener_counts_its_connections_as_tor<H: Harness>() {
    let mut config = config();
    config.networks.onion.max_inbound = Some(1);
    let (server, mut server_events) =
        H::start(Builder::new(config).listen_as(loopback(), Network::Onion)).unwrap();
    let (client, _client_events) = H::start(Builder::new(common::config())).unwrap();
    let target = server.listen_addrs()[0];
    client.connect(target, false).await.unwrap();
    let Event::Connected { stream, .. } = next::<H>(&mut server_events, "inbound").await else {
        panic!("expected Connected");
    };
    // From 127.0.0.1 like every Tor connection, yet Tor's: its limit of
    // one refuses the second.
    client.connect(target, false).await.unwrap();
    eventually::<H, _>("the second refused at Tor's limit", || async {
        server.stats().await.unwrap().inbound_rejected_network_limit == 1
    })
    .await;
    drop(stream);
    client.shutdown().await.unwrap();
    server.shutdown().await.unwrap();
}

macro_rules! suite {
    ($module:ident, $runtime:ident) => {
        mod $module {
            use super::*;

            fn run<F: std::future::Future<Output = ()> + Send + 'static>(test: F) {
                <common::$runtime as Harness>::run(test)
            }

            #[test]
            fn onion_peers_go_to_the_proxy_by_name_with_credentials_of_their_own() {
                run(super::onion_peers_go_to_the_proxy_by_name_with_credentials_of_their_own::<
                    common::$runtime,
                >())
            }

            #[test]
            fn an_ip_network_with_a_proxy_sends_its_peers_by_address() {
                run(super::an_ip_network_with_a_proxy_sends_its_peers_by_address::<
                    common::$runtime,
                >())
            }

            #[test]
            fn a_proxys_failure_is_the_dials() {
                run(super::a_proxys_failure_is_the_dials::<common::$runtime>())
            }

            #[test]
            fn an_onion_services_listener_counts_its_connections_as_tor() {
                run(super::an_onion_services_listener_counts_its_connections_as_tor::<
                    common::$runtime,
                >())
            }

            #[test]
            fn an_onion_peer_without_a_proxy_is_unreachable() {
                run(super::an_onion_peer_without_a_proxy_is_unreachable::<common::$runtime>())
            }
        }
    };
}

suite!(tokio, Tokio);
suite!(smol, Smol);
