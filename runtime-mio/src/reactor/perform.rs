//! The work behind the reactor's API: feeding the manager an input and
//! everything its actions bring back, and performing those actions on the
//! sockets (dial, accept, close, pause and resume listeners, hand peers
//! over). Separate from the public API in `mod.rs`, which only turns calls
//! and readiness into inputs; a child of `reactor` so that it sees the
//! reactor's fields without widening them.

use std::io;
use std::net::Shutdown;

use connmgr::{
    Action, ConnId, DialError, Event, Ignored, Input, Instant, ListenerId, PeerAddr, PeerEvent,
    Reason, Route,
};
use connmgr_net::socks5::Handshake;
use connmgr_net::{accept_error, dial_error, save_anchors, tell_source};
use mio::net::TcpStream;
use mio::{Interest, Token};

use super::tunnel::Tunnel;
use super::{Reactor, Slot};
use crate::Peer;

/// Accepts per listener before the reactor lets other work in; the rest
/// wait for the next turn (the timeout is then zero).
const ACCEPT_BUDGET: usize = 64;

impl Reactor {
    // ----- feeding the manager -----

    /// Feeds `input` and everything performing its actions brings back.
    /// `stream` is the socket the input reports (an accepted connection, a
    /// completed dial).
    pub(super) fn submit(
        &mut self,
        input: Input,
        stream: Option<TcpStream>,
    ) -> Result<Option<ConnId>, Ignored> {
        let result = self.feed(input, stream);
        while let Some(next) = self.inputs.pop_front() {
            let _ = self.feed(next, None);
        }
        result
    }

    fn feed(&mut self, input: Input, stream: Option<TcpStream>) -> Result<Option<ConnId>, Ignored> {
        let now = self.clock.now();
        let dial_id = match &input {
            Input::DialResult { id, .. } => Some(*id),
            _ => None,
        };
        let result = self.core.handle(now, input);
        if let Some(stream) = stream {
            // An accepted connection's id is the one `Accepted` returned.
            if let Some(id) = dial_id.or_else(|| result.as_ref().ok().copied().flatten()) {
                self.unclaimed = Some((id, stream));
            }
        }
        while let Some(action) = self.core.poll_action() {
            self.perform(now, action);
        }
        if let Some((id, _)) = self.unclaimed.take() {
            // Not made a peer, not closed by name (a stale result): close it.
            tracing::debug!(conn = id.raw(), "closing a socket the manager did not take");
        }
        result
    }

    fn perform(&mut self, now: Instant, action: Action) {
        match action {
            Action::RequestAddress { id } => {
                let mgr = self.core.manager();
                let result = self
                    .source
                    .next_address(now, &|group| mgr.outbound_group_count(group));
                self.inputs.push_back(Input::AddressResult { id, result });
            }
            Action::Dial {
                id,
                attempt,
                addr,
                route,
                ..
            } => {
                if let Err(error) = self.dial(id, attempt, addr, route) {
                    tracing::debug!(conn = id.raw(), %addr, %error, "dial failed at once");
                    self.inputs.push_back(Input::DialResult {
                        id,
                        attempt,
                        result: Err(error),
                    });
                }
            }
            Action::CancelDial { id, attempt } => self.cancel_dial(id, attempt),
            Action::Close { id, reason } => self.close(id, reason),
            Action::RetryAfter { .. } => {}
            Action::PauseListener { listener, until } => self.pause(listener, until),
            Action::ResumeListener { listener } => self.resume(listener),
            Action::CloseListeners => self.close_listeners(),
            Action::NotifyPeer(event) => self.notify(now, event),
            Action::Persist => {
                let _ = self.save();
            }
            Action::SaveAnchors { addrs } => save_anchors(&mut *self.source, &addrs),
        }
    }

    // ----- the actions -----

