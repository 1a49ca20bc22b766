//! Bitcoin Core's view of a peer address: whether it is routable, its
//! network class, and its network group (`NetGroupManager::GetGroup`
//! without an asmap), byte for byte, because the group bytes are hashed
//! into bucket placement and placement must match Core's.
//!
//! Tor, I2P and CJDNS addresses are public keys or hashes of them, so
//! their bytes are random: Core groups them by network and their first
//! four random bits (sixteen groups each), which is all an attacker who
//! makes keys at will cannot choose cheaply.
//!
//! Core's rules differ from btcd's (see [`crate::group`]) in small ways that
//! change placement: an unroutable or local address is in group `[0]`, the
//! group starts with the network class byte (1 for IPv4, 2 for IPv6), the
//! Hurricane Electric /36 keeps the high nibble and sets the low one, and
//! IPv4-compatible addresses (`::a.b.c.d`) and 240.0.0.0/4 are routable.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::{Host, PeerAddr};

use crate::group::{
    V6Net, HE_NET, RFC1918, RFC2544, RFC3849, RFC3927, RFC3964, RFC4193, RFC4380, RFC4843, RFC4862,
    RFC5737, RFC6052, RFC6145, RFC6598, RFC7343,
};

/// Core's `NET_UNROUTABLE`, `NET_IPV4`, `NET_IPV6` and `NET_INTERNAL`: the
/// first byte of every group.
const CLASS_UNROUTABLE: u8 = 0;
const CLASS_IPV4: u8 = 1;
const CLASS_IPV6: u8 = 2;
const CLASS_ONION: u8 = 3;
const CLASS_I2P: u8 = 4;
const CLASS_CJDNS: u8 = 5;
const CLASS_INTERNAL: u8 = 6;

/// Core's `INTERNAL_IN_IPV6_PREFIX`: addresses Core makes up for DNS seeds
/// and fixed seeds. Never routable; grouped by the 10 bytes after the prefix.
const INTERNAL: V6Net = V6Net::new([0xfd6b, 0x88c0, 0x8724, 0, 0, 0, 0, 0], 48);

/// A network group as Core serializes it: the class byte, then up to five
/// bytes of address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct NetGroup {
    bytes: [u8; 11],
    len: u8,
}

impl NetGroup {
    fn new(prefix: &[u8]) -> NetGroup {
        let mut bytes = [0; 11];
        let len = prefix.len().min(bytes.len());
        bytes[..len].copy_from_slice(&prefix[..len]);
        NetGroup {
            bytes,
            len: len as u8,
        }
    }

    /// The group's bytes (Core's `std::vector<unsigned char>`).
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// Core's `CNetAddr::IsRoutable`: valid, not local, and in none of the
/// private, reserved or documentation ranges Core lists.
pub(crate) fn is_routable(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let valid = !v4.is_unspecified() && !v4.is_broadcast();
            valid
                && !(RFC1918.iter().any(|net| net.contains(v4))
                    || RFC2544.contains(v4)
                    || RFC3927.contains(v4)
                    || RFC6598.contains(v4)
                    || RFC5737.iter().any(|net| net.contains(v4))
                    || is_local_v4(v4))
        }
        IpAddr::V6(v6) => {
            let valid = !v6.is_unspecified() && !RFC3849.contains(v6) && !INTERNAL.contains(v6);
            valid
                && !(RFC4862.contains(v6)
                    || RFC4193.contains(v6)
                    || RFC4843.contains(v6)
                    || RFC7343.contains(v6)
                    || v6.is_loopback())
        }
    }
}

fn is_local_v4(ip: Ipv4Addr) -> bool {
    let [a, ..] = ip.octets();
    a == 127 || a == 0
}

