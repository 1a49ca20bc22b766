//! Bitcoin Core's address parsing and BIP155 vectors (`net_tests.cpp`,
//! `netbase_tests.cpp`), in tests named after Core's, and round trips.

use std::net::{IpAddr, Ipv6Addr};

use proptest::prelude::*;

use super::parse::split_host_port;
use super::*;

const TORV3: &str = "pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion";
const TORV3_KEY: &str = "79bcc625184b05194975c28b66b66b0469f7f6556fb1ac3189a79b40dda32f1f";

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn host(text: &str) -> Host {
    text.parse().unwrap_or_else(|e| panic!("{e}"))
}

fn error(text: &str) -> String {
    text.parse::<Host>().unwrap_err().to_string()
}

#[test]
fn cnetaddr_basic() {
    assert_eq!(host("0.0.0.0").to_string(), "0.0.0.0");
    assert_eq!(host("255.255.255.255").to_string(), "255.255.255.255");
    assert_eq!(host("12.34.56.78").to_string(), "12.34.56.78");
    assert_eq!(host("::").to_string(), "::");
    let v6 = "1122:3344:5566:7788:9900:aabb:ccdd:eeff";
    assert_eq!(host(v6).to_string(), v6);
    assert_eq!(host(v6).network(), Network::Ipv6);

    let onion = host(TORV3);
    assert_eq!(onion.network(), Network::Onion);
    assert_eq!(onion.to_string(), TORV3);
    assert_eq!(onion, Host::Onion(hex(TORV3_KEY).try_into().unwrap()));

    // A wrong checksum, a wrong version, a name with a NUL inside.
    let bad = "pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscsad.onion";
    assert!(error(bad).contains("checksum"), "{}", error(bad));
    let bad = "pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscrye.onion";
    assert!(error(bad).contains("version"), "{}", error(bad));
    let bad = "pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd\0wtf.onion";
    assert!(error(bad).contains("56"), "{}", error(bad));
    // A bogus length, invalid base32, a Tor v2 name, something else.
    assert!(error("mfrggzak.onion").contains("56"));
    assert!(error("mf*g zak.onion").contains("56"));
    assert!(
        error("mf*gzakmf*gzakmf*gzakmf*gzakmf*gzakmf*gzakmf*gzakmf*g.onion").contains("base32")
    );
    assert!(error("6hzph5hv6337r6p2.onion").contains("Tor v2"));
    assert!(error("totally bogus").contains("host name"));
}

#[test]
fn another_implementation_agrees_on_onion_names() {
    // bitcoin-s's test vector: a key and its name.
    let key = hex("98908ec971ad17171365865a249c420d04a66f103f973a62d8404ce2f4af1ee2");
    let name = "tcii5slrvulroe3fqzncjhccbuckm3yqh6ltuywyibgof5fpd3rpycyd.onion";
    assert_eq!(Host::Onion(key.try_into().unwrap()).to_string(), name);
}

#[test]
fn cnetaddr_serialize_v2() {
    let cases = [
        ("1.2.3.4", "010401020304"),
        (
            "1a1b:2a2b:3a3b:4a4b:5a5b:6a6b:7a7b:8a8b",
            "02101a1b2a2b3a3b4a4b5a5b6a6b7a7b8a8b",
        ),
        (
            "kpgvmscirrdqpekbqjsvw5teanhatztpp2gl6eee4zkowvwfxwenqaid.onion",
            "042053cd5648488c4707914182655b7664034e09e66f7e8cbf1084e654eb56c5bd88",
        ),
        // IPv4-mapped IPv6 is IPv4.
        ("::ffff:1.2.3.4", "010401020304"),
    ];
    for (text, encoded) in cases {
        let (network, bytes) = host(text).to_bip155();
        let mut wire = vec![network, bytes.len() as u8];
        wire.extend(bytes);
        assert_eq!(wire, hex(encoded), "{text}");
    }
}

