//! [`Driver`]: the future that owns the [`ConnManager`], performs its actions
//! and feeds it what happens. The application runs it on its executor.
//!
//! One future polls everything: the handle's commands, the streams' closed
//! reports, the dials in flight (a [`FutureSet`], dropped on `CancelDial`),
//! the listeners that are not paused, and the timer set to the core's
//! `poll_timeout`. Nothing here decides anything: every choice is the
//! core's.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::{poll_fn, Future};
use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

use async_io::{Async, Timer};
use connmgr::trace::Recorder;
use connmgr::{
    AcceptError, Action, ConnId, ConnManager, Direction, Ignored, Input, Instant, ListenerId,
    PeerEvent, Stats,
};
use connmgr_net::{accept_error, dial_error, Clock};
use connmgr_store::AddressSource;

use crate::chan::{Receiver, Sender};
use crate::handle::Command;
use crate::set::FutureSet;
use crate::stream::{shut_down, PeerStream};
use crate::{Error, Event, PersistError};

/// The trace's destination.
pub(crate) type TraceSink = Box<dyn Write + Send>;

/// The core, recording or not.
pub(crate) enum Core {
    Plain(Box<ConnManager>),
    Recording(Box<Recorder<TraceSink>>),
}

impl Core {
    fn handle(
        &mut self,
        now: Instant,
        input: Input,
        actions: &mut VecDeque<Action>,
    ) -> Result<Option<ConnId>, Ignored> {
        match self {
            Core::Plain(mgr) => {
                let result = mgr.handle(now, input);
                actions.extend(std::iter::from_fn(|| mgr.poll_action()));
                result
            }
            Core::Recording(rec) => {
                let handled = rec.handle(now, input);
                actions.extend(handled.actions);
                handled.result
            }
        }
    }

    fn manager(&self) -> &ConnManager {
        match self {
            Core::Plain(mgr) => mgr,
            Core::Recording(rec) => rec.manager(),
        }
    }

    fn finish(self) -> io::Result<()> {
        match self {
            Core::Plain(_) => Ok(()),
            Core::Recording(rec) => rec.finish().map(drop),
        }
    }
}

/// A listener and whether the core paused it.
pub(crate) struct Listener {
    pub(crate) io: Async<TcpListener>,
    pub(crate) paused: bool,
}

type Dialled = io::Result<Async<TcpStream>>;

/// What woke the driver.
enum Wake {
    Command(Option<Command>),
    Closed(ConnId),
    Dialled((ConnId, u32), Dialled),
    /// A connection, or an accept error the core must hear of.
    Accepted(ListenerId, Result<(TcpStream, SocketAddr), AcceptError>),
    Tick,
}

/// The connection manager's work, as a future: run it on any executor
/// (`smol::spawn(driver).detach()`, a thread with `async_io::block_on`, …).
/// It completes after a shutdown, asked for with
/// [`Handle::shutdown`](crate::Handle::shutdown) or by dropping every
/// handle. Dropping it unfinished closes every socket the manager owns,
/// without flushing the trace or saving the address book.
#[must_use = "the manager does nothing unless its driver is run"]
pub struct Driver(Pin<Box<dyn Future<Output = ()> + Send>>);

impl Driver {
    pub(crate) fn new(state: State) -> Driver {
        Driver(Box::pin(state.run()))
    }
}

impl Future for Driver {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.as_mut().poll(cx)
    }
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver").finish_non_exhaustive()
    }
}

pub(crate) struct State {
    pub(crate) core: Core,
    pub(crate) clock: Clock,
    pub(crate) source: Box<dyn AddressSource>,
    pub(crate) learn_inbound: bool,
    pub(crate) commands: Receiver<Command>,
    pub(crate) events: Sender<Event>,
    pub(crate) closed_tx: Sender<ConnId>,
    pub(crate) closed_rx: Receiver<ConnId>,
    pub(crate) listeners: BTreeMap<ListenerId, Listener>,
    pub(crate) actions: VecDeque<Action>,
    pub(crate) handed_in: Option<(ConnId, Async<TcpStream>)>,
    pub(crate) dials: FutureSet<(ConnId, u32), Dialled>,
    pub(crate) established: HashMap<ConnId, Weak<Async<TcpStream>>>,
    pub(crate) timer: Timer,
    pub(crate) armed: Option<Instant>,
}

