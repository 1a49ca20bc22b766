//! A SOCKS5 client handshake as a sans-IO state machine (RFC 1928, with
//! RFC 1929's username and password), shared by every runtime: the async
//! driver and mio's reactor feed it the bytes they read and send the bytes
//! it asks for, and it says when the tunnel is up or why it failed.
//!
//! An onion or I2P peer goes to the proxy as a domain name, never resolved
//! here, so no DNS query leaves the machine; an IP peer goes as an
//! address. Credentials, when given, are what Tor uses for stream
//! isolation: connections with different credentials get different
//! circuits.
//!
//! ```
//! use connmgr_net::socks5::{Handshake, Progress};
//!
//! let peer = "pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion:8333";
//! let mut socks = Handshake::new(peer.parse().unwrap(), None);
//! assert_eq!(socks.take_output(), [5, 1, 0]); // version 5, one method: none
//! assert_eq!(socks.received(&[5, 0]).unwrap(), Progress::Pending); // none it is
//! let request = socks.take_output(); // CONNECT, by name
//! assert_eq!(request[3], 3);
//! // The proxy says it connected (bound to 0.0.0.0:0), then the peer speaks.
//! let reply = [5, 0, 0, 1, 0, 0, 0, 0, 0, 0, b'h', b'i'];
//! assert_eq!(socks.received(&reply).unwrap(), Progress::Connected);
//! assert_eq!(socks.take_leftover(), b"hi");
//! ```

use std::fmt;
use std::net::IpAddr;

use connmgr::{ConnId, DialError, PeerAddr};

const VERSION: u8 = 5;
const NO_AUTH: u8 = 0x00;
const USER_PASS: u8 = 0x02;
const NO_ACCEPTABLE: u8 = 0xff;
const CONNECT: u8 = 0x01;
const ATYP_IPV4: u8 = 0x01;
const ATYP_NAME: u8 = 0x03;
const ATYP_IPV6: u8 = 0x04;

/// A username and password for the proxy (RFC 1929), each 1 to 255 bytes.
/// Tor isolates streams by them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    user: Vec<u8>,
    pass: Vec<u8>,
}

impl Credentials {
    /// `None` if either is empty or longer than 255 bytes.
    pub fn new(user: impl Into<Vec<u8>>, pass: impl Into<Vec<u8>>) -> Option<Credentials> {
        let (user, pass) = (user.into(), pass.into());
        let fits = |b: &[u8]| (1..=255).contains(&b.len());
        (fits(&user) && fits(&pass)).then_some(Credentials { user, pass })
    }
}

/// Credentials that give every connection a Tor circuit of its own: the
/// connection's id and attempt, after a number drawn once per process, so
/// that no two connections, in this run or another, share them (Bitcoin
/// Core uses a counter for the same end).
#[derive(Clone, Copy, Debug)]
pub struct Isolation {
    session: u64,
}

impl Isolation {
    /// A session of its own. Should the operating system have no random
    /// number to give, the time stands in: isolation between the
    /// connections of one run needs only the ids to differ.
    pub fn new() -> Isolation {
        let session = getrandom::u64().unwrap_or_else(|_| {
            let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
            since.map_or(0, |d| d.as_nanos() as u64)
        });
        Isolation { session }
    }

    /// The credentials of `attempt` of connection `id`.
    pub fn credentials(&self, id: ConnId, attempt: u32) -> Credentials {
        let name = format!("{:016x}-{}-{attempt}", self.session, id.raw());
        Credentials {
            user: name.clone().into_bytes(),
            pass: name.into_bytes(),
        }
    }
}

impl Default for Isolation {
    fn default() -> Isolation {
        Isolation::new()
    }
}

/// Where the handshake stands after the bytes it was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// More bytes are needed, perhaps after sending [`Handshake::take_output`].
    Pending,
    /// The tunnel is up: what follows is the peer's.
    Connected,
}

/// Why the proxy did not connect us.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Socks5Error {
    /// The proxy accepts none of the offered authentication methods.
    NoAcceptableMethod,
    /// The proxy refused the username and password.
    AuthRejected,
    /// The proxy answered the CONNECT with this failure code (RFC 1928's,
    /// or Tor's extended ones for onion services, 0xF0 to 0xF7).
    Reply(u8),
    /// The proxy does not speak SOCKS5 as RFC 1928 has it.
    Protocol(&'static str),
}

