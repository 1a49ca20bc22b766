//! The accept loops (the sockets come from `connmgr_net::listen`).

use std::net::SocketAddr;

use connmgr::{AcceptError, ListenerId};
use connmgr_net::accept_error;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};

/// What an accept loop hands to the driver.
#[derive(Debug)]
pub(crate) enum Accepted {
    Ok {
        listener: ListenerId,
        stream: TcpStream,
        remote: SocketAddr,
    },
    /// An accept error the core must hear of.
    Failed {
        listener: ListenerId,
        error: AcceptError,
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
                tracing::debug!(listener = %id, %error, "accept failed");
                // accept(2)'s transient errors: accept again, nothing to tell.
                let Some(error) = accept_error(&error) else {
                    continue;
                };
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
