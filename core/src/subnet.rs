//! IP subnets (CIDR ranges), for allow-lists and bans.
//!
//! Written by hand rather than taken from a crate because the core keeps its
//! dependencies to `tracing` (plus optional serde and arbitrary), and a
//! subnet is twenty lines: an address, a prefix length, and a masked compare.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// A CIDR range such as `203.0.113.0/24` or `2001:db8::/32`. A single
/// address is a subnet with a full-length prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "String", into = "String"))]
pub struct Subnet {
    network: IpAddr,
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
        Ok(match network {
            IpAddr::V6(v6) if prefix >= 96 => match v6.to_ipv4_mapped() {
                Some(v4) => Subnet {
                    network: IpAddr::V4(v4),
                    prefix: prefix - 96,
                },
                None => Subnet { network, prefix },
            },
            _ => Subnet { network, prefix },
        })
    }

    /// The subnet holding exactly `addr`.
    pub fn host(addr: IpAddr) -> Subnet {
        let addr = addr.to_canonical();
        Subnet {
            network: addr,
            prefix: if addr.is_ipv4() { 32 } else { 128 },
        }
    }

    /// Whether `addr` lies in this subnet (IPv4-mapped IPv6 counts as IPv4).
    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = addr.to_canonical();
        addr.is_ipv4() == self.network.is_ipv4() && mask(addr, self.prefix) == self.network
    }

    /// The first address.
    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// The number of leading bits that are fixed.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether the subnet is a single address.
    pub fn is_host(&self) -> bool {
        self.prefix == if self.network.is_ipv4() { 32 } else { 128 }
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
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl FromStr for Subnet {
    type Err = SubnetError;

    /// `ADDR/PREFIX`, or a bare address for a single host.
    fn from_str(s: &str) -> Result<Subnet, SubnetError> {
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
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
                    "{s:?} is not a subnet; write ADDR/PREFIX (203.0.113.0/24) or an address"
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
}
