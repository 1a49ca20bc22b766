//! The driver's state and loop: feeds the core what happens, performs what
//! it decides.
//!
//! One future polls everything: the handle's commands, the core's timer,
//! the streams' closed reports, the dials in flight (a [`FutureSet`],
//! dropped on `CancelDial`) and the listeners the core has not paused. It
//! spawns nothing, so an adapter only has to run it, and every input is
//! handled in one order, which is the trace's order.

use std::collections::HashMap;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

use connmgr::{
    Action, ConnId, Event, Ignored, Input, Instant, ListenerId, Network, PeerEvent, Stats,
};
use connmgr_store::AddressSource;

use super::chan::{Receiver, Sender};
use super::dial::dial;
use super::handle::Command;
use super::set::FutureSet;
use super::{PeerLink, Runtime};
use crate::socks5::Isolation;
use crate::{accept_error, dial_error, learned_input, save_anchors, save_source, tell_source};
use crate::{Clock, Core, Error, PersistError};

/// Wake-ups handled in a row without waiting before the driver yields to
/// its executor, so that a busy manager cannot starve the application's
/// tasks on a single-threaded runtime.
const BUDGET: u32 = 128;

/// Transient accept errors (accept(2)'s "retry") taken in one poll of a
/// listener before the driver moves on and comes back.
const TRANSIENT_RETRIES: u32 = 64;

/// A listener; `None` once the core closed it.
pub(super) struct Listener<L> {
    pub(super) io: Option<L>,
    /// The network its connections come over, if not their address's.
    pub(super) network: Option<Network>,
    /// Not polled while paused: an error like EMFILE cannot make it spin.
    pub(super) paused: bool,
}

/// What woke the driver.
enum Wake<R: Runtime> {
    Command(Option<Command>),
    Tick,
    Closed(ConnId),
    Dialled((ConnId, u32), io::Result<R::Stream>),
    Accepted(ListenerId, io::Result<(R::Stream, SocketAddr)>),
}

pub(super) struct State<R: Runtime> {
    pub(super) runtime: R,
    pub(super) core: Core,
    pub(super) clock: Clock,
    pub(super) source: Box<dyn AddressSource>,
    pub(super) learn_inbound: bool,
    pub(super) commands: Receiver<Command>,
    pub(super) events: Sender<Event<R::Peer>>,
    /// Given to every peer's link, to report its end.
    pub(super) closed_tx: Sender<ConnId>,
    pub(super) closed_rx: Receiver<ConnId>,
    /// Indexed by `ListenerId`.
    pub(super) listeners: Vec<Listener<R::Listener>>,
    pub(super) dials: FutureSet<(ConnId, u32), io::Result<R::Stream>>,
    /// Connections handed to the application, to shut down on `Close`.
    pub(super) established: HashMap<ConnId, Weak<R::Stream>>,
    /// The socket the input being handled brought in (an accepted
    /// connection, a completed dial), until its `Connected` takes it or its
    /// `Close` drops it.
    pub(super) handed_in: Option<(ConnId, R::Stream)>,
    pub(super) timer: R::Timer,
    /// The deadline the timer is set to, while one is.
    pub(super) armed: Option<Instant>,
    /// Per-connection proxy credentials (Tor stream isolation).
    pub(super) isolation: Isolation,
}

impl<R: Runtime> State<R> {
    pub(super) async fn run(mut self) {
        let _ = self.input(Input::Start);
        self.perform_all();
        let mut in_a_row = 0;
        loop {
            self.arm_timer();
            let mut polls = 0;
            let wake = poll_fn(|cx| {
                polls += 1;
                self.poll_wake(cx)
            })
            .await;
            match wake {
                Wake::Command(Some(Command::Shutdown(reply))) => {
                    let _ = reply.send(self.stop());
                    return;
                }
                Wake::Command(Some(command)) => self.command(command),
                Wake::Command(None) => {
                    // Every handle is gone: nobody can ask for shutdown.
                    if let Err(error) = self.stop() {
                        tracing::warn!(%error, "shutdown after the last handle was dropped");
                    }
                    return;
                }
                Wake::Tick => self.tick(),
                Wake::Closed(id) => {
                    // An id the manager closed itself is not reported again.
                    if self.established.remove(&id).is_some() {
                        let _ = self.input(Input::Closed { id });
                    }
                }
                Wake::Dialled((id, attempt), result) => self.dialled(id, attempt, result),
                Wake::Accepted(listener, result) => self.accepted(listener, result),
            }
            self.perform_all();
            in_a_row = if polls == 1 { in_a_row + 1 } else { 0 };
            if in_a_row >= BUDGET {
                in_a_row = 0;
                yield_now().await;
            }
        }
    }

