//! `runtime=tokio`: the manager on `connmgr-tokio`, written as a tokio
//! application would be: the manager's own tasks, and one task per
//! connected peer reading it to EOF. The listeners (the harness) are one
//! task each, accepting as `raw` does (see [`tokio_listeners`]).
//!
//! `--threads 1` (the default) runs everything on a `current_thread`
//! runtime, the single core `raw` and `mio` use; more threads make a
//! `multi_thread` runtime with that many workers.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use connmgr::Config;
use connmgr_store::StaticList;
use connmgr_tokio::{Builder, Event, Events, Handle, PeerStream};
use tokio::io::unix::AsyncFd;
use tokio::io::AsyncReadExt;
use tokio::io::Interest;
use tokio::runtime::Runtime;
use tokio::task::JoinSet;
use tokio::time::Sleep;

use super::{listeners, Churn, Establish, Meter};

/// How long a listener waits after a failed accept.
const ACCEPT_RETRY: Duration = Duration::from_millis(1);

/// Any error of the benchmark's set-up or loop.
type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn runtime(threads: usize) -> std::io::Result<Runtime> {
    if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    }
}

/// `btcd`'s config targeting `n` outbound connections.
fn config(n: usize) -> Result<Config> {
    let n = u32::try_from(n)?;
    Ok(Config {
        target_outbound: n,
        max_inbound: n,
        ..Config::btcd()
    })
}

/// `k` listeners in the current runtime's reactor, and their addresses.
///
/// The listeners are the harness, not the system measured: they do the
/// same socket work as `raw`'s and `mio`'s (accept, then hold or close the
/// socket), so they are std listeners in an `AsyncFd` that call accept(2)
/// themselves, rather than tokio `TcpListener`s, whose `accept` registers
/// every accepted socket in the reactor (and deregisters it when dropped):
/// two `epoll_ctl` per connection that the other harnesses do not make.
#[allow(unsafe_code)] // tokio 1.54 deprecates `AsyncFd`'s safe constructors
fn tokio_listeners(k: usize) -> Result<(Vec<AsyncFd<TcpListener>>, Vec<SocketAddr>)> {
    let listeners = listeners(k)?;
    let addrs = listeners
        .iter()
        .map(TcpListener::local_addr)
        .collect::<std::io::Result<Vec<_>>>()?;
    let mut registered = Vec::with_capacity(k);
    for listener in listeners {
        // SAFETY: the `TcpListener` owns its descriptor, and the `AsyncFd`
        // owns the listener: the descriptor stays open and is not replaced
        // while registered, and is deregistered before it is closed.
        let listener = unsafe { AsyncFd::register_with_interest(listener, Interest::READABLE) }
            .map_err(|e| e.into_parts().1)?;
        registered.push(listener);
    }
    Ok((registered, addrs))
}

/// Accepts on `listener` for ever, handing each connection to `each`.
async fn accept_loop(listener: AsyncFd<TcpListener>, mut each: impl FnMut(TcpStream)) {
    loop {
        let accepted = listener.async_io(Interest::READABLE, |l| l.accept()).await;
        match accepted {
            Ok((stream, _)) => each(stream),
            // Out of descriptors, most likely (the harness is sized not to
            // be): wait a little rather than try again at once.
            Err(_) => tokio::time::sleep(ACCEPT_RETRY).await,
        }
    }
}

/// The run's deadline as one timer, made once: a timer per event would cost
/// a timer-wheel entry each.
fn deadline(meter: &Meter) -> Sleep {
    tokio::time::sleep_until(meter.deadline().into())
}

/// The next event, or `None` at the deadline (or once the manager is gone).
async fn next_event(events: &mut Events, deadline: Pin<&mut Sleep>) -> Option<Event> {
    tokio::select! {
        biased;
        event = events.recv() => event,
        () = deadline => None,
    }
}

/// Shuts the manager down and stops the listeners, within the clean-up
/// deadline.
async fn cleanup(meter: &Meter, handle: Handle, mut tasks: JoinSet<()>) -> Result<()> {
    let deadline = meter.cleanup_deadline().into();
    tokio::time::timeout_at(deadline, handle.shutdown())
        .await
        .map_err(|_| "the manager did not shut down in time")??;
    tasks.shutdown().await;
    Ok(())
}

