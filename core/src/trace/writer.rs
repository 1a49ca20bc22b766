//! Writing traces: [`TraceWriter`] for the lines, [`Recorder`] for runtimes.

use std::io::{self, Write};

use serde::Serialize;

use super::{FORMAT, VERSION};
use crate::{Action, Config, ConnId, ConnManager, Ignored, Input, Instant};

/// The header as written; borrowed so writing it copies nothing.
#[derive(Serialize)]
struct HeaderOut<'a> {
    format: &'static str,
    version: u32,
    crate_version: &'static str,
    start: Instant,
    config: &'a Config,
}

/// One record as written.
#[derive(Serialize)]
struct RecordOut<'a> {
    t: Instant,
    input: &'a Input,
    #[serde(skip_serializing_if = "Option::is_none")]
    actions: Option<&'a [Action]>,
}

/// Writes a trace to any [`Write`]: the header on creation, then one line per
/// [`record`](TraceWriter::record).
///
/// Each line is serialized in memory first and handed to the writer with a
/// single `write_all`, so a failed write never interleaves two lines. Wrap a
/// file in a [`BufWriter`](std::io::BufWriter): the writer issues one write
/// per input.
#[derive(Debug)]
pub struct TraceWriter<W: Write> {
    out: W,
    line: Vec<u8>,
    lines: u64,
}

impl<W: Write> TraceWriter<W> {
    /// Starts a trace of a manager made with
    /// `ConnManager::new(config.clone(), start)`, writing the header line.
    pub fn new(out: W, config: &Config, start: Instant) -> io::Result<TraceWriter<W>> {
        let mut writer = TraceWriter {
            out,
            line: Vec::with_capacity(256),
            lines: 0,
        };
        writer.write_line(&HeaderOut {
            format: FORMAT,
            version: VERSION,
            crate_version: env!("CARGO_PKG_VERSION"),
            start,
            config,
        })?;
        Ok(writer)
    }

    /// Records that `input` was handled at `t`, and, with `Some`, the actions
    /// drained right after it (`Some(&[])` records that there were none, which
    /// replay then checks; `None` records nothing to check).
    pub fn record(
        &mut self,
        t: Instant,
        input: &Input,
        actions: Option<&[Action]>,
    ) -> io::Result<()> {
        self.write_line(&RecordOut { t, input, actions })
    }

    /// Lines written so far, the header included: the line number of the
    /// last one.
    pub fn lines_written(&self) -> u64 {
        self.lines
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The underlying writer, e.g. to read back an in-memory trace.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }

    fn write_line<T: Serialize>(&mut self, value: &T) -> io::Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, value)?;
        self.line.push(b'\n');
        self.out.write_all(&self.line)?;
        self.lines += 1;
        Ok(())
    }
}

/// What [`Recorder::handle`] returns: everything
/// [`ConnManager::handle`] and draining [`poll_action`](ConnManager::poll_action)
/// would have given.
#[derive(Debug)]
#[must_use = "the actions must be performed (contract item 4)"]
pub struct Handled {
    /// What `ConnManager::handle` returned: the id the input created, or why
    /// it was ignored.
    pub result: Result<Option<ConnId>, Ignored>,
    /// The actions the input produced, in order. Owned, so the runtime can
    /// call `handle` again while performing them.
    pub actions: Vec<Action>,
}