    /// Sets the timer for the core's next deadline, but only when it is
    /// earlier than the one set: moving a timer wakes some reactors
    /// (async-io's), and the deadline moves after nearly every dial. A timer
    /// left at an earlier deadline fires once for nothing and is set again.
    fn arm_timer(&mut self) {
        let Some(at) = self.core.poll_timeout() else {
            return;
        };
        if self.armed.is_some_and(|armed| armed <= at) {
            return;
        }
        self.runtime
            .reset_timer(&mut self.timer, self.clock.deadline(at));
        self.armed = Some(at);
    }

    /// The first thing ready, in priority order.
    fn poll_wake(&mut self, cx: &mut Context<'_>) -> Poll<Wake<R>> {
        if let Poll::Ready(command) = self.commands.poll_recv(cx) {
            return Poll::Ready(Wake::Command(command));
        }
        if self.armed.is_some() && self.runtime.poll_timer(&mut self.timer, cx).is_ready() {
            return Poll::Ready(Wake::Tick);
        }
        if let Poll::Ready(Some(id)) = self.closed_rx.poll_recv(cx) {
            return Poll::Ready(Wake::Closed(id));
        }
        if let Poll::Ready(Some((key, result))) = self.dials.poll_next(cx) {
            return Poll::Ready(Wake::Dialled(key, result));
        }
        for (index, listener) in self.listeners.iter().enumerate() {
            let Some(io) = listener.io.as_ref().filter(|_| !listener.paused) else {
                continue;
            };
            let id = ListenerId(u32::try_from(index).unwrap_or(u32::MAX));
            for _ in 0..TRANSIENT_RETRIES {
                match self.runtime.poll_accept(io, cx) {
                    Poll::Pending => break,
                    // accept(2)'s transient errors (a connection that died
                    // in the queue): accept again, tell nobody.
                    Poll::Ready(Err(e)) if accept_error(&e).is_none() => {
                        tracing::debug!(listener = %id, error = %e, "accept failed, retried");
                    }
                    Poll::Ready(result) => return Poll::Ready(Wake::Accepted(id, result)),
                }
            }
        }
        Poll::Pending
    }

    /// Feeds `input` now; its actions wait in the core for `perform_all`.
    fn input(&mut self, input: Input) -> Result<Option<ConnId>, Ignored> {
        let result = self.core.handle(self.now(), input);
        if let Err(ignored) = &result {
            tracing::debug!(%ignored, "input ignored");
        }
        result
    }

    fn now(&self) -> Instant {
        self.clock.instant(self.runtime.now())
    }

