//! Listeners: binding with the system's backlog, and the accept loops.

use std::io;
use std::net::SocketAddr;

use connmgr::ListenerId;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};

/// The backlog when the system's cannot be read (Linux's default since 5.4).
const DEFAULT_BACKLOG: i32 = 4096;

/// The system's maximum listen backlog (`net.core.somaxconn`), as Go uses.
/// tokio's and std's 128 overflows under a burst of connects and costs SYN
/// retransmits of a second or more.
pub(crate) fn system_backlog() -> i32 {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_BACKLOG)
}

/// A non-blocking listening socket on `addr`, with `SO_REUSEADDR` (as std
/// and tokio set it) so a restarted node can listen again at once.
pub(crate) fn bind(addr: SocketAddr, backlog: i32) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// What an accept loop hands to the driver.
#[derive(Debug)]
pub(crate) enum Accepted {
    Ok {
        listener: ListenerId,
        stream: TcpStream,
        remote: SocketAddr,
    },
    Failed {
        listener: ListenerId,
        error: io::Error,
        /// Dropped or sent once the driver has performed what the core
        /// decided (a pause, or nothing): only then does the loop accept
        /// again, so an error can never make it spin ahead of the decision.
        decided: oneshot::Sender<()>,
    },
}

/// Accepts on `listener` while `paused` is false, until the driver goes away
/// or aborts the task.
pub(crate) async fn accept_loop(
    id: ListenerId,
    listener: TcpListener,
    tx: mpsc::Sender<Accepted>,
    mut paused: watch::Receiver<bool>,
) {
    loop {
        if *paused.borrow_and_update() && paused.wait_for(|p| !*p).await.is_err() {
            return;
        }
        let result = tokio::select! {
            result = listener.accept() => result,
            changed = paused.changed() => {
                if changed.is_err() {
                    return;
                }
                continue;
            }
        };
        let accepted = match result {
            Ok((stream, remote)) => Accepted::Ok {
                listener: id,
                stream,
                remote,
            },
            Err(error) => {
                let (decided, wait) = oneshot::channel();
                let failed = Accepted::Failed {
                    listener: id,
                    error,
                    decided,
                };
                if tx.send(failed).await.is_err() {
                    return;
                }
                // Err only if the driver dropped it: then carry on (the
                // watch channel says whether it is still there).
                let _ = wait.await;
                continue;
            }
        };
        if tx.send(accepted).await.is_err() {
            return;
        }
    }
}
