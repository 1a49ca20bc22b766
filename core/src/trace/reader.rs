//! Reading traces: [`TraceReader`] checks the header, then yields records.

use std::io::{BufRead, Read};

use serde::Deserialize;
use serde_json::error::Category;
use serde_json::Value;

use super::{TraceError, TraceHeader, FORMAT, MAX_LINE_BYTES, OLDEST_READABLE, VERSION};
use crate::addrman::MAX_ADDRESSES;
use crate::{printable, Action, BookSnapshot, Config, Input, Instant, EXCERPT_CHARS};

/// The header as read, once its format and version are known to be right.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderIn {
    #[allow(dead_code)] // checked before this is parsed
    format: String,
    version: u32,
    crate_version: String,
    start: Instant,
    config: Config,
    /// The book without its addresses (their number instead).
    book: Option<Value>,
}

/// One address line of the book, typed by the book's kind.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BookLineIn<T> {
    book_address: T,
}

/// One record as read. Unknown fields are refused: a misspelt `"actions"`
/// must not silently turn a checked line into an unchecked one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordIn {
    t: Instant,
    input: Input,
    #[serde(default)]
    actions: Option<Vec<Action>>,
}

/// One input of a trace, with where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Its line in the trace (1-based, blank lines counted), for reports.
    pub line: u64,
    /// When it was handled.
    pub t: Instant,
    /// The input.
    pub input: Input,
    /// The actions drained right after it, if they were recorded.
    pub actions: Option<Vec<Action>>,
}

/// Reads a trace from any [`BufRead`]: the header when made, then one
/// [`Record`] per line as an iterator.
///
/// The iterator yields `Err` at most once, then ends: after a bad line the
/// rest of the file cannot be trusted to line up with the manager's state.
///
/// Memory stays bounded whatever the input: a line longer than
/// [`MAX_LINE_BYTES`] is an error, read no further than that. Records must
/// come in time order (from the header's start on); a time that goes
/// backwards is an error naming its line. Text quoted from the trace in
/// errors is escaped and cut short ([`printable`]).
#[derive(Debug)]
pub struct TraceReader<R> {
    input: R,
    header: TraceHeader,
    /// The number of the last line read.
    line: u64,
    buf: Vec<u8>,
    done: bool,
    /// The latest time read so far.
    latest: Instant,
    /// The longest line accepted, in bytes.
    max_line: usize,
}

/// A line as read: its number, its bytes, and whether a newline ended it.
struct Line<'a> {
    number: u64,
    text: &'a [u8],
    complete: bool,
}

impl<R: BufRead> TraceReader<R> {
    /// Reads and checks the header: its format, its version (only
    /// [`VERSION`] is accepted), its shape and its config.
    pub fn new(input: R) -> Result<TraceReader<R>, TraceError> {
        TraceReader::with_max_line(input, MAX_LINE_BYTES)
    }

    /// [`new`](TraceReader::new) with another line limit than
    /// [`MAX_LINE_BYTES`]: for tests and fuzzing, which cannot afford lines
    /// of the real limit's size.
    pub fn with_max_line(mut input: R, max_line: usize) -> Result<TraceReader<R>, TraceError> {
        let (mut buf, mut line) = (Vec::new(), 0);
        let (mut header, shell) = match next_line(&mut input, &mut buf, &mut line, max_line)? {
            Some(first) => parse_header(&first)?,
            None => return Err(TraceError::MissingHeader),
        };
        if let Some(shell) = shell {
            let header_line = line;
            let lines = (&mut input, &mut buf, &mut line, max_line);
            header.book = Some(read_book(shell, header_line, lines)?);
        }
        let latest = header.start;
        Ok(TraceReader {
            input,
            header,
            line,
            buf,
            done: false,
            latest,
            max_line,
        })
    }

    /// The trace's header.
    pub fn header(&self) -> &TraceHeader {
        &self.header
    }

