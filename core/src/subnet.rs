//! IP subnets (CIDR ranges), for allow-lists and bans, and single onion or
//! I2P addresses, which ban like a subnet of one (their keys have no
//! structure to group by).
//!
//! Written by hand rather than taken from a crate because the core keeps its
//! dependencies to `tracing` (plus optional serde and arbitrary), and a
//! subnet is twenty lines: an address, a prefix length, and a masked compare.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use crate::Host;

/// A CIDR range such as `203.0.113.0/24` or `2001:db8::/32`. A single
/// address is a subnet with a full-length prefix; an onion or I2P address
/// is a subnet of itself alone (`NAME.onion`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "String", into = "String"))]
pub struct Subnet {
    network: Host,
    prefix: u8,
}

impl Subnet {
    /// The subnet of `addr` with `prefix` leading bits; the host bits are
    /// cleared. Fails if `prefix` is longer than the address.
    ///
    /// An IPv4-mapped IPv6 address counts its prefix in IPv6 bits, as
    /// written: `::ffff:192.0.2.0/120` is the IPv4 subnet `192.0.2.0/24`,
    /// which holds both spellings of its addresses. A prefix shorter than
    /// 96 reaches beyond the mapped range, so it stays an IPv6 subnet
    /// (`::ffff:1.2.3.4/16` is `::/16`).
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Subnet, SubnetError> {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(SubnetError::PrefixTooLong { prefix, max });
        }
        let network = mask(addr, prefix);
        let (network, prefix) = match network {
            IpAddr::V6(v6) if prefix >= 96 => match v6.to_ipv4_mapped() {
                Some(v4) => (IpAddr::V4(v4), prefix - 96),
                None => (network, prefix),
            },
            _ => (network, prefix),
        };
        Ok(Subnet {
            network: Host::Ip(network),
            prefix,
        })
    }

    /// The subnet holding exactly `addr`.
    pub fn host(addr: IpAddr) -> Subnet {
        let addr = addr.to_canonical();
        Subnet {
            network: Host::Ip(addr),
            prefix: if addr.is_ipv4() { 32 } else { 128 },
        }
    }

    /// The subnet holding exactly the peer at `host`: its IP address (a
    /// CJDNS address is one), or its onion or I2P name.
    pub fn of_host(host: Host) -> Subnet {
        match host.ip() {
            Some(ip) => Subnet::host(ip),
            None => Subnet {
                network: host,
                prefix: 0,
            },
        }
    }

    /// Whether `addr` lies in this subnet (IPv4-mapped IPv6 counts as IPv4).
    /// No IP address lies in an onion or I2P address's subnet.
    pub fn contains(&self, addr: IpAddr) -> bool {
        let Host::Ip(network) = self.network else {
            return false;
        };
        let addr = addr.to_canonical();
        addr.is_ipv4() == network.is_ipv4() && mask(addr, self.prefix) == network
    }

    /// Whether the peer at `host` lies in this subnet: an IP or CJDNS host
    /// by its address, an onion or I2P host if it is the subnet's own.
    pub fn contains_host(&self, host: Host) -> bool {
        match host.ip() {
            Some(ip) => self.contains(ip),
            None => self.network == host,
        }
    }

    /// The first address, or the onion or I2P address.
    pub fn network(&self) -> Host {
        self.network
    }

    /// The number of leading bits that are fixed (0 for an onion or I2P
    /// address, which is matched whole).
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether the subnet is a single address.
    pub fn is_host(&self) -> bool {
        match self.network {
            Host::Ip(ip) => self.prefix == if ip.is_ipv4() { 32 } else { 128 },
            _ => true,
        }
    }
}

fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => {
            let keep = match prefix.min(32) {
                0 => 0,
                p => u32::MAX << (32 - p),
            };
            IpAddr::V4((u32::from(v4) & keep).into())
        }
        IpAddr::V6(v6) => {
            let keep = match prefix.min(128) {
                0 => 0,
                p => u128::MAX << (128 - p),
            };
            IpAddr::V6((u128::from(v6) & keep).into())
        }
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.network {
            Host::Ip(ip) => write!(f, "{ip}/{}", self.prefix),
            host => write!(f, "{host}"),
        }
    }
}

impl FromStr for Subnet {
    type Err = SubnetError;

    /// `ADDR/PREFIX`, or a bare address for a single host (an onion or
    /// I2P name too).
    fn from_str(s: &str) -> Result<Subnet, SubnetError> {
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
        if prefix.is_none() {
            if let Ok(host @ (Host::Onion(_) | Host::I2p(_))) = addr.trim().parse::<Host>() {
                return Ok(Subnet::of_host(host));
            }
        }
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| SubnetError::Syntax(s.to_owned()))?;
        match prefix {
            None => Ok(Subnet::host(addr)),
            Some(p) => {
                let prefix = p
                    .trim()
                    .parse()
                    .map_err(|_| SubnetError::Syntax(s.to_owned()))?;
                Subnet::new(addr, prefix)
            }
        }
    }
}

