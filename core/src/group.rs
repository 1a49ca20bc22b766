//! Network groups, for outbound peer diversity.
//!
//! An attacker who wants to eclipse a node — to own every one of its
//! outbound connections — can usually get many addresses, but only inside a
//! few network blocks. Allowing at most N outbound connections per *group*
//! forces the outbound set to span many blocks, which is far harder to
//! occupy.
//!
//! The grouping, and the strings [`GroupKey`] displays, are exactly those of
//! btcd's `addrmgr.GroupKey` (the /16 for IPv4, the /32 for IPv6, the /36
//! inside Hurricane Electric's 2001:470::/32, the embedded IPv4 /16 for the
//! 6to4, Teredo, RFC 6052 and RFC 6145 transition ranges, `tor:N` for
//! OnionCat, and `local` / `unroutable`), so that peers group as btcd's
//! address manager groups them and logs read alike.
//!
//! Like Go's `net.IP`, an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is
//! treated as the IPv4 address it carries; an IPv4-compatible one
//! (`::a.b.c.d`) stays IPv6, as Go's `To4` leaves it.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::Host;

/// A network group: outbound diversity is counted per group.
///
/// Built by [`GroupKey::of`]; its [`Display`](fmt::Display) is btcd's group
/// string. Small and `Copy` so the manager can key a map by it without
/// allocating.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum GroupKey {
    /// A loopback address or one in 0.0.0.0/8: this host, not a peer's
    /// network (`local`).
    Local,
    /// An address not reachable over the public internet: private,
    /// link-local, documentation, reserved or invalid (`unroutable`).
    Unroutable,
    /// The first two octets of an IPv4 address, whether given directly or
    /// embedded in an IPv6 transition address (`a.b.0.0`).
    Ipv4([u8; 2]),
    /// The first four bytes (the /32) of a native IPv6 address
    /// (`2602:100::`).
    Ipv6([u8; 4]),
    /// The /36 inside Hurricane Electric's 2001:470::/32, which hands out
    /// so many tunnels that a /32 would lump unrelated users together. Holds
    /// the nibble after the /32 (0..=15; only the low four bits count)
    /// (`2001:470:1000::`).
    HeNet(u8),
    /// A Tor address: an OnionCat-encoded one keyed like btcd by the low
    /// four bits of the address's seventh byte, a v3 onion service by the
    /// first four bits of its key, as Bitcoin Core groups it (0..=15)
    /// (`tor:2`).
    Tor(u8),
    /// An I2P address, by the first four bits of its hash, as Bitcoin Core
    /// groups it (`i2p:5`).
    I2p(u8),
    /// A CJDNS address, by the four bits after its constant `fc` byte, as
    /// Bitcoin Core groups it (`cjdns:0`).
    Cjdns(u8),
}

impl GroupKey {
    /// The group of an IP address, exactly as btcd's `addrmgr.GroupKey`.
    ///
    /// Total and allocation-free, so it can run on every address offered.
    pub fn of(ip: IpAddr) -> GroupKey {
        let ip = ip.to_canonical();
        if is_local(ip) {
            return GroupKey::Local;
        }
        if !is_routable(ip) {
            return GroupKey::Unroutable;
        }
        match ip {
            IpAddr::V4(v4) => {
                let [a, b, _, _] = v4.octets();
                GroupKey::Ipv4([a, b])
            }
            IpAddr::V6(v6) => group_of_v6(v6),
        }
    }

    /// The group of a peer address on any network: an IP host as
    /// [`GroupKey::of`] says, an onion, I2P or CJDNS host by four of the
    /// random bits of its key (sixteen groups a network, as Bitcoin Core
    /// makes).
    pub fn of_host(host: Host) -> GroupKey {
        match host {
            Host::Ip(ip) => GroupKey::of(ip),
            Host::Onion(key) => GroupKey::Tor(key[0] >> 4),
            Host::I2p(hash) => GroupKey::I2p(hash[0] >> 4),
            Host::Cjdns(ip) => GroupKey::Cjdns(ip.octets()[1] >> 4),
        }
    }

