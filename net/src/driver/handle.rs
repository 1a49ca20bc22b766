//! [`Handle`]: the application's commands to a running manager.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use connmgr::{
    Advertised, ConnId, ConnInfo, ConnManager, Counts, Ignored, Input, PeerAddr, PeerFact, Stats,
    Subnet,
};

use super::chan::{channel, Sender};
use crate::Error;

/// Where the driver answers a command.
pub(crate) type Reply<T> = Sender<T>;

/// A question about the manager, answered on the driver's side.
pub(crate) type Query = Box<dyn FnOnce(&ConnManager) + Send>;

/// What a [`Handle`] asks of the driver.
pub(crate) enum Command {
    /// An input for the core, answered with what `handle` returned.
    Input {
        input: Input,
        reply: Reply<Result<Option<ConnId>, Ignored>>,
    },
    /// A ban for a duration: the end is put on the core's clock by the
    /// driver.
    Ban {
        subnet: Subnet,
        duration: Duration,
        reply: Reply<Result<Option<ConnId>, Ignored>>,
    },
    /// Addresses advertised to the node: for the book inside the manager,
    /// or the address source.
    Learned {
        from: Option<ConnId>,
        addrs: Vec<Advertised>,
        reply: Reply<Result<Option<ConnId>, Ignored>>,
    },
    Query(Query),
    /// Save the address book now.
    Save(Reply<Result<(), Error>>),
    Shutdown(Reply<Result<Stats, Error>>),
}

/// Commands to a running manager; cheap to clone.
///
/// Every method is a message to the driver and its answer. When every
/// handle is dropped, the manager shuts down as with
/// [`shutdown`](Handle::shutdown).
#[derive(Clone)]
pub struct Handle {
    tx: Sender<Command>,
    listen_addrs: Arc<[SocketAddr]>,
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("listen_addrs", &self.listen_addrs)
            .finish_non_exhaustive()
    }
}

impl Handle {
    pub(crate) fn new(tx: Sender<Command>, listen_addrs: Arc<[SocketAddr]>) -> Handle {
        Handle { tx, listen_addrs }
    }

    /// The addresses the listeners are bound to, in the order they were
    /// given to the builder (with the ports chosen for port 0).
    pub fn listen_addrs(&self) -> &[SocketAddr] {
        &self.listen_addrs
    }

    async fn ask<T>(&self, command: impl FnOnce(Reply<T>) -> Command) -> Result<T, Error> {
        let (reply, mut answer) = channel();
        self.tx.send(command(reply)).map_err(|_| Error::Stopped)?;
        answer.recv().await.ok_or(Error::Stopped)
    }

    async fn feed(&self, input: Input) -> Result<Option<ConnId>, Error> {
        Ok(self.ask(|reply| Command::Input { input, reply }).await??)
    }

    /// An input that creates an id: `None` means the manager had stopped.
    async fn create(&self, input: Input) -> Result<ConnId, Error> {
        self.feed(input)
            .await?
            .ok_or(Error::Ignored(Ignored::Stopped))
    }

    /// Connects to `addr`: once, or, if `permanent`, redialled with backoff
    /// whenever it fails or drops. Returns the request's id; the outcome
    /// arrives as an [`Event`](connmgr::Event).
    pub async fn connect(
        &self,
        addr: impl Into<PeerAddr>,
        permanent: bool,
    ) -> Result<ConnId, Error> {
        let addr = addr.into();
        self.create(Input::Connect { addr, permanent }).await
    }

    /// Connects to `addr` only to ask it for addresses: the connection is
    /// an address fetch (`ConnKind::AddrFetch`); the application sends
    /// `getaddr` once it is ready, and the manager closes it once the
    /// answer is reported (`learned`) or after 5 minutes.
    pub async fn fetch_addresses(&self, addr: impl Into<PeerAddr>) -> Result<ConnId, Error> {
        let addr = addr.into();
        self.create(Input::FetchAddresses { addr }).await
    }

    /// Asks for one more automatic outbound connection, if below the target.
    pub async fn new_conn_req(&self) -> Result<ConnId, Error> {
        self.create(Input::NewConnReq).await
    }

    /// Closes a connection (or cancels a request) and lets the policy act: a
    /// permanent peer is redialled, an automatic one replaced.
    pub async fn disconnect(&self, id: ConnId) -> Result<(), Error> {
        self.feed(Input::Disconnect { id }).await.map(drop)
    }