    /// Dials `addr` by `route`: directly (an onion or I2P peer, which only
    /// a proxy reaches, then fails at once as unreachable), or through the
    /// SOCKS5 proxy, which is asked for the peer once connected.
    fn dial(
        &mut self,
        id: ConnId,
        attempt: u32,
        addr: PeerAddr,
        route: Route,
    ) -> Result<(), DialError> {
        let (target, tunnel) = match route {
            Route::Direct => (addr.socket_addr().ok_or(DialError::Unreachable)?, None),
            Route::Socks5(proxy) => {
                let credentials = proxy
                    .isolate
                    .then(|| self.isolation.credentials(id, attempt));
                let handshake = Handshake::new(addr, credentials);
                (proxy.addr, Some(Box::new(Tunnel::new(handshake))))
            }
        };
        let interest = match tunnel {
            Some(_) => Interest::WRITABLE | Interest::READABLE,
            None => Interest::WRITABLE,
        };
        let stream = TcpStream::connect(target).map_err(|e| dial_error(&e))?;
        let slot = Slot::Dial {
            id,
            attempt,
            stream,
            tunnel,
        };
        // A full token range closes the socket and fails the dial.
        let token = self.slots.insert(slot).ok_or(DialError::Exhausted)?;
        if let Some(Slot::Dial { stream, .. }) = self.slots.get_mut(token) {
            if let Err(e) = self.home.registry().register(stream, token, interest) {
                self.slots.remove(token);
                return Err(dial_error(&e));
            }
        }
        self.dials.insert(id, token);
        Ok(())
    }

    /// A dial's socket is ready: connected, failed, or (spuriously) neither;
    /// through a proxy, connected once the proxy has connected the peer.
    pub(super) fn dial_ready(&mut self, token: Token) {
        let Some(Slot::Dial { stream, tunnel, .. }) = self.slots.get_mut(token) else {
            return;
        };
        // mio's recipe: SO_ERROR first, then whether there is a peer.
        let result = match stream.take_error() {
            Ok(Some(e)) | Err(e) => Err(dial_error(&e)),
            Ok(None) => match stream.peer_addr() {
                Ok(_) => match tunnel.as_mut().map(|t| t.pump(stream)) {
                    None | Some(Ok(true)) => Ok(()),
                    Some(Ok(false)) => return,
                    Some(Err(e)) => Err(dial_error(&e)),
                },
                Err(e)
                    if e.kind() == io::ErrorKind::NotConnected
                        || e.raw_os_error() == Some(libc::EINPROGRESS) =>
                {
                    return;
                }
                Err(e) => Err(dial_error(&e)),
            },
        };
        let Some(Slot::Dial {
            id,
            attempt,
            mut stream,
            ..
        }) = self.slots.remove(token)
        else {
            return;
        };
        self.dials.remove(&id);
        // The application registers the peer with its own token.
        let _ = self.home.registry().deregister(&mut stream);
        let input = Input::DialResult {
            id,
            attempt,
            result,
        };
        let stream = result.is_ok().then_some(stream);
        let _ = self.submit(input, stream);
    }

    fn cancel_dial(&mut self, id: ConnId, attempt: u32) {
        let Some(&token) = self.dials.get(&id) else {
            return;
        };
        if !matches!(self.slots.get_mut(token), Some(Slot::Dial { attempt: a, .. }) if *a == attempt)
        {
            return;
        }
        self.dials.remove(&id);
        if let Some(Slot::Dial { mut stream, .. }) = self.slots.remove(token) {
            let _ = self.home.registry().deregister(&mut stream);
            tracing::debug!(conn = id.raw(), attempt, "dial cancelled");
        }
    }

    fn close(&mut self, id: ConnId, reason: Reason) {
        if self.unclaimed.as_ref().is_some_and(|(u, _)| *u == id) {
            self.unclaimed = None;
            tracing::debug!(conn = id.raw(), ?reason, "closed on arrival");
            return;
        }
        let Some((_, weak)) = self.peers.remove(&id) else {
            return;
        };
        // Dropped by the application already: its socket is closed.
        if let Some(stream) = weak.upgrade() {
            if let Err(e) = stream.shutdown(Shutdown::Both) {
                tracing::debug!(conn = id.raw(), error = %e, "shutdown failed");
            }
            tracing::debug!(conn = id.raw(), ?reason, "shut down");
        }
    }

