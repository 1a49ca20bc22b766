//! Carrying out a `Dial`: a connect future the driver keeps until it
//! resolves or the core cancels it, through the SOCKS5 proxy the core's
//! route names if it names one.

use std::future::poll_fn;
use std::io;

use connmgr::{PeerAddr, Route};

use super::runtime::{Connecting, Runtime};
use crate::socks5::{Credentials, Handshake, Progress};

/// Connects to `addr` by `route`: directly to an IP or CJDNS peer, or to
/// the proxy, which is then asked for the peer (an onion or I2P name as a
/// domain name: nothing is resolved here). A peer only a proxy reaches,
/// routed directly, fails at once as unreachable. `credentials` isolate
/// the connection when the proxy says so.
pub(super) fn dial<R: Runtime>(
    runtime: &R,
    addr: PeerAddr,
    route: Route,
    credentials: impl FnOnce() -> Option<Credentials>,
) -> Connecting<R::Stream> {
    match route {
        Route::Direct => match addr.socket_addr() {
            Some(socket) => runtime.connect(socket),
            None => Box::pin(std::future::ready(Err(io::Error::new(
                io::ErrorKind::NetworkUnreachable,
                format!("{addr} is reached only through a proxy, and its network has none"),
            )))),
        },
        Route::Socks5(proxy) => {
            let connecting = runtime.connect(proxy.addr);
            let credentials = if proxy.isolate { credentials() } else { None };
            Box::pin(async move {
                let stream = connecting.await?;
                through::<R>(&stream, Handshake::new(addr, credentials)).await?;
                Ok(stream)
            })
        }
    }
}

/// Runs the SOCKS5 handshake on `stream`, reading no byte past the proxy's
/// last reply (the peer's first bytes are the application's).
async fn through<R: Runtime>(stream: &R::Stream, mut socks: Handshake) -> io::Result<()> {
    let mut buf = [0u8; 262];
    loop {
        let output = socks.take_output();
        let mut sent = 0;
        while sent < output.len() {
            let n = poll_fn(|cx| R::poll_write(stream, cx, &output[sent..])).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            sent += n;
        }
        let wants = socks.wants().min(buf.len());
        if wants == 0 {
            return Ok(());
        }
        let n = poll_fn(|cx| R::poll_read(stream, cx, &mut buf[..wants])).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "the SOCKS5 proxy closed the connection during its handshake",
            ));
        }
        match socks.received(&buf[..n]) {
            Ok(Progress::Connected) => return Ok(()),
            Ok(Progress::Pending) => {}
            Err(error) => return Err(io::Error::other(error)),
        }
    }
}