    /// The next record, `Ok(None)` at the end of the trace.
    pub fn next_record(&mut self) -> Result<Option<Record>, TraceError> {
        if self.done {
            return Ok(None);
        }
        let result = self.read_record();
        if !matches!(result, Ok(Some(_))) {
            self.done = true;
        }
        result
    }

    fn read_record(&mut self) -> Result<Option<Record>, TraceError> {
        let Some(line) = next_line(
            &mut self.input,
            &mut self.buf,
            &mut self.line,
            self.max_line,
        )?
        else {
            return Ok(None);
        };
        let record: RecordIn = serde_json::from_slice(line.text).map_err(|e| {
            json_error(&line, e, |line, column, message| {
                TraceError::InvalidRecord {
                    line,
                    column,
                    message,
                }
            })
        })?;
        if record.t < self.latest {
            return Err(TraceError::TimeWentBackwards {
                line: line.number,
                t: record.t,
                previous: self.latest,
            });
        }
        self.latest = record.t;
        Ok(Some(Record {
            line: line.number,
            t: record.t,
            input: record.input,
            actions: record.actions,
        }))
    }
}

impl<R: BufRead> Iterator for TraceReader<R> {
    type Item = Result<Record, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}

/// The next line that is not blank, or `None` at the end of the input.
/// `line` is the number of the last line read, blank ones included. At most
/// `max_line` bytes (and its newline) are read of one line.
fn next_line<'b, R: BufRead>(
    input: &mut R,
    buf: &'b mut Vec<u8>,
    line: &mut u64,
    max_line: usize,
) -> Result<Option<Line<'b>>, TraceError> {
    // One byte past the limit, to tell "exactly at it" from "beyond".
    let most = (max_line as u64).saturating_add(2);
    loop {
        buf.clear();
        let number = *line + 1;
        let n = input
            .by_ref()
            .take(most)
            .read_until(b'\n', buf)
            .map_err(|source| TraceError::Io {
                line: number,
                source,
            })?;
        if n == 0 {
            return Ok(None);
        }
        *line = number;
        let text = buf.strip_suffix(b"\n").unwrap_or(buf);
        if text.len() > max_line {
            return Err(TraceError::LineTooLong {
                line: number,
                limit: max_line,
            });
        }
        if !buf.iter().all(u8::is_ascii_whitespace) {
            let complete = buf.last() == Some(&b'\n');
            return Ok(Some(Line {
                number,
                text: buf,
                complete,
            }));
        }
    }
}

/// The book announced by the header's `shell`: its address lines, read
/// with `next`, each checked as an address of the book's kind.
fn read_book<R: BufRead>(
    mut shell: Value,
    header_line: u64,
    (input, buf, line_no, max_line): (&mut R, &mut Vec<u8>, &mut u64, usize),
) -> Result<BookSnapshot, TraceError> {
    let invalid = |message: String| TraceError::InvalidHeader {
        line: header_line,
        message,
    };
    let count = shell
        .get("addresses")
        .and_then(Value::as_u64)
        .ok_or_else(|| invalid("the book's \"addresses\" is not a count".to_owned()))?;
    if count > MAX_ADDRESSES as u64 {
        return Err(invalid(format!(
            "the book claims {count} addresses; a book holds at most {MAX_ADDRESSES}"
        )));
    }
    if let Some(fields) = shell.as_object_mut() {
        fields.insert("addresses".to_owned(), Value::Array(Vec::new()));
    }
    let mut book: BookSnapshot = serde_json::from_value(shell).map_err(|e| {
        invalid(format!(
            "its book: {}",
            printable(&e.to_string(), EXCERPT_CHARS)
        ))
    })?;
    for read in 0..count {
        let Some(line) = next_line(input, buf, line_no, max_line)? else {
            return Err(invalid(format!(
                "the book announces {count} addresses but the trace ends after {read}"
            )));
        };
        let wrong_shape = |line, column, message| TraceError::InvalidRecord {
            line,
            column,
            message,
        };
        match &mut book {
            BookSnapshot::Btcd(s) | BookSnapshot::Bitcoind093(s) => {
                s.addresses.push(book_line(&line, wrong_shape)?)
            }
            BookSnapshot::Core(s) => s.addresses.push(book_line(&line, wrong_shape)?),
        }
    }
    Ok(book)
}

