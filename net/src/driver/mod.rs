//! The one async driver: the core on any async event loop, through a small
//! [`Runtime`] trait (feature `async`).
//!
//! The tokio and smol adapters are this driver and a [`Runtime`]
//! implementation each (connect, accept, a timer, the loop's clock,
//! `shutdown(2)`, and their own peer stream type). Everything else lives
//! here once: the command handling behind [`Handle`], the action
//! performing, the [`Events`] the application reads, shutdown and its
//! errors.
//!
//! # What the driver does, and what it never decides
//!
//! The core ([`connmgr::ConnManager`]) makes every decision. The driver
//! only carries them out and reports what happened:
//!
//! - one future ([`Driver`]) owns the core, feeds it every event with the
//!   current time, performs the actions it drains, and waits for the next
//!   event or the core's `poll_timeout`; it spawns nothing, so the order in
//!   which it feeds inputs is the trace's order;
//! - `Dial` is a connect future inside the driver, dropped on `CancelDial`
//!   (the core owns the dial timeout: the driver adds none); io errors map
//!   onto [`DialError`](connmgr::DialError) kinds;
//! - `RequestAddress` is answered from the address source (by default the
//!   address book the [`Builder`] opened), which is told of
//!   outbound connections (`connected`) and, if asked, of accepted peers
//!   (`learned`);
//! - the driver accepts on every listener the core has not paused and
//!   reports `Accepted` and `AcceptFailed`; a paused listener is not polled
//!   at all, so EMFILE never makes it spin; the errors accept(2) says to
//!   retry are retried at once and not reported;
//! - every connection is handed to the application as the runtime's peer
//!   stream, which owns the socket and reports `Closed` (through its
//!   [`PeerLink`]) when dropped, shut down, or on end-of-file or an error;
//!   a `Close` of a stream the application holds is carried out with
//!   `shutdown(2)` through a weak reference, so no descriptor is
//!   duplicated and none can be reused under it;
//! - [`Handle::shutdown`] feeds `Stop`, closes every dial, listener and
//!   connection the manager owns, flushes the trace, saves the address book
//!   and returns the final [`Stats`](connmgr::Stats), or a
//!   [`PersistError`](crate::PersistError) naming what could not be saved.

mod chan;
mod dial;
mod events;
mod handle;
mod link;
mod run;
mod runtime;
mod set;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use connmgr::Instant;

use crate::{BuildError, Builder, Prepared};
use chan::channel;
use run::{Listener, State};
use set::FutureSet;

pub use events::Events;
pub use handle::Handle;
pub use link::PeerLink;
pub use runtime::{Connecting, Runtime, Spawn};

/// The connection manager's work, as a future: run it on the runtime's
/// executor (`tokio::spawn`, `smol::spawn`, a thread with
/// `async_io::block_on`, …). It completes after a shutdown, asked for with
/// [`Handle::shutdown`] or by dropping every handle. Dropping it unfinished
/// closes every socket the manager owns, without flushing the trace or
/// saving the address book.
#[must_use = "the manager does nothing unless its driver is run"]
pub struct Driver(Pin<Box<dyn Future<Output = ()> + Send>>);

impl Future for Driver {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.as_mut().poll(cx)
    }
}

impl fmt::Debug for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver").finish_non_exhaustive()
    }
}

/// Puts a prepared manager on `runtime`: its listeners registered, the
/// channels made, the driver ready to run.
pub(crate) fn launch<R: Runtime>(
    runtime: R,
    prepared: Prepared,
) -> Result<(Handle, Events<R::Peer>, Driver), BuildError> {
    let Prepared {
        core,
        source,
        clock,
        listeners: sockets,
        listen_addrs,
        listen_networks,
        learn_inbound,
        ..
    } = prepared;
    let mut listeners = Vec::with_capacity(sockets.len());
    let bound = sockets.into_iter().zip(&listen_addrs).zip(listen_networks);
    for ((socket, &addr), network) in bound {
        let io = runtime
            .listener(socket)
            .map_err(|source| BuildError::Listen { addr, source })?;
        listeners.push(Listener {
            io: Some(io),
            network,
            paused: false,
        });
    }
    let (commands_tx, commands) = channel();
    let (events, events_rx) = channel();
    let (closed_tx, closed_rx) = channel();
    let timer = runtime.timer(clock.deadline(Instant::MAX));
    let state = State {
        runtime,
        core,
        clock,
        source,
        learn_inbound,
        commands,
        events,
        closed_tx,
        closed_rx,
        listeners,
        dials: FutureSet::new(),
        established: Default::default(),
        handed_in: None,
        timer,
        armed: None,
        isolation: crate::socks5::Isolation::new(),
    };
    Ok((
        Handle::new(commands_tx, listen_addrs.into()),
        Events::new(events_rx),
        Driver(Box::pin(state.run())),
    ))
}

impl<R: Spawn> Builder<R> {
    /// [`build`](Builder::build)s the manager and runs its driver on the
    /// runtime's executor. Returns the handle and the stream of peer events.
    pub fn spawn(self) -> Result<(Handle, Events<R::Peer>), BuildError> {
        let (runtime, prepared) = self.prepare()?;
        let (handle, events, driver) = launch(runtime.clone(), prepared)?;
        runtime.spawn(driver);
        Ok((handle, events))
    }
}
