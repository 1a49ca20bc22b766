//! Which network an address belongs to.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// The network an address is reached over (Bitcoin Core's `Network`).
///
/// Addresses here are IP addresses, so [`Network::of`] only ever says IPv4
/// or IPv6; the overlay networks are named because policies speak of them
/// (inbound eviction keeps a share of its protection for peers over Tor,
/// I2P and CJDNS, which are slower and lose on every other criterion).
///
/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is IPv4, as everywhere in
/// this crate. Address books count their entries per network so that a node
/// can ask for, say, an IPv6 address only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[non_exhaustive]
pub enum Network {
    /// IPv4, including IPv4-mapped IPv6 addresses.
    Ipv4,
    /// IPv6.
    Ipv6,
    /// Tor (an onion service).
    Onion,
    /// I2P.
    I2p,
    /// CJDNS.
    Cjdns,
}

impl Network {
    /// Every network, in a fixed order (for per-network tables).
    pub const ALL: [Network; 5] = [
        Network::Ipv4,
        Network::Ipv6,
        Network::Onion,
        Network::I2p,
        Network::Cjdns,
    ];

    /// The network of `ip`.
    pub fn of(ip: IpAddr) -> Network {
        match ip.to_canonical() {
            IpAddr::V4(_) => Network::Ipv4,
            IpAddr::V6(_) => Network::Ipv6,
        }
    }

    /// This network's position in [`Network::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// One spelling per address, for the maps that must see one address once:
/// IPv4-mapped IPv6 becomes IPv4, and IPv6 flow labels and scopes (not part
/// of an address) are dropped. (btcd's book keeps the scope, as btcd does.)
pub(crate) fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

impl Network {
    /// Its name, as `--onlynet` and the metrics' `network` label spell it.
    pub const fn label(&self) -> &'static str {
        match self {
            Network::Ipv4 => "ipv4",
            Network::Ipv6 => "ipv6",
            Network::Onion => "onion",
            Network::I2p => "i2p",
            Network::Cjdns => "cjdns",
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_ipv4_is_ipv4_and_the_index_follows_all() {
        assert_eq!(
            Network::of("::ffff:1.2.3.4".parse().unwrap()),
            Network::Ipv4
        );
        assert_eq!(Network::of("2001:db8::1".parse().unwrap()), Network::Ipv6);
        for (i, net) in Network::ALL.iter().enumerate() {
            assert_eq!(net.index(), i);
        }
    }
}
