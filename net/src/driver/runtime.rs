//! [`Runtime`]: what the shared driver needs of an async event loop, and
//! nothing more (quinn's `Runtime` trait is the model).
//!
//! An adapter implements it on a small handle type: connect, accept, a
//! timer, the loop's clock, `shutdown(2)`, and how to wrap a connection for
//! the application. Every decision stays in the core and every piece of
//! bookkeeping in the driver, so two adapters cannot drift apart.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::{launch, Driver, Events, Handle, PeerLink};
use crate::{BuildError, Launch, Prepared};

/// A connect in progress; dropping it abandons the dial and closes its
/// socket.
pub type Connecting<S> = Pin<Box<dyn Future<Output = io::Result<S>> + Send>>;

/// An async event loop the shared driver can run on.
///
/// Everything is polled from the one driver future: no method may block,
/// and the driver spawns nothing of its own.
pub trait Runtime: Clone + Send + Sync + 'static {
    /// A connected socket. Shared between the application's stream (the
    /// only strong reference) and the driver (a weak one, to shut it down).
    type Stream: Send + Sync + 'static;
    /// A listening socket.
    type Listener: Send + 'static;
    /// A timer the driver re-arms.
    type Timer: Send + 'static;
    /// The application's end of a connection, made from the socket and the
    /// link that reports its end to the manager.
    type Peer: Send + 'static;

    /// Whether the manager can be handed to this runtime now (tokio's
    /// adapter needs to be inside a tokio runtime); the error says what to
    /// do instead.
    fn check(&self) -> io::Result<()> {
        Ok(())
    }

    /// The loop's monotonic time.
    fn now(&self) -> std::time::Instant;

    /// A timer that fires at `deadline`.
    fn timer(&self, deadline: std::time::Instant) -> Self::Timer;

    /// Moves `timer` to `deadline` (earlier or later).
    fn reset_timer(&self, timer: &mut Self::Timer, deadline: std::time::Instant);

    /// Ready once the timer's deadline has passed.
    fn poll_timer(&self, timer: &mut Self::Timer, cx: &mut Context<'_>) -> Poll<()>;

    /// Registers a bound, non-blocking std listener with the loop.
    fn listener(&self, socket: std::net::TcpListener) -> io::Result<Self::Listener>;

    /// One accepted connection and its remote address, an accept(2) error,
    /// or `Pending` (the task is woken when another may be accepted).
    fn poll_accept(
        &self,
        listener: &Self::Listener,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(Self::Stream, SocketAddr)>>;

    /// Starts connecting to `addr`.
    fn connect(&self, addr: SocketAddr) -> Connecting<Self::Stream>;

    /// Reads what has arrived into `buf` (0 at end-of-file), or `Pending`.
    /// Only the SOCKS5 handshake uses it, before the stream is the
    /// application's.
    fn poll_read(
        stream: &Self::Stream,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>>;

    /// Writes some of `buf`, or `Pending`; as `poll_read`, for the SOCKS5
    /// handshake.
    fn poll_write(
        stream: &Self::Stream,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>>;

    /// `shutdown(2)` in both directions: the application's reads see
    /// end-of-file and its writes fail, the descriptor stays its own.
    fn shutdown(stream: &Self::Stream) -> io::Result<()>;

    /// The application's end of an established connection.
    fn peer(stream: Arc<Self::Stream>, link: PeerLink) -> Self::Peer;
}

/// A runtime with an executor to run the driver on, which makes
/// [`Builder::spawn`](crate::Builder::spawn) available.
pub trait Spawn: Runtime {
    /// Runs `driver` to completion in the background.
    fn spawn(&self, driver: Driver);
}

impl<R: Runtime> Launch for R {
    type Built = (Handle, Events<R::Peer>, Driver);
    type Error = BuildError;

    fn check(&self) -> io::Result<()> {
        Runtime::check(self)
    }

    fn now(&self) -> std::time::Instant {
        Runtime::now(self)
    }

    fn launch(self, prepared: Prepared) -> Result<Self::Built, BuildError> {
        launch(self, prepared)
    }
}