impl State {
    async fn run(mut self) {
        let _ = self.input(Input::Start);
        self.perform_all();
        loop {
            // Re-arm only for an earlier deadline: every `set_at` wakes
            // async-io's reactor, and the deadline moves after nearly every
            // dial. A timer left at an earlier deadline fires a spurious
            // tick, which the core ignores, and is then re-armed.
            if let Some(at) = self.core.manager().poll_timeout() {
                if self.armed.map_or(true, |armed| at < armed) {
                    self.timer.set_at(self.clock.deadline(at));
                    self.armed = Some(at);
                }
            }
            match poll_fn(|cx| self.poll_wake(cx)).await {
                Wake::Command(Some(Command::Shutdown(reply))) => {
                    let _ = reply.send(self.stop());
                    return;
                }
                Wake::Command(Some(command)) => self.command(command),
                Wake::Command(None) => {
                    if let Err(error) = self.stop() {
                        tracing::warn!(%error, "shutdown after the last handle was dropped");
                    }
                    return;
                }
                Wake::Closed(id) => {
                    if self.established.remove(&id).is_some() {
                        let _ = self.input(Input::Closed { id });
                    }
                }
                Wake::Dialled((id, attempt), result) => {
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
                Wake::Accepted(listener, Ok((stream, remote))) => match Async::new(stream) {
                    Ok(stream) => {
                        if let Ok(Some(id)) = self.input(Input::Accepted { listener, remote }) {
                            self.handed_in = Some((id, stream));
                        }
                    }
                    Err(error) => {
                        tracing::debug!(%listener, %error, "cannot register an accepted socket");
                    }
                },
                Wake::Accepted(listener, Err(error)) => {
                    let _ = self.input(Input::AcceptFailed { listener, error });
                }
                Wake::Tick => {
                    self.armed = None;
                    let due = self
                        .core
                        .manager()
                        .poll_timeout()
                        .is_some_and(|at| at <= self.clock.now());
                    if due {
                        let _ = self.input(Input::Tick);
                    }
                }
            }
            self.perform_all();
        }
    }

    /// The first thing ready, in priority order.
    fn poll_wake(&mut self, cx: &mut Context<'_>) -> Poll<Wake> {
        if let Poll::Ready(command) = self.commands.poll_recv(cx) {
            return Poll::Ready(Wake::Command(command));
        }
        if let Poll::Ready(Some(id)) = self.closed_rx.poll_recv(cx) {
            return Poll::Ready(Wake::Closed(id));
        }
        if let Poll::Ready(Some((key, result))) = self.dials.poll_next(cx) {
            return Poll::Ready(Wake::Dialled(key, result));
        }
        for (&id, listener) in &self.listeners {
            if listener.paused {
                continue;
            }
            loop {
                match listener.io.poll_readable(cx) {
                    Poll::Pending => break,
                    // The reactor failed, not accept(2): nothing to retry.
                    Poll::Ready(Err(error)) => {
                        tracing::debug!(listener = %id, %error, "listener not pollable");
                        return Poll::Ready(Wake::Accepted(id, Err(AcceptError::Other)));
                    }
                    Poll::Ready(Ok(())) => match listener.io.get_ref().accept() {
                        Ok(accepted) => return Poll::Ready(Wake::Accepted(id, Ok(accepted))),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                        Err(error) => {
                            tracing::debug!(listener = %id, %error, "accept failed");
                            // accept(2)'s transient errors: accept again.
                            if let Some(error) = accept_error(&error) {
                                return Poll::Ready(Wake::Accepted(id, Err(error)));
                            }
                        }
                    },
                }
            }
        }
        if self.armed.is_some() && Pin::new(&mut self.timer).poll(cx).is_ready() {
            return Poll::Ready(Wake::Tick);
        }
        Poll::Pending
    }

    fn input(&mut self, input: Input) -> Result<Option<ConnId>, Ignored> {
        let now = self.clock.now();
        let result = self.core.handle(now, input, &mut self.actions);
        if let Err(ignored) = &result {
            tracing::debug!(%ignored, "input ignored");
        }
        result
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Connect {
                addr,
                permanent,
                reply,
            } => {
                let result = self.input(Input::Connect { addr, permanent });
                let _ = reply.send(result.and_then(|id| id.ok_or(Ignored::Stopped)));
            }
            Command::NewConnReq { reply } => {
                let result = self.input(Input::NewConnReq);
                let _ = reply.send(result.and_then(|id| id.ok_or(Ignored::Stopped)));
            }
            Command::Disconnect { id, reply } => {
                let _ = reply.send(self.input(Input::Disconnect { id }).map(drop));
            }
            Command::Remove { id, reply } => {
                let _ = reply.send(self.input(Input::Remove { id }).map(drop));
            }
            Command::Learned { addr, source } => {
                self.source.learned(self.clock.now(), addr, source);
            }
            Command::Ban {
                subnet,
                duration,
                reply,
            } => {
                let until = self.clock.now() + duration;
                let _ = reply.send(self.input(Input::Ban { subnet, until }).map(drop));
            }
            Command::Unban { subnet, reply } => {
                let _ = reply.send(self.input(Input::Unban { subnet }).map(drop));
            }
            Command::Misbehaved {
                id,
                persistent,
                transient,
                reply,
            } => {
                let input = Input::Misbehaved {
                    id,
                    persistent,
                    transient,
                };
                let _ = reply.send(self.input(input).map(drop));
            }
            Command::Stats(reply) => {
                let _ = reply.send(self.core.manager().stats());
            }
            Command::Counts(reply) => {
                let _ = reply.send(self.core.manager().counts());
            }
            Command::Info { id, reply } => {
                let _ = reply.send(self.core.manager().info(id));
            }
            Command::Shutdown(_) => unreachable!("handled by run"),
        }
    }

