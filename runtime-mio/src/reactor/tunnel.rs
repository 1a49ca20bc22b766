//! A dial through a SOCKS5 proxy on a non-blocking socket: the shared
//! sans-IO handshake (`connmgr_net::socks5`), moved on by readiness.

use std::io::{self, Read, Write};

use connmgr_net::socks5::{Handshake, Progress};
use mio::net::TcpStream;

/// The handshake of one dial, and what it has yet to send.
pub(super) struct Tunnel {
    handshake: Handshake,
    unsent: Vec<u8>,
}

impl Tunnel {
    pub(super) fn new(handshake: Handshake) -> Tunnel {
        Tunnel {
            handshake,
            unsent: Vec::new(),
        }
    }

    /// Moves the handshake on as far as the connected `stream` allows now:
    /// `Ok(true)` once the tunnel is up, `Ok(false)` to wait for the next
    /// readiness. Reads no byte past the proxy's last reply.
    pub(super) fn pump(&mut self, stream: &mut TcpStream) -> io::Result<bool> {
        let mut buf = [0u8; 262];
        loop {
            self.unsent.extend(self.handshake.take_output());
            while !self.unsent.is_empty() {
                match stream.write(&self.unsent) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => drop(self.unsent.drain(..n)),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            let wants = self.handshake.wants().min(buf.len());
            if wants == 0 {
                return Ok(true);
            }
            match stream.read(&mut buf[..wants]) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::ConnectionReset,
                        "the SOCKS5 proxy closed the connection during its handshake",
                    ))
                }
                Ok(n) => match self.handshake.received(&buf[..n]) {
                    Ok(Progress::Connected) => return Ok(true),
                    Ok(Progress::Pending) => {}
                    Err(error) => return Err(io::Error::other(error)),
                },
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}
