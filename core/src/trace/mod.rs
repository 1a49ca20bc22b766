//! Trace record and replay: the whole life of a manager in a file.
//!
//! Because the core is a pure function of its inputs (contract item 5), a
//! log of `(Instant, Input)` pairs is enough to rebuild every decision it
//! made. This module fixes that log's format, so that every runtime (the
//! tokio, smol and mio adapters, the simulator, the command line) writes
//! traces the same way and `connmgr replay` can check any of them.
//!
//! # The format
//!
//! A trace is [JSON Lines](https://jsonlines.org): one JSON object per line,
//! UTF-8, each line ended by `\n`.
//!
//! Line 1 is the header. It names the format and its version, the crate
//! version that wrote it (informational: replay is checked, not trusted), the
//! instant given to [`ConnManager::new`] and the [`Config`], whose
//! `rng_seed` is the secret the run's keys derive from (a trace is as
//! secret as the node's keys: keep it where the peers file is kept):
//!
//! ```text
//! {"format":"connmgr-trace","version":7,"crate_version":"0.1.0","start":0,"config":{"target_outbound":2,…},"book":null}
//! ```
//!
//! When the manager has an address book inside, the header's `"book"` is
//! the book it started with, minus its addresses, whose number it gives
//! instead; that many lines follow, one address each, so that no line grows
//! with the book:
//!
//! ```text
//! {"format":"connmgr-trace","version":7,…,"book":{"book":"core","format":1,"key":"…","addresses":2}}
//! {"book_address":{"addr":"203.0.113.7:8333","source":"0.0.0.0",…}}
//! {"book_address":{"addr":"198.51.100.2:8333","source":"0.0.0.0",…}}
//! ```
//!
//! Every further line is one input with the time it was handled, in
//! nanoseconds on the manager's clock, and optionally the actions drained
//! right after it:
//!
//! ```text
//! {"t":1000000000,"input":"Start","actions":[{"RequestAddress":{"id":1}},{"RequestAddress":{"id":2}}]}
//! ```
//!
//! `"actions"` absent means "not recorded" (nothing to compare on replay);
//! `"actions":[]` means "recorded: there were none" and is compared. Blank
//! lines are skipped. Inputs, actions and the config use the crate's serde
//! representation (externally tagged enums, `Result` as `{"Ok":…}` or
//! `{"Err":…}`, durations as `{"secs":…,"nanos":…}`), so the format changes
//! when those types do; [`VERSION`] is bumped when it does, and a reader
//! refuses versions it does not know rather than misreading them.
//!
//! # The pieces
//!
//! - [`Recorder`]: a [`ConnManager`] and a [`TraceWriter`] in one; what a
//!   runtime uses. It drains like the manager (`handle`, `poll_action`,
//!   `poll_timeout`) and records each input with its actions.
//! - [`TraceWriter`]: writes the header and the records to any
//!   [`std::io::Write`]; the core never opens files.
//! - [`TraceReader`]: reads them back from any [`std::io::BufRead`], with a
//!   [`TraceError`] that names the line for anything wrong.
//! - [`replay`]: re-runs a trace and returns a [`ReplayReport`]: identical,
//!   or the first divergence.
//!
//! # Example
//!
//! Record a short run in memory, then replay it:
//!
//! ```
//! use connmgr::trace::{self, Recorder, ReplayReport};
//! use connmgr::{Action, Config, ConnManager, Input, Instant, Seed};
//!
//! let mut config = Config::default();
//! config.target_outbound = 1;
//! config.block_relay_outbound = 0;
//! config.rng_seed = Some(Seed::from_u64(1)); // the runtimes draw one from the OS
//! config.address_book = connmgr::AddressBook::External; // the runtime answers addresses
//! let mgr = ConnManager::new(config, Instant::ZERO).unwrap();
//! let mut rec = Recorder::new(mgr, Some(Vec::new())).unwrap();
//!
//! // The runtime loop: hand every input to the recorder, perform what it drains.
//! let now = Instant::from_secs(1);
//! rec.handle(now, Input::Start).unwrap();
//! let Some(Action::RequestAddress { id }) = rec.poll_action() else { panic!() };
//! let addr = "203.0.113.7:8333".parse().unwrap();
//! rec.handle(now, Input::AddressResult { id, result: Ok(addr) }).unwrap();
//! let Some(Action::Dial { attempt, .. }) = rec.poll_action() else { panic!() };
//! rec.handle(now, Input::DialResult { id, attempt, result: Ok(()) }).unwrap();
//! while rec.poll_action().is_some() {}
//! rec.handle(Instant::from_secs(2), Input::Stop).unwrap();
//! let bytes = rec.close().unwrap().unwrap();
//!
//! // Anyone holding the bytes can check that this build decides the same.
//! let report = trace::replay(&bytes[..]).unwrap();
//! assert_eq!(report, ReplayReport::Identical { inputs: 4, actions_compared: 6, unchecked_inputs: 0 });
//! assert_eq!(report.to_string(), "identical: 4 inputs, 6 actions compared");
//! ```

