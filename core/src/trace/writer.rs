//! Writing traces: [`TraceWriter`] for the lines, [`Recorder`] for runtimes.

use std::collections::VecDeque;
use std::io::{self, Write};

use serde::Serialize;
use serde_json::Value;

use super::{FORMAT, MAX_LINE_BYTES, VERSION};
use crate::{Action, BookSnapshot, Config, ConnId, ConnManager, Ignored, Input, Instant};

/// The header as written; borrowed so writing it copies nothing.
#[derive(Serialize)]
struct HeaderOut<'a> {
    format: &'static str,
    version: u32,
    crate_version: &'static str,
    start: Instant,
    config: &'a Config,
    /// The book without its addresses, which follow on their own lines.
    book: Option<Value>,
}

/// One address of the book, after the header.
#[derive(Serialize)]
pub(super) struct BookLine<T> {
    pub(super) book_address: T,
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
        TraceWriter::with_book(out, config, start, None)
    }

    /// Starts a trace of a manager made with
    /// `ConnManager::with_book(config.clone(), start, book)` (or `new`, for
    /// `None`), writing the header and the book's address lines.
    pub fn with_book(
        out: W,
        config: &Config,
        start: Instant,
        book: Option<&BookSnapshot>,
    ) -> io::Result<TraceWriter<W>> {
        let mut writer = TraceWriter {
            out,
            line: Vec::with_capacity(256),
            lines: 0,
        };
        let (shell, addresses) = match book {
            Some(book) => {
                let (shell, addresses) = split_book(book)?;
                (Some(shell), addresses)
            }
            None => (None, Vec::new()),
        };
        writer.write_line(&HeaderOut {
            format: FORMAT,
            version: VERSION,
            crate_version: env!("CARGO_PKG_VERSION"),
            start,
            config,
            book: shell,
        })?;
        for address in &addresses {
            writer.write_line(&BookLine {
                book_address: address,
            })?;
        }
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
        if self.line.len() > MAX_LINE_BYTES {
            // A reader would refuse it: end the trace where it still replays.
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "line {} would be {} bytes, beyond the trace format's limit of {} MiB",
                    self.lines + 1,
                    self.line.len(),
                    MAX_LINE_BYTES >> 20
                ),
            ));
        }
        self.line.push(b'\n');
        self.out.write_all(&self.line)?;
        self.lines += 1;
        Ok(())
    }
}

/// A [`ConnManager`] that records every input and its actions as it goes,
/// or, made with no writer, the manager alone: a runtime keeps one type
/// whether it records or not.
///
/// It drains like the manager itself (contract item 2): `handle`, then
/// [`poll_action`](Recorder::poll_action) until `None`, then
/// [`poll_timeout`](Recorder::poll_timeout). Each input is written with the
/// actions it produced, so a runtime cannot record half of it.
///
/// ```no_run
/// # use connmgr::{trace::Recorder, Action, ConnManager, Config, Input, Instant, Seed};
/// # fn perform(_: Action) {}
/// # fn next_input() -> (Instant, Input) { unimplemented!() }
/// let file = std::io::BufWriter::new(std::fs::File::create("node.trace.jsonl")?);
/// let config = Config { rng_seed: Some(Seed::from_bytes([7; 32])), ..Config::default() };
/// let mgr = ConnManager::new(config, Instant::ZERO)?;
/// let mut rec = Recorder::new(mgr, Some(file))?;
/// loop {
///     let (now, input) = next_input(); // a socket event, or a Tick at rec.poll_timeout()
///     let _ = rec.handle(now, input);
///     while let Some(action) = rec.poll_action() {
///         perform(action);
///     }
///     # break;
/// }
/// rec.close()?; // flushes, and reports a write error if recording had stopped
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Write errors
///
/// [`handle`](Recorder::handle) never fails for the trace's sake. When a
/// write fails the manager has already acted on the input, so failing
/// instead of giving out the actions would lose a `Dial` or a `Close` the
/// runtime must perform; the node's work matters more than its trace. So
/// the first write error stops the recording (the file keeps a clean prefix
/// that still replays, save at most one partial last line, which the reader
/// reports as truncated), the manager carries on, and the error is kept for
/// [`write_error`](Recorder::write_error), [`flush`](Recorder::flush) and
/// [`close`](Recorder::close) to report.
#[derive(Debug)]
pub struct Recorder<W: Write> {
    mgr: ConnManager,
    /// `None` when not recording: never asked to, or closed.
    writer: Option<TraceWriter<W>>,
    error: Option<io::Error>,
    /// Drained from the manager at each input (to be recorded), not yet
    /// by the runtime.
    actions: VecDeque<Action>,
}

