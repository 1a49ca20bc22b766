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
    /// `Learned` or `AddressesRequested` without a book inside the manager
    /// (`Config::address_book` is `External`).
    NoBook,
    /// The connection has not completed its handshake: it may not send
    /// addresses or ask for them yet.
    NotReady(ConnId),
    /// A peer advertised more addresses at once than one `addr` message may
    /// carry (1 000): all are ignored, as Bitcoin Core does.
    TooManyAddresses {
        /// The connection.
        id: ConnId,
        /// How many it sent.
        count: usize,
    },
    /// The input is refused by policy.
    NotAllowed {
        /// The connection.
        id: ConnId,
        /// Why.
        why: &'static str,
    },
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
            Ignored::NoBook => write!(
                f,
                "there is no address book inside the manager (Config::address_book is External)"
            ),
            Ignored::NotReady(id) => write!(f, "{id} has not completed its handshake"),
            Ignored::TooManyAddresses { id, count } => write!(
                f,
                "{id} advertised {count} addresses at once; at most 1000 are accepted"
            ),
            Ignored::NotAllowed { id, why } => write!(f, "refused for {id}: {why}"),
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