impl Socks5Error {
    /// The dial error the manager is told (and backs off by).
    pub fn dial_error(self) -> DialError {
        match self {
            Socks5Error::Reply(0x05) => DialError::Refused,
            Socks5Error::Reply(0x03 | 0x04 | 0xf0..=0xf6) => DialError::Unreachable,
            Socks5Error::Reply(0x06 | 0xf7) => DialError::TimedOut,
            _ => DialError::Other,
        }
    }
}

impl fmt::Display for Socks5Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Socks5Error::NoAcceptableMethod => {
                f.write_str("the SOCKS5 proxy accepts none of the offered authentication methods")
            }
            Socks5Error::AuthRejected => {
                f.write_str("the SOCKS5 proxy refused the username and password")
            }
            Socks5Error::Reply(code) => {
                write!(f, "the SOCKS5 proxy answered: {}", reply_text(*code))
            }
            Socks5Error::Protocol(what) => write!(f, "not a SOCKS5 proxy: {what}"),
        }
    }
}

impl std::error::Error for Socks5Error {}

fn reply_text(code: u8) -> String {
    let text = match code {
        0x01 => "general failure",
        0x02 => "connection not allowed by its rules",
        0x03 => "network unreachable",
        0x04 => "host unreachable",
        0x05 => "connection refused",
        0x06 => "TTL expired (timed out)",
        0x07 => "command not supported",
        0x08 => "address type not supported",
        0xf0 => "onion service descriptor not found",
        0xf1 => "onion service descriptor invalid",
        0xf2 => "onion service introduction failed",
        0xf3 => "onion service rendezvous failed",
        0xf4 => "onion service needs client authorization",
        0xf5 => "onion service client authorization wrong",
        0xf6 => "bad onion address",
        0xf7 => "onion service introduction timed out",
        _ => return format!("unknown failure code {code:#04x}"),
    };
    format!("{text} ({code:#04x})")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Method,
    Auth,
    Reply,
    Done,
    Failed,
}

/// One SOCKS5 CONNECT handshake, from greeting to tunnel.
#[derive(Clone, Debug)]
pub struct Handshake {
    state: State,
    target: PeerAddr,
    credentials: Option<Credentials>,
    output: Vec<u8>,
    input: Vec<u8>,
}

impl Handshake {
    /// A handshake asking the proxy for `target`, authenticating with
    /// `credentials` if given (else offering no authentication). The
    /// greeting is ready in [`take_output`](Handshake::take_output).
    pub fn new(target: PeerAddr, credentials: Option<Credentials>) -> Handshake {
        let method = if credentials.is_some() {
            USER_PASS
        } else {
            NO_AUTH
        };
        Handshake {
            state: State::Method,
            target,
            credentials,
            output: vec![VERSION, 1, method],
            input: Vec::new(),
        }
    }

    /// The bytes to send to the proxy now (empty if none).
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    /// Bytes received after the handshake: the peer's, to keep.
    pub fn take_leftover(&mut self) -> Vec<u8> {
        if self.state == State::Done {
            std::mem::take(&mut self.input)
        } else {
            Vec::new()
        }
    }

    /// Feeds bytes read from the proxy.
    pub fn received(&mut self, bytes: &[u8]) -> Result<Progress, Socks5Error> {
        if self.state == State::Done {
            self.input.extend_from_slice(bytes);
            return Ok(Progress::Connected);
        }
        if self.state == State::Failed {
            return Err(Socks5Error::Protocol("bytes after a failed handshake"));
        }
        self.input.extend_from_slice(bytes);
        let result = self.advance();
        if result.is_err() {
            self.state = State::Failed;
        }
        result
    }

    fn advance(&mut self) -> Result<Progress, Socks5Error> {
        loop {
            match self.state {
                State::Method => {
                    let Some(reply) = self.consume(2) else {
                        return Ok(Progress::Pending);
                    };
                    if reply[0] != VERSION {
                        return Err(Socks5Error::Protocol("the method reply is not version 5"));
                    }
                    match (reply[1], &self.credentials) {
                        (NO_ACCEPTABLE, _) => return Err(Socks5Error::NoAcceptableMethod),
                        (NO_AUTH, None) => self.request(),
                        (USER_PASS, Some(c)) => {
                            let mut auth = vec![1, c.user.len() as u8];
                            auth.extend_from_slice(&c.user);
                            auth.push(c.pass.len() as u8);
                            auth.extend_from_slice(&c.pass);
                            self.output.extend(auth);
                            self.state = State::Auth;
                        }
                        _ => return Err(Socks5Error::Protocol("a method that was not offered")),
                    }
                }
                State::Auth => {
                    let Some(reply) = self.consume(2) else {
                        return Ok(Progress::Pending);
                    };
                    if reply[0] != 1 {
                        return Err(Socks5Error::Protocol("the auth reply is not version 1"));
                    }
                    if reply[1] != 0 {
                        return Err(Socks5Error::AuthRejected);
                    }
                    self.request();
                }
                State::Reply => {
                    let Some(len) = self.reply_len()? else {
                        return Ok(Progress::Pending);
                    };
                    let Some(reply) = self.consume(len) else {
                        return Ok(Progress::Pending);
                    };
                    if reply[1] != 0 {
                        return Err(Socks5Error::Reply(reply[1]));
                    }
                    self.state = State::Done;
                    return Ok(Progress::Connected);
                }
                State::Done => return Ok(Progress::Connected),
                State::Failed => return Err(Socks5Error::Protocol("a failed handshake")),
            }
        }
    }

