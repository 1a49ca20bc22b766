//! [`Events`]: the application's view of its peers, in the core's order.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use connmgr::Event;

use super::chan::Receiver;

/// The stream of [`Event`]s of one manager, the connection (`S`, the
/// runtime's peer stream) attached to each `Connected`; it ends after the
/// manager has shut down and every event has been received.
///
/// The queue is unbounded so that the manager never waits for the
/// application (which may itself be waiting on the manager); an application
/// that stops reading it should drop it. Dropping it closes every
/// connection not yet received, and the manager hears of each (`Closed`).
///
/// Use [`recv`](Events::recv), or any `StreamExt` (futures-core's `Stream`
/// is implemented).
pub struct Events<S> {
    rx: Receiver<Event<S>>,
}

impl<S> Events<S> {
    pub(crate) fn new(rx: Receiver<Event<S>>) -> Events<S> {
        Events { rx }
    }

    /// The next event; `None` once the manager has shut down and every event
    /// was received.
    pub async fn recv(&mut self) -> Option<Event<S>> {
        self.rx.recv().await
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Option<Event<S>> {
        self.rx.try_recv()
    }

    /// [`recv`](Events::recv) as a poll function.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Event<S>>> {
        self.rx.poll_recv(cx)
    }
}

impl<S> fmt::Debug for Events<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}

impl<S> futures_core::Stream for Events<S> {
    type Item = Event<S>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event<S>>> {
        self.get_mut().rx.poll_recv(cx)
    }
}
