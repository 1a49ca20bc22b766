//! What an operator's signals mean to `connmgr node`: SIGTERM (what systemd
//! sends) and SIGINT (Ctrl-C) stop it gracefully, and a second one during
//! the shutdown exits at once; SIGHUP saves the peers file now and goes on.

use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::Error;

/// What a signal asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Asked {
    /// SIGTERM or SIGINT.
    Stop,
    /// SIGHUP.
    Save,
}

/// The node's signal streams, installed once at start (so that none is
/// lost, and the default action, which would kill the process without
/// saving, no longer applies).
pub struct Signals {
    terminate: Signal,
    interrupt: Signal,
    hangup: Signal,
}

impl Signals {
    pub fn install() -> Result<Signals, Error> {
        let listen = |kind: SignalKind, name: &str| {
            signal(kind).map_err(|e| format!("cannot handle {name}: {e}"))
        };
        Ok(Signals {
            terminate: listen(SignalKind::terminate(), "SIGTERM")?,
            interrupt: listen(SignalKind::interrupt(), "SIGINT")?,
            hangup: listen(SignalKind::hangup(), "SIGHUP")?,
        })
    }

    /// The next signal.
    pub async fn next(&mut self) -> Asked {
        tokio::select! {
            _ = self.terminate.recv() => Asked::Stop,
            _ = self.interrupt.recv() => Asked::Stop,
            _ = self.hangup.recv() => Asked::Save,
        }
    }

    /// The next stop signal (a save one is ignored while stopping).
    pub async fn next_stop(&mut self) {
        while self.next().await != Asked::Stop {}
    }
}
