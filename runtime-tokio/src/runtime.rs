//! [`Tokio`]: the shared driver's [`Runtime`] on tokio.

use std::future::Future;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use connmgr_net::driver::{Connecting, Driver, PeerLink, Runtime, Spawn};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Handle;
use tokio::time::Sleep;

use crate::PeerStream;

/// The tokio runtime a manager runs on: by default the one
/// [`Builder::new`](crate::Builder) is called in.
#[derive(Clone, Debug)]
pub struct Tokio {
    handle: Option<Handle>,
}

impl Tokio {
    /// The runtime of `handle` (for a builder called outside it, with
    /// [`Builder::runtime`](crate::Builder::runtime)).
    pub fn new(handle: Handle) -> Tokio {
        Tokio {
            handle: Some(handle),
        }
    }
}

impl Default for Tokio {
    /// The current runtime, if there is one; building fails otherwise.
    fn default() -> Tokio {
        Tokio {
            handle: Handle::try_current().ok(),
        }
    }
}

impl Runtime for Tokio {
    type Stream = TcpStream;
    type Listener = TcpListener;
    type Timer = Pin<Box<Sleep>>;
    type Peer = PeerStream;

    fn check(&self) -> io::Result<()> {
        match self.handle {
            Some(_) => Ok(()),
            None => Err(io::Error::other(
                "connmgr-tokio must be built from within a tokio runtime (inside #[tokio::main] or Runtime::block_on), or be given one with Builder::new(config).runtime(Tokio::new(handle))",
            )),
        }
    }

    /// tokio's clock, so that a runtime whose time is paused
    /// (`start_paused`, `tokio::time::advance`) moves the core's time too.
    fn now(&self) -> std::time::Instant {
        tokio::time::Instant::now().into_std()
    }

    fn timer(&self, deadline: std::time::Instant) -> Self::Timer {
        let _inside = self.handle.as_ref().map(Handle::enter);
        Box::pin(tokio::time::sleep_until(deadline.into()))
    }

    fn reset_timer(&self, timer: &mut Self::Timer, deadline: std::time::Instant) {
        timer.as_mut().reset(deadline.into());
    }

    fn poll_timer(&self, timer: &mut Self::Timer, cx: &mut Context<'_>) -> Poll<()> {
        timer.as_mut().poll(cx)
    }

    fn listener(&self, socket: std::net::TcpListener) -> io::Result<TcpListener> {
        let _inside = self.handle.as_ref().map(Handle::enter);
        TcpListener::from_std(socket)
    }

    fn poll_accept(
        &self,
        listener: &TcpListener,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        listener.poll_accept(cx)
    }

    fn connect(&self, addr: SocketAddr) -> Connecting<TcpStream> {
        Box::pin(TcpStream::connect(addr))
    }

    fn poll_read(
        stream: &TcpStream,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            std::task::ready!(stream.poll_read_ready(cx))?;
            match stream.try_read(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                done => return Poll::Ready(done),
            }
        }
    }

    fn poll_write(stream: &TcpStream, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        loop {
            std::task::ready!(stream.poll_write_ready(cx))?;
            match stream.try_write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                done => return Poll::Ready(done),
            }
        }
    }

    fn shutdown(stream: &TcpStream) -> io::Result<()> {
        socket2::SockRef::from(stream).shutdown(Shutdown::Both)
    }

    fn peer(stream: Arc<TcpStream>, link: PeerLink) -> PeerStream {
        PeerStream::new(stream, link)
    }
}

impl Spawn for Tokio {
    fn spawn(&self, driver: Driver) {
        match &self.handle {
            Some(handle) => drop(handle.spawn(driver)),
            // `build` checked there is one.
            None => debug_assert!(false, "spawned without a tokio runtime"),
        }
    }
}

/// Configures and starts a connection manager on tokio: see
/// [`connmgr_net::Builder`] for every option.
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// let mut config = connmgr::Config::default();
/// config.target_outbound = 8;
/// let (handle, mut events) = connmgr_tokio::Builder::new(config)
///     .listen("0.0.0.0:8333".parse()?)
///     .seeds(["203.0.113.7:8333".parse::<connmgr::PeerAddr>()?])
///     .peers_file("peers.json")
///     .record_trace("node.trace.jsonl")
///     .spawn()?;
/// # Ok(()) }
/// ```
pub type Builder = connmgr_net::Builder<Tokio>;
