//! The driver task: owns the [`ConnManager`], performs its actions, feeds it
//! what happens.
//!
//! One task holds the core, so every input is handled in one order and the
//! trace is that order. It sleeps until a command, a closed stream, an
//! accepted connection, a finished dial, or the core's `poll_timeout`.
//! Dials run as their own tasks (aborted on `CancelDial`); each listener
//! has an accept loop task. Nothing here decides anything: every choice is
//! the core's.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::Write;
use std::sync::{Arc, Weak};

use connmgr::trace::Recorder;
use connmgr::{
    Action, ConnId, ConnManager, Direction, Ignored, Input, Instant, ListenerId, PeerEvent, Stats,
};
use connmgr_net::dial_error;
use connmgr_store::AddressSource;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::{AbortHandle, JoinHandle, JoinSet};

use crate::clock::Clock;
use crate::handle::Command;
use crate::listener::Accepted;
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
    /// Handles `input`, appending the actions to `actions`.
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

    /// Flushes and closes the trace, if recording.
    fn finish(self) -> Result<(), std::io::Error> {
        match self {
            Core::Plain(_) => Ok(()),
            Core::Recording(rec) => rec.finish().map(drop),
        }
    }
}

/// A listener's accept loop and its pause switch.
pub(crate) struct ListenerTask {
    pub(crate) paused: watch::Sender<bool>,
    pub(crate) task: JoinHandle<()>,
}

/// What a dial task returns.
type DialOutcome = (ConnId, u32, std::io::Result<TcpStream>);

/// What woke the driver.
enum Wake {
    Command(Option<Command>),
    Closed(ConnId),
    Accepted(Accepted),
    Dialled(Result<DialOutcome, tokio::task::JoinError>),
    Tick,
}

pub(crate) struct Driver {
    pub(crate) core: Core,
    pub(crate) clock: Clock,
    pub(crate) source: Box<dyn AddressSource>,
    pub(crate) learn_inbound: bool,
    pub(crate) commands: mpsc::Receiver<Command>,
    pub(crate) events: mpsc::UnboundedSender<Event>,
    /// Given to every `PeerStream`, to report its end.
    pub(crate) closed_tx: mpsc::UnboundedSender<ConnId>,
    pub(crate) closed_rx: mpsc::UnboundedReceiver<ConnId>,
    pub(crate) accepted: mpsc::Receiver<Accepted>,
    pub(crate) listeners: BTreeMap<ListenerId, ListenerTask>,
    /// Listener tasks told to close, awaited at shutdown.
    pub(crate) closing: Vec<JoinHandle<()>>,
    /// Actions not yet performed, in the core's order.
    pub(crate) actions: VecDeque<Action>,
    /// The socket handed to the core with the input being handled, until
    /// its `Connected` takes it or its `Close` drops it.
    pub(crate) handed_in: Option<(ConnId, TcpStream)>,
    pub(crate) dials: JoinSet<DialOutcome>,
    pub(crate) dialing: HashMap<(ConnId, u32), AbortHandle>,
    /// Connections handed to the application, to shut down on `Close`.
    pub(crate) established: HashMap<ConnId, Weak<TcpStream>>,
}

impl Driver {
    pub(crate) async fn run(mut self) {
        let _ = self.input(Input::Start);
        self.perform_all();
        let sleep = tokio::time::sleep_until(tokio::time::Instant::now());
        tokio::pin!(sleep);
        let mut armed: Option<Instant> = None;
        loop {
            let timeout = self.core.manager().poll_timeout();
            if timeout != armed {
                if let Some(at) = timeout {
                    sleep.as_mut().reset(self.clock.deadline(at));
                }
                armed = timeout;
            }
            let wake = tokio::select! {
                biased;
                command = self.commands.recv() => Wake::Command(command),
                Some(id) = self.closed_rx.recv() => Wake::Closed(id),
                Some(dialled) = self.dials.join_next(), if !self.dials.is_empty() => Wake::Dialled(dialled),
                Some(accepted) = self.accepted.recv() => Wake::Accepted(accepted),
                () = &mut sleep, if armed.is_some() => Wake::Tick,
            };
            match wake {
                Wake::Command(Some(Command::Shutdown(reply))) => {
                    let _ = reply.send(self.stop().await);
                    return;
                }
                Wake::Command(Some(command)) => self.command(command),
                Wake::Command(None) => {
                    // Every handle is gone: nobody can ask for shutdown.
                    if let Err(error) = self.stop().await {
                        tracing::warn!(%error, "shutdown after the last handle was dropped");
                    }
                    return;
                }
                Wake::Closed(id) => {
                    // Ignore an id the manager already closed.
                    if self.established.remove(&id).is_some() {
                        let _ = self.input(Input::Closed { id });
                    }
                }
                Wake::Accepted(accepted) => self.accepted(accepted),
                Wake::Dialled(dialled) => self.dialled(dialled),
                Wake::Tick => {
                    armed = None;
                    let _ = self.input(Input::Tick);
                }
            }
            self.perform_all();
        }
    }

