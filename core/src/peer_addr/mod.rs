//! Peer addresses beyond IP: the networks of BIP155.
//!
//! A Bitcoin peer is reached over IPv4, IPv6, Tor (a v3 onion service), I2P
//! or CJDNS. Only the first two (and CJDNS, an IPv6 overlay reached through
//! its own interface) are socket addresses; an onion or I2P peer is a name
//! that only a proxy can reach, and must reach that proxy as a name, never
//! resolved here. [`PeerAddr`] names a peer on any of them, with its port.
//!
//! Text forms are Bitcoin Core's: `1.2.3.4:8333`, `[::1]:8333`,
//! `<56 base32>.onion:8333`, `<52 base32>.b32.i2p:0` (I2P has no ports;
//! Core uses 0). CJDNS addresses are IPv6 addresses in `fc00::/8` and print
//! as such; text alone cannot tell CJDNS from private IPv6, so text parses
//! as IPv6 and [`Host::cjdns`] makes the CJDNS host (as Core does only for
//! a node that reaches CJDNS). BIP155's encoding ([`Host::to_bip155`],
//! [`Host::from_bip155`]) is what `addrv2` messages and files carry.

mod base32;
mod bip155;
mod onion;
mod parse;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

pub use bip155::Bip155Error;
pub use parse::AddrParseError;

use crate::Network;

/// Where a peer is, without its port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Host {
    /// An IPv4 or IPv6 address.
    Ip(IpAddr),
    /// A Tor v3 onion service, by its 32-byte ed25519 public key.
    Onion([u8; 32]),
    /// An I2P destination, by the 32-byte SHA-256 of it (its `.b32.i2p`
    /// name).
    I2p([u8; 32]),
    /// A CJDNS address: IPv6 in `fc00::/8` on the CJDNS network.
    Cjdns(Ipv6Addr),
}

impl Host {
    /// The CJDNS host at `ip`, if `ip` is in `fc00::/8`.
    pub fn cjdns(ip: Ipv6Addr) -> Option<Host> {
        (ip.octets()[0] == 0xfc).then_some(Host::Cjdns(ip))
    }

    /// The network the host is on.
    pub fn network(&self) -> Network {
        match self {
            Host::Ip(ip) => Network::of(*ip),
            Host::Onion(_) => Network::Onion,
            Host::I2p(_) => Network::I2p,
            Host::Cjdns(_) => Network::Cjdns,
        }
    }

    /// The IP address a socket reaches it at: an IP or CJDNS host, not an
    /// onion or I2P one.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Host::Ip(ip) => Some(*ip),
            Host::Cjdns(ip) => Some(IpAddr::V6(*ip)),
            Host::Onion(_) | Host::I2p(_) => None,
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(ip) => write!(f, "{ip}"),
            Host::Onion(key) => write!(f, "{}.onion", onion::encode(key)),
            Host::I2p(hash) => write!(f, "{}.b32.i2p", base32::encode(hash)),
            Host::Cjdns(ip) => write!(f, "{ip}"),
        }
    }
}

/// A peer's address on any network, with its port.
///
/// ```
/// use connmgr::{Network, PeerAddr};
///
/// let onion: PeerAddr = "pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion:8333"
///     .parse()
///     .unwrap();
/// assert_eq!(onion.network(), Network::Onion);
/// assert_eq!(onion.socket_addr(), None, "only a proxy reaches it");
///
/// let ip: PeerAddr = "[2001:db8::1]:8333".parse().unwrap();
/// assert_eq!(ip.network(), Network::Ipv6);
/// assert_eq!(ip.to_string(), "[2001:db8::1]:8333");
///
/// // A wrong checksum is caught, and the error says what to do.
/// let typo = "pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscsad.onion:8333";
/// assert!(typo.parse::<PeerAddr>().unwrap_err().to_string().contains("checksum"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct PeerAddr {
    host: Host,
    port: u16,
}

