//! [`Handle`]: the application's commands to a running manager.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use connmgr::{ConnId, ConnInfo, Counts, Ignored, Stats, Subnet};
use tokio::sync::{mpsc, oneshot};

use crate::Error;

type Reply<T> = oneshot::Sender<T>;

/// What a [`Handle`] asks of the driver task.
#[derive(Debug)]
pub(crate) enum Command {
    Connect {
        addr: SocketAddr,
        permanent: bool,
        reply: Reply<Result<ConnId, Ignored>>,
    },
    NewConnReq {
        reply: Reply<Result<ConnId, Ignored>>,
    },
    Disconnect {
        id: ConnId,
        reply: Reply<Result<(), Ignored>>,
    },
    Remove {
        id: ConnId,
        reply: Reply<Result<(), Ignored>>,
    },
    Learned {
        addr: SocketAddr,
        source: IpAddr,
    },
    Ban {
        subnet: Subnet,
        duration: Duration,
        reply: Reply<Result<(), Ignored>>,
    },
    Unban {
        subnet: Subnet,
        reply: Reply<Result<(), Ignored>>,
    },
    Misbehaved {
        id: ConnId,
        persistent: u32,
        transient: u32,
        reply: Reply<Result<(), Ignored>>,
    },
    Stats(Reply<Stats>),
    Counts(Reply<Counts>),
    Info {
        id: ConnId,
        reply: Reply<Option<ConnInfo>>,
    },
    Shutdown(Reply<Result<Stats, Error>>),
}

/// Commands to a running manager; cheap to clone.
///
/// Every method is a message to the manager's task and its answer. When
/// every handle is dropped, the manager shuts down as with
/// [`shutdown`](Handle::shutdown).
#[derive(Clone, Debug)]
pub struct Handle {
    tx: mpsc::Sender<Command>,
    listen_addrs: Arc<[SocketAddr]>,
}

impl Handle {
    pub(crate) fn new(tx: mpsc::Sender<Command>, listen_addrs: Arc<[SocketAddr]>) -> Handle {
        Handle { tx, listen_addrs }
    }

    /// The addresses the listeners are bound to, in the order they were
    /// given to the builder (with the ports chosen for port 0).
    pub fn listen_addrs(&self) -> &[SocketAddr] {
        &self.listen_addrs
    }

    async fn ask<T>(&self, command: impl FnOnce(Reply<T>) -> Command) -> Result<T, Error> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(command(reply))
            .await
            .map_err(|_| Error::Stopped)?;
        answer.await.map_err(|_| Error::Stopped)
    }

    /// Connects to `addr`: once, or, if `permanent`, redialled with backoff
    /// whenever it fails or drops. Returns the request's id; the outcome
    /// arrives as an [`Event`](crate::Event).
    pub async fn connect(&self, addr: SocketAddr, permanent: bool) -> Result<ConnId, Error> {
        self.ask(|reply| Command::Connect {
            addr,
            permanent,
            reply,
        })
        .await?
        .map_err(Error::Ignored)
    }

    /// Asks for one more automatic outbound connection, if below the target.
    pub async fn new_conn_req(&self) -> Result<ConnId, Error> {
        self.ask(|reply| Command::NewConnReq { reply })
            .await?
            .map_err(Error::Ignored)
    }

    /// Closes a connection (or cancels a request) and lets the policy act: a
    /// permanent peer is redialled, an automatic one replaced.
    pub async fn disconnect(&self, id: ConnId) -> Result<(), Error> {
        self.ask(|reply| Command::Disconnect { id, reply })
            .await?
            .map_err(Error::Ignored)
    }

    /// Closes a connection (or cancels a request) for good.
    pub async fn remove(&self, id: ConnId) -> Result<(), Error> {
        self.ask(|reply| Command::Remove { id, reply })
            .await?
            .map_err(Error::Ignored)
    }

    /// Tells the address source that a peer at `source` told us about
    /// `addr` (gossip); the source decides what to do with it.
    pub async fn learned(&self, addr: SocketAddr, source: IpAddr) -> Result<(), Error> {
        self.tx
            .send(Command::Learned { addr, source })
            .await
            .map_err(|_| Error::Stopped)
    }

    /// Bans `subnet` for `duration` (from now): its live connections are
    /// closed, its inbound connections refused and its addresses never
    /// dialled until then. Banning again replaces the end time. A
    /// [`Event::Banned`](crate::Event::Banned) follows.
    pub async fn ban(&self, subnet: Subnet, duration: Duration) -> Result<(), Error> {
        self.ask(|reply| Command::Ban {
            subnet,
            duration,
            reply,
        })
        .await?
        .map_err(Error::Ignored)
    }

    /// Lifts a ban set with [`ban`](Handle::ban).
    pub async fn unban(&self, subnet: Subnet) -> Result<(), Error> {
        self.ask(|reply| Command::Unban { subnet, reply })
            .await?
            .map_err(Error::Ignored)
    }

    /// Reports that the peer of `id` misbehaved: adds to its ban score
    /// (`persistent` for good, `transient` decaying); the core bans it at
    /// its config's threshold.
    pub async fn misbehaved(
        &self,
        id: ConnId,
        persistent: u32,
        transient: u32,
    ) -> Result<(), Error> {
        self.ask(|reply| Command::Misbehaved {
            id,
            persistent,
            transient,
            reply,
        })
        .await?
        .map_err(Error::Ignored)
    }

    /// The manager's counters.
    pub async fn stats(&self) -> Result<Stats, Error> {
        self.ask(Command::Stats).await
    }

    /// The live connections by kind.
    pub async fn counts(&self) -> Result<Counts, Error> {
        self.ask(Command::Counts).await
    }

    /// A snapshot of a live connection or request; `None` once it ended.
    pub async fn info(&self, id: ConnId) -> Result<Option<ConnInfo>, Error> {
        self.ask(|reply| Command::Info { id, reply }).await
    }

    /// Stops the manager and waits until it is done: dials cancelled and
    /// their sockets closed, listeners closed, every connection closed
    /// (streams the application holds are shut down; their descriptors
    /// close when the application drops them), the trace flushed and the
    /// address book saved. Returns the final counters.
    ///
    /// A second call, or any call after shutdown, returns [`Error::Stopped`].
    pub async fn shutdown(&self) -> Result<Stats, Error> {
        self.ask(Command::Shutdown).await?
    }
}