/// Core's `GetLinkedIPv4` for a routable IPv6 address: the IPv4 address a
/// NAT64, IPv4-translated, 6to4 or Teredo address carries.
fn linked_ipv4(ip: Ipv6Addr) -> Option<[u8; 4]> {
    let b = ip.octets();
    if RFC6145.contains(ip) || RFC6052.contains(ip) {
        Some([b[12], b[13], b[14], b[15]])
    } else if RFC3964.contains(ip) {
        Some([b[2], b[3], b[4], b[5]])
    } else if RFC4380.contains(ip) {
        Some([!b[12], !b[13], !b[14], !b[15]])
    } else {
        None
    }
}

/// Core's `CNetAddr::IsRoutable` for any host: Tor, I2P and CJDNS
/// addresses always are.
pub(crate) fn is_routable_host(host: Host) -> bool {
    match host {
        Host::Ip(ip) => is_routable(ip),
        Host::Onion(_) | Host::I2p(_) | Host::Cjdns(_) => true,
    }
}

/// Core's `NetGroupManager::GetGroup` with no asmap, for any host: an
/// onion or I2P host by its first four bits, a CJDNS host by the four bits
/// after its constant `fc` byte.
pub(crate) fn host_group(host: Host) -> NetGroup {
    match host {
        Host::Ip(ip) => group(ip),
        Host::Onion(key) => NetGroup::new(&[CLASS_ONION, key[0] | 0x0f]),
        Host::I2p(hash) => NetGroup::new(&[CLASS_I2P, hash[0] | 0x0f]),
        Host::Cjdns(ip) => {
            let o = ip.octets();
            NetGroup::new(&[CLASS_CJDNS, o[0], o[1] | 0x0f])
        }
    }
}

/// Core's `NetGroupManager::GetGroup` with no asmap.
pub(crate) fn group(ip: IpAddr) -> NetGroup {
    let ip = ip.to_canonical();
    if let IpAddr::V6(v6) = ip {
        if INTERNAL.contains(v6) {
            let b = v6.octets();
            let mut out = [CLASS_INTERNAL; 11];
            out[1..].copy_from_slice(&b[6..16]);
            return NetGroup::new(&out);
        }
    }
    if !is_routable(ip) {
        return NetGroup::new(&[CLASS_UNROUTABLE]);
    }
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            NetGroup::new(&[CLASS_IPV4, a, b])
        }
        IpAddr::V6(v6) => {
            if let Some([a, b, ..]) = linked_ipv4(v6) {
                return NetGroup::new(&[CLASS_IPV4, a, b]);
            }
            let o = v6.octets();
            if HE_NET.contains(v6) {
                // A /36: four bytes, then the fifth with its low nibble set.
                NetGroup::new(&[CLASS_IPV6, o[0], o[1], o[2], o[3], o[4] | 0x0f])
            } else {
                NetGroup::new(&[CLASS_IPV6, o[0], o[1], o[2], o[3]])
            }
        }
    }
}

/// Core's `CService::GetKey`: the address's bytes, then the port,
/// big-endian. An IP address is 16 bytes (IPv4 mapped into IPv6), a CJDNS
/// one its 16, a Tor or I2P one its 32.
#[derive(Clone, Copy)]
pub(crate) struct ServiceKey {
    bytes: [u8; 34],
    len: u8,
}

