//! `runtime=smol`: the manager on `connmgr-smol`, written as a
//! single-threaded smol application would be: a `LocalExecutor` on
//! async-io's reactor (what `smol::block_on` is), one accept task per
//! listener (the harness, accepting as `raw` does: see
//! [`async_listeners`]), the manager's driver as a task, and one task per
//! connected peer reading it to EOF.

use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_executor::{LocalExecutor, Task};
use async_io::{Async, Timer};
use connmgr::Config;
use connmgr_smol::{Builder, Event, Handle, PeerStream};
use connmgr_store::StaticList;
use futures_lite::future;
use futures_lite::AsyncReadExt;

use super::{listeners, Churn, Establish, Meter};

/// How long a listener waits after a failed accept.
const ACCEPT_RETRY: Duration = Duration::from_millis(1);

/// Any error of the benchmark's set-up or loop.
type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// `btcd`'s config targeting `n` outbound connections.
fn config(n: usize) -> Result<Config> {
    let n = u32::try_from(n)?;
    Ok(Config {
        target_outbound: n,
        max_inbound: n,
        ..Config::btcd()
    })
}

/// `k` listeners in async-io's reactor, and their addresses.
///
/// The listeners are the harness, not the system measured: they do the
/// same socket work as `raw`'s and `mio`'s, so they accept with std inside
/// `read_with` rather than with `Async::accept`, which registers every
/// accepted socket in the reactor (and sets it non-blocking, and
/// deregisters it when dropped).
fn async_listeners(
    k: usize,
) -> Result<(Vec<Async<std::net::TcpListener>>, Vec<std::net::SocketAddr>)> {
    let listeners = listeners(k)?
        .into_iter()
        .map(Async::new)
        .collect::<std::io::Result<Vec<_>>>()?;
    let addrs = listeners
        .iter()
        .map(|l| l.get_ref().local_addr())
        .collect::<std::io::Result<Vec<_>>>()?;
    Ok((listeners, addrs))
}

/// After a failed accept (out of descriptors, most likely; the harness is
/// sized not to be): wait a little instead of trying again at once, which
/// would never yield to the other tasks (async-io has no budget forcing it).
async fn accept_failed() {
    Timer::after(ACCEPT_RETRY).await;
}

/// The next event, or `None` at the deadline (or once the manager is gone).
/// `deadline` is one timer for the whole run: async-io wakes its reactor
/// for every timer made, so a timer per event would cost a wake-up each.
async fn next_event(events: &mut connmgr_smol::Events, deadline: &mut Timer) -> Option<Event> {
    future::or(events.recv(), async {
        deadline.await;
        None
    })
    .await
}

/// Shuts the manager down and waits for its driver, within the clean-up
/// deadline.
async fn cleanup(meter: &Meter, handle: &Handle, driver: Task<()>) -> Result<()> {
    let deadline = meter.cleanup_deadline();
    let done = async {
        let stopped = handle.shutdown().await.map(drop);
        driver.await;
        Some(stopped)
    };
    let late = async {
        Timer::at(deadline).await;
        None
    };
    match future::or(done, late).await {
        Some(stopped) => Ok(stopped?),
        None => Err("the manager did not shut down in time".into()),
    }
}

/// The manager targets `n` outbound connections to `k` listeners that
/// accept and hold every one; the clock stops at the `n`-th connected peer.
pub fn establish(n: usize, k: usize, timeout: Duration) -> Result<Establish> {
    let mut meter = Meter::start(timeout);
    let ex = LocalExecutor::new();
    async_io::block_on(ex.run(async {
        let (listeners, addrs) = async_listeners(k)?;
        // The accept tasks hold what they accept until dropped.
        let accepted = Arc::new(AtomicUsize::new(0));
        let acceptors: Vec<_> = listeners
            .into_iter()
            .map(|listener| {
                let accepted = Arc::clone(&accepted);
                ex.spawn(async move {
                    let mut held: Vec<TcpStream> = Vec::new();
                    loop {
                        match listener.read_with(|l| l.accept()).await {
                            Ok((stream, _)) => {
                                held.push(stream);
                                accepted.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(_) => accept_failed().await,
                        }
                    }
                })
            })
            .collect();

        meter.restart();
        let (handle, mut events, driver) = Builder::new(config(n)?)
            .address_source(Box::new(StaticList::new(addrs)))
            .build()?;
        let driver = ex.spawn(driver);
        let mut peers: Vec<PeerStream> = Vec::with_capacity(n);
        let mut deadline = Timer::at(meter.deadline());
        while peers.len() < n {
            match next_event(&mut events, &mut deadline).await {
                Some(Event::Connected { stream, .. }) => peers.push(stream),
                Some(_) => {}
                None => break,
            }
        }
        let secs = meter.secs();
        let cpu_us = meter.cpu_us();
        // Both ends held before memory is read.
        while accepted.load(Ordering::Relaxed) < peers.len() && !meter.expired() {
            Timer::after(Duration::from_millis(1)).await;
        }
        let rss_kb = meter.peak_rss_kb();
        let held = accepted.load(Ordering::Relaxed);
        let connected = peers.len();
        drop(peers);
        cleanup(&meter, &handle, driver).await?;
        drop(acceptors);
        Ok(Establish {
            secs,
            rss_kb,
            connected,
            held,
            cpu_us,
        })
    }))
}

/// The manager keeps `n` outbound connections to `k` listeners that close
/// every connection as soon as they accept it; a task per peer reads it to
/// EOF and drops it, and the manager replaces it. Counts connected peers up
/// to `conns`.
pub fn churn(n: usize, k: usize, conns: u64, timeout: Duration) -> Result<Churn> {
    let mut meter = Meter::start(timeout);
    let ex = LocalExecutor::new();
    async_io::block_on(ex.run(async {
        let (listeners, addrs) = async_listeners(k)?;
        let acceptors: Vec<_> = listeners
            .into_iter()
            .map(|listener| {
                ex.spawn(async move {
                    loop {
                        // Close every connection at once.
                        if listener.read_with(|l| l.accept()).await.is_err() {
                            accept_failed().await;
                        }
                    }
                })
            })
            .collect();

        meter.restart();
        let (handle, mut events, driver) = Builder::new(config(n)?)
            .address_source(Box::new(StaticList::new(addrs)))
            .build()?;
        let driver = ex.spawn(driver);
        let mut done = 0u64;
        let mut deadline = Timer::at(meter.deadline());
        while done < conns {
            match next_event(&mut events, &mut deadline).await {
                Some(Event::Connected { mut stream, .. }) => {
                    done += 1;
                    ex.spawn(async move {
                        let mut buf = [0u8; 64];
                        // EOF or an error: the stream reports `Closed`, and
                        // the drop closes the socket.
                        while matches!(stream.read(&mut buf).await, Ok(read) if read > 0) {}
                    })
                    .detach();
                }
                Some(_) => {}
                None => break,
            }
        }
        let secs = meter.secs();
        let cpu_us = meter.cpu_us();
        cleanup(&meter, &handle, driver).await?;
        drop(acceptors);
        Ok(Churn {
            conns: done,
            secs,
            cpu_us,
        })
    }))
}
