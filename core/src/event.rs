//! [`Event`]: the application's view of its peers, and [`PeerEvent`], the
//! same without the connection, as the core emits it.
//!
//! There is one event type. The core emits `Event<()>` ([`PeerEvent`]) in
//! `Action::NotifyPeer`; every runtime (tokio, smol, mio, or one of the
//! application's own) turns it into an `Event<S>` for its stream type `S`
//! through [`PeerEvent::into_event`], the one translation there is. It
//! lives here, next to the type, so that a new kind of peer event is a
//! compile error in this file rather than an event some runtime silently
//! drops.

use crate::{Advertised, ConnId, ConnKind, Direction, Instant, PeerAddr, Reason, Subnet};

/// What happened to a peer, with the connection (`S`: the runtime's stream
/// type; `()` in the core's own [`PeerEvent`]) handed over on `Connected`.
///
/// Emitted in causal order: for one id, `Connected` comes before its
/// `Disconnected`, and `GaveUp` or a final `Disconnected` is the last event.
/// A permanent peer's `Disconnected` is followed, after its backoff, by
/// another `Connected` under the same id. Bans are reported here too.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum Event<S = ()> {
    /// A connection is established; `stream` is now the application's.
    Connected {
        /// The connection.
        id: ConnId,
        /// The remote address.
        addr: PeerAddr,
        /// Who dialled.
        direction: Direction,
        /// What the connection is for: among outbound ones, automatic
        /// (full-relay or block-relay-only), manual, permanent (redialled
        /// whenever it drops).
        kind: ConnKind,
        /// The connection, to read and write. Dropping it closes it and
        /// tells the manager. Not part of a trace.
        #[cfg_attr(feature = "serde", serde(skip))]
        stream: S,
    },
    /// The connection's handshake succeeded (`Input::Handshaked`): the
    /// peer is ready. Between its `Connected` and its `Disconnected`.
    Ready {
        /// The connection.
        id: ConnId,
        /// The remote address.
        addr: PeerAddr,
        /// Who dialled.
        direction: Direction,
    },
    /// An established connection ended. A permanent peer will be redialled
    /// under the same id (a `RetryAfter` follows); otherwise the id is done.
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
    /// A subnet is banned until `until`: asked for with `Ban`, or decided
    /// because a peer's misbehaviour score reached the threshold.
    Banned {
        /// What is banned.
        subnet: Subnet,
        /// When the ban ends.
        until: Instant,
        /// `Misbehaving` for an automatic ban, `Requested` for `Ban`.
        reason: Reason,
    },
    /// A ban was lifted with `Unban`.
    Unbanned {
        /// The subnet.
        subnet: Subnet,
    },
    /// Send these addresses, with their times, to the peer of `id`
    /// (Bitcoin's `addr`): the answer to its `Input::AddressesRequested`,
    /// or addresses another peer just announced, relayed.
    ShareAddresses {
        /// The connection.
        id: ConnId,
        /// The addresses (possibly none).
        addrs: Vec<Advertised>,
    },
}

/// The core's peer events, in `Action::NotifyPeer`: an [`Event`] without
/// the connection, which only the runtime has.
pub type PeerEvent = Event<()>;

impl<S> Event<S> {
    /// The connection the event is about; `None` for bans.
    pub fn id(&self) -> Option<ConnId> {
        match self {
            Event::Connected { id, .. }
            | Event::Ready { id, .. }
            | Event::Disconnected { id, .. }
            | Event::GaveUp { id, .. }
            | Event::ShareAddresses { id, .. } => Some(*id),
            Event::Banned { .. } | Event::Unbanned { .. } => None,
        }
    }
}

/// A `PeerEvent::Connected` waiting for its stream: see
/// [`PeerEvent::into_event`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectedPeer {
    /// The connection.
    pub id: ConnId,
    /// The remote address.
    pub addr: PeerAddr,
    /// Who dialled.
    pub direction: Direction,
    /// What the connection is for.
    pub kind: ConnKind,
}

impl ConnectedPeer {
    /// The `Connected` event, with the connection attached.
    pub fn with_stream<S>(self, stream: S) -> Event<S> {
        Event::Connected {
            id: self.id,
            addr: self.addr,
            direction: self.direction,
            kind: self.kind,
            stream,
        }
    }
}

impl PeerEvent {
    /// The event for the application: every kind converts as it is, except
    /// `Connected`, which comes back as `Err` for the runtime to attach the
    /// connection to ([`ConnectedPeer::with_stream`]).
    ///
    /// ```
    /// use connmgr::{ConnId, Event, PeerEvent, Reason};
    ///
    /// let gone = PeerEvent::GaveUp { id: ConnId::from_raw(3), reason: Reason::Removed };
    /// let event: Event<std::net::TcpStream> = gone.into_event().unwrap();
    /// assert_eq!(event.id(), Some(ConnId::from_raw(3)));
    /// ```
    pub fn into_event<S>(self) -> Result<Event<S>, ConnectedPeer> {
        Ok(match self {
            PeerEvent::Connected {
                id,
                addr,
                direction,
                kind,
                stream: (),
            } => {
                return Err(ConnectedPeer {
                    id,
                    addr,
                    direction,
                    kind,
                })
            }
            PeerEvent::Ready {
                id,
                addr,
                direction,
            } => Event::Ready {
                id,
                addr,
                direction,
            },
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
            PeerEvent::ShareAddresses { id, addrs } => Event::ShareAddresses { id, addrs },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connected_waits_for_its_stream_and_keeps_every_field() {
        let addr: PeerAddr = "192.0.2.1:8333".parse().unwrap();
        let event = PeerEvent::Connected {
            id: ConnId::from_raw(7),
            addr,
            direction: Direction::Inbound,
            kind: ConnKind::Inbound,
            stream: (),
        };
        let peer = event.into_event::<()>().unwrap_err();
        let Event::Connected {
            id,
            addr: got,
            direction,
            kind,
            stream,
        } = peer.with_stream("socket")
        else {
            panic!("not Connected");
        };
        assert_eq!(
            (id, got, direction, kind, stream),
            (
                ConnId::from_raw(7),
                addr,
                Direction::Inbound,
                ConnKind::Inbound,
                "socket"
            )
        );
    }

    #[test]
    fn bans_have_no_id() {
        let subnet: Subnet = "192.0.2.0/24".parse().unwrap();
        let event: Event<()> = PeerEvent::Unbanned { subnet }.into_event().unwrap();
        assert_eq!(event.id(), None);
    }
}