/// A [`ConnManager`] that records every input and its actions as it goes:
/// recording in one call, so a runtime cannot forget half of it.
///
/// The runtime loop stays the one from the crate documentation, with
/// `rec.handle(now, input)` in place of `handle` plus draining:
///
/// ```no_run
/// # use connmgr::{trace::Recorder, Action, ConnManager, Config, Input, Instant};
/// # fn perform(_: Action) {}
/// # fn next_input() -> (Instant, Input) { unimplemented!() }
/// let file = std::io::BufWriter::new(std::fs::File::create("node.trace.jsonl")?);
/// let mgr = ConnManager::new(Config::default(), Instant::ZERO)?;
/// let mut rec = Recorder::new(mgr, file)?;
/// loop {
///     let (now, input) = next_input(); // a socket event, or a Tick at rec.poll_timeout()
///     for action in rec.handle(now, input).actions {
///         perform(action);
///     }
///     # break;
/// }
/// rec.finish()?; // flushes, and reports a write error if recording had stopped
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Write errors
///
/// [`handle`](Recorder::handle) never fails. When a write fails the manager
/// has already acted on the input, so returning an error instead of the
/// actions would lose a `Dial` or a `Close` the runtime must perform; the
/// node's work matters more than its trace. So the first write error stops
/// the recording (the file keeps a clean prefix that still replays, save at
/// most one partial last line, which the reader reports as truncated), the
/// manager carries on, and the error is kept for
/// [`write_error`](Recorder::write_error), [`flush`](Recorder::flush) and
/// [`finish`](Recorder::finish) to report.
#[derive(Debug)]
pub struct Recorder<W: Write> {
    mgr: ConnManager,
    writer: TraceWriter<W>,
    error: Option<io::Error>,
}

impl<W: Write> Recorder<W> {
    /// Starts recording `mgr`, writing the header to `out`.
    ///
    /// `mgr` must be fresh from [`ConnManager::new`]: inputs it already
    /// handled would be missing from the trace and its replay would diverge.
    /// A used manager is refused with [`io::ErrorKind::InvalidInput`].
    pub fn new(mgr: ConnManager, out: W) -> io::Result<Recorder<W>> {
        if mgr.stats().inputs != 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a Recorder needs a fresh ConnManager: the inputs it already handled would be missing from the trace",
            ));
        }
        // A fresh manager's `now` is the instant it was made with.
        let writer = TraceWriter::new(out, mgr.config(), mgr.now())?;
        Ok(Recorder {
            mgr,
            writer,
            error: None,
        })
    }

    /// Feeds `input` at `now`, drains the actions, records both, and returns
    /// them. See [Write errors](Recorder#write-errors) for why this cannot
    /// fail.
    pub fn handle(&mut self, now: Instant, input: Input) -> Handled {
        let result = self.mgr.handle(now, input.clone());
        let actions: Vec<Action> = std::iter::from_fn(|| self.mgr.poll_action()).collect();
        if self.error.is_none() {
            if let Err(error) = self.writer.record(now, &input, Some(&actions)) {
                tracing::warn!(%error, line = self.writer.lines_written() + 1, "trace recording stopped");
                self.error = Some(error);
            }
        }
        Handled { result, actions }
    }

    /// When the manager next needs a `Tick`:
    /// [`ConnManager::poll_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.mgr.poll_timeout()
    }

    /// The manager, for its queries. Not `&mut`: an input handed to it
    /// directly would be missing from the trace.
    pub fn manager(&self) -> &ConnManager {
        &self.mgr
    }

    /// The write error that stopped the recording, if one did.
    pub fn write_error(&self) -> Option<&io::Error> {
        self.error.as_ref()
    }

    /// Flushes the trace; fails if recording has stopped on a write error
    /// (with that error's kind and message) or if the flush fails.
    pub fn flush(&mut self) -> io::Result<()> {
        if let Some(error) = &self.error {
            return Err(stopped(error, self.writer.lines_written()));
        }
        self.writer.flush()
    }

    /// Ends the recording: flushes and returns the underlying writer, or the
    /// error that stopped the recording.
    pub fn finish(self) -> io::Result<W> {
        if let Some(error) = &self.error {
            return Err(stopped(error, self.writer.lines_written()));
        }
        self.writer.into_inner()
    }

    /// The manager and the writer, to go on without recording or to inspect
    /// both. Does not flush.
    pub fn into_parts(self) -> (ConnManager, TraceWriter<W>) {
        (self.mgr, self.writer)
    }
}

fn stopped(error: &io::Error, lines: u64) -> io::Error {
    io::Error::new(
        error.kind(),
        format!(
            "trace recording stopped after line {lines}: writing line {} failed: {error}",
            lines + 1
        ),
    )
}
