//! Replaying traces: re-run the core, compare its actions with the recorded
//! ones.

use std::fmt;
use std::io::BufRead;

use serde::Serialize;

use super::{TraceError, TraceReader};
use crate::{Action, Input, Instant};

/// The outcome of [`replay`]. Its `Display` is the readable report
/// `connmgr replay` prints.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub enum ReplayReport {
    /// Every recorded action was produced again, in the same order.
    Identical {
        /// Inputs fed.
        inputs: u64,
        /// Recorded actions compared (and found equal).
        actions_compared: u64,
        /// Inputs whose actions were not recorded, so nothing was compared
        /// for them: they were only re-run.
        unchecked_inputs: u64,
    },
    /// The first input after which the actions differed. Replay stops there:
    /// from then on the manager's state differs and every later difference
    /// would be a consequence.
    Diverged(Box<Divergence>),
}

impl ReplayReport {
    /// Whether the replay found no difference.
    pub fn is_identical(&self) -> bool {
        matches!(self, ReplayReport::Identical { .. })
    }
}

/// Where and how a replay first differed from its trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// The record's line in the trace.
    pub line: u64,
    /// How many inputs were fed, this one included.
    pub input_number: u64,
    /// When the input was handled.
    pub t: Instant,
    /// The input.
    pub input: Input,
    /// The actions the trace recorded after it.
    pub expected: Vec<Action>,
    /// The actions this build produced.
    pub actual: Vec<Action>,
    /// The crate version that wrote the trace (from its header); a
    /// divergence between different versions may be a policy change rather
    /// than a bug.
    pub recorded_by: String,
}

impl Divergence {
    /// The index of the first action that differs (when one list is a prefix
    /// of the other, the length of the shorter).
    pub fn first_difference(&self) -> usize {
        self.expected
            .iter()
            .zip(&self.actual)
            .position(|(e, a)| e != a)
            .unwrap_or_else(|| self.expected.len().min(self.actual.len()))
    }
}

/// Re-runs the trace read from `input` and compares its actions; see
/// [`TraceReader::replay`].
///
/// ```
/// # use connmgr::{trace::{replay, TraceWriter}, Config, Input, Instant, Seed};
/// let config = Config { rng_seed: Some(Seed::from_u64(1)), ..Config::default() };
/// let mut w = TraceWriter::new(Vec::new(), &config, Instant::ZERO).unwrap();
/// w.record(Instant::from_secs(1), &Input::Tick, Some(&[])).unwrap();
/// let trace = w.into_inner().unwrap();
/// assert!(replay(&trace[..]).unwrap().is_identical());
/// ```
pub fn replay<R: BufRead>(input: R) -> Result<ReplayReport, TraceError> {
    TraceReader::new(input)?.replay()
}

impl<R: BufRead> TraceReader<R> {
    /// Builds a manager from the header, feeds it every record's input at
    /// the record's time, drains its actions, and compares them with the
    /// recorded ones where there are any. Returns at the first divergence,
    /// or at the end of the trace, or at the first unreadable line (as an
    /// error: a report of "identical" must cover the whole file).
    pub fn replay(mut self) -> Result<ReplayReport, TraceError> {
        let header = self.header().clone();
        let mut mgr = header.manager()?;
        let (mut inputs, mut actions_compared, mut unchecked_inputs) = (0u64, 0u64, 0u64);
        while let Some(record) = self.next_record()? {
            inputs += 1;
            // Whether the input was ignored is not recorded: its effect, or
            // lack of one, shows in the actions.
            let _ = mgr.handle(record.t, record.input.clone());
            let actual: Vec<Action> = std::iter::from_fn(|| mgr.poll_action()).collect();
            let Some(expected) = record.actions else {
                unchecked_inputs += 1;
                continue;
            };
            if expected != actual {
                return Ok(ReplayReport::Diverged(Box::new(Divergence {
                    line: record.line,
                    input_number: inputs,
                    t: record.t,
                    input: record.input,
                    expected,
                    actual,
                    recorded_by: header.crate_version,
                })));
            }
            actions_compared += expected.len() as u64;
        }
        Ok(ReplayReport::Identical {
            inputs,
            actions_compared,
            unchecked_inputs,
        })
    }
}

impl fmt::Display for ReplayReport {
    /// One line when identical (`identical: N inputs, M actions compared`),
    /// several for a divergence. Inputs and actions are shown as they appear
    /// in the trace, so they can be searched for in it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplayReport::Identical {
                inputs,
                actions_compared,
                unchecked_inputs,
            } => {
                write!(
                    f,
                    "identical: {inputs} inputs, {actions_compared} actions compared"
                )?;
                if *unchecked_inputs > 0 {
                    write!(
                        f,
                        " ({unchecked_inputs} inputs had no recorded actions and were only re-run)"
                    )?;
                }
                Ok(())
            }
            ReplayReport::Diverged(d) => d.fmt(f),
        }
    }
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let first = self.first_difference();
        writeln!(
            f,
            "diverged at line {} (input {}, t {} = {}):",
            self.line,
            self.input_number,
            self.t.as_nanos(),
            self.t
        )?;
        writeln!(f, "  input:    {}", json(&self.input))?;
        for (title, actions) in [("expected", &self.expected), ("actual", &self.actual)] {
            let n = actions.len();
            let plural = if n == 1 { "" } else { "s" };
            writeln!(f, "  {title} ({n} action{plural}):")?;
            for (i, action) in actions.iter().enumerate() {
                let mark = if i == first { "->" } else { "  " };
                writeln!(f, "  {mark} {:>3}. {}", i + 1, json(action))?;
            }
            if first == actions.len() {
                writeln!(f, "  ->      (nothing)")?;
            }
        }
        write!(f, "  first difference at action {}", first + 1)?;
        if self.recorded_by != env!("CARGO_PKG_VERSION") {
            write!(
                f,
                "\n  note: the trace was recorded by connmgr {}; this is connmgr {}",
                self.recorded_by,
                env!("CARGO_PKG_VERSION")
            )?;
        }
        Ok(())
    }
}

/// The value as it appears in a trace line.
fn json<T: Serialize + fmt::Debug>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| format!("{value:?}"))
}