    /// Feeds `input` now; its actions are queued for [`perform_all`].
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

    fn accepted(&mut self, accepted: Accepted) {
        match accepted {
            Accepted::Ok {
                listener,
                stream,
                remote,
            } => {
                if let Ok(Some(id)) = self.input(Input::Accepted { listener, remote }) {
                    self.handed_in = Some((id, stream));
                }
            }
            Accepted::Failed {
                listener,
                error,
                decided,
            } => {
                let _ = self.input(Input::AcceptFailed { listener, error });
                // Perform the pause, if any, before the loop may go on.
                self.perform_all();
                let _ = decided.send(());
            }
        }
    }

    fn dialled(&mut self, dialled: Result<DialOutcome, tokio::task::JoinError>) {
        // A JoinError is a dial aborted by `CancelDial`: already forgotten.
        let Ok((id, attempt, result)) = dialled else {
            return;
        };
        if self.dialing.remove(&(id, attempt)).is_none() {
            // Cancelled after it finished: the socket is ours to close.
            return;
        }
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

    /// Performs every queued action, and those they lead to.
    fn perform_all(&mut self) {
        while let Some(action) = self.actions.pop_front() {
            self.perform(action);
        }
        if let Some((id, _stream)) = self.handed_in.take() {
            // The core neither took nor closed it (an ignored input).
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
                let abort = self.dials.spawn(async move {
                    let result = TcpStream::connect(addr).await;
                    (id, attempt, result)
                });
                self.dialing.insert((id, attempt), abort);
            }
            Action::CancelDial { id, attempt } => {
                if let Some(abort) = self.dialing.remove(&(id, attempt)) {
                    abort.abort();
                }
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
                if let Some(l) = self.listeners.get(&listener) {
                    l.paused.send_replace(true);
                }
            }
            Action::ResumeListener { listener } => {
                if let Some(l) = self.listeners.get(&listener) {
                    l.paused.send_replace(false);
                }
            }
            Action::CloseListeners => {
                for (_, l) in std::mem::take(&mut self.listeners) {
                    l.task.abort();
                    self.closing.push(l.task);
                }
            }
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
        // If the application dropped its `Events`, the event (and a stream
        // in it) is dropped here, which reports the stream closed.
        let _ = self.events.send(event);
    }

    /// Graceful shutdown: `Stop`, then wait until every socket the manager
    /// owns is closed, then flush the trace and save the address book.
    async fn stop(mut self) -> Result<Stats, Error> {
        let _ = self.input(Input::Stop);
        self.perform_all();
        // `Stop` cancelled every dial; a dial that finished meanwhile has a
        // socket that is ours to close. Abort all and wait for the tasks.
        self.dialing.clear();
        self.dials.shutdown().await;
        for (_, l) in std::mem::take(&mut self.listeners) {
            l.task.abort();
            self.closing.push(l.task);
        }
        for task in self.closing.drain(..) {
            let _ = task.await;
        }
        // Connections accepted but not yet handed in: closed unseen.
        self.accepted.close();
        while let Ok(accepted) = self.accepted.try_recv() {
            if let Accepted::Ok { remote, .. } = accepted {
                tracing::debug!(%remote, "accepted during shutdown, closed");
            }
        }
        let stats = self.core.manager().stats();
        let trace = self.core.finish().err();
        // The save writes and fsyncs: off the async threads.
        let mut source = self.source;
        let book = tokio::task::spawn_blocking(move || source.save())
            .await
            .unwrap_or(Ok(()))
            .err();
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
