//! Carrying out a `Dial`: a connect future the driver keeps until it
//! resolves or the core cancels it.

use std::io;

use connmgr::PeerAddr;

use super::runtime::{Connecting, Runtime};

/// Connects to `addr`. An IP or CJDNS peer is connected to directly; a
/// peer only a proxy reaches (an onion or I2P name) fails at once as
/// unreachable, and is never resolved here.
pub(super) fn dial<R: Runtime>(runtime: &R, addr: PeerAddr) -> Connecting<R::Stream> {
    match addr.socket_addr() {
        Some(socket) => runtime.connect(socket),
        None => Box::pin(std::future::ready(Err(io::Error::new(
            io::ErrorKind::NetworkUnreachable,
            format!("{addr} is reached only through a proxy"),
        )))),
    }
}