impl PeerAddr {
    /// `host` at `port`. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`)
    /// becomes the IPv4 address, so that one peer has one `PeerAddr`.
    pub const fn new(host: Host, port: u16) -> PeerAddr {
        let host = match host {
            Host::Ip(ip) => Host::Ip(ip.to_canonical()),
            other => other,
        };
        PeerAddr { host, port }
    }

    /// Where the peer is.
    pub const fn host(&self) -> Host {
        self.host
    }

    /// Its port (0 for I2P, which has none).
    pub const fn port(&self) -> u16 {
        self.port
    }

    /// The network it is on.
    pub fn network(&self) -> Network {
        self.host.network()
    }

    /// Whether it can be dialled as given: any port but 0, which no
    /// listener has, except an I2P peer's 0 (I2P has no ports; Core writes
    /// 0).
    pub fn is_dialable(&self) -> bool {
        self.port != 0 || matches!(self.host, Host::I2p(_))
    }

    /// The socket address to dial directly: for IP and CJDNS peers; an
    /// onion or I2P peer is reached through a proxy, by name.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        self.host.ip().map(|ip| SocketAddr::new(ip, self.port))
    }
}

/// One write for an IPv4 peer, two for any other: every map of the
/// manager keyed by peer hashes it, on every dial, with SipHash (addresses
/// are chosen by peers), whose cost is per write. Equal addresses hash
/// equally, as `Eq` needs; an IP and a CJDNS host of one address may hash
/// alike, which only costs a comparison.
impl std::hash::Hash for PeerAddr {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let port = u64::from(self.port);
        match self.host {
            Host::Ip(IpAddr::V4(v4)) => state.write_u64(u64::from(u32::from(v4)) << 16 | port),
            Host::Ip(IpAddr::V6(v6)) | Host::Cjdns(v6) => {
                state.write_u128(u128::from(v6));
                state.write_u64(port);
            }
            Host::Onion(key) => {
                state.write(&key);
                state.write_u64(1 << 16 | port);
            }
            Host::I2p(hash) => {
                state.write(&hash);
                state.write_u64(2 << 16 | port);
            }
        }
    }
}

impl From<IpAddr> for Host {
    fn from(ip: IpAddr) -> Host {
        Host::Ip(ip.to_canonical())
    }
}

impl From<SocketAddr> for PeerAddr {
    /// The IP peer at `addr` (an IPv6 scope or flow label is not part of
    /// the address and is dropped).
    fn from(addr: SocketAddr) -> PeerAddr {
        PeerAddr::new(Host::Ip(addr.ip()), addr.port())
    }
}

/// An IP peer equals the socket address it is reached at, so that code
/// and tests written for socket addresses read as before.
impl PartialEq<SocketAddr> for PeerAddr {
    fn eq(&self, other: &SocketAddr) -> bool {
        *self == PeerAddr::from(*other)
    }
}

impl fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.host {
            Host::Ip(IpAddr::V6(ip)) | Host::Cjdns(ip) => write!(f, "[{ip}]:{}", self.port),
            host => write!(f, "{host}:{}", self.port),
        }
    }
}

/// Saved (traces, files) as text: Core's form, with `cjdns:` before a
/// CJDNS address so that it reads back as CJDNS rather than as IPv6. An IP
/// address is written exactly as a `SocketAddr` is, which is why files
/// written before other networks existed still read.
#[cfg(feature = "serde")]
impl serde::Serialize for PeerAddr {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.host {
            Host::Cjdns(_) => serializer.collect_str(&format_args!("cjdns:{self}")),
            _ => serializer.collect_str(self),
        }
    }
}

/// Saved as text, as [`PeerAddr`] is (an IP host as an `IpAddr` is).
#[cfg(feature = "serde")]
impl serde::Serialize for Host {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Host::Cjdns(_) => serializer.collect_str(&format_args!("cjdns:{self}")),
            _ => serializer.collect_str(self),
        }
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Host {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Host, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for PeerAddr {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<PeerAddr, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}