    /// Local and unroutable groups are exempt from per-group limits.
    ///
    /// They are catch-alls, not networks an attacker could fill: counting
    /// them would cap, say, all LAN peers together for no gain.
    pub fn is_exempt(self) -> bool {
        matches!(self, GroupKey::Local | GroupKey::Unroutable)
    }
}

impl fmt::Display for GroupKey {
    /// btcd's string for the group, so logs and stats match btcd's.
    ///
    /// IPv6 groups go through [`Ipv6Addr`]'s RFC 5952 form, which for these
    /// masked addresses is the same as Go's `net.IP.String`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            GroupKey::Local => f.write_str("local"),
            GroupKey::Unroutable => f.write_str("unroutable"),
            GroupKey::Ipv4([a, b]) => write!(f, "{a}.{b}.0.0"),
            GroupKey::Ipv6([a, b, c, d]) => {
                let net = Ipv6Addr::new(
                    u16::from_be_bytes([a, b]),
                    u16::from_be_bytes([c, d]),
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                );
                write!(f, "{net}")
            }
            GroupKey::HeNet(nibble) => {
                let net =
                    Ipv6Addr::new(0x2001, 0x470, u16::from(nibble & 0x0f) << 12, 0, 0, 0, 0, 0);
                write!(f, "{net}")
            }
            GroupKey::Tor(key) => write!(f, "tor:{key}"),
            GroupKey::I2p(key) => write!(f, "i2p:{key}"),
            GroupKey::Cjdns(key) => write!(f, "cjdns:{key}"),
        }
    }
}

/// Whether the address is reachable over the public internet, as btcd's
/// `addrmgr.IsRoutable`: valid, and in none of the reserved ranges it lists.
///
/// Only the outer address is judged: an IPv4 address embedded in a 6to4,
/// Teredo or NAT64 address is not, as in btcd.
pub fn is_routable(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => is_routable_v4(v4),
        IpAddr::V6(v6) => is_routable_v6(v6),
    }
}

/// Whether the address is this host's own, as btcd's `addrmgr.IsLocal`:
/// IPv4 loopback (127.0.0.0/8), 0.0.0.0/8, or IPv6 `::1`.
///
/// Such an address names no remote network, so it gets its own group.
pub fn is_local(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.is_loopback() || ZERO4.contains(v4),
        IpAddr::V6(v6) => v6.is_loopback(),
    }
}

/// btcd's `IsRoutable` for a (canonical) IPv4 address.
fn is_routable_v4(ip: Ipv4Addr) -> bool {
    // btcd's IsValid: neither 0.0.0.0 nor 255.255.255.255.
    let valid = !ip.is_unspecified() && !ip.is_broadcast();
    valid
        && !(RFC1918.iter().any(|net| net.contains(ip))
            || RFC2544.contains(ip)
            || RFC3927.contains(ip)
            || RFC5737.iter().any(|net| net.contains(ip))
            || RFC6598.contains(ip)
            || ip.is_loopback()
            || ZERO4.contains(ip))
}

/// btcd's `IsRoutable` for an IPv6 address that is not IPv4-mapped.
fn is_routable_v6(ip: Ipv6Addr) -> bool {
    // btcd's IsValid: not `::`.
    let valid = !ip.is_unspecified();
    // btcd's IsZero: 0000::/16 is reserved, but RFC 6145's translated
    // addresses sit inside it and are routable.
    let zero = ZERO6.contains(ip) && !RFC6145.contains(ip);
    // Unique local addresses are private, except the OnionCat range that
    // carries Tor addresses.
    let private = RFC4193.contains(ip) && !ONION_CAT.contains(ip);
    valid
        && !(RFC4862.contains(ip)
            || RFC3849.contains(ip)
            || RFC4843.contains(ip)
            || RFC7343.contains(ip)
            || ip.is_loopback()
            || zero
            || private)
}

