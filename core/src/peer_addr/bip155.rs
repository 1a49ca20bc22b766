//! BIP155's encoding of a host: a network id and that network's bytes, as
//! `addrv2` messages (and files that keep them) carry it.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::Host;

const IPV4: u8 = 1;
const IPV6: u8 = 2;
const TORV2: u8 = 3;
const TORV3: u8 = 4;
const I2P: u8 = 5;
const CJDNS: u8 = 6;

/// Why a BIP155 address is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bip155Error {
    /// A known network with the wrong number of bytes.
    Length {
        /// The network's BIP155 name.
        network: &'static str,
        /// Bytes given.
        got: usize,
        /// Bytes the network's addresses have.
        expected: usize,
    },
    /// A Tor v2 address: Tor no longer serves them, and Bitcoin Core drops
    /// them.
    TorV2,
    /// An IPv6 address that is really another network's (IPv4-mapped, or
    /// Core's Tor v2 and internal prefixes): BIP155 gives each its own id.
    Disguised,
    /// A CJDNS address outside `fc00::/8`.
    NotCjdns,
    /// A network id BIP155 does not define (a later one): skip it.
    Unknown(u8),
}

impl fmt::Display for Bip155Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bip155Error::Length {
                network,
                got,
                expected,
            } => write!(
                f,
                "BIP155 {network} address with length {got} (should be {expected})"
            ),
            Bip155Error::TorV2 => f.write_str("a Tor v2 address, which Tor no longer serves"),
            Bip155Error::Disguised => {
                f.write_str("an IPv6 address that embeds another network's address")
            }
            Bip155Error::NotCjdns => f.write_str("a CJDNS address outside fc00::/8"),
            Bip155Error::Unknown(id) => write!(f, "unknown BIP155 network id {id}"),
        }
    }
}

impl std::error::Error for Bip155Error {}

/// Core's IPv6 prefixes for what BIP155 encodes under other ids: Tor v2
/// (`fd87:d87e:eb43::/48`) and Core's internal names (`fd6b:88c0:8724::/48`).
const FOREIGN_PREFIXES: [[u8; 6]; 2] = [
    [0xfd, 0x87, 0xd8, 0x7e, 0xeb, 0x43],
    [0xfd, 0x6b, 0x88, 0xc0, 0x87, 0x24],
];

fn exact<const N: usize>(network: &'static str, bytes: &[u8]) -> Result<[u8; N], Bip155Error> {
    bytes.try_into().map_err(|_| Bip155Error::Length {
        network,
        got: bytes.len(),
        expected: N,
    })
}

impl Host {
    /// The BIP155 network id and bytes. An IPv4-mapped IPv6 address is
    /// IPv4, as BIP155 has it.
    pub fn to_bip155(&self) -> (u8, Vec<u8>) {
        match self {
            Host::Ip(ip) => match ip.to_canonical() {
                IpAddr::V4(v4) => (IPV4, v4.octets().to_vec()),
                IpAddr::V6(v6) => (IPV6, v6.octets().to_vec()),
            },
            Host::Onion(key) => (TORV3, key.to_vec()),
            Host::I2p(hash) => (I2P, hash.to_vec()),
            Host::Cjdns(ip) => (CJDNS, ip.octets().to_vec()),
        }
    }

    /// The host a BIP155 network id and its bytes encode.
    pub fn from_bip155(network: u8, bytes: &[u8]) -> Result<Host, Bip155Error> {
        match network {
            IPV4 => Ok(Host::Ip(IpAddr::V4(Ipv4Addr::from(exact::<4>(
                "IPv4", bytes,
            )?)))),
            IPV6 => {
                let octets = exact::<16>("IPv6", bytes)?;
                let ip = Ipv6Addr::from(octets);
                if ip.to_ipv4_mapped().is_some()
                    || FOREIGN_PREFIXES.iter().any(|p| octets.starts_with(p))
                {
                    return Err(Bip155Error::Disguised);
                }
                Ok(Host::Ip(IpAddr::V6(ip)))
            }
            TORV2 => Err(Bip155Error::TorV2),
            TORV3 => Ok(Host::Onion(exact::<32>("TORv3", bytes)?)),
            I2P => Ok(Host::I2p(exact::<32>("I2P", bytes)?)),
            CJDNS => {
                let ip = Ipv6Addr::from(exact::<16>("CJDNS", bytes)?);
                Host::cjdns(ip).ok_or(Bip155Error::NotCjdns)
            }
            other => Err(Bip155Error::Unknown(other)),
        }
    }
}