    fn pause(&mut self, listener: ListenerId, until: Instant) {
        let registry = self.home.registry();
        let Some(l) = self.listeners.get_mut(listener.0 as usize) else {
            return;
        };
        let Some(socket) = &mut l.socket else { return };
        if l.paused {
            return;
        }
        let _ = registry.deregister(socket);
        l.paused = true;
        l.ready = false;
        tracing::debug!(%listener, %until, "listener paused");
    }

    fn resume(&mut self, listener: ListenerId) {
        let registry = self.home.registry();
        let Some(l) = self.listeners.get_mut(listener.0 as usize) else {
            return;
        };
        let Some(socket) = &mut l.socket else { return };
        if !l.paused {
            return;
        }
        match registry.register(socket, l.token, Interest::READABLE) {
            Ok(()) => {
                l.paused = false;
                // Connections may have queued while paused.
                l.ready = true;
                tracing::debug!(%listener, "listener resumed");
            }
            Err(e) => {
                // Left paused; the manager decides when to try again.
                tracing::warn!(%listener, error = %e, "cannot re-register the listener");
                self.inputs.push_back(Input::AcceptFailed {
                    listener,
                    error: connmgr::AcceptError::Other,
                });
            }
        }
    }

    fn close_listeners(&mut self) {
        for l in &mut self.listeners {
            if let Some(mut socket) = l.socket.take() {
                if !l.paused {
                    let _ = self.home.registry().deregister(&mut socket);
                }
                self.slots.remove(l.token);
                tracing::info!(token = l.token.0, "listener closed");
            }
            l.ready = false;
        }
    }

    fn notify(&mut self, now: Instant, event: PeerEvent) {
        tell_source(&mut *self.source, now, &event, self.learn_inbound);
        let event = match event.into_event() {
            Ok(event) => {
                if let Event::Disconnected { id, .. } = &event {
                    self.peers.remove(id);
                }
                event
            }
            Err(peer) => {
                let Some((_, stream)) = self.unclaimed.take_if(|(u, _)| *u == peer.id) else {
                    debug_assert!(false, "Connected for {} without its socket", peer.id);
                    tracing::error!(conn = peer.id.raw(), "connected without a socket");
                    return;
                };
                let serial = self.next_serial;
                self.next_serial += 1;
                let (stream, weak) = Peer::new(peer, serial, stream, self.dropped.clone());
                self.peers.insert(peer.id, (serial, weak));
                peer.with_stream(stream)
            }
        };
        self.out.push_back(event);
    }

    /// Accepts on listener `index` until its queue is empty, an error, or
    /// the budget; each connection is one `Accepted` input.
    pub(super) fn accept(&mut self, index: usize) {
        let listener = ListenerId(u32::try_from(index).unwrap_or(u32::MAX));
        for _ in 0..ACCEPT_BUDGET {
            let l = &mut self.listeners[index];
            if !l.ready || l.paused {
                return;
            }
            let network = l.network;
            let Some(socket) = &l.socket else { return };
            match socket.accept() {
                Ok((stream, remote)) => {
                    let _ = self.submit(
                        Input::Accepted {
                            listener,
                            remote,
                            network,
                        },
                        Some(stream),
                    );
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    l.ready = false;
                    return;
                }
                Err(e) => match accept_error(&e) {
                    None => continue,
                    Some(error) => {
                        // Not retried here: the manager decides whether and
                        // how long to pause. Edge-triggered, so no spinning.
                        l.ready = false;
                        tracing::debug!(%listener, error = %e, "accept failed");
                        let _ = self.submit(Input::AcceptFailed { listener, error }, None);
                        return;
                    }
                },
            }
        }
    }

    /// After `Stop`: anything the manager did not close is closed here, so
    /// that no descriptor outlives the stop whatever happened before.
    pub(super) fn close_everything(&mut self) {
        self.close_listeners();
        let left = self.slots.occupied();
        if left > 0 {
            tracing::warn!(left, "sockets left after Stop; closing them");
        }
        let registry = self.home.registry();
        for slot in self.slots.drain() {
            if let Slot::Dial { mut stream, .. } = slot {
                let _ = registry.deregister(&mut stream);
            }
        }
        self.dials.clear();
        for (_, (_, weak)) in self.peers.drain() {
            if let Some(stream) = weak.upgrade() {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
        self.unclaimed = None;
    }
}
