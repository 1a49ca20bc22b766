//! Target `group_key`: `GroupKey::of` and the locality rules on any address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use arbitrary::{Arbitrary, Unstructured};
use connmgr::group::{is_local, is_routable};
use connmgr::GroupKey;

pub(crate) fn decode_ips(data: &[u8]) -> Vec<IpAddr> {
    let mut u = Unstructured::new(data);
    let mut ips = Vec::new();
    while !u.is_empty() && ips.len() < 64 {
        match IpAddr::arbitrary(&mut u) {
            Ok(ip) => ips.push(ip),
            Err(_) => break,
        }
    }
    ips
}

/// Target `group_key`: any IP address has a group; computing it never
/// panics and gives the same answer twice; `is_exempt` agrees with
/// `is_local`/`is_routable`; an IPv4-mapped address groups as its IPv4
/// address; the display is never empty, reads back as the group it names,
/// and tells different groups apart.
pub fn group_key(data: &[u8]) {
    let ips = decode_ips(data);
    let keys: Vec<(GroupKey, String)> = ips.iter().map(|&ip| check_group(ip)).collect();
    for (i, (a, sa)) in keys.iter().enumerate() {
        for (b, sb) in keys.iter().skip(i + 1) {
            assert_eq!(
                a == b,
                sa == sb,
                "group_key: {a:?} displays as {sa:?} and {b:?} as {sb:?}"
            );
        }
    }
}

fn check_group(ip: IpAddr) -> (GroupKey, String) {
    let key = GroupKey::of(ip);
    assert_eq!(
        key,
        GroupKey::of(ip),
        "group_key: {ip} grouped twice differently"
    );
    let (local, routable) = (is_local(ip), is_routable(ip));
    assert!(
        !(local && routable),
        "group_key: {ip} is both local and routable"
    );
    assert_eq!(
        key.is_exempt(),
        local || !routable,
        "group_key: {ip} is in {key:?} (exempt: {}) but local={local} routable={routable}",
        key.is_exempt()
    );
    assert_eq!(
        key == GroupKey::Local,
        local,
        "group_key: {ip} in {key:?}, local={local}"
    );
    assert_eq!(
        key == GroupKey::Unroutable,
        !local && !routable,
        "group_key: {ip} in {key:?}, local={local} routable={routable}"
    );
    assert_eq!(
        GroupKey::of(ip.to_canonical()),
        key,
        "group_key: {ip} and its canonical form group differently"
    );
    if let IpAddr::V4(v4) = ip {
        let mapped = IpAddr::V6(v4.to_ipv6_mapped());
        assert_eq!(
            GroupKey::of(mapped),
            key,
            "group_key: {ip} and {mapped} group differently"
        );
        assert_eq!(
            is_routable(mapped),
            routable,
            "group_key: {mapped} routability"
        );
        assert_eq!(is_local(mapped), local, "group_key: {mapped} locality");
        if routable {
            let [a, b, _, _] = v4.octets();
            assert_eq!(
                key,
                GroupKey::Ipv4([a, b]),
                "group_key: {ip} is not in its /16"
            );
        }
    }
    let text = key.to_string();
    assert!(!text.is_empty(), "group_key: {key:?} displays as nothing");
    match key {
        GroupKey::Local => assert_eq!(text, "local"),
        GroupKey::Unroutable => assert_eq!(text, "unroutable"),
        GroupKey::Ipv4([a, b]) => {
            let net: Ipv4Addr = text
                .parse()
                .unwrap_or_else(|_| panic!("group_key: {key:?} displays as {text:?}"));
            assert_eq!(
                net.octets(),
                [a, b, 0, 0],
                "group_key: {key:?} displays as {text}"
            );
        }
        GroupKey::Ipv6(prefix) => {
            let net: Ipv6Addr = text
                .parse()
                .unwrap_or_else(|_| panic!("group_key: {key:?} displays as {text:?}"));
            let mut expected = [0u8; 16];
            expected[..4].copy_from_slice(&prefix);
            assert_eq!(
                net.octets(),
                expected,
                "group_key: {key:?} displays as {text}"
            );
        }
        GroupKey::HeNet(nibble) => {
            assert!(nibble < 16, "group_key: {ip} gives HeNet({nibble})");
            let net: Ipv6Addr = text
                .parse()
                .unwrap_or_else(|_| panic!("group_key: {key:?} displays as {text:?}"));
            let o = net.octets();
            assert_eq!(
                (o[..4] == [0x20, 0x01, 0x04, 0x70], o[4] >> 4, o[4] & 0x0f),
                (true, nibble, 0),
                "group_key: {key:?} displays as {text}"
            );
        }
        GroupKey::Tor(n) => {
            assert!(n < 16, "group_key: {ip} gives Tor({n})");
            assert_eq!(text, format!("tor:{n}"));
        }
        GroupKey::I2p(_) | GroupKey::Cjdns(_) => {
            panic!("group_key: the IP address {ip} is in the overlay group {key:?}")
        }
    }
    (key, text)
}
