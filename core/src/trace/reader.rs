//! Reading traces: [`TraceReader`] checks the header, then yields records.

use std::io::BufRead;

use serde::Deserialize;
use serde_json::error::Category;
use serde_json::Value;

use super::{TraceError, TraceHeader, FORMAT, VERSION};
use crate::{Action, Config, Input, Instant};

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
#[derive(Debug)]
pub struct TraceReader<R> {
    input: R,
    header: TraceHeader,
    /// The number of the last line read.
    line: u64,
    buf: Vec<u8>,
    done: bool,
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
    pub fn new(mut input: R) -> Result<TraceReader<R>, TraceError> {
        let (mut buf, mut line) = (Vec::new(), 0);
        let header = match next_line(&mut input, &mut buf, &mut line)? {
            Some(first) => parse_header(&first)?,
            None => return Err(TraceError::MissingHeader),
        };
        Ok(TraceReader {
            input,
            header,
            line,
            buf,
            done: false,
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
        let Some(line) = next_line(&mut self.input, &mut self.buf, &mut self.line)? else {
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
/// `line` is the number of the last line read, blank ones included.
fn next_line<'b, R: BufRead>(
    input: &mut R,
    buf: &'b mut Vec<u8>,
    line: &mut u64,
) -> Result<Option<Line<'b>>, TraceError> {
    loop {
        buf.clear();
        let number = *line + 1;
        let n = input
            .read_until(b'\n', buf)
            .map_err(|source| TraceError::Io {
                line: number,
                source,
            })?;
        if n == 0 {
            return Ok(None);
        }
        *line = number;
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

fn parse_header(line: &Line<'_>) -> Result<TraceHeader, TraceError> {
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
                "\"format\" is {other}, expected {FORMAT:?}"
            )))
        }
        None => return Err(invalid(format!("no \"format\":{FORMAT:?} field"))),
    }
    let version = match fields.get("version") {
        Some(Value::Number(n)) => n.as_u64(),
        _ => None,
    };
    match version {
        Some(v) if v == u64::from(VERSION) => {}
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
    let header: HeaderIn = serde_json::from_value(value).map_err(|e| invalid(e.to_string()))?;
    header
        .config
        .validate()
        .map_err(|source| TraceError::InvalidConfig {
            line: number,
            source,
        })?;
    Ok(TraceHeader {
        version: header.version,
        crate_version: header.crate_version,
        start: header.start,
        config: header.config,
    })
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

/// serde_json's message without its " at line 1 column N" suffix: each line
/// is parsed alone, so its line number would always be 1 and mislead.
fn without_position(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    match message.strip_suffix(&suffix) {
        Some(stripped) => stripped.to_owned(),
        None => message,
    }
}