fn book_line<T: for<'de> Deserialize<'de>>(
    line: &Line<'_>,
    wrong_shape: impl FnOnce(u64, usize, String) -> TraceError,
) -> Result<T, TraceError> {
    serde_json::from_slice::<BookLineIn<T>>(line.text)
        .map(|l| l.book_address)
        .map_err(|e| json_error(line, e, wrong_shape))
}

fn parse_header(line: &Line<'_>) -> Result<(TraceHeader, Option<Value>), TraceError> {
    let number = line.number;
    let invalid = |message: String| TraceError::InvalidHeader {
        line: number,
        message,
    };
    // In stages, so that each failure gets the most useful message: a file
    // that is not a trace at all, or a trace from another version, should
    // say so rather than complain about a field.
    let value: Value = serde_json::from_slice(line.text).map_err(|e| {
        json_error(line, e, |line, _, message| TraceError::InvalidHeader {
            line,
            message,
        })
    })?;
    let Value::Object(fields) = &value else {
        return Err(invalid(format!(
            "expected a JSON object with \"format\":{FORMAT:?}"
        )));
    };
    match fields.get("format") {
        Some(Value::String(format)) if format == FORMAT => {}
        Some(other) => {
            return Err(invalid(format!(
                "\"format\" is {}, expected {FORMAT:?}",
                printable(&other.to_string(), EXCERPT_CHARS)
            )))
        }
        None => return Err(invalid(format!("no \"format\":{FORMAT:?} field"))),
    }
    let version = match fields.get("version") {
        Some(Value::Number(n)) => n.as_u64(),
        _ => None,
    };
    match version {
        Some(v) if (u64::from(OLDEST_READABLE)..=u64::from(VERSION)).contains(&v) => {}
        Some(version) => {
            return Err(TraceError::UnsupportedVersion {
                line: number,
                version,
            })
        }
        None => {
            return Err(invalid(
                "\"version\" is missing or not a non-negative integer".to_owned(),
            ))
        }
    }
    let mut header: HeaderIn = serde_json::from_value(value)
        .map_err(|e| invalid(printable(&e.to_string(), EXCERPT_CHARS)))?;
    if header.version == 5 {
        // Version 5 had no network policy: IPv4 and IPv6, and no rule of
        // one connection per network, which today's default has.
        header.config.networks.one_per_network = false;
    }
    header
        .config
        .validate()
        .map_err(|source| TraceError::InvalidConfig {
            line: number,
            source,
        })?;
    let trace_header = TraceHeader {
        version: header.version,
        crate_version: header.crate_version,
        start: header.start,
        config: header.config,
        book: None,
    };
    Ok((trace_header, header.book))
}

/// Classifies a serde_json error on one line: incomplete JSON on a last line
/// without a newline is a cut-off recording; a syntax error is corrupt JSON;
/// anything else is valid JSON of the wrong shape, built by `wrong_shape`.
fn json_error(
    line: &Line<'_>,
    error: serde_json::Error,
    wrong_shape: impl FnOnce(u64, usize, String) -> TraceError,
) -> TraceError {
    let message = without_position(&error);
    match error.classify() {
        Category::Eof if !line.complete => TraceError::Truncated { line: line.number },
        Category::Eof | Category::Syntax => TraceError::Json {
            line: line.number,
            column: error.column(),
            message,
        },
        Category::Data | Category::Io => wrong_shape(line.number, error.column(), message),
    }
}

/// serde_json's message without its " at line 1 column N" suffix (each line
/// is parsed alone, so its line number would always be 1 and mislead), made
/// [`printable`]: it may quote the trace.
fn without_position(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    let message = message.strip_suffix(&suffix).unwrap_or(&message);
    printable(message, EXCERPT_CHARS)
}
