//! Target `subnet_parse`: any text as a subnet, the way allow-lists, ban
//! commands and the serde form of `Config` and traces read one.

use std::net::IpAddr;

use connmgr::{Subnet, SubnetError};

/// Target `subnet_parse`: any bytes (read as UTF-8, invalid sequences
/// replaced) through `Subnet::from_str`. Never a panic; the same answer
/// twice and through serde's `TryFrom<String>`; a subnet that holds the
/// address it was written with, whose host bits are clear and whose text
/// reads back as itself; an error that quotes the input or names the
/// prefix that was too long.
pub fn subnet_parse(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let parsed = text.parse::<Subnet>();
    assert_eq!(
        parsed,
        text.parse::<Subnet>(),
        "subnet_parse: {text:?} parsed twice differently"
    );
    assert_eq!(
        parsed,
        Subnet::try_from(text.to_string()),
        "subnet_parse: serde's route disagrees on {text:?}"
    );
    match parsed {
        Ok(net) => check_subnet(&text, net),
        Err(e) => check_error(&text, &e),
    }
}

fn check_subnet(text: &str, net: Subnet) {
    let network = net.network();
    let bits = if network.is_ipv4() { 32 } else { 128 };
    assert!(
        net.prefix() <= bits,
        "subnet_parse: {text:?} gave /{} on a {bits}-bit address",
        net.prefix()
    );
    assert_eq!(
        network.to_canonical(),
        network,
        "subnet_parse: {text:?} kept a mapped network {network}"
    );
    assert_eq!(
        Subnet::new(network, net.prefix()),
        Ok(net),
        "subnet_parse: {text:?} has host bits set in {network}"
    );
    assert_eq!(net.is_host(), net.prefix() == bits, "subnet_parse: is_host");
    assert!(
        net.contains(network),
        "subnet_parse: {net} does not hold its own network"
    );
    let written = text.split_once('/').map_or(text, |(addr, _)| addr).trim();
    let addr: IpAddr = written
        .parse()
        .unwrap_or_else(|_| panic!("subnet_parse: {text:?} parsed, but not its address"));
    assert!(
        net.contains(addr),
        "subnet_parse: {net} (from {text:?}) does not hold {addr}"
    );
    let shown = net.to_string();
    assert_eq!(
        shown.parse::<Subnet>(),
        Ok(net),
        "subnet_parse: {net} does not read back from {shown:?}"
    );
}

fn check_error(text: &str, e: &SubnetError) {
    let message = e.to_string();
    match e {
        SubnetError::Syntax(quoted) => assert_eq!(
            quoted, text,
            "subnet_parse: the error quotes another text: {message}"
        ),
        SubnetError::PrefixTooLong { prefix, max } => {
            assert!(
                prefix > max && (*max == 32 || *max == 128),
                "subnet_parse: /{prefix} refused for a {max}-bit address: {message}"
            );
            assert!(
                message.contains(&format!("/{prefix}")),
                "subnet_parse: the message does not name the prefix: {message}"
            );
        }
    }
}