    /// Reports that the protocol's handshake with the peer of `id`
    /// succeeded: it is ready (an [`Event::Ready`](connmgr::Event::Ready)
    /// follows), an outbound peer's address becomes a good one, and its
    /// handshake timer stops.
    pub async fn handshaked(&self, id: ConnId) -> Result<(), Error> {
        self.feed(Input::Handshaked { id }).await.map(drop)
    }

    /// Reports whether the chain tip is stale (`Input::TipStale`): while it
    /// is, one full-relay outbound peer is kept above the target.
    pub async fn tip_stale(&self, stale: bool) -> Result<(), Error> {
        self.feed(Input::TipStale { stale }).await.map(drop)
    }

    /// Names the least useful full-relay outbound peer
    /// (`Input::LeastUseful`): closed if one is above the target.
    pub async fn least_useful(&self, id: ConnId) -> Result<(), Error> {
        self.feed(Input::LeastUseful { id }).await.map(drop)
    }

    /// Reports something learned about the peer of `id` (its ping, a
    /// novel block or transaction, its relay flag, its permissions), which
    /// inbound eviction weighs (`Input::PeerFact`).
    pub async fn peer_fact(&self, id: ConnId, fact: PeerFact) -> Result<(), Error> {
        self.feed(Input::PeerFact { id, fact }).await.map(drop)
    }

    /// Closes a connection (or cancels a request) for good.
    pub async fn remove(&self, id: ConnId) -> Result<(), Error> {
        self.feed(Input::Remove { id }).await.map(drop)
    }

    /// Addresses advertised to the node: by the peer of `from` (its `addr`
    /// message, each address with the time the peer claims it was seen),
    /// or, with `None`, the application's own (seeds, DNS). They go to the
    /// address book inside the manager (`Input::Learned`, under Bitcoin
    /// Core's caps), or to the address source when the book is outside.
    pub async fn learned(&self, from: Option<ConnId>, addrs: Vec<Advertised>) -> Result<(), Error> {
        let asked = self.ask(|reply| Command::Learned { from, addrs, reply });
        Ok(asked.await?.map(drop)?)
    }

    /// The inbound peer of `id` asked for addresses (`getaddr`): the book
    /// inside answers once per connection with an
    /// [`Event::ShareAddresses`](connmgr::Event::ShareAddresses).
    pub async fn addresses_requested(&self, id: ConnId) -> Result<(), Error> {
        self.feed(Input::AddressesRequested { id }).await.map(drop)
    }

    /// Bans `subnet` for `duration` (from now): its live connections are
    /// closed, its inbound connections refused and its addresses never
    /// dialled until then. Banning again replaces the end time. An
    /// [`Event::Banned`](connmgr::Event::Banned) follows.
    pub async fn ban(&self, subnet: Subnet, duration: Duration) -> Result<(), Error> {
        let asked = self.ask(|reply| Command::Ban {
            subnet,
            duration,
            reply,
        });
        asked.await?.map(drop).map_err(Error::Ignored)
    }

    /// Lifts a ban set with [`ban`](Handle::ban).
    pub async fn unban(&self, subnet: Subnet) -> Result<(), Error> {
        self.feed(Input::Unban { subnet }).await.map(drop)
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
        let input = Input::Misbehaved {
            id,
            persistent,
            transient,
        };
        self.feed(input).await.map(drop)
    }

    /// Asks the manager anything its queries answer
    /// ([`outbound_group_count`](ConnManager::outbound_group_count), …).
    pub async fn query<T: Send + 'static>(
        &self,
        question: impl FnOnce(&ConnManager) -> T + Send + 'static,
    ) -> Result<T, Error> {
        self.ask(|reply| {
            Command::Query(Box::new(move |mgr| {
                let _ = reply.send(question(mgr));
            }))
        })
        .await
    }

    /// The manager's counters.
    pub async fn stats(&self) -> Result<Stats, Error> {
        self.query(ConnManager::stats).await
    }

    /// The live connections by kind.
    pub async fn counts(&self) -> Result<Counts, Error> {
        self.query(ConnManager::counts).await
    }

    /// A snapshot of a live connection or request; `None` once it ended.
    pub async fn info(&self, id: ConnId) -> Result<Option<ConnInfo>, Error> {
        self.query(move |mgr| mgr.info(id)).await
    }

    /// Saves the address book now (as every `persist_interval` and at
    /// shutdown), for an operator's signal. A failure leaves the old file as
    /// it was and is returned as [`Error::Persist`].
    pub async fn save(&self) -> Result<(), Error> {
        self.ask(Command::Save).await?
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