    fn perform_all(&mut self) {
        while let Some(action) = self.actions.pop_front() {
            self.perform(action);
        }
        if let Some((id, _stream)) = self.handed_in.take() {
            tracing::debug!(conn = id.raw(), "unclaimed socket closed");
        }
    }

    fn perform(&mut self, action: Action) {
        match action {
            Action::RequestAddress { id } => {
                let now = self.clock.now();
                let mgr = self.core.manager();
                let result = self
                    .source
                    .next_address(now, &|group| mgr.outbound_group_count(group));
                let _ = self.input(Input::AddressResult { id, result });
            }
            Action::Dial { id, attempt, addr } => {
                self.dials
                    .insert((id, attempt), Async::<TcpStream>::connect(addr));
            }
            Action::CancelDial { id, attempt } => {
                // Dropping the future closes its socket.
                self.dials.remove((id, attempt));
            }
            Action::Close { id, reason } => {
                tracing::debug!(conn = id.raw(), ?reason, "close");
                if self.handed_in.as_ref().is_some_and(|(h, _)| *h == id) {
                    self.handed_in = None;
                } else if let Some(weak) = self.established.remove(&id) {
                    shut_down(&weak);
                }
            }
            Action::RetryAfter { id, at } => {
                tracing::debug!(conn = id.raw(), %at, "retry scheduled");
            }
            Action::PauseListener { listener, until } => {
                tracing::debug!(%listener, %until, "listener paused");
                if let Some(l) = self.listeners.get_mut(&listener) {
                    l.paused = true;
                }
            }
            Action::ResumeListener { listener } => {
                if let Some(l) = self.listeners.get_mut(&listener) {
                    l.paused = false;
                }
            }
            Action::CloseListeners => self.listeners.clear(),
            Action::NotifyPeer(event) => self.notify(event),
        }
    }

    fn notify(&mut self, event: PeerEvent) {
        let event = match event {
            PeerEvent::Connected {
                id,
                addr,
                direction,
                permanent,
            } => {
                let stream = match self.handed_in.take() {
                    Some((h, stream)) if h == id => stream,
                    other => {
                        self.handed_in = other;
                        tracing::warn!(conn = id.raw(), "connected without a socket");
                        return;
                    }
                };
                let now = self.clock.now();
                match direction {
                    Direction::Outbound => self.source.connected(now, addr),
                    Direction::Inbound if self.learn_inbound => {
                        self.source.learned(now, addr, addr.ip())
                    }
                    Direction::Inbound => {}
                }
                let io = Arc::new(stream);
                self.established.insert(id, Arc::downgrade(&io));
                let stream =
                    PeerStream::new(io, id, addr, direction, permanent, self.closed_tx.clone());
                Event::Connected {
                    id,
                    addr,
                    direction,
                    permanent,
                    stream,
                }
            }
            PeerEvent::Disconnected { id, reason } => Event::Disconnected { id, reason },
            PeerEvent::GaveUp { id, reason } => Event::GaveUp { id, reason },
            PeerEvent::Banned {
                subnet,
                until,
                reason,
            } => Event::Banned {
                subnet,
                until,
                reason,
            },
            PeerEvent::Unbanned { subnet } => Event::Unbanned { subnet },
            other => {
                tracing::debug!(?other, "peer event not handed to the application");
                return;
            }
        };
        let _ = self.events.send(event);
    }

    /// Graceful shutdown: `Stop`, close what the manager owns, flush the
    /// trace, save the address book (a small synchronous write).
    fn stop(mut self) -> Result<Stats, Error> {
        let _ = self.input(Input::Stop);
        self.perform_all();
        // Dropping the dial futures and the listeners closes their sockets.
        self.dials.clear();
        self.listeners.clear();
        let stats = self.core.manager().stats();
        let trace = self.core.finish().err();
        let book = self.source.save().err();
        if trace.is_some() || book.is_some() {
            return Err(Error::Persist(Box::new(PersistError {
                stats,
                trace,
                book,
            })));
        }
        Ok(stats)
    }
}
