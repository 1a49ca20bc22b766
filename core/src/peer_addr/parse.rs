//! Reading peer addresses from text, in Bitcoin Core's forms, with errors
//! that say what is wrong and how to write it.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use super::onion::{self, OnionError};
use super::{base32, Host, PeerAddr};

/// Why a text is not a peer address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddrParseError {
    input: String,
    problem: Problem,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Problem {
    Empty,
    NoPort,
    UnexpectedPort,
    BadPort(String),
    HostName(String),
    Onion(OnionError),
    I2pLength(usize),
    I2pNotBase32,
    NotCjdns,
}

impl fmt::Display for AddrParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: ", self.input)?;
        match &self.problem {
            Problem::Empty => f.write_str("no address"),
            Problem::NoPort => f.write_str(
                "no port; write HOST:PORT, e.g. 1.2.3.4:8333, [2001:db8::1]:8333 or NAME.onion:8333",
            ),
            Problem::UnexpectedPort => f.write_str("a host without a port was expected"),
            Problem::BadPort(port) => write!(f, "port {port:?} is not a number from 0 to 65535"),
            Problem::HostName(host) => write!(
                f,
                "{host:?} is a host name, not an address: resolve it first (names are never \
                 looked up here, so none leaks to a DNS server)"
            ),
            Problem::Onion(OnionError::Length(16)) => f.write_str(
                "a Tor v2 onion name, which Tor no longer serves: use the service's v3 name \
                 (56 characters)",
            ),
            Problem::Onion(OnionError::Length(n)) => {
                write!(f, "an onion name has 56 base32 characters (Tor v3), this one {n}")
            }
            Problem::Onion(OnionError::NotBase32) => {
                f.write_str("the onion name has characters outside base32 (a-z, 2-7)")
            }
            Problem::Onion(OnionError::Version(v)) => {
                write!(f, "the onion name says version {v}; only version 3 exists")
            }
            Problem::Onion(OnionError::Checksum) => f.write_str(
                "the onion name's checksum does not match: a character is wrong, check the name",
            ),
            Problem::I2pLength(n) => write!(
                f,
                "an I2P name has 52 base32 characters before .b32.i2p, this one {n}"
            ),
            Problem::I2pNotBase32 => {
                f.write_str("the I2P name has characters outside base32 (a-z, 2-7)")
            }
            Problem::NotCjdns => f.write_str(
                "a CJDNS address is an IPv6 address in fc00::/8, e.g. cjdns:[fc00::1]:8333",
            ),
        }
    }
}

impl std::error::Error for AddrParseError {}

impl AddrParseError {
    fn new(input: &str, problem: Problem) -> AddrParseError {
        AddrParseError {
            input: input.to_owned(),
            problem,
        }
    }
}

/// Splits `HOST:PORT` as Core's `SplitHostPort` does: the last colon
/// starts the port if the host has no other colon or is bracketed
/// (`[::1]:8333`); brackets around the host are dropped. `::8333` is all
/// host.
pub(super) fn split_host_port(input: &str) -> (&str, Option<&str>) {
    let mut host = input;
    let mut port = None;
    if let Some(colon) = input.rfind(':') {
        let before = &input[..colon];
        let bracketed = before.starts_with('[') && before.ends_with(']');
        if !before.contains(':') || bracketed {
            host = before;
            port = Some(&input[colon + 1..]);
        }
    }
    if host.len() >= 2 && host.starts_with('[') && host.ends_with(']') {
        host = &host[1..host.len() - 1];
    }
    (host, port)
}

/// Whether `text` starts with `cjdns:`, and the rest.
fn strip_cjdns(text: &str) -> (bool, &str) {
    const PREFIX: &str = "cjdns:";
    match (text.get(..PREFIX.len()), text.get(PREFIX.len()..)) {
        (Some(head), Some(rest)) if head.eq_ignore_ascii_case(PREFIX) => (true, rest),
        _ => (false, text),
    }
}

/// `host` as a CJDNS host if `cjdns` was written, which only an IPv6
/// address in `fc00::/8` can be.
fn tag_cjdns(host: Host, cjdns: bool, input: &str) -> Result<Host, AddrParseError> {
    if !cjdns {
        return Ok(host);
    }
    match host {
        Host::Ip(IpAddr::V6(ip)) => Host::cjdns(ip),
        _ => None,
    }
    .ok_or(AddrParseError::new(input, Problem::NotCjdns))
}

fn strip_suffix_ignore_case<'a>(text: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = text.len().checked_sub(suffix.len())?;
    let (head, tail) = (text.get(..cut)?, text.get(cut..)?);
    tail.eq_ignore_ascii_case(suffix).then_some(head)
}

fn parse_host(host: &str, input: &str) -> Result<Host, AddrParseError> {
    let fail = |problem| AddrParseError::new(input, problem);
    if let Some(name) = strip_suffix_ignore_case(host, ".onion") {
        return onion::decode(name)
            .map(Host::Onion)
            .map_err(|e| fail(Problem::Onion(e)));
    }
    if let Some(name) = strip_suffix_ignore_case(host, ".b32.i2p") {
        if name.len() != 52 {
            return Err(fail(Problem::I2pLength(name.len())));
        }
        let hash = base32::decode(name).and_then(|raw| <[u8; 32]>::try_from(raw).ok());
        return hash.map(Host::I2p).ok_or(fail(Problem::I2pNotBase32));
    }
    match host.parse::<IpAddr>() {
        Ok(ip) => Ok(Host::Ip(ip)),
        Err(_) if host.is_empty() => Err(fail(Problem::Empty)),
        Err(_) => Err(fail(Problem::HostName(host.to_owned()))),
    }
}

impl FromStr for Host {
    type Err = AddrParseError;

    /// Core's forms, and `cjdns:fc..` for a CJDNS host.
    fn from_str(text: &str) -> Result<Host, AddrParseError> {
        let (cjdns, rest) = strip_cjdns(text);
        let (host, port) = split_host_port(rest);
        let host = tag_cjdns(parse_host(host, text)?, cjdns, text)?;
        match port {
            None => Ok(host),
            Some(_) => Err(AddrParseError::new(text, Problem::UnexpectedPort)),
        }
    }
}

impl FromStr for PeerAddr {
    type Err = AddrParseError;

    /// Core's forms, and `cjdns:[fc..]:PORT` for a CJDNS peer (text alone
    /// cannot tell CJDNS from private IPv6).
    fn from_str(text: &str) -> Result<PeerAddr, AddrParseError> {
        let fail = |problem| AddrParseError::new(text, problem);
        let (cjdns, rest) = strip_cjdns(text);
        let (host, port) = split_host_port(rest);
        let host = tag_cjdns(parse_host(host, text)?, cjdns, text)?;
        let port = port.ok_or(fail(Problem::NoPort))?;
        let port = port
            .parse::<u16>()
            .map_err(|_| fail(Problem::BadPort(port.to_owned())))?;
        Ok(PeerAddr::new(host, port))
    }
}