impl ServiceKey {
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

pub(crate) fn service_key(addr: PeerAddr) -> ServiceKey {
    let mut bytes = [0; 34];
    let len = match addr.host() {
        Host::Ip(ip) => {
            let ip16 = match ip.to_canonical() {
                IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
                IpAddr::V6(v6) => v6.octets(),
            };
            bytes[..16].copy_from_slice(&ip16);
            16
        }
        Host::Cjdns(ip) => {
            bytes[..16].copy_from_slice(&ip.octets());
            16
        }
        Host::Onion(key) | Host::I2p(key) => {
            bytes[..32].copy_from_slice(&key);
            32
        }
    };
    bytes[len..len + 2].copy_from_slice(&addr.port().to_be_bytes());
    ServiceKey {
        bytes,
        len: (len + 2) as u8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group_of(s: &str) -> Vec<u8> {
        group(s.parse().unwrap()).as_bytes().to_vec()
    }

    /// Bitcoin Core's `netbase_getgroup` cases (`src/test/netbase_tests.cpp`),
    /// the ones without an asmap or an overlay network.
    #[test]
    fn netbase_getgroup() {
        assert_eq!(group_of("127.0.0.1"), [0]); // local
        assert_eq!(group_of("10.0.0.1"), [0]); // RFC1918
        assert_eq!(group_of("169.254.1.1"), [0]); // RFC3927
        assert_eq!(group_of("1.2.3.4"), [1, 1, 2]); // IPv4
        assert_eq!(group_of("::FFFF:0:102:304"), [1, 1, 2]); // RFC6145
        assert_eq!(group_of("64:FF9B::102:304"), [1, 1, 2]); // RFC6052
        assert_eq!(group_of("2002:102:304:9999:9999:9999:9999:9999"), [1, 1, 2]); // RFC3964
        assert_eq!(group_of("2001:0:9999:9999:9999:9999:FEFD:FCFB"), [1, 1, 2]); // RFC4380
        assert_eq!(
            group_of("2001:470:abcd:9999:9999:9999:9999:9999"),
            [2, 0x20, 0x01, 0x04, 0x70, 0xaf]
        ); // he.net
        assert_eq!(
            group_of("2001:2001:9999:9999:9999:9999:9999:9999"),
            [2, 0x20, 0x01, 0x20, 0x01]
        ); // IPv6
           // Core's internal addresses, made up for DNS seeds.
        assert_eq!(
            group_of("fd6b:88c0:8724:1:2:3:4:5"),
            [6, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5]
        );
    }

    #[test]
    fn core_routability_differs_from_btcd_where_core_says_so() {
        for routable in ["250.1.1.1", "::1.2.3.4", "224.0.0.1", "2001:470::1"] {
            assert!(is_routable(routable.parse().unwrap()), "{routable}");
        }
        for unroutable in [
            "0.0.0.0",
            "255.255.255.255",
            "10.0.0.1",
            "127.0.0.1",
            "0.1.2.3",
            "100.64.0.1",
            "198.18.0.1",
            "192.0.2.1",
            "169.254.0.1",
            "::",
            "::1",
            "2001:db8::1",
            "fe80::1",
            "fc00::1",
            "fd87:d87e:eb43::1",
            "2001:10::1",
            "2001:20::1",
            "fd6b:88c0:8724::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_routable(unroutable.parse().unwrap()), "{unroutable}");
        }
    }

    #[test]
    fn the_key_is_the_mapped_address_and_the_big_endian_port() {
        let key = |s: &str| service_key(s.parse().unwrap()).as_bytes().to_vec();
        assert_eq!(
            key("1.2.3.4:8333"),
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4, 0x20, 0x8d]
        );
        assert_eq!(key("1.2.3.4:8333"), key("[::ffff:1.2.3.4]:8333"));
        let onion = PeerAddr::new(Host::Onion([7; 32]), 8333);
        let mut expected = vec![7; 32];
        expected.extend([0x20, 0x8d]);
        assert_eq!(service_key(onion).as_bytes(), expected);
    }

    /// The overlay networks: the network class, then four random bits and
    /// the rest set (the bytes below are the names' first key bytes).
    #[test]
    fn overlay_hosts_group_by_network_and_four_bits() {
        let onion: Host = "pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion"
            .parse()
            .unwrap();
        assert_eq!(host_group(onion).as_bytes(), [3, 0x7f]); // key starts 0x79
        let i2p: Host = "ukeu3k5oycgaauneqgtnvselmt4yemvoilkln7jpvamvfx7dnkdq.b32.i2p"
            .parse()
            .unwrap();
        assert_eq!(host_group(i2p).as_bytes(), [4, 0xaf]); // hash starts 0xa2
        let cjdns = Host::cjdns("fc00:3344::".parse().unwrap()).unwrap();
        assert_eq!(host_group(cjdns).as_bytes(), [5, 0xfc, 0x0f]);
        assert!(is_routable_host(onion) && is_routable_host(i2p) && is_routable_host(cjdns));
    }
}
