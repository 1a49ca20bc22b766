//! Why an input changed nothing.

use std::fmt;

use crate::{ConnId, ConnState};

/// An input the manager ignored. It is counted in
/// [`Stats::ignored_inputs`](crate::Stats::ignored_inputs), traced, and
/// otherwise harmless: the manager's state is unchanged, except that a socket
/// handed in by a late `DialResult` is answered with `Close`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ignored {
    /// The manager is stopped; it accepts no new work.
    Stopped,
    /// `Start` after `Start`.
    AlreadyStarted,
    /// `Stop` after `Stop`.
    AlreadyStopped,
    /// `NewConnReq` while `automatic_outbound` is off.
    ConnectMode,
    /// `NewConnReq` with automatic outbound already at the target.
    AtTarget,
    /// The id was never handed out.
    UnknownId(ConnId),
    /// The id has ended.
    Finished(ConnId),
    /// The input does not fit the id's state (an `AddressResult` while
    /// dialling, `Closed` before connecting, a duplicate result, …).
    UnexpectedState {
        /// The id.
        id: ConnId,
        /// Its state when the input came.
        state: ConnState,
    },
    /// `Connect` to a banned address.
    Banned,
    /// `Unban` of a subnet that is not banned.
    NotBanned,
    /// `Handshaked` for a connection whose handshake was already reported.
    AlreadyHandshaked(ConnId),
    /// A result for a dial attempt that was cancelled or superseded.
    StaleAttempt {
        /// The id.
        id: ConnId,
        /// The attempt the result carried.
        attempt: u32,
    },
}

impl fmt::Display for Ignored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ignored::Stopped => write!(f, "the manager is stopped"),
            Ignored::AlreadyStarted => write!(f, "the manager is already started"),
            Ignored::AlreadyStopped => write!(f, "the manager is already stopped"),
            Ignored::ConnectMode => {
                write!(f, "automatic outbound is off (connect mode); use Connect")
            }
            Ignored::AtTarget => write!(f, "automatic outbound is already at its target"),
            Ignored::Banned => write!(f, "the address is banned"),
            Ignored::NotBanned => write!(f, "that subnet is not banned"),
            Ignored::UnknownId(id) => write!(f, "{id} was never handed out"),
            Ignored::Finished(id) => write!(f, "{id} has already ended"),
            Ignored::AlreadyHandshaked(id) => write!(f, "{id} has already handshaked"),
            Ignored::UnexpectedState { id, state } => {
                write!(f, "input does not apply to {id} in state {state:?}")
            }
            Ignored::StaleAttempt { id, attempt } => {
                write!(
                    f,
                    "dial attempt {attempt} of {id} was cancelled or superseded"
                )
            }
        }
    }
}

impl std::error::Error for Ignored {}
