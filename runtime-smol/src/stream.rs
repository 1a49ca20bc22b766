//! [`PeerStream`]: a connected peer, owned by the application.
//!
//! As in the tokio adapter: the socket lives in an `Arc<Async<TcpStream>>`,
//! the application's stream holds the only strong reference and the driver
//! a `Weak`, so a `Close` is a `shutdown(2)` through `socket2::SockRef` on a
//! socket that cannot have been closed meanwhile, with no descriptor
//! duplicated. async-io reads and writes through `&Async<TcpStream>`, so the
//! shared socket needs no lock.
//!
//! The stream reports `Closed` once, at the first of: end-of-file on a
//! read, a read or write error, a `close`, or the stream being dropped.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_io::Async;
use connmgr_net::driver::PeerLink;
use futures_lite::io::{AsyncRead, AsyncWrite};

/// What happened to a peer, with its [`PeerStream`] on `Connected`.
pub type Event = connmgr::Event<PeerStream>;

/// The stream of [`Event`]s of one manager.
pub type Events = connmgr_net::driver::Events<PeerStream>;

/// A connection the manager established (or accepted) and handed over: read
/// and write it with futures-io's traits. Dropping it, closing it, or
/// reading end-of-file or an error from it tells the manager the connection
/// ended. When the manager closes it, reads return end-of-file and writes
/// fail.
#[derive(Debug)]
pub struct PeerStream {
    io: Arc<Async<TcpStream>>,
    link: PeerLink,
}

impl PeerStream {
    pub(crate) fn new(io: Arc<Async<TcpStream>>, link: PeerLink) -> PeerStream {
        PeerStream { io, link }
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Who the peer is (its id and address, as the manager knows them) and
    /// whether the manager has been told the connection ended.
    pub fn link(&self) -> &PeerLink {
        &self.link
    }

    /// The socket, for options (`set_nodelay`, …). Reading or
    /// writing through it bypasses the end-of-stream reporting.
    pub fn get_ref(&self) -> &TcpStream {
        self.io.get_ref()
    }

    /// Reports the end on an error, or on a value `eof` says is the end.
    fn track<T>(
        &mut self,
        poll: Poll<io::Result<T>>,
        eof: impl Fn(&T) -> bool,
    ) -> Poll<io::Result<T>> {
        if matches!(&poll, Poll::Ready(Ok(value)) if eof(value)) {
            self.link.report_closed();
        }
        poll.map(|result| self.link.track(result))
    }
}

impl AsyncRead for PeerStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let wanted = !buf.is_empty();
        let poll = Pin::new(&mut &*this.io).poll_read(cx, buf);
        this.track(poll, |&n| n == 0 && wanted)
    }

    fn poll_read_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let wanted = bufs.iter().any(|b| !b.is_empty());
        let poll = Pin::new(&mut &*this.io).poll_read_vectored(cx, bufs);
        this.track(poll, |&n| n == 0 && wanted)
    }
}

impl AsyncWrite for PeerStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut &*this.io).poll_write(cx, buf);
        this.track(poll, |_| false)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut &*this.io).poll_write_vectored(cx, bufs);
        this.track(poll, |_| false)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Shuts the write half down and tells the manager the connection
    /// ended.
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = socket2::SockRef::from(this.io.get_ref()).shutdown(Shutdown::Write);
        this.link.report_closed();
        Poll::Ready(match result {
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            other => other,
        })
    }
}