use std::fmt;
use std::io;

use crate::ConnManager;
#[cfg(doc)]
use crate::{Action, Input};
use crate::{BookSnapshot, Config, ConfigError, Instant};

mod reader;
mod replay;
mod writer;

pub use reader::{Record, TraceReader};
pub use replay::{replay, Divergence, ReplayReport};
pub use writer::{Recorder, TraceWriter};

/// The value of the header's `"format"` field; a first line without it is
/// not a connmgr trace.
pub const FORMAT: &str = "connmgr-trace";

/// The longest line a trace may have, in bytes: longer ones are refused
/// when read, and end a recording when written (so that what was recorded
/// still replays), and a reader never holds more than this of one line.
///
/// A line is one input and the actions it produced. The widest real ones
/// are a `Start` with the largest target ([`MAX_TARGET_OUTBOUND`] requests,
/// about 2.2 MB) and a `Stop` of a manager holding every connection a
/// process can: each connection's `Close` and `Disconnected` take about 120
/// bytes, so 16 MiB covers some 140 000 connections, many times the
/// descriptors a process is usually given.
///
/// [`MAX_TARGET_OUTBOUND`]: crate::MAX_TARGET_OUTBOUND
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// The format version this build writes. It also reads
/// [`OLDEST_READABLE`] and the versions between.
///
/// Version 2 made the config's `rng_seed` a 32-byte secret (64 hex digits)
/// from which every key derives; a version 1 trace's keys came from a
/// number by another derivation, so its choices cannot be made again.
/// Version 3 added the address book inside the manager: the config's
/// `address_book`, the header's `"book"` and its address lines, and the
/// inputs that feed the book; a version 2 trace ran without one.
/// Version 4 added connection kinds: `Dial` carries the kind, `Connected`
/// carries it in place of `permanent`, and the config has the
/// block-relay-only target. Version 5 changed inbound eviction to Bitcoin
/// Core's protections. Version 6 names peers on every network (Tor, I2P,
/// CJDNS: [`PeerAddr`](crate::PeerAddr)); an IP address is written as
/// before, so a version 5 trace reads and replays unchanged. Version 7
/// writes the config's durations as people write them (`"5s"`,
/// `"1h 30m"`) instead of `{"secs": 5, "nanos": 0}`; the old form still
/// reads.
pub const VERSION: u32 = 7;

/// The oldest format version this build reads: version 5, which differs
/// from 6 only in knowing IP addresses alone (and from 7 in how durations
/// are written).
pub const OLDEST_READABLE: u32 = 5;

/// The first line of a trace: what is needed to rebuild the manager.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceHeader {
    /// The format version the trace was written in.
    pub version: u32,
    /// The version of the `connmgr` crate that wrote it. Not checked: a
    /// divergence from another version is reported with it, since a changed
    /// policy, not a bug, may explain it.
    pub crate_version: String,
    /// The instant passed to [`ConnManager::new`].
    pub start: Instant,
    /// The config the manager ran with.
    pub config: Config,
    /// The address book inside the manager when recording began, if it
    /// was not a new one ([`ConnManager::with_book`]).
    pub book: Option<BookSnapshot>,
}

impl TraceHeader {
    /// The header this build writes for a manager made with `config` at
    /// `start` (with no saved book).
    pub fn new(config: Config, start: Instant) -> TraceHeader {
        TraceHeader {
            version: VERSION,
            crate_version: env!("CARGO_PKG_VERSION").to_owned(),
            start,
            config,
            book: None,
        }
    }

    /// The manager this header describes, before any input.
    pub fn manager(&self) -> Result<ConnManager, TraceError> {
        let config = self.config.clone();
        let invalid = |source| TraceError::InvalidConfig { line: 1, source };
        match &self.book {
            None => ConnManager::new(config, self.start).map_err(invalid),
            Some(book) => match ConnManager::with_book(config, self.start, book) {
                Ok((mgr, _)) => Ok(mgr),
                Err(crate::RestoreError::Config(source)) => Err(invalid(source)),
                Err(crate::RestoreError::Snapshot(e)) => Err(TraceError::InvalidHeader {
                    line: 1,
                    message: format!("its address book is corrupt: {e}"),
                }),
            },
        }
    }
}

