//! [`Events`]: the application's view of its peers, in the core's order.

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use connmgr::{ConnId, Direction, Instant, Reason, Subnet};

use crate::chan::Receiver;
use crate::PeerStream;

/// What happened to a peer: the core's
/// [`PeerEvent`](connmgr::PeerEvent)s, with the connection itself handed
/// over on `Connected`.
///
/// For one id, `Connected` comes before its `Disconnected`, and `GaveUp` or
/// a final `Disconnected` is the last event. A permanent peer's
/// `Disconnected` is followed, after its backoff, by another `Connected`
/// under the same id.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// A connection is established; `stream` is now the application's.
    Connected {
        /// The connection.
        id: ConnId,
        /// The remote address.
        addr: SocketAddr,
        /// Who dialled.
        direction: Direction,
        /// Whether it is redialled whenever it drops.
        permanent: bool,
        /// The connection, to read and write. Drop it to close it.
        stream: PeerStream,
    },
    /// An established connection ended.
    Disconnected {
        /// The connection.
        id: ConnId,
        /// Why.
        reason: Reason,
    },
    /// A request ended without (another) connection. Final.
    GaveUp {
        /// The request.
        id: ConnId,
        /// Why.
        reason: Reason,
    },
    /// A subnet is banned until `until` (nanoseconds since the Unix epoch):
    /// asked for with [`Handle::ban`](crate::Handle::ban), or because a
    /// peer's misbehaviour score reached the threshold.
    Banned {
        /// What is banned.
        subnet: Subnet,
        /// When the ban ends.
        until: Instant,
        /// `Misbehaving` for an automatic ban, `Requested` for a `ban` call.
        reason: Reason,
    },
    /// A ban was lifted with [`Handle::unban`](crate::Handle::unban).
    Unbanned {
        /// The subnet.
        subnet: Subnet,
    },
}

impl Event {
    /// The connection the event is about; `None` for bans.
    pub fn id(&self) -> Option<ConnId> {
        match self {
            Event::Connected { id, .. }
            | Event::Disconnected { id, .. }
            | Event::GaveUp { id, .. } => Some(*id),
            Event::Banned { .. } | Event::Unbanned { .. } => None,
        }
    }
}

/// The stream of [`Event`]s of one manager; it ends after the manager has
/// shut down and every event has been received.
///
/// The queue is unbounded so that the manager never waits for the
/// application (which may itself be waiting on the manager); an application
/// that stops reading it should drop it. Dropping it closes every connection
/// not yet received, and the manager hears of each (`Closed`).
///
/// Use [`recv`](Events::recv), or any `StreamExt` (futures-core's `Stream`
/// is implemented).
pub struct Events {
    rx: Receiver<Event>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}

impl Events {
    pub(crate) fn new(rx: Receiver<Event>) -> Events {
        Events { rx }
    }

    /// The next event; `None` once the manager has shut down and every event
    /// was received.
    pub async fn recv(&mut self) -> Option<Event> {
        self.rx.recv().await
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Option<Event> {
        self.rx.try_recv()
    }

    /// [`recv`](Events::recv) as a poll function.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.rx.poll_recv(cx)
    }
}

impl futures_lite::Stream for Events {
    type Item = Event;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.get_mut().rx.poll_recv(cx)
    }
}