#[test]
fn cnetaddr_unserialize_v2() {
    let decode = |network: u8, bytes: &str| Host::from_bip155(network, &hex(bytes));
    assert_eq!(decode(1, "01020304").unwrap().to_string(), "1.2.3.4");
    assert_eq!(
        decode(1, "0102030405").unwrap_err().to_string(),
        "BIP155 IPv4 address with length 5 (should be 4)"
    );
    assert_eq!(
        decode(2, "0102030405060708090a0b0c0d0e0f10")
            .unwrap()
            .to_string(),
        "102:304:506:708:90a:b0c:d0e:f10"
    );
    assert_eq!(
        decode(2, "00000000").unwrap_err().to_string(),
        "BIP155 IPv6 address with length 4 (should be 16)"
    );
    // IPv6 that is really IPv4, Tor v2 or a Core internal name.
    for disguised in [
        "00000000000000000000ffff01020304",
        "fd87d87eeb430102030405060708090a",
        "fd6b88c08724ca978112ca1bbdcafac2",
    ] {
        assert_eq!(decode(2, disguised), Err(Bip155Error::Disguised));
    }
    assert_eq!(decode(3, "f1f2f3f4f5f6f7f8f9fa"), Err(Bip155Error::TorV2));
    let onion = decode(4, TORV3_KEY).unwrap();
    assert_eq!(onion.to_string(), TORV3);
    assert_eq!(
        decode(4, "").unwrap_err().to_string(),
        "BIP155 TORv3 address with length 0 (should be 32)"
    );
    let i2p = decode(
        5,
        "a2894dabaec08c0051a481a6dac88b64f98232ae42d4b6fd2fa81952dfe36a87",
    )
    .unwrap();
    assert_eq!(i2p.network(), Network::I2p);
    assert_eq!(
        i2p.to_string(),
        "ukeu3k5oycgaauneqgtnvselmt4yemvoilkln7jpvamvfx7dnkdq.b32.i2p"
    );
    assert_eq!(
        decode(5, "000000").unwrap_err().to_string(),
        "BIP155 I2P address with length 3 (should be 32)"
    );
    let cjdns = decode(6, "fc000001000200030004000500060007").unwrap();
    assert_eq!(cjdns.network(), Network::Cjdns);
    assert_eq!(cjdns.to_string(), "fc00:1:2:3:4:5:6:7");
    assert_eq!(
        decode(6, "fd000001000200030004000500060007"),
        Err(Bip155Error::NotCjdns)
    );
    assert_eq!(
        decode(6, "00").unwrap_err().to_string(),
        "BIP155 CJDNS address with length 1 (should be 16)"
    );
    assert_eq!(decode(0xaa, "01020304"), Err(Bip155Error::Unknown(0xaa)));
}

#[test]
fn netbase_splithost() {
    let cases = [
        ("www.bitcoincore.org", "www.bitcoincore.org", None),
        ("[www.bitcoincore.org]", "www.bitcoincore.org", None),
        ("www.bitcoincore.org:80", "www.bitcoincore.org", Some("80")),
        (
            "[www.bitcoincore.org]:80",
            "www.bitcoincore.org",
            Some("80"),
        ),
        ("127.0.0.1", "127.0.0.1", None),
        ("127.0.0.1:8333", "127.0.0.1", Some("8333")),
        ("[127.0.0.1]", "127.0.0.1", None),
        ("[127.0.0.1]:8333", "127.0.0.1", Some("8333")),
        ("::ffff:127.0.0.1", "::ffff:127.0.0.1", None),
        ("[::ffff:127.0.0.1]:8333", "::ffff:127.0.0.1", Some("8333")),
        ("[::]:8333", "::", Some("8333")),
        ("::8333", "::8333", None),
        (":8333", "", Some("8333")),
        ("[]:8333", "", Some("8333")),
        ("", "", None),
    ];
    for (input, host, port) in cases {
        assert_eq!(split_host_port(input), (host, port), "{input:?}");
    }
}

