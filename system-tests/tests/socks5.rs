//! `connmgr_net::socks5::Handshake` against a real SOCKS5 server,
//! `microsocks` (Debian's package, installed by `.ci/run`), on loopback:
//! a tunnel to a local listener carries bytes both ways, credentials are
//! checked by the server, and a refused connection comes back as the dial
//! error the core backs off by.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use common::{echo_server, Proxy};

use connmgr::DialError;
use connmgr_net::socks5::{Credentials, Handshake, Progress, Socks5Error};

/// Runs `socks` over a fresh connection to the proxy, at most 5 s.
fn handshake(proxy: SocketAddr, mut socks: Handshake) -> Result<TcpStream, Socks5Error> {
    let mut stream = TcpStream::connect(proxy).expect("the proxy accepts");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 512];
    for _ in 0..16 {
        stream.write_all(&socks.take_output()).unwrap();
        let n = stream.read(&mut buf).expect("the proxy answers within 5 s");
        assert!(n > 0, "the proxy closed the connection mid-handshake");
        if socks.received(&buf[..n])? == Progress::Connected {
            assert!(socks.take_leftover().is_empty());
            return Ok(stream);
        }
    }
    panic!("no answer after 16 rounds");
}

#[test]
fn an_ip_peer_is_reached_through_the_proxy_and_bytes_flow_both_ways() {
    let proxy = Proxy::start(None);
    let peer = echo_server();
    let mut tunnel = handshake(proxy.addr, Handshake::new(peer.into(), None)).unwrap();
    tunnel.write_all(b"version").unwrap();
    let mut back = [0u8; 7];
    tunnel.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"version");
}

#[test]
fn the_server_checks_the_credentials() {
    let proxy = Proxy::start(Some(("alice", "s3cret")));
    let peer = echo_server();
    let good = Credentials::new("alice", "s3cret");
    assert!(handshake(proxy.addr, Handshake::new(peer.into(), good)).is_ok());
    let wrong = Credentials::new("alice", "guess");
    let refused = handshake(proxy.addr, Handshake::new(peer.into(), wrong));
    assert_eq!(refused.unwrap_err(), Socks5Error::AuthRejected);
    let none = handshake(proxy.addr, Handshake::new(peer.into(), None));
    assert_eq!(none.unwrap_err(), Socks5Error::NoAcceptableMethod);
}

#[test]
fn a_refused_peer_is_a_refused_dial() {
    let proxy = Proxy::start(None);
    let closed = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap();
    let error = handshake(proxy.addr, Handshake::new(closed.into(), None)).unwrap_err();
    assert_eq!(error, Socks5Error::Reply(5), "{error}");
    assert_eq!(error.dial_error(), DialError::Refused);
}