    /// Queues the CONNECT: an onion or I2P name as a domain name, an IP
    /// (or CJDNS) peer as its address.
    /// How many more bytes the handshake needs before it can move on: a
    /// runtime that reads no more than this never reads past the proxy's
    /// last reply into the peer's first bytes. 0 once it is over.
    pub fn wants(&self) -> usize {
        let have = self.input.len();
        match self.state {
            State::Method | State::Auth => 2usize.saturating_sub(have),
            State::Reply => match self.reply_len() {
                Ok(Some(len)) => len.saturating_sub(have),
                Ok(None) => 5usize.saturating_sub(have),
                // `received` has reported it already.
                Err(_) => 0,
            },
            State::Done | State::Failed => 0,
        }
    }

    fn request(&mut self) {
        let mut request = vec![VERSION, CONNECT, 0];
        let host = self.target.host();
        match host.ip().map(|ip| ip.to_canonical()) {
            Some(IpAddr::V4(v4)) => {
                request.push(ATYP_IPV4);
                request.extend_from_slice(&v4.octets());
            }
            Some(IpAddr::V6(v6)) => {
                request.push(ATYP_IPV6);
                request.extend_from_slice(&v6.octets());
            }
            // Onion and I2P: the name, 62 or 60 bytes.
            None => {
                let name = host.to_string();
                request.push(ATYP_NAME);
                request.push(name.len() as u8);
                request.extend_from_slice(name.as_bytes());
            }
        }
        request.extend_from_slice(&self.target.port().to_be_bytes());
        self.output.extend(request);
        self.state = State::Reply;
    }

    /// The length of the CONNECT reply, once enough of it is here to say.
    fn reply_len(&self) -> Result<Option<usize>, Socks5Error> {
        if self.input.len() < 5 {
            return Ok(None);
        }
        if self.input[0] != VERSION {
            return Err(Socks5Error::Protocol("the CONNECT reply is not version 5"));
        }
        let address = match self.input[3] {
            ATYP_IPV4 => 4,
            ATYP_IPV6 => 16,
            ATYP_NAME => 1 + usize::from(self.input[4]),
            _ => {
                return Err(Socks5Error::Protocol(
                    "an unknown address type in the reply",
                ))
            }
        };
        Ok(Some(4 + address + 2))
    }