impl<W: Write> Recorder<W> {
    /// Records `mgr` to `out`, writing the header now; with `None`, records
    /// nothing.
    ///
    /// `mgr` must be fresh from [`ConnManager::new`]: inputs it already
    /// handled would be missing from the trace and its replay would diverge.
    /// A used manager is refused with [`io::ErrorKind::InvalidInput`].
    pub fn new(mgr: ConnManager, out: Option<W>) -> io::Result<Recorder<W>> {
        let writer = match out {
            None => None,
            Some(_) if mgr.stats().inputs != 0 => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "a Recorder needs a fresh ConnManager: the inputs it already handled would be missing from the trace",
                ))
            }
            // A fresh manager's `now` is the instant it was made with, and
            // its book the one it was made with.
            Some(out) => Some(TraceWriter::with_book(
                out,
                mgr.config(),
                mgr.now(),
                mgr.book_snapshot().as_ref(),
            )?),
        };
        Ok(Recorder {
            mgr,
            writer,
            error: None,
            actions: VecDeque::new(),
        })
    }

    /// [`ConnManager::handle`], recording the input and the actions it
    /// produced. See [Write errors](Recorder#write-errors) for why a failed
    /// write does not fail this.
    pub fn handle(&mut self, now: Instant, input: Input) -> Result<Option<ConnId>, Ignored> {
        let Some(writer) = self.writer.as_mut().filter(|_| self.error.is_none()) else {
            return self.mgr.handle(now, input);
        };
        let result = self.mgr.handle(now, input.clone());
        let before = self.actions.len();
        self.actions
            .extend(std::iter::from_fn(|| self.mgr.poll_action()));
        let produced = &self.actions.make_contiguous()[before..];
        if let Err(error) = writer.record(now, &input, Some(produced)) {
            tracing::warn!(%error, line = writer.lines_written() + 1, "trace recording stopped");
            self.error = Some(error);
        }
        result
    }

    /// The next action to perform: [`ConnManager::poll_action`].
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front().or_else(|| self.mgr.poll_action())
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

    /// Whether inputs are being recorded.
    pub fn is_recording(&self) -> bool {
        self.writer.is_some() && self.error.is_none()
    }

    /// The write error that stopped the recording, if one did.
    pub fn write_error(&self) -> Option<&io::Error> {
        self.error.as_ref()
    }

    /// Flushes the trace; fails if recording has stopped on a write error
    /// (with that error's kind and message) or if the flush fails.
    pub fn flush(&mut self) -> io::Result<()> {
        let Some(writer) = &mut self.writer else {
            return Ok(());
        };
        if let Some(error) = &self.error {
            return Err(stopped(error, writer.lines_written()));
        }
        writer.flush()
    }

    /// Ends the recording (the manager goes on, unrecorded): flushes and
    /// returns the writer, or the error that stopped the recording. `None`
    /// if there was nothing to record to.
    pub fn close(&mut self) -> io::Result<Option<W>> {
        let Some(writer) = self.writer.take() else {
            return Ok(None);
        };
        if let Some(error) = self.error.take() {
            return Err(stopped(&error, writer.lines_written()));
        }
        writer.into_inner().map(Some)
    }
}

/// The book as JSON without its `"addresses"` (replaced by their number),
/// and the addresses.
fn split_book(book: &BookSnapshot) -> io::Result<(Value, Vec<Value>)> {
    let mut value = serde_json::to_value(book)?;
    let fields = value
        .as_object_mut()
        .ok_or_else(|| io::Error::other("a book snapshot is not a JSON object"))?;
    let addresses = match fields.remove("addresses") {
        Some(Value::Array(list)) => list,
        _ => return Err(io::Error::other("a book snapshot has no address list")),
    };
    fields.insert("addresses".to_owned(), Value::from(addresses.len()));
    Ok((value, addresses))
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