/// The group of a routable, non-local IPv6 address that is not IPv4-mapped.
fn group_of_v6(ip: Ipv6Addr) -> GroupKey {
    let [b0, b1, b2, b3, b4, _, b6, _, _, _, _, _, b12, b13, _, _] = ip.octets();
    if RFC6145.contains(ip) || RFC6052.contains(ip) {
        // The IPv4 address is the last four bytes.
        GroupKey::Ipv4([b12, b13])
    } else if RFC3964.contains(ip) {
        // 6to4: the IPv4 address follows the 2002::/16 prefix.
        GroupKey::Ipv4([b2, b3])
    } else if RFC4380.contains(ip) {
        // Teredo: the client's IPv4 address is the last four bytes, each
        // XORed with 0xff.
        GroupKey::Ipv4([b12 ^ 0xff, b13 ^ 0xff])
    } else if ONION_CAT.contains(ip) {
        GroupKey::Tor(b6 & 0x0f)
    } else if HE_NET.contains(ip) {
        GroupKey::HeNet(b4 >> 4)
    } else {
        GroupKey::Ipv6([b0, b1, b2, b3])
    }
}

/// An IPv4 prefix, with its mask worked out at compile time.
#[derive(Clone, Copy)]
pub(crate) struct V4Net {
    base: u32,
    mask: u32,
}

impl V4Net {
    /// `a.b.c.d/len`; a `len` over 32 fails to compile, as these are consts.
    const fn new(a: u8, b: u8, c: u8, d: u8, len: u32) -> V4Net {
        let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
        V4Net {
            base: u32::from_be_bytes([a, b, c, d]) & mask,
            mask,
        }
    }

    pub(crate) fn contains(self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask == self.base
    }
}

/// An IPv6 prefix, with its mask worked out at compile time.
#[derive(Clone, Copy)]
pub(crate) struct V6Net {
    base: u128,
    mask: u128,
}

impl V6Net {
    /// `segments/len`; a `len` over 128 fails to compile, as these are consts.
    pub(crate) const fn new(segments: [u16; 8], len: u32) -> V6Net {
        let [s0, s1, s2, s3, s4, s5, s6, s7] = segments;
        let addr = Ipv6Addr::new(s0, s1, s2, s3, s4, s5, s6, s7);
        let mask = if len == 0 {
            0
        } else {
            u128::MAX << (128 - len)
        };
        V6Net {
            base: u128::from_be_bytes(addr.octets()) & mask,
            mask,
        }
    }

    pub(crate) fn contains(self, ip: Ipv6Addr) -> bool {
        u128::from(ip) & self.mask == self.base
    }
}

/// RFC 1918 private networks.
pub(crate) const RFC1918: [V4Net; 3] = [
    V4Net::new(10, 0, 0, 0, 8),
    V4Net::new(172, 16, 0, 0, 12),
    V4Net::new(192, 168, 0, 0, 16),
];
/// RFC 2544 benchmarking.
pub(crate) const RFC2544: V4Net = V4Net::new(198, 18, 0, 0, 15);
/// RFC 3927 IPv4 link-local autoconfiguration.
pub(crate) const RFC3927: V4Net = V4Net::new(169, 254, 0, 0, 16);
/// RFC 5737 documentation (TEST-NET-1, -2, -3).
pub(crate) const RFC5737: [V4Net; 3] = [
    V4Net::new(192, 0, 2, 0, 24),
    V4Net::new(198, 51, 100, 0, 24),
    V4Net::new(203, 0, 113, 0, 24),
];
/// RFC 6598 carrier-grade NAT shared space.
pub(crate) const RFC6598: V4Net = V4Net::new(100, 64, 0, 0, 10);
/// 0.0.0.0/8, "this network": btcd counts it as local.
pub(crate) const ZERO4: V4Net = V4Net::new(0, 0, 0, 0, 8);

