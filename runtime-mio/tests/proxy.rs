//! The reactor dialling through a SOCKS5 proxy: onion peers by name with
//! credentials of their own, reported under their own names, and a
//! proxy's failure as the dial's. The proxy is the recording one the
//! shared driver's tests use.

mod common;
#[path = "../../net/tests/support/socks_recorder.rs"]
mod socks_recorder;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::time::Duration;

use common::{manual_config, run_until, Seen};
use connmgr::{DialError, PeerAddr, Proxy, Reason};
use connmgr_mio::Builder;
use socks_recorder::{Answer, Recorder};

const LIMIT: Duration = Duration::from_secs(10);

const ONIONS: [&str; 2] = [
    "pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion:8333",
    "sp3k262uwy4r2k3ycr5awluarykdpag6a7y33jxop4cs2lu5uz5sseqd.onion:8333",
];

#[test]
fn onion_peers_go_to_the_proxy_by_name_with_credentials_of_their_own() {
    let proxy = Recorder::start(Answer::Connect);
    let mut config = manual_config();
    config.networks.onion.proxy = Some(Proxy::new(proxy.addr));
    let mut reactor = Builder::new(config).build().unwrap();
    reactor.start().unwrap();
    let peers: Vec<PeerAddr> = ONIONS.iter().map(|s| s.parse().unwrap()).collect();
    for peer in &peers {
        reactor.connect(*peer, false).unwrap();
    }
    let mut seen = Seen::default();
    assert!(run_until(&mut reactor, &mut seen, LIMIT, |seen, _| seen
        .connected
        == 2));
    let reported: BTreeSet<_> = seen.peers.iter().map(|p| p.peer_addr()).collect();
    assert_eq!(reported, peers.iter().copied().collect(), "their own names");
    // The tunnel carries the application's bytes (the socket is still
    // non-blocking: wait for the echo a bounded while).
    let peer = &mut seen.peers[0];
    peer.write_all(b"ping").unwrap();
    let mut echo = Vec::new();
    let deadline = std::time::Instant::now() + LIMIT;
    while echo.len() < 4 && std::time::Instant::now() < deadline {
        let mut buf = [0u8; 16];
        match peer.read(&mut buf) {
            Ok(n) => echo.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(echo, b"ping");
    let requests = proxy.requests();
    assert!(requests.iter().all(|r| r.atyp == 3), "names: {requests:?}");
    let asked: BTreeSet<_> = requests.iter().map(|r| r.host.clone()).collect();
    let names: BTreeSet<_> = peers.iter().map(|p| p.host().to_string()).collect();
    assert_eq!(asked, names);
    let users: BTreeSet<_> = requests.iter().map(|r| r.user.clone()).collect();
    assert_eq!(users.len(), 2, "one identity per connection");
    assert!(users.iter().all(Option::is_some));
    drop(seen);
    reactor.shutdown().unwrap();
}

#[test]
fn a_proxys_failure_is_the_dials() {
    let cases = [
        (
            Recorder::start(Answer::Refuse(0x05)).addr,
            DialError::Refused,
        ),
        (
            Recorder::start(Answer::Refuse(0xf6)).addr,
            DialError::Unreachable,
        ),
        (common::refused_addr(), DialError::Refused),
    ];
    for (proxy, expected) in cases {
        let mut config = manual_config();
        config.networks.onion.proxy = Some(Proxy::new(proxy));
        let mut reactor = Builder::new(config).build().unwrap();
        reactor.start().unwrap();
        let id = reactor
            .connect(ONIONS[0].parse::<PeerAddr>().unwrap(), false)
            .unwrap();
        let mut seen = Seen::default();
        assert!(run_until(&mut reactor, &mut seen, LIMIT, |seen, _| !seen
            .gave_up
            .is_empty()));
        assert_eq!(
            seen.gave_up,
            [(id, Reason::DialFailed(expected))],
            "{proxy}"
        );
        reactor.shutdown().unwrap();
    }
}

#[test]
fn an_onion_services_listener_counts_its_connections_as_tor() {
    let mut config = manual_config();
    config.networks.onion.max_inbound = Some(1);
    let mut reactor = Builder::new(config)
        .listen_as("127.0.0.1:0".parse().unwrap(), connmgr::Network::Onion)
        .build()
        .unwrap();
    reactor.start().unwrap();
    let target = reactor.listen_addrs()[0];
    let _first = std::net::TcpStream::connect(target).unwrap();
    let _second = std::net::TcpStream::connect(target).unwrap();
    let mut seen = Seen::default();
    assert!(run_until(
        &mut reactor,
        &mut seen,
        LIMIT,
        |_, reactor| reactor.manager().stats().inbound_rejected_network_limit == 1
    ));
    assert_eq!(reactor.manager().counts().inbound, 1);
    drop(seen);
    reactor.shutdown().unwrap();
}