#[test]
fn peer_addresses_print_and_parse_in_cores_forms() {
    for text in [
        "1.2.3.4:8333",
        "[2001:db8::1]:8333",
        "pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion:8333",
        "ukeu3k5oycgaauneqgtnvselmt4yemvoilkln7jpvamvfx7dnkdq.b32.i2p:0",
    ] {
        let addr: PeerAddr = text.parse().unwrap();
        assert_eq!(addr.to_string(), text);
    }
    let upper: PeerAddr = "PG6MMJIYJMCRSSLVYKFWNNTLARU7P5SVN6Y2YMMJU6NUBXNDF4PSCRYD.ONION:8333"
        .parse()
        .unwrap();
    assert_eq!(upper.to_string(), format!("{TORV3}:8333"));
    let cjdns = PeerAddr::new(Host::cjdns("fc00::1".parse().unwrap()).unwrap(), 8333);
    assert_eq!(cjdns.to_string(), "[fc00::1]:8333");
    assert_eq!(cjdns.socket_addr(), Some("[fc00::1]:8333".parse().unwrap()));
    assert_eq!(Host::cjdns("fd00::1".parse().unwrap()), None);
}

#[test]
fn a_cjdns_prefix_reads_as_cjdns_and_nothing_else() {
    let tagged: PeerAddr = "cjdns:[fc00::1]:8333".parse().unwrap();
    assert_eq!(tagged.network(), Network::Cjdns);
    assert_eq!(
        tagged.to_string(),
        "[fc00::1]:8333",
        "printed in Core's form"
    );
    let plain: PeerAddr = "[fc00::1]:8333".parse().unwrap();
    assert_eq!(plain.network(), Network::Ipv6);
    for wrong in ["cjdns:[fd00::1]:8333", "cjdns:1.2.3.4:8333"] {
        let error = wrong.parse::<PeerAddr>().unwrap_err().to_string();
        assert!(error.contains("fc00::/8"), "{error}");
    }
}

#[test]
fn port_0_is_dialable_only_on_i2p() {
    assert!(!"1.2.3.4:0".parse::<PeerAddr>().unwrap().is_dialable());
    assert!(!format!("{TORV3}:0")
        .parse::<PeerAddr>()
        .unwrap()
        .is_dialable());
    assert!(PeerAddr::new(Host::I2p([1; 32]), 0).is_dialable());
    assert!("1.2.3.4:8333".parse::<PeerAddr>().unwrap().is_dialable());
}

#[test]
fn a_mapped_ipv4_address_is_the_ipv4_peer() {
    let mapped: PeerAddr = "[::ffff:1.2.3.4]:8333".parse().unwrap();
    let plain: PeerAddr = "1.2.3.4:8333".parse().unwrap();
    assert_eq!(mapped, plain);
    assert_eq!(mapped.network(), Network::Ipv4);
    let socket: std::net::SocketAddr = "1.2.3.4:8333".parse().unwrap();
    assert_eq!(mapped, socket);
    assert_ne!(
        plain,
        "1.2.3.4:8334".parse::<std::net::SocketAddr>().unwrap()
    );
}

#[test]
fn a_bad_peer_address_says_what_is_wrong() {
    let error = |text: &str| text.parse::<PeerAddr>().unwrap_err().to_string();
    assert!(error("1.2.3.4").contains("no port; write HOST:PORT"));
    assert!(error("1.2.3.4:99999").contains("0 to 65535"));
    assert!(error("seed.bitcoin.sipa.be:8333").contains("resolve it first"));
    assert!(error("abc.b32.i2p:0").contains("52"));
    assert!(error(":8333").contains("no address"));
    assert!("1.2.3.4:8333"
        .parse::<Host>()
        .unwrap_err()
        .to_string()
        .contains("without a port"));
}

#[test]
fn a_peer_address_is_small_enough_to_copy() {
    // It replaces `SocketAddr` (32 bytes) in every input and book entry.
    assert_eq!(std::mem::size_of::<PeerAddr>(), 36);
}