/// Why a trace could not be read. Every variant names the line (1 is the
/// header), because a trace is a file a person will open to look.
#[derive(Debug)]
#[non_exhaustive]
pub enum TraceError {
    /// Reading failed.
    Io {
        /// The line being read.
        line: u64,
        /// The underlying error.
        source: io::Error,
    },
    /// The input is empty (or only blank lines): there is no header.
    MissingHeader,
    /// The first non-blank line is JSON but not a connmgr trace header of
    /// a known shape.
    InvalidHeader {
        /// The header's line: 1 unless blank lines come before it.
        line: u64,
        /// What is wrong with it.
        message: String,
    },
    /// The header's format version is not the one this build reads.
    UnsupportedVersion {
        /// The header's line: 1 unless blank lines come before it.
        line: u64,
        /// The version the trace claims.
        version: u64,
    },
    /// The header's config does not [validate](Config::validate), so no
    /// manager can be built from it.
    InvalidConfig {
        /// The header's line: 1 unless blank lines come before it.
        line: u64,
        /// Why the config was refused.
        source: ConfigError,
    },
    /// A line is not valid JSON.
    Json {
        /// The line.
        line: u64,
        /// The column within it, from serde_json (1-based).
        column: usize,
        /// serde_json's description.
        message: String,
    },
    /// A line is valid JSON but not a trace record (an unknown input, a
    /// missing `"t"`, an unknown field, …).
    InvalidRecord {
        /// The line.
        line: u64,
        /// The column within it, from serde_json (1-based).
        column: usize,
        /// serde_json's description.
        message: String,
    },
    /// The last line has no newline and its JSON is incomplete: the
    /// recording was cut off while writing it.
    Truncated {
        /// The line.
        line: u64,
    },
    /// A line is longer than the limit ([`MAX_LINE_BYTES`] unless the
    /// reader was given another); reading stopped there.
    LineTooLong {
        /// The line.
        line: u64,
        /// The limit, in bytes.
        limit: usize,
    },
    /// A record's time is earlier than the one before it (or than the
    /// header's start): no runtime records such a trace, and replaying it
    /// would decide on a clock that is not the one it was recorded with.
    TimeWentBackwards {
        /// The line.
        line: u64,
        /// Its time.
        t: Instant,
        /// The latest time before it.
        previous: Instant,
    },
}

impl TraceError {
    /// The line the error is about (1-based, blank lines counted; 1 for a
    /// trace with no header at all).
    pub fn line(&self) -> u64 {
        match self {
            TraceError::MissingHeader => 1,
            TraceError::Io { line, .. }
            | TraceError::InvalidHeader { line, .. }
            | TraceError::UnsupportedVersion { line, .. }
            | TraceError::InvalidConfig { line, .. }
            | TraceError::Json { line, .. }
            | TraceError::InvalidRecord { line, .. }
            | TraceError::Truncated { line }
            | TraceError::LineTooLong { line, .. }
            | TraceError::TimeWentBackwards { line, .. } => *line,
        }
    }
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TraceError::Io { line, source } => write!(f, "line {line}: read failed: {source}"),
            TraceError::MissingHeader => write!(
                f,
                "line 1: the trace is empty; a connmgr trace starts with a {FORMAT:?} header line"
            ),
            TraceError::InvalidHeader { line, message } => {
                write!(f, "line {line}: not a valid connmgr trace header: {message}")
            }
            TraceError::UnsupportedVersion { line, version: 1 } => write!(
                f,
                "line {line}: trace format version 1 is not supported; this build reads version {VERSION}, whose seed is a 32-byte secret (a version 1 trace's choices cannot be made again: record the run anew)"
            ),
            TraceError::UnsupportedVersion { line, version: 2 } => write!(
                f,
                "line {line}: trace format version 2 is not supported; this build reads version {VERSION}, in which the manager may hold the address book (a version 2 trace ran without one: record the run anew)"
            ),
            TraceError::UnsupportedVersion { line, version: 3 } => write!(
                f,
                "line {line}: trace format version 3 is not supported; this build reads version {VERSION}, whose dials and connections carry their kind (full-relay, block-relay-only, …) and whose default config keeps block-relay-only connections (record the run anew)"
            ),
            TraceError::UnsupportedVersion { line, version: 4 } => write!(
                f,
                "line {line}: trace format version 4 is not supported; this build reads version {VERSION}, whose inbound eviction follows Bitcoin Core's protections and weighs the facts reported of each peer (a version 4 trace's evictions cannot be made again: record the run anew)"
            ),
            TraceError::UnsupportedVersion { line, version } => write!(
                f,
                "line {line}: trace format version {version} is not supported; this build reads versions {OLDEST_READABLE} to {VERSION}"
            ),
            TraceError::InvalidConfig { line, source } => {
                write!(f, "line {line}: the trace's config is invalid: {source}")
            }
            TraceError::Json {
                line,
                column,
                message,
            } => write!(f, "line {line}, column {column}: corrupt JSON: {message}"),
            TraceError::InvalidRecord {
                line,
                column,
                message,
            } => write!(
                f,
                "line {line}, column {column}: not a trace record: {message}"
            ),
            TraceError::Truncated { line } => write!(
                f,
                "line {line}: truncated: the last line ends in the middle of its JSON (was the recording cut off?)"
            ),
            TraceError::LineTooLong { line, limit } => write!(
                f,
                "line {line}: longer than {limit} bytes, the longest line a trace may have; this is not a trace written by connmgr"
            ),
            TraceError::TimeWentBackwards { line, t, previous } => write!(
                f,
                "line {line}: time goes backwards (t={} after {}); a recorded clock never does, so the trace was edited or damaged",
                t.as_nanos(),
                previous.as_nanos()
            ),
        }
    }
}

impl std::error::Error for TraceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TraceError::Io { source, .. } => Some(source),
            TraceError::InvalidConfig { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