/// RFC 3849 IPv6 documentation.
pub(crate) const RFC3849: V6Net = V6Net::new([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32);
/// RFC 3964 6to4.
pub(crate) const RFC3964: V6Net = V6Net::new([0x2002, 0, 0, 0, 0, 0, 0, 0], 16);
/// RFC 4193 unique local addresses.
pub(crate) const RFC4193: V6Net = V6Net::new([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7);
/// RFC 4380 Teredo.
pub(crate) const RFC4380: V6Net = V6Net::new([0x2001, 0, 0, 0, 0, 0, 0, 0], 32);
/// RFC 4843 ORCHID.
pub(crate) const RFC4843: V6Net = V6Net::new([0x2001, 0x10, 0, 0, 0, 0, 0, 0], 28);
/// RFC 7343 ORCHIDv2.
pub(crate) const RFC7343: V6Net = V6Net::new([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28);
/// RFC 4862 link-local: btcd checks fe80::/64 only, not all of fe80::/10.
pub(crate) const RFC4862: V6Net = V6Net::new([0xfe80, 0, 0, 0, 0, 0, 0, 0], 64);
/// RFC 6052 NAT64 well-known prefix.
pub(crate) const RFC6052: V6Net = V6Net::new([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96);
/// RFC 6145 IPv4-translated addresses, `::ffff:0:a.b.c.d` (not the
/// IPv4-mapped `::ffff:a.b.c.d`).
pub(crate) const RFC6145: V6Net = V6Net::new([0, 0, 0, 0, 0xffff, 0, 0, 0], 96);
/// OnionCat's Tor range, inside RFC 4193.
pub(crate) const ONION_CAT: V6Net = V6Net::new([0xfd87, 0xd87e, 0xeb43, 0, 0, 0, 0, 0], 48);
/// 0000::/16, reserved; btcd uses /16 rather than /8 to spare RFC 6052.
pub(crate) const ZERO6: V6Net = V6Net::new([0, 0, 0, 0, 0, 0, 0, 0], 16);
/// Hurricane Electric, grouped by /36 instead of /32.
pub(crate) const HE_NET: V6Net = V6Net::new([0x2001, 0x470, 0, 0, 0, 0, 0, 0], 32);

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse()
            .unwrap_or_else(|e| panic!("bad test address {s:?}: {e}"))
    }

    /// btcd's TestGroupKey cases first, then every other branch and quirk.
    const GROUP_CASES: &[(&str, &str)] = &[
        // btcd: local.
        ("127.0.0.1", "local"),
        ("::1", "local"),
        ("0.0.0.0", "local"),
        ("0.1.2.3", "local"),
        // btcd: unroutable.
        ("255.255.255.255", "unroutable"),
        ("10.1.2.3", "unroutable"),
        ("172.16.1.2", "unroutable"),
        ("192.168.1.2", "unroutable"),
        ("2001:db8::1234", "unroutable"),
        ("169.254.1.2", "unroutable"),
        ("fc00::1234", "unroutable"),
        ("2001:10::1234", "unroutable"),
        ("2001:20::1234", "unroutable"),
        ("fe80::1234", "unroutable"),
        ("0:9881:8181:8181:fe00:a:9e:9801", "unroutable"),
        ("0:1::1", "unroutable"),
        // btcd: IPv4.
        ("12.1.2.3", "12.1.0.0"),
        ("173.1.2.3", "173.1.0.0"),
        ("196.1.2.3", "196.1.0.0"),
        // btcd: IPv4 inside IPv6.
        ("2002:0c01:0203::", "12.1.0.0"),
        ("2001:0:1234::f3fe:fdfc", "12.1.0.0"),
        ("64:ff9b::0c01:0203", "12.1.0.0"),
        ("::ffff:0:0c01:0203", "12.1.0.0"),
        // btcd: Tor.
        ("fd87:d87e:eb43:1234::5678", "tor:2"),
        ("fd87:d87e:eb43:1245::6789", "tor:2"),
        ("fd87:d87e:eb43:1345::6789", "tor:3"),
        // btcd: IPv6.
        ("2602:100::1", "2602:100::"),
        ("2602:0100::1234", "2602:100::"),
        ("2001:470:1f10:a1::2", "2001:470:1000::"),
        ("2001:0470:1f10:a1::2", "2001:470:1000::"),
        // Local: the rest of 127/8 and 0/8, and IPv4-mapped forms.
        ("127.255.255.255", "local"),
        ("0.255.255.255", "local"),
        ("::ffff:127.0.0.1", "local"),
        ("::ffff:0.0.0.0", "local"),
        ("::0.0.0.1", "local"),
        // Unroutable: the remaining ranges and invalid addresses.
        ("::", "unroutable"),
        ("::ffff:255.255.255.255", "unroutable"),
        ("198.18.0.1", "unroutable"),
        ("198.19.255.255", "unroutable"),
        ("192.0.2.1", "unroutable"),
        ("198.51.100.1", "unroutable"),
        ("203.0.113.1", "unroutable"),
        ("100.64.0.1", "unroutable"),
        ("100.127.255.1", "unroutable"),
        ("::ffff:10.0.0.1", "unroutable"),
        ("fd00:dead::1", "unroutable"),
        ("fd87:d87e:eb44::1", "unroutable"),
        ("2001:1f:ffff::1", "unroutable"),
        ("2001:2f:ffff::1", "unroutable"),
        ("::ffff:abcd:ef12:1", "unroutable"),
        ("::127.0.0.1", "unroutable"),
        ("::1.2.3.4", "unroutable"),
        ("0:ffff::1", "unroutable"),
        // IPv4 /16, including ranges btcd does not reserve.
        ("1.2.3.4", "1.2.0.0"),
        ("::ffff:1.2.3.4", "1.2.0.0"),
        ("11.0.0.0", "11.0.0.0"),
        ("100.63.255.255", "100.63.0.0"),
        ("100.128.0.0", "100.128.0.0"),
        ("172.32.1.1", "172.32.0.0"),
        ("224.0.0.1", "224.0.0.0"),
        ("240.0.0.1", "240.0.0.0"),
        ("255.255.255.254", "255.255.0.0"),
        // Transition ranges: the embedded IPv4 is grouped, never judged.
        ("::ffff:0:1.2.3.4", "1.2.0.0"),
        ("::ffff:0:0.0.0.0", "0.0.0.0"),
        ("64:ff9b::10.0.0.1", "10.0.0.0"),
        ("64:ff9b::127.0.0.1", "127.0.0.0"),
        ("2002:c0a8:0101::1", "192.168.0.0"),
        ("2002:ffff:ffff::", "255.255.0.0"),
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "10.0.0.0"),
        ("2001::", "255.255.0.0"),
        ("2001:0:ffff:ffff:ffff:ffff:ffff:ffff", "0.0.0.0"),
        // Just outside the /96 of RFC 6052: plain IPv6.
        ("64:ff9b:1::1", "64:ff9b::"),
        // Tor: both ends of the key nibble.
        ("fd87:d87e:eb43::", "tor:0"),
        ("fd87:d87e:eb43:ff00::", "tor:15"),
        ("fd87:d87e:eb43:f0ff:ffff:ffff:ffff:ffff", "tor:0"),
        // he.net /36: both ends.
        ("2001:470::1", "2001:470::"),
        ("2001:470:fff:ffff::", "2001:470::"),
        ("2001:470:f000::", "2001:470:f000::"),
        ("2001:470:ffff:ffff:ffff:ffff:ffff:ffff", "2001:470:f000::"),
        ("2001:471::1", "2001:471::"),
        // Plain IPv6 /32, including ranges btcd does not reserve.
        ("1::", "1::"),
        ("2001:1::1", "2001:1::"),
        ("2001:f:ffff::1", "2001:f::"),
        ("2001:30::1", "2001:30::"),
        ("2001:db9::1", "2001:db9::"),
        ("2003:0:1::1", "2003::"),
        ("2a00:1450:4001:81c::200e", "2a00:1450::"),
        ("fe80:0:0:1::1", "fe80::"),
        ("fec0::1", "fec0::"),
        ("fe00::", "fe00::"),
        ("ff02::1", "ff02::"),
        ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff::"),
    ];

    #[test]
    fn group_key_matches_btcd_table() {
        assert!(GROUP_CASES.len() >= 40);
        for &(addr, want) in GROUP_CASES {
            let key = GroupKey::of(ip(addr));
            assert_eq!(key.to_string(), want, "group of {addr} ({key:?})");
        }
    }

    #[test]
    fn group_key_variants() {
        let cases = [
            ("127.0.0.1", GroupKey::Local),
            ("10.0.0.1", GroupKey::Unroutable),
            ("12.1.2.3", GroupKey::Ipv4([12, 1])),
            ("2001:0:1234::f3fe:fdfc", GroupKey::Ipv4([12, 1])),
            ("2602:100::1", GroupKey::Ipv6([0x26, 0x02, 0x01, 0x00])),
            ("2001:470:1f10:a1::2", GroupKey::HeNet(1)),
            ("fd87:d87e:eb43:1345::6789", GroupKey::Tor(3)),
        ];
        for (addr, want) in cases {
            assert_eq!(GroupKey::of(ip(addr)), want, "group of {addr}");
        }
    }

    #[test]
    fn ipv4_mapped_groups_as_ipv4() {
        for a in 0..=255u8 {
            for b in [0u8, 1, 15, 16, 31, 32, 63, 64, 127, 128, 168, 254, 255] {
                for d in [0u8, 1, 255] {
                    let v4 = Ipv4Addr::new(a, b, 7, d);
                    let mapped = IpAddr::V6(v4.to_ipv6_mapped());
                    let v4 = IpAddr::V4(v4);
                    assert_eq!(GroupKey::of(v4), GroupKey::of(mapped), "{v4}");
                    assert_eq!(is_routable(v4), is_routable(mapped), "{v4}");
                    assert_eq!(is_local(v4), is_local(mapped), "{v4}");
                }
            }
        }
    }

    /// (address, routable, local), at the edges of each range btcd checks:
    /// first and last address inside, and the neighbours just outside.
    const BOUNDARY_CASES: &[(&str, bool, bool)] = &[
        // 0.0.0.0/8 and 127.0.0.0/8: local.
        ("0.0.0.0", false, true),
        ("0.255.255.255", false, true),
        ("1.0.0.0", true, false),
        ("126.255.255.255", true, false),
        ("127.0.0.0", false, true),
        ("127.255.255.255", false, true),
        ("128.0.0.0", true, false),
        // Broadcast is invalid but not local.
        ("255.255.255.254", true, false),
        ("255.255.255.255", false, false),
        // RFC 1918.
        ("9.255.255.255", true, false),
        ("10.0.0.0", false, false),
        ("10.255.255.255", false, false),
        ("11.0.0.0", true, false),
        ("172.15.255.255", true, false),
        ("172.16.0.0", false, false),
        ("172.31.255.255", false, false),
        ("172.32.0.0", true, false),
        ("192.167.255.255", true, false),
        ("192.168.0.0", false, false),
        ("192.168.255.255", false, false),
        ("192.169.0.0", true, false),
        // RFC 2544.
        ("198.17.255.255", true, false),
        ("198.18.0.0", false, false),
        ("198.19.255.255", false, false),
        ("198.20.0.0", true, false),
        // RFC 3927.
        ("169.253.255.255", true, false),
        ("169.254.0.0", false, false),
        ("169.254.255.255", false, false),
        ("169.255.0.0", true, false),
        // RFC 5737.
        ("192.0.1.255", true, false),
        ("192.0.2.0", false, false),
        ("192.0.2.255", false, false),
        ("192.0.3.0", true, false),
        ("198.51.99.255", true, false),
        ("198.51.100.0", false, false),
        ("198.51.100.255", false, false),
        ("198.51.101.0", true, false),
        ("203.0.112.255", true, false),
        ("203.0.113.0", false, false),
        ("203.0.113.255", false, false),
        ("203.0.114.0", true, false),
        // RFC 6598.
        ("100.63.255.255", true, false),
        ("100.64.0.0", false, false),
        ("100.127.255.255", false, false),
        ("100.128.0.0", true, false),
        // IPv4-mapped follows IPv4.
        ("::ffff:127.0.0.1", false, true),
        ("::ffff:0.0.0.0", false, true),
        ("::ffff:10.0.0.1", false, false),
        ("::ffff:1.2.3.4", true, false),
        // 0000::/16, with `::` invalid and `::1` local.
        ("::", false, false),
        ("::1", false, true),
        ("::2", false, false),
        ("::127.0.0.1", false, false),
        ("0:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false, false),
        ("1::", true, false),
        // RFC 6145, routable inside 0000::/16.
        ("::fffe:ffff:ffff:ffff", false, false),
        ("::ffff:0:0:0", true, false),
        ("::ffff:0:ffff:ffff", true, false),
        ("::ffff:1:0:0", false, false),
        // RFC 4862: only fe80::/64.
        ("fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true, false),
        ("fe80::", false, false),
        ("fe80::ffff:ffff:ffff:ffff", false, false),
        ("fe80:0:0:1::", true, false),
        // RFC 4193, except OnionCat.
        ("fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true, false),
        ("fc00::", false, false),
        ("fd87:d87e:eb42:ffff:ffff:ffff:ffff:ffff", false, false),
        ("fd87:d87e:eb43::", true, false),
        ("fd87:d87e:eb43:ffff:ffff:ffff:ffff:ffff", true, false),
        ("fd87:d87e:eb44::", false, false),
        ("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false, false),
        ("fe00::", true, false),
        // RFC 3849.
        ("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", true, false),
        ("2001:db8::", false, false),
        ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", false, false),
        ("2001:db9::", true, false),
        // RFC 4843 and RFC 7343, adjacent /28s.
        ("2001:f:ffff:ffff:ffff:ffff:ffff:ffff", true, false),
        ("2001:10::", false, false),
        ("2001:1f:ffff:ffff:ffff:ffff:ffff:ffff", false, false),
        ("2001:20::", false, false),
        ("2001:2f:ffff:ffff:ffff:ffff:ffff:ffff", false, false),
        ("2001:30::", true, false),
        // btcd's TestIPTypes rows not covered above.
        ("172.31.255.1", false, false),
        ("169.254.250.120", false, false),
        ("2001::1", true, false),
        ("2001:10:abcd::1:1", false, false),
        ("2001:20:abcd::1:1", false, false),
        ("fe80::1", false, false),
        ("fe80:1::1", true, false),
        ("64:ff9b::1", true, false),
        ("::ffff:abcd:ef12:1", false, false),
        ("0:9881:8181:8181:fe00:a:9e:9801", false, false),
        ("0::1", false, true),
        ("0:1::1", false, false),
        ("0:ffff::1", false, false),
        ("::ffff:0:0c01:0203", true, false),
    ];

    #[test]
    fn is_routable_and_is_local_at_range_boundaries() {
        for &(addr, routable, local) in BOUNDARY_CASES {
            let a = ip(addr);
            assert_eq!(is_routable(a), routable, "is_routable({addr})");
            assert_eq!(is_local(a), local, "is_local({addr})");
        }
    }

    #[test]
    fn local_is_never_routable() {
        for &(addr, _, _) in BOUNDARY_CASES {
            let a = ip(addr);
            assert!(!(is_local(a) && is_routable(a)), "{addr}");
        }
    }

    #[test]
    fn is_exempt_only_for_local_and_unroutable() {
        assert!(GroupKey::Local.is_exempt());
        assert!(GroupKey::Unroutable.is_exempt());
        assert!(!GroupKey::Ipv4([12, 1]).is_exempt());
        assert!(!GroupKey::Ipv6([0x26, 0x02, 0x01, 0x00]).is_exempt());
        assert!(!GroupKey::HeNet(1).is_exempt());
        assert!(!GroupKey::Tor(2).is_exempt());
        assert!(GroupKey::of(ip("192.168.1.1")).is_exempt());
        assert!(GroupKey::of(ip("::1")).is_exempt());
        assert!(!GroupKey::of(ip("8.8.8.8")).is_exempt());
    }

    /// Go's `net.IP.String` for a 16-byte address, ported from Go's source
    /// (`net.IP.String` and `netip.Addr.appendTo6`) to check that
    /// `Ipv6Addr`'s formatting agrees on every IPv6 group.
    fn go_ip_string(bytes: [u8; 16]) -> String {
        // Go prints anything `To4` accepts in dotted form.
        if let Some(v4) = Ipv6Addr::from(bytes).to_ipv4_mapped() {
            return v4.to_string();
        }
        let groups = Ipv6Addr::from(bytes).segments();
        // The first longest run of at least two zero groups becomes "::".
        let (mut zero_start, mut zero_end) = (255usize, 255usize);
        for i in 0..8 {
            let mut j = i;
            while j < 8 && groups[j] == 0 {
                j += 1;
            }
            let len = j - i;
            if len >= 2 && len > zero_end - zero_start {
                zero_start = i;
                zero_end = j;
            }
        }
        let mut out = String::new();
        let mut i = 0;
        while i < 8 {
            if i == zero_start {
                out.push_str("::");
                i = zero_end;
                if i >= 8 {
                    break;
                }
            } else if i > 0 {
                out.push(':');
            }
            out.push_str(&format!("{:x}", groups[i]));
            i += 1;
        }
        out
    }

    fn v6_octets(s: &str) -> [u8; 16] {
        s.parse::<Ipv6Addr>()
            .unwrap_or_else(|e| panic!("bad test address {s:?}: {e}"))
            .octets()
    }

    #[test]
    fn ipv6_display_matches_go_formatting() {
        // Spot checks of the port itself, against Go's documented output.
        assert_eq!(go_ip_string([0; 16]), "::");
        assert_eq!(go_ip_string(v6_octets("::1")), "::1");
        assert_eq!(go_ip_string(v6_octets("::ffff:1.2.3.4")), "1.2.3.4");
        assert_eq!(go_ip_string(v6_octets("1:0:1:0:0:1:0:0")), "1:0:1::1:0:0");
        assert_eq!(go_ip_string(v6_octets("1:0:0:1:0:0:1:1")), "1::1:0:0:1:1");
        assert_eq!(
            go_ip_string(v6_octets("2001:db8:0:1:1:1:1:1")),
            "2001:db8:0:1:1:1:1:1"
        );

        let samples = [0u8, 1, 0x0f, 0x10, 0x64, 0x80, 0xff];
        for a in samples {
            for b in samples {
                for c in samples {
                    for d in samples {
                        let key = GroupKey::Ipv6([a, b, c, d]);
                        let mut bytes = [0u8; 16];
                        bytes[..4].copy_from_slice(&[a, b, c, d]);
                        assert_eq!(key.to_string(), go_ip_string(bytes), "{key:?}");
                    }
                }
            }
        }
        for nibble in 0..16u8 {
            let key = GroupKey::HeNet(nibble);
            let mut bytes = [0u8; 16];
            bytes[..5].copy_from_slice(&[0x20, 0x01, 0x04, 0x70, nibble << 4]);
            assert_eq!(key.to_string(), go_ip_string(bytes), "{key:?}");
        }
    }

    #[test]
    fn ipv4_display_and_tor_display() {
        assert_eq!(GroupKey::Ipv4([0, 0]).to_string(), "0.0.0.0");
        assert_eq!(GroupKey::Ipv4([255, 255]).to_string(), "255.255.0.0");
        assert_eq!(GroupKey::Tor(0).to_string(), "tor:0");
        assert_eq!(GroupKey::Tor(15).to_string(), "tor:15");
    }

    #[test]
    fn overlay_hosts_group_by_four_random_bits() {
        let onion = Host::Onion([0x79; 32]);
        assert_eq!(GroupKey::of_host(onion), GroupKey::Tor(7));
        assert_eq!(
            GroupKey::of_host(Host::I2p([0xa2; 32])).to_string(),
            "i2p:10"
        );
        let cjdns = Host::cjdns("fc3f::1".parse().unwrap()).unwrap();
        assert_eq!(GroupKey::of_host(cjdns).to_string(), "cjdns:3");
        let ip: IpAddr = "1.2.3.4".parse().unwrap();
        assert_eq!(GroupKey::of_host(Host::Ip(ip)), GroupKey::of(ip));
        assert!(!GroupKey::of_host(onion).is_exempt());
        assert_eq!(GroupKey::Local.to_string(), "local");
        assert_eq!(GroupKey::Unroutable.to_string(), "unroutable");
    }
}
