//! [`PeerStream`]: a connected peer, owned by the application.
//!
//! # How the manager keeps a way to close a stream it gave away
//!
//! The socket lives in an `Arc<TcpStream>`. The application's
//! [`PeerStream`] holds the only strong reference; the driver keeps a
//! `Weak`. To carry out a `Close` action the driver upgrades the `Weak`
//! (which fails once the application has dropped the stream, so there is
//! nothing to close) and calls `shutdown(2)` on the socket through
//! `socket2::SockRef`: the application's next read sees end-of-file and
//! its writes fail, while the descriptor stays valid until the application
//! drops the stream. No descriptor is duplicated and no raw descriptor
//! number is kept, so a shutdown can never hit a reused descriptor: while
//! the driver holds the upgraded `Arc`, the socket cannot be closed.
//!
//! Reads and writes go through tokio's `&TcpStream` readiness API
//! (`poll_read_ready` + `try_read`), the way tokio's own owned halves share
//! one socket.
//!
//! # How the manager hears that a stream ended
//!
//! A `PeerStream` reports `Closed` to its manager once, at the first of:
//! end-of-file on a read, a read or write error (a reset), a
//! [`shutdown`](tokio::io::AsyncWriteExt::shutdown) by the application, or
//! the stream being dropped. A stream the application never reads learns of
//! a reset only when it is read, written or dropped, as with any socket.

use std::io::{self, IoSlice};
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use connmgr_net::driver::PeerLink;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// What happened to a peer, with its [`PeerStream`] on `Connected`.
pub type Event = connmgr::Event<PeerStream>;

/// The stream of [`Event`]s of one manager.
pub type Events = connmgr_net::driver::Events<PeerStream>;

/// A connection the manager established (or accepted) and handed over: read
/// and write it like a [`TcpStream`]. Dropping it, shutting it down, or
/// reading end-of-file or an error from it tells the manager the connection
/// ended (`Input::Closed`). When the manager closes it (a `disconnect`,
/// `remove` or shutdown), reads return end-of-file and writes fail.
#[derive(Debug)]
pub struct PeerStream {
    io: Arc<TcpStream>,
    link: PeerLink,
}

impl PeerStream {
    pub(crate) fn new(io: Arc<TcpStream>, link: PeerLink) -> PeerStream {
        PeerStream { io, link }
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.local_addr()
    }

    /// Who the peer is (its id and address, as the manager knows them) and
    /// whether the manager has been told the connection ended.
    pub fn link(&self) -> &PeerLink {
        &self.link
    }

    /// The socket, for options (`set_nodelay`, …) and
    /// readiness. Reading or writing through it bypasses the end-of-stream
    /// reporting: prefer the stream's own `AsyncRead`/`AsyncWrite`.
    pub fn get_ref(&self) -> &TcpStream {
        &self.io
    }

    /// Writes with `write` once the socket is writable (again, if the
    /// readiness was stale); reports the end on an error.
    fn poll_write_with(
        &mut self,
        cx: &mut Context<'_>,
        write: impl Fn(&TcpStream) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.io.poll_write_ready(cx)).inspect_err(|_| self.link.report_closed())?;
            match write(&self.io) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                result => return Poll::Ready(self.link.track(result)),
            }
        }
    }
}

impl AsyncRead for PeerStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            let ready = ready!(this.io.poll_read_ready(cx));
            if let Err(e) = ready {
                this.link.report_closed();
                return Poll::Ready(Err(e));
            }
            let result = this.io.try_read(buf.initialize_unfilled());
            match result {
                Ok(0) => {
                    this.link.report_closed();
                    return Poll::Ready(Ok(()));
                }
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                // Readiness was stale; `try_read` cleared it: wait again.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => {
                    this.link.report_closed();
                    return Poll::Ready(Err(e));
                }
            }
        }
    }
}

impl AsyncWrite for PeerStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_write_with(cx, |io| io.try_write(buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_write_with(cx, |io| io.try_write_vectored(bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Writes go straight to the socket.
        Poll::Ready(Ok(()))
    }

    /// Shuts the write half down and tells the manager the connection
    /// ended; reading what the peer still sends remains possible.
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = socket2::SockRef::from(&*this.io).shutdown(Shutdown::Write);
        this.link.report_closed();
        Poll::Ready(match result {
            // Already shut down by the manager or reset by the peer: closed
            // either way.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            other => other,
        })
    }
}
