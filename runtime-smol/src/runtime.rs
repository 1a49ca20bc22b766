//! [`Smol`]: the shared driver's [`Runtime`] on smol's reactor (async-io).

use std::future::Future;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use async_io::{Async, Timer};
use connmgr_net::driver::{Connecting, PeerLink, Runtime};

use crate::PeerStream;

/// async-io's reactor, under whichever executor runs the driver.
#[derive(Clone, Copy, Debug, Default)]
pub struct Smol;

impl Runtime for Smol {
    type Stream = Async<TcpStream>;
    type Listener = Async<TcpListener>;
    type Timer = Timer;
    type Peer = PeerStream;

    fn now(&self) -> std::time::Instant {
        std::time::Instant::now()
    }

    fn timer(&self, deadline: std::time::Instant) -> Timer {
        Timer::at(deadline)
    }

    fn reset_timer(&self, timer: &mut Timer, deadline: std::time::Instant) {
        timer.set_at(deadline);
    }

    fn poll_timer(&self, timer: &mut Timer, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(timer).poll(cx).map(drop)
    }

    fn listener(&self, socket: TcpListener) -> io::Result<Async<TcpListener>> {
        Async::new(socket)
    }

    fn poll_accept(
        &self,
        listener: &Async<TcpListener>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(Async<TcpStream>, SocketAddr)>> {
        loop {
            ready!(listener.poll_readable(cx))?;
            match listener.get_ref().accept() {
                // Readiness was stale: wait for the next.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
                Ok((stream, remote)) => {
                    return Poll::Ready(Async::new(stream).map(|stream| (stream, remote)))
                }
            }
        }
    }

    fn connect(&self, addr: SocketAddr) -> Connecting<Async<TcpStream>> {
        Box::pin(Async::<TcpStream>::connect(addr))
    }

    fn poll_read(
        stream: &Async<TcpStream>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        futures_lite::AsyncRead::poll_read(Pin::new(&mut &*stream), cx, buf)
    }

    fn poll_write(
        stream: &Async<TcpStream>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        futures_lite::AsyncWrite::poll_write(Pin::new(&mut &*stream), cx, buf)
    }

    fn shutdown(stream: &Async<TcpStream>) -> io::Result<()> {
        socket2::SockRef::from(stream.get_ref()).shutdown(Shutdown::Both)
    }

    fn peer(stream: Arc<Async<TcpStream>>, link: PeerLink) -> PeerStream {
        PeerStream::new(stream, link)
    }
}

/// Configures a connection manager on smol's reactor: see
/// [`connmgr_net::Builder`] for every option. [`build`](Builder::build)
/// returns the handle, the events and the [`Driver`](connmgr_net::driver::Driver) to run.
pub type Builder = connmgr_net::Builder<Smol>;