    fn tick(&mut self) {
        self.armed = None;
        let now = self.now();
        if self.core.tick(now) {
            let _ = self.input(Input::Tick);
        }
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Input { input, reply } => {
                let _ = reply.send(self.input(input));
            }
            Command::Ban {
                subnet,
                duration,
                reply,
            } => {
                let until = self.now() + duration;
                let _ = reply.send(self.input(Input::Ban { subnet, until }));
            }
            Command::Learned { from, addrs, reply } => {
                let now = self.now();
                let input = learned_input(&self.core, &mut *self.source, now, from, addrs);
                let _ = reply.send(input.map_or(Ok(None), |input| self.input(input)));
            }
            Command::Query(question) => question(self.core.manager()),
            Command::Save(reply) => {
                let _ = reply.send(self.save());
            }
            Command::Shutdown(reply) => {
                debug_assert!(false, "shutdown is handled by the loop");
                drop(reply);
            }
        }
    }

    fn dialled(&mut self, id: ConnId, attempt: u32, result: io::Result<R::Stream>) {
        let result = match result {
            Ok(stream) => {
                self.handed_in = Some((id, stream));
                Ok(())
            }
            Err(error) => {
                tracing::debug!(conn = id.raw(), %error, "dial failed");
                Err(dial_error(&error))
            }
        };
        let _ = self.input(Input::DialResult {
            id,
            attempt,
            result,
        });
    }

    fn accepted(&mut self, listener: ListenerId, result: io::Result<(R::Stream, SocketAddr)>) {
        match result {
            Ok((stream, remote)) => {
                let network = usize::try_from(listener.0)
                    .ok()
                    .and_then(|i| self.listeners.get(i))
                    .and_then(|l| l.network);
                if let Ok(Some(id)) = self.input(Input::Accepted {
                    listener,
                    remote,
                    network,
                }) {
                    self.handed_in = Some((id, stream));
                }
            }
            Err(e) => {
                tracing::debug!(%listener, error = %e, "accept failed");
                // `poll_wake` retries the errors that map to nothing.
                let error = accept_error(&e).unwrap_or(connmgr::AcceptError::Other);
                let _ = self.input(Input::AcceptFailed { listener, error });
            }
        }
    }

    /// Performs every action the core has queued, and those they lead to;
    /// then closes a socket nobody claimed (the core ignored its input).
    fn perform_all(&mut self) {
        while let Some(action) = self.core.poll_action() {
            self.perform(action);
        }
        if let Some((id, _stream)) = self.handed_in.take() {
            tracing::debug!(conn = id.raw(), "unclaimed socket closed");
        }
    }

    fn perform(&mut self, action: Action) {
        match action {
            Action::RequestAddress { id } => {
                let now = self.now();
                let mgr = self.core.manager();
                let result = self
                    .source
                    .next_address(now, &|group| mgr.outbound_group_count(group));
                let _ = self.input(Input::AddressResult { id, result });
            }
            Action::Dial {
                id,
                attempt,
                addr,
                route,
                ..
            } => {
                let credentials = || Some(self.isolation.credentials(id, attempt));
                let connecting = dial(&self.runtime, addr, route, credentials);
                self.dials.insert((id, attempt), connecting);
            }
            Action::CancelDial { id, attempt } => {
                // Dropping the connect closes its socket.
                self.dials.remove((id, attempt));
            }
            Action::Close { id, reason } => {
                tracing::debug!(conn = id.raw(), ?reason, "close");
                if self.handed_in.as_ref().is_some_and(|(h, _)| *h == id) {
                    self.handed_in = None;
                } else if let Some(weak) = self.established.remove(&id) {
                    self.shut_down(&weak);
                }
            }
            Action::RetryAfter { id, at } => {
                tracing::debug!(conn = id.raw(), %at, "retry scheduled");
            }
            Action::PauseListener { listener, until } => {
                tracing::debug!(%listener, %until, "listener paused");
                self.set_paused(listener, true);
            }
            Action::ResumeListener { listener } => {
                tracing::debug!(%listener, "listener resumed");
                self.set_paused(listener, false);
            }
            Action::CloseListeners => {
                for listener in &mut self.listeners {
                    listener.io = None;
                }
            }
            Action::NotifyPeer(event) => self.notify(event),
            Action::Persist => {
                let _ = self.save();
            }
            Action::SaveAnchors { addrs } => save_anchors(&mut *self.source, &addrs),
        }
    }

    fn save(&mut self) -> Result<(), Error> {
        save_source(&mut *self.source, &self.core)
    }

    fn set_paused(&mut self, listener: ListenerId, paused: bool) {
        let slot = usize::try_from(listener.0)
            .ok()
            .and_then(|i| self.listeners.get_mut(i));
        debug_assert!(slot.is_some(), "the core named an unknown {listener}");
        if let Some(l) = slot {
            l.paused = paused;
        }
    }

    /// `shutdown(2)` of a stream the application may still hold.
    fn shut_down(&self, weak: &Weak<R::Stream>) {
        // Dropped by the application already: its socket is closed.
        if let Some(io) = weak.upgrade() {
            // ENOTCONN (already reset) is fine: it is closed either way.
            let _ = R::shutdown(&io);
        }
    }

    fn notify(&mut self, event: PeerEvent) {
        let now = self.now();
        tell_source(&mut *self.source, now, &event, self.learn_inbound);
        let event = match event.into_event() {
            Ok(event) => event,
            Err(peer) => {
                let stream = self.handed_in.take_if(|(h, _)| *h == peer.id);
                let Some((_, stream)) = stream else {
                    debug_assert!(false, "Connected for {} without its socket", peer.id);
                    tracing::error!(conn = peer.id.raw(), "connected without a socket");
                    return;
                };
                let io = Arc::new(stream);
                self.established.insert(peer.id, Arc::downgrade(&io));
                let link = PeerLink::new(
                    peer.id,
                    peer.addr,
                    peer.direction,
                    peer.kind,
                    self.closed_tx.clone(),
                );
                peer.with_stream(R::peer(io, link))
            }
        };
        // If the application dropped its `Events`, the event (and a stream
        // in it) is dropped here, which reports the stream closed.
        let _ = self.events.send(event);
    }

    /// Graceful shutdown: `Stop`, close everything the manager owned, flush
    /// the trace, save the address book (a small synchronous write).
    fn stop(mut self) -> Result<Stats, Error> {
        let _ = self.input(Input::Stop);
        self.perform_all();
        // Dropping the connects and the listeners closes their sockets.
        self.dials.clear();
        self.listeners.clear();
        // `Stop` closed every connection the manager knew of.
        debug_assert!(self.established.is_empty(), "open after Stop");
        for (_, weak) in std::mem::take(&mut self.established) {
            self.shut_down(&weak);
        }
        let stats = self.core.manager().stats();
        let trace = self.core.close().err();
        let inside = self.core.manager().book_snapshot();
        let book = self.source.save(inside.as_ref()).err();
        PersistError::check(stats, trace, book)
    }
}

/// Returns `Pending` once, having asked to be polled again: lets the
/// executor run other tasks.
async fn yield_now() {
    let mut yielded = false;
    poll_fn(|cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await;
}