#[test]
fn a_socket_address_is_an_ip_peer() {
    let socket: std::net::SocketAddr = "[::1]:18444".parse().unwrap();
    let addr = PeerAddr::from(socket);
    assert_eq!(addr.host(), Host::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)));
    assert_eq!(addr.socket_addr(), Some(socket));
    assert_eq!(addr.network(), Network::Ipv6);
}

proptest! {
    #[test]
    fn every_host_survives_text_and_bip155(kind in 0u8..4, bytes in any::<[u8; 32]>(), port: u16) {
        let host = match kind {
            0 => Host::Ip(IpAddr::from(<[u8; 16]>::try_from(&bytes[..16]).unwrap())),
            1 => Host::Onion(bytes),
            2 => Host::I2p(bytes),
            _ => {
                let mut octets = <[u8; 16]>::try_from(&bytes[..16]).unwrap();
                octets[0] = 0xfc;
                Host::Cjdns(Ipv6Addr::from(octets))
            }
        };
        let addr = PeerAddr::new(host, port);
        let back: PeerAddr = addr.to_string().parse().unwrap();
        match host {
            // Text cannot tell CJDNS from IPv6.
            Host::Cjdns(ip) => prop_assert_eq!(back.host(), Host::Ip(IpAddr::V6(ip))),
            _ => prop_assert_eq!(back, addr),
        }
        let (network, raw) = host.to_bip155();
        match Host::from_bip155(network, &raw) {
            Ok(decoded) => match host {
                Host::Ip(ip) => prop_assert_eq!(decoded, Host::Ip(ip.to_canonical())),
                _ => prop_assert_eq!(decoded, host),
            },
            // Only IPv6 in Core's foreign prefixes is refused.
            Err(e) => prop_assert_eq!(e, Bip155Error::Disguised),
        }
    }
}

#[cfg(feature = "serde")]
#[test]
fn saved_addresses_keep_their_network_and_read_as_socket_addresses_did() {
    let cjdns = PeerAddr::new(Host::cjdns("fc00::1".parse().unwrap()).unwrap(), 8333);
    let onion: PeerAddr = format!("{TORV3}:8333").parse().unwrap();
    for addr in [cjdns, onion, "[2001:db8::1]:8333".parse().unwrap()] {
        let json = serde_json::to_string(&addr).unwrap();
        assert_eq!(
            serde_json::from_str::<PeerAddr>(&json).unwrap(),
            addr,
            "{json}"
        );
    }
    assert_eq!(
        serde_json::to_string(&cjdns).unwrap(),
        "\"cjdns:[fc00::1]:8333\""
    );
    let socket: std::net::SocketAddr = "[2001:db8::1]:8333".parse().unwrap();
    let old = serde_json::to_string(&socket).unwrap();
    assert_eq!(serde_json::from_str::<PeerAddr>(&old).unwrap(), socket);
}

#[test]
fn maps_keyed_by_peer_tell_every_peer_apart() {
    use std::collections::HashSet;
    let ip: PeerAddr = "[fc00::1]:8333".parse().unwrap();
    let cjdns: PeerAddr = "cjdns:[fc00::1]:8333".parse().unwrap();
    let mapped: PeerAddr = "[::ffff:1.2.3.4]:8333".parse().unwrap();
    let plain: PeerAddr = "1.2.3.4:8333".parse().unwrap();
    let onion = PeerAddr::new(Host::Onion([3; 32]), 8333);
    let i2p = PeerAddr::new(Host::I2p([3; 32]), 8333);
    let set: HashSet<PeerAddr> = [ip, cjdns, mapped, plain, onion, i2p].into_iter().collect();
    assert_eq!(
        set.len(),
        5,
        "the mapped and plain IPv4 address are one peer"
    );
    assert!(set.contains(&cjdns) && set.contains(&ip) && set.contains(&i2p));
}
