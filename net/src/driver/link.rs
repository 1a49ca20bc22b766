//! [`PeerLink`]: the part of every runtime's peer stream that the manager
//! cares about: who the peer is, and telling the manager, once, that the
//! connection ended.

use std::fmt;
use std::io;

use connmgr::{ConnId, ConnKind, Direction, PeerAddr};

use super::chan::Sender;

/// Who a connection is with, and the way back to its manager. A runtime's
/// peer stream holds one and reports the end of the connection through it:
/// on end-of-file, on a read or write error, on a shutdown by the
/// application, or when dropped, whichever comes first; only the first
/// report reaches the manager (as `Input::Closed`).
pub struct PeerLink {
    id: ConnId,
    peer_addr: PeerAddr,
    direction: Direction,
    kind: ConnKind,
    /// Where to report the end; `None` once reported.
    closed: Option<Sender<ConnId>>,
}

impl PeerLink {
    pub(crate) fn new(
        id: ConnId,
        peer_addr: PeerAddr,
        direction: Direction,
        kind: ConnKind,
        closed: Sender<ConnId>,
    ) -> PeerLink {
        PeerLink {
            id,
            peer_addr,
            direction,
            kind,
            closed: Some(closed),
        }
    }

    /// The manager's id of this connection.
    pub fn id(&self) -> ConnId {
        self.id
    }

    /// The peer's address: for a peer reached through a proxy, its own
    /// (an onion or I2P name), not the proxy's.
    pub fn peer_addr(&self) -> PeerAddr {
        self.peer_addr
    }

    /// Who dialled.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// What the connection is for (a block-relay-only peer gets only
    /// blocks).
    pub fn kind(&self) -> ConnKind {
        self.kind
    }

    /// Whether the manager redials this peer when the connection ends.
    pub fn is_permanent(&self) -> bool {
        self.kind == ConnKind::Permanent
    }

    /// Whether the manager has been told this connection ended.
    pub fn is_closed(&self) -> bool {
        self.closed.is_none()
    }

    /// Tells the manager the connection ended (once; later calls do
    /// nothing).
    pub fn report_closed(&mut self) {
        if let Some(tx) = self.closed.take() {
            // The manager may be gone already: then nobody needs to know.
            let _ = tx.send(self.id);
        }
    }

    /// Reports the end if `result` is a read's end-of-file or a hard error
    /// (not `WouldBlock` or `Interrupted`); returns `result`.
    pub fn track<T>(&mut self, result: io::Result<T>) -> io::Result<T> {
        if let Err(e) = &result {
            if !matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            ) {
                self.report_closed();
            }
        }
        result
    }
}

impl Drop for PeerLink {
    fn drop(&mut self) {
        self.report_closed();
    }
}

impl fmt::Debug for PeerLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerLink")
            .field("id", &self.id)
            .field("peer_addr", &self.peer_addr)
            .field("direction", &self.direction)
            .field("kind", &self.kind)
            .field("closed", &self.is_closed())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::chan::channel;

    fn link() -> (PeerLink, crate::driver::chan::Receiver<ConnId>) {
        let (tx, rx) = channel();
        let addr = "192.0.2.1:8333".parse().unwrap();
        let link = PeerLink::new(
            ConnId::from_raw(4),
            addr,
            Direction::Outbound,
            ConnKind::Manual,
            tx,
        );
        (link, rx)
    }

    #[test]
    fn the_end_is_reported_once_whatever_reports_it() {
        let (mut link, mut rx) = link();
        assert!(link
            .track::<()>(Err(io::ErrorKind::WouldBlock.into()))
            .is_err());
        assert!(!link.is_closed(), "WouldBlock is not an end");
        let _ = link.track::<()>(Err(io::ErrorKind::ConnectionReset.into()));
        assert!(link.is_closed());
        link.report_closed();
        drop(link);
        assert_eq!(rx.try_recv(), Some(ConnId::from_raw(4)));
        assert_eq!(rx.try_recv(), None);
    }

    #[test]
    fn dropping_reports_the_end() {
        let (link, mut rx) = link();
        drop(link);
        assert_eq!(rx.try_recv(), Some(ConnId::from_raw(4)));
    }
}
