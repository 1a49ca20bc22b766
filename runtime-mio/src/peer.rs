//! [`Peer`]: a connected stream handed to the application.

use std::cell::RefCell;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::rc::{Rc, Weak};

use connmgr::{ConnId, ConnectedPeer, Direction, PeerAddr};
use mio::event::Source;
use mio::net::TcpStream;
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

/// Peers the application dropped, waiting to be reported as
/// `Input::Closed`: the id, and the serial of the connection (a permanent
/// peer keeps its id across redials, so the id alone could name the next
/// connection).
pub(crate) type Dropped = Rc<RefCell<Vec<(ConnId, u64)>>>;

/// A connected peer, owned by the application: the stream and its
/// [`ConnId`].
///
/// Read and write it like a [`mio::net::TcpStream`] (it implements
/// [`Read`] and [`Write`], and so does `&Peer`), and register it in any
/// [`Registry`] with any token: it is a mio [`Source`].
///
/// **Dropping it ends the connection**: the socket is closed and the reactor
/// reports `Input::Closed` to the manager at its next
/// [`advance`](crate::Reactor::advance). Drop it when a read returns 0 (EOF)
/// or an error such as a reset.
///
/// When the manager closes the connection (`Disconnect`, `Remove`, `Stop`),
/// the reactor calls `shutdown(2)` on the stream, which the application then
/// sees as EOF on its next read; dropping the peer after that reports
/// nothing more.
pub struct Peer {
    info: ConnectedPeer,
    serial: u64,
    stream: Rc<TcpStream>,
    dropped: Dropped,
}

impl Peer {
    /// Wraps `stream`; the reactor keeps the returned weak reference to
    /// shut it down while the application holds it.
    pub(crate) fn new(
        info: ConnectedPeer,
        serial: u64,
        stream: TcpStream,
        dropped: Dropped,
    ) -> (Peer, Weak<TcpStream>) {
        let stream = Rc::new(stream);
        let weak = Rc::downgrade(&stream);
        let peer = Peer {
            info,
            serial,
            stream,
            dropped,
        };
        (peer, weak)
    }

    /// The manager's id for this connection.
    pub fn id(&self) -> ConnId {
        self.info.id
    }

    /// The peer's address: for a peer reached through a proxy, its own
    /// (an onion or I2P name), not the proxy's.
    pub fn peer_addr(&self) -> PeerAddr {
        self.info.addr
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream.local_addr()
    }

    /// Who opened the connection.
    pub fn direction(&self) -> Direction {
        self.info.direction
    }

    /// Whether the manager redials this peer whenever it drops.
    pub fn is_permanent(&self) -> bool {
        self.info.kind == connmgr::ConnKind::Permanent
    }

    /// What the connection is for (a block-relay-only peer gets only
    /// blocks).
    pub fn kind(&self) -> connmgr::ConnKind {
        self.info.kind
    }

    /// The stream, for its other methods (`set_nodelay`, …).
    /// `&TcpStream` implements [`Read`] and [`Write`].
    pub fn get_ref(&self) -> &TcpStream {
        &self.stream
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // The stream closes when the last strong reference, this one, goes;
        // the reactor only holds a weak one.
        self.dropped.borrow_mut().push((self.info.id, self.serial));
    }
}

impl fmt::Debug for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Peer")
            .field("id", &self.info.id)
            .field("peer_addr", &self.info.addr)
            .field("direction", &self.info.direction)
            .field("kind", &self.info.kind)
            .field("fd", &self.stream.as_raw_fd())
            .finish()
    }
}

impl Read for Peer {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self.stream).read(buf)
    }
    fn read_vectored(&mut self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        (&*self.stream).read_vectored(bufs)
    }
}

impl Read for &Peer {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self.stream).read(buf)
    }
    fn read_vectored(&mut self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        (&*self.stream).read_vectored(bufs)
    }
}

impl Write for Peer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self.stream).write(buf)
    }
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        (&*self.stream).write_vectored(bufs)
    }
    fn flush(&mut self) -> io::Result<()> {
        (&*self.stream).flush()
    }
}

impl Write for &Peer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self.stream).write(buf)
    }
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        (&*self.stream).write_vectored(bufs)
    }
    fn flush(&mut self) -> io::Result<()> {
        (&*self.stream).flush()
    }
}

/// Registers the stream's descriptor, as `TcpStream`'s own impl does on
/// Unix.
impl Source for Peer {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        SourceFd(&self.stream.as_raw_fd()).register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        SourceFd(&self.stream.as_raw_fd()).reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        SourceFd(&self.stream.as_raw_fd()).deregister(registry)
    }
}

impl AsRawFd for Peer {
    fn as_raw_fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }
}

impl AsFd for Peer {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }
}