    fn consume(&mut self, n: usize) -> Option<Vec<u8>> {
        (self.input.len() >= n).then(|| self.input.drain(..n).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONION: &str = "pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion";

    fn connected_reply() -> Vec<u8> {
        vec![5, 0, 0, 1, 127, 0, 0, 1, 0x20, 0x8d]
    }

    #[test]
    fn an_ip_peer_is_asked_for_by_address() {
        let mut socks = Handshake::new("1.2.3.4:8333".parse().unwrap(), None);
        assert_eq!(socks.take_output(), [5, 1, 0]);
        assert_eq!(socks.received(&[5, 0]), Ok(Progress::Pending));
        assert_eq!(socks.take_output(), [5, 1, 0, 1, 1, 2, 3, 4, 0x20, 0x8d]);
        assert_eq!(socks.received(&connected_reply()), Ok(Progress::Connected));
        let mut v6 = Handshake::new("[2001:db8::1]:18444".parse().unwrap(), None);
        v6.take_output();
        v6.received(&[5, 0]).unwrap();
        let request = v6.take_output();
        assert_eq!((request[3], request.len()), (4, 4 + 16 + 2));
    }

    #[test]
    fn an_onion_peer_reaches_the_proxy_as_a_name_with_its_credentials() {
        let peer: PeerAddr = format!("{ONION}:8333").parse().unwrap();
        let creds = Credentials::new("conn-7", "x").unwrap();
        let mut socks = Handshake::new(peer, Some(creds));
        assert_eq!(socks.take_output(), [5, 1, 2]);
        assert_eq!(socks.received(&[5, 2]), Ok(Progress::Pending));
        assert_eq!(socks.take_output(), b"\x01\x06conn-7\x01x");
        assert_eq!(socks.received(&[1, 0]), Ok(Progress::Pending));
        let request = socks.take_output();
        assert_eq!(&request[..5], [5, 1, 0, 3, ONION.len() as u8]);
        assert_eq!(&request[5..5 + ONION.len()], ONION.as_bytes());
        assert_eq!(&request[5 + ONION.len()..], [0x20, 0x8d]);
    }

    #[test]
    fn replies_may_arrive_a_byte_at_a_time_and_the_peer_s_bytes_are_kept() {
        let mut socks = Handshake::new("1.2.3.4:8333".parse().unwrap(), None);
        socks.take_output();
        let mut stream = vec![5, 0];
        stream.extend([5, 0, 0, 3, 4, b'a', b'b', b'c', b'd', 0, 80]);
        stream.extend(b"version");
        let mut last = Progress::Pending;
        for byte in stream {
            last = socks.received(&[byte]).unwrap();
        }
        assert_eq!(last, Progress::Connected);
        assert_eq!(socks.take_leftover(), b"version");
    }

    #[test]
    fn a_refusal_maps_to_the_dial_error_the_core_backs_off_by() {
        let cases = [
            (5, DialError::Refused),
            (4, DialError::Unreachable),
            (0xf0, DialError::Unreachable),
            (6, DialError::TimedOut),
            (0xf7, DialError::TimedOut),
            (1, DialError::Other),
        ];
        for (code, expected) in cases {
            let mut socks = Handshake::new("1.2.3.4:8333".parse().unwrap(), None);
            socks.received(&[5, 0]).unwrap();
            let reply = [5, code, 0, 1, 0, 0, 0, 0, 0, 0];
            let error = socks.received(&reply).unwrap_err();
            assert_eq!(error, Socks5Error::Reply(code));
            assert_eq!(error.dial_error(), expected, "{error}");
        }
    }

    #[test]
    fn a_proxy_that_breaks_the_protocol_is_named_as_such() {
        let mut wrong_version = Handshake::new("1.2.3.4:8333".parse().unwrap(), None);
        let error = wrong_version.received(&[4, 0]).unwrap_err();
        assert!(
            error.to_string().starts_with("not a SOCKS5 proxy"),
            "{error}"
        );
        assert!(wrong_version.received(&[5, 0]).is_err(), "failed for good");

        let mut unoffered = Handshake::new("1.2.3.4:8333".parse().unwrap(), None);
        assert!(matches!(
            unoffered.received(&[5, 2]),
            Err(Socks5Error::Protocol(_))
        ));

        let mut none = Handshake::new("1.2.3.4:8333".parse().unwrap(), None);
        assert_eq!(
            none.received(&[5, 0xff]),
            Err(Socks5Error::NoAcceptableMethod)
        );

        let creds = Credentials::new("u", "p");
        let mut rejected = Handshake::new("1.2.3.4:8333".parse().unwrap(), creds);
        rejected.received(&[5, 2]).unwrap();
        assert_eq!(rejected.received(&[1, 1]), Err(Socks5Error::AuthRejected));
    }

    #[test]
    fn credentials_must_fit_rfc_1929() {
        assert!(Credentials::new("", "p").is_none());
        assert!(Credentials::new(vec![b'u'; 256], "p").is_none());
        assert!(Credentials::new(vec![b'u'; 255], vec![b'p'; 255]).is_some());
    }

    #[test]
    fn reading_only_what_it_wants_never_reads_the_peers_bytes() {
        let creds = Credentials::new("a", "b");
        let mut socks = Handshake::new(format!("{ONION}:8333").parse().unwrap(), creds);
        // The proxy's replies, then the peer's first bytes, in one stream.
        let mut wire = vec![5, 2, 1, 0, 5, 0, 0, 3, 3, b'a', b'b', b'c', 0, 1];
        wire.extend_from_slice(b"peer");
        let mut at = 0;
        let mut reads = 0;
        while socks.wants() > 0 {
            let n = socks.wants();
            assert!(socks.received(&wire[at..at + n]).is_ok());
            at += n;
            reads += 1;
        }
        assert_eq!(&wire[at..], b"peer", "not one byte of the peer's was read");
        assert_eq!(reads, 4, "method, auth, reply header, rest of the reply");
        assert!(socks.take_leftover().is_empty());
    }
}