/// The manager targets `n` outbound connections to `k` listeners that
/// accept and hold every one; the clock stops at the `n`-th connected peer.
pub fn establish(n: usize, k: usize, threads: usize, timeout: Duration) -> Result<Establish> {
    let mut meter = Meter::start(timeout);
    let rt = runtime(threads)?;
    rt.block_on(async {
        let (listeners, addrs) = tokio_listeners(k)?;
        // The accept tasks hold what they accept until aborted.
        let accepted = Arc::new(AtomicUsize::new(0));
        let mut acceptors = JoinSet::new();
        for listener in listeners {
            let accepted = Arc::clone(&accepted);
            let mut held: Vec<TcpStream> = Vec::new();
            acceptors.spawn(accept_loop(listener, move |stream| {
                held.push(stream);
                accepted.fetch_add(1, Ordering::Relaxed);
            }));
        }

        meter.restart();
        let (handle, mut events) = Builder::new(config(n)?)
            .address_source(Box::new(StaticList::new(addrs)))
            .spawn()?;
        let mut peers: Vec<PeerStream> = Vec::with_capacity(n);
        let deadline = deadline(&meter);
        tokio::pin!(deadline);
        while peers.len() < n {
            match next_event(&mut events, deadline.as_mut()).await {
                Some(Event::Connected { stream, .. }) => peers.push(stream),
                Some(_) => {}
                None => break,
            }
        }
        let secs = meter.secs();
        let cpu_us = meter.cpu_us();
        // Both ends held before memory is read.
        while accepted.load(Ordering::Relaxed) < peers.len() && !meter.expired() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let rss_kb = meter.peak_rss_kb();
        let held = accepted.load(Ordering::Relaxed);
        let connected = peers.len();
        drop(peers);
        cleanup(&meter, handle, acceptors).await?;
        Ok(Establish {
            secs,
            rss_kb,
            connected,
            held,
            cpu_us,
        })
    })
}

/// The manager keeps `n` outbound connections to `k` listeners that close
/// every connection as soon as they accept it; a task per peer reads it to
/// EOF and drops it, and the manager replaces it. Counts connected peers up
/// to `conns`.
pub fn churn(n: usize, k: usize, conns: u64, threads: usize, timeout: Duration) -> Result<Churn> {
    let mut meter = Meter::start(timeout);
    let rt = runtime(threads)?;
    rt.block_on(async {
        let (listeners, addrs) = tokio_listeners(k)?;
        let mut tasks = JoinSet::new();
        for listener in listeners {
            // Close every connection at once.
            tasks.spawn(accept_loop(listener, drop));
        }

        meter.restart();
        let (handle, mut events) = Builder::new(config(n)?)
            .address_source(Box::new(StaticList::new(addrs)))
            .spawn()?;
        let mut done = 0u64;
        let deadline = deadline(&meter);
        tokio::pin!(deadline);
        while done < conns {
            match next_event(&mut events, deadline.as_mut()).await {
                Some(Event::Connected { mut stream, .. }) => {
                    done += 1;
                    tokio::spawn(async move {
                        let mut buf = [0u8; 64];
                        // EOF or an error: the stream reports `Closed`, and
                        // the drop closes the socket.
                        while matches!(stream.read(&mut buf).await, Ok(read) if read > 0) {}
                    });
                }
                Some(_) => {}
                None => break,
            }
        }
        let secs = meter.secs();
        let cpu_us = meter.cpu_us();
        cleanup(&meter, handle, tasks).await?;
        Ok(Churn {
            conns: done,
            secs,
            cpu_us,
        })
    })
}

/// `churn` with no manager: `n` tasks, one per outbound slot, each dialling
/// the listeners in turn and reading every connection to EOF before the
/// next; the same listeners. What tokio itself costs for this socket work,
/// at `threads` workers: the reference for the manager's figures.
pub fn bare_churn(
    n: usize,
    k: usize,
    conns: u64,
    threads: usize,
    timeout: Duration,
) -> Result<Churn> {
    let mut meter = Meter::start(timeout);
    let rt = runtime(threads)?;
    rt.block_on(async {
        let (listeners, addrs) = tokio_listeners(k)?;
        let mut tasks = JoinSet::new();
        for listener in listeners {
            tasks.spawn(accept_loop(listener, drop));
        }
        meter.restart();
        let done = Arc::new(AtomicUsize::new(0));
        let target = usize::try_from(conns)?;
        let mut slots = JoinSet::new();
        for slot in 0..n {
            let (addrs, done) = (addrs.clone(), Arc::clone(&done));
            slots.spawn(async move {
                let mut next = slot;
                while done.load(Ordering::Relaxed) < target {
                    let Ok(mut stream) =
                        tokio::net::TcpStream::connect(addrs[next % addrs.len()]).await
                    else {
                        continue;
                    };
                    next += 1;
                    done.fetch_add(1, Ordering::Relaxed);
                    let mut buf = [0u8; 64];
                    while matches!(stream.read(&mut buf).await, Ok(read) if read > 0) {}
                }
            });
        }
        let deadline = meter.deadline().into();
        let _ = tokio::time::timeout_at(deadline, async {
            while slots.join_next().await.is_some() {}
        })
        .await;
        let secs = meter.secs();
        let cpu_us = meter.cpu_us();
        slots.shutdown().await;
        tasks.shutdown().await;
        Ok(Churn {
            conns: done.load(Ordering::Relaxed).min(target) as u64,
            secs,
            cpu_us,
        })
    })
}