impl TryFrom<String> for Subnet {
    type Error = SubnetError;
    fn try_from(s: String) -> Result<Subnet, SubnetError> {
        s.parse()
    }
}

impl From<Subnet> for String {
    fn from(s: Subnet) -> String {
        s.to_string()
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for Subnet {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Subnet> {
        let addr = IpAddr::arbitrary(u)?.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = u.int_in_range(0..=max)?;
        Subnet::new(addr, prefix).map_err(|_| arbitrary::Error::IncorrectFormat)
    }
}

/// Why a subnet could not be built or parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubnetError {
    /// The prefix is longer than the address.
    PrefixTooLong {
        /// The prefix given.
        prefix: u8,
        /// The address length in bits.
        max: u8,
    },
    /// Not `ADDR/PREFIX` or `ADDR`.
    Syntax(String),
}

impl fmt::Display for SubnetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubnetError::PrefixTooLong { prefix, max } => {
                write!(
                    f,
                    "prefix /{prefix} is longer than the address ({max} bits)"
                )
            }
            SubnetError::Syntax(s) => {
                write!(
                    f,
                    "{s:?} is not a subnet; write ADDR/PREFIX (203.0.113.0/24), an address, or an onion or I2P name"
                )
            }
        }
    }
}

impl std::error::Error for SubnetError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn contains_checks_the_prefix_bits_only() {
        let net: Subnet = "203.0.113.77/24".parse().unwrap();
        assert_eq!(net.to_string(), "203.0.113.0/24");
        assert!(net.contains(ip("203.0.113.0")) && net.contains(ip("203.0.113.255")));
        assert!(!net.contains(ip("203.0.114.0")) && !net.contains(ip("203.0.112.255")));
        assert!(
            net.contains(ip("::ffff:203.0.113.9")),
            "mapped IPv4 counts as IPv4"
        );
        assert!(!net.contains(ip("2001:db8::1")));
        let v6: Subnet = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")) && !v6.contains(ip("2001:db9::1")));
    }

    #[test]
    fn edge_prefixes_and_hosts() {
        let all: Subnet = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("255.255.255.255")) && !all.contains(ip("::1")));
        let all6: Subnet = "::/0".parse().unwrap();
        assert!(all6.contains(ip("ffff::1")));
        let host: Subnet = "198.51.100.7".parse().unwrap();
        assert!(
            host.is_host()
                && host.contains(ip("198.51.100.7"))
                && !host.contains(ip("198.51.100.8"))
        );
        assert_eq!(
            Subnet::new(ip("10.1.2.3"), 8).unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(
            Subnet::new(ip("10.1.2.3"), 31).unwrap().to_string(),
            "10.1.2.2/31"
        );
    }

    #[test]
    fn a_mapped_address_counts_its_prefix_in_ipv6_bits() {
        let net: Subnet = "::ffff:192.0.2.77/120".parse().unwrap();
        assert_eq!(net, "192.0.2.0/24".parse().unwrap());
        assert!(net.contains(ip("192.0.2.1")) && net.contains(ip("::ffff:192.0.2.1")));
        assert!(!net.contains(ip("192.0.3.1")));
        let all_v4: Subnet = "::ffff:0:0/96".parse().unwrap();
        assert_eq!(all_v4, "0.0.0.0/0".parse().unwrap());
        let host: Subnet = "::ffff:1.2.3.4".parse().unwrap();
        assert_eq!(host, "1.2.3.4/32".parse().unwrap());
        // Shorter than the mapped prefix: an IPv6 range, not 1.2.0.0/16.
        let wide: Subnet = "::ffff:1.2.3.4/16".parse().unwrap();
        assert_eq!(wide.to_string(), "::/16");
        assert!(!wide.contains(ip("1.2.9.9")));
        assert_eq!(
            "::ffff:1.2.3.4/129".parse::<Subnet>(),
            Err(SubnetError::PrefixTooLong {
                prefix: 129,
                max: 128
            })
        );
    }

    #[test]
    fn bad_subnets_say_what_is_wrong() {
        assert_eq!(
            "1.2.3.4/33".parse::<Subnet>(),
            Err(SubnetError::PrefixTooLong {
                prefix: 33,
                max: 32
            })
        );
        let err = "nonsense/8".parse::<Subnet>().unwrap_err().to_string();
        assert!(
            err.contains("nonsense") && err.contains("ADDR/PREFIX"),
            "{err}"
        );
    }

    #[test]
    fn an_onion_or_i2p_name_is_a_subnet_of_itself() {
        let name = "pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion";
        let net: Subnet = name.parse().unwrap();
        let host: Host = name.parse().unwrap();
        assert_eq!(net.to_string(), name);
        assert!(net.is_host() && net.contains_host(host));
        assert!(!net.contains(ip("127.0.0.1")));
        assert!(!net.contains_host(Host::Onion([0; 32])));
        assert!(format!("{name}/8").parse::<Subnet>().is_err());
        let cjdns = Host::cjdns("fc00::1".parse().unwrap()).unwrap();
        assert_eq!(Subnet::of_host(cjdns), Subnet::host(ip("fc00::1")));
    }
}
