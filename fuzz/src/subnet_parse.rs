//! Target `subnet_parse`: any text as a subnet, the way allow-lists, ban
//! commands and the serde form of `Config` and traces read one.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use connmgr::{Subnet, SubnetError};

/// Target `subnet_parse`: any bytes (read as UTF-8, invalid sequences
/// replaced) through `Subnet::from_str`. Never a panic; the same answer
/// through serde as a JSON string, and a subnet that serializes as its
/// display; membership as the written address's bits say (checked on
/// probes computed here in plain integers); no host bits, and a display
/// that reads back as itself; an error that quotes the input or names the
/// prefix that was too long for the address written.
pub fn subnet_parse(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let parsed = text.parse::<Subnet>();
    let via_serde = serde_json::from_value::<Subnet>(serde_json::Value::String(text.to_string()));
    assert_eq!(
        parsed.as_ref().ok(),
        via_serde.as_ref().ok(),
        "subnet_parse: serde reads {text:?} otherwise: {via_serde:?}"
    );
    match parsed {
        Ok(net) => check_subnet(&text, net),
        Err(e) => check_error(&text, &e),
    }
}

/// The address and prefix as written, when the address part parses.
fn written(text: &str) -> Option<(IpAddr, Option<&str>)> {
    let (addr, prefix) = match text.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix)),
        None => (text, None),
    };
    Some((addr.trim().parse().ok()?, prefix))
}

/// An address as bits, and its width.
fn bits(ip: IpAddr) -> (u128, u32) {
    match ip {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    }
}

/// Bits of the family `like` as an address.
fn address(like: IpAddr, bits: u128) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(bits as u32)),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(bits)),
    }
}

fn check_subnet(text: &str, net: Subnet) {
    let shown = net.to_string();
    assert_eq!(
        shown.parse::<Subnet>(),
        Ok(net),
        "subnet_parse: {net} does not read back from {shown:?}"
    );
    assert_eq!(
        serde_json::to_value(net).ok(),
        Some(serde_json::Value::String(shown.clone())),
        "subnet_parse: {net} does not serialize as its display"
    );
    let network = match net.network() {
        connmgr::Host::Ip(ip) => ip,
        // An onion or I2P name: a subnet of itself alone, nothing to mask.
        host => {
            assert!(net.is_host(), "subnet_parse: {net} is not one address");
            assert!(net.contains_host(host) && shown == host.to_string());
            return;
        }
    };
    let width = bits(network).1;
    assert!(
        u32::from(net.prefix()) <= width,
        "subnet_parse: {text:?} gave /{} on a {width}-bit address",
        net.prefix()
    );
    assert_eq!(
        Subnet::new(network, net.prefix()),
        Ok(net),
        "subnet_parse: {text:?} has host bits set in {network}"
    );
    assert_eq!(
        net.is_host(),
        u32::from(net.prefix()) == width,
        "subnet_parse: is_host of {net}"
    );

    let (addr, prefix) = written(text)
        .unwrap_or_else(|| panic!("subnet_parse: {text:?} parsed, but not its address"));
    let (addr_bits, addr_width) = bits(addr);
    let prefix: u32 = match prefix {
        Some(p) => p
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("subnet_parse: {text:?} parsed, but not its prefix")),
        None => addr_width,
    };
    // The network the written bits give: the address with its host bits
    // cleared; an IPv4-mapped one with a prefix of 96 or more is that IPv4
    // subnet, its prefix counted from the mapped part.
    let masked = if prefix == 0 {
        0
    } else {
        addr_bits >> (addr_width - prefix) << (addr_width - prefix)
    };
    let expected_net = match address(addr, masked) {
        IpAddr::V6(v6) if prefix >= 96 => match v6.to_ipv4_mapped() {
            Some(v4) => (IpAddr::V4(v4), prefix - 96),
            None => (IpAddr::V6(v6), prefix),
        },
        ip => (ip, prefix),
    };
    assert_eq!(
        (network, u32::from(net.prefix())),
        expected_net,
        "subnet_parse: {text:?} gave {net}"
    );
    // Membership by the written bits: a probe is inside when its first
    // `prefix` bits are the written address's. The one exception is the
    // documented one: an IPv6 subnet holds no IPv4-mapped address, since
    // those count as IPv4.
    let expected = |probe: u128| {
        let same = prefix == 0 || (probe ^ addr_bits) >> (addr_width - prefix) == 0;
        let mapped =
            matches!(address(addr, probe), IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some());
        same && !(mapped && network.is_ipv6())
    };
    let mut probes = vec![addr_bits];
    if prefix > 0 {
        probes.push(addr_bits ^ (1 << (addr_width - prefix)));
    }
    if prefix < addr_width {
        probes.push(addr_bits ^ 1);
    }
    for probe in probes {
        let ip = address(addr, probe);
        assert_eq!(
            net.contains(ip),
            expected(probe),
            "subnet_parse: {net} (from {text:?}) and {ip}"
        );
    }
}

fn check_error(text: &str, e: &SubnetError) {
    let message = e.to_string();
    match e {
        SubnetError::Syntax(quoted) => assert_eq!(
            quoted, text,
            "subnet_parse: the error quotes another text: {message}"
        ),
        SubnetError::PrefixTooLong { prefix, max } => {
            let written = written(text).map(|(addr, _)| bits(addr).1);
            assert!(
                prefix > max && written == Some(u32::from(*max)),
                "subnet_parse: /{prefix} refused for {text:?} as longer than {max} bits"
            );
            assert!(
                message.contains(&format!("/{prefix}")),
                "subnet_parse: the message does not name the prefix: {message}"
            );
        }
    }
}
