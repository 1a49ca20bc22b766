//! The manager as the reactor drives it: `Core`, plain or recording a
//! trace, and `TraceOut`, the writer the trace goes to. Separate because
//! whether a trace is written is settled once, at build time; the rest of
//! the reactor only feeds inputs and asks queries through `Core`.

use std::cell::RefCell;
use std::io::{self, Write};
use std::rc::Rc;

use connmgr::trace::Recorder;
use connmgr::{Action, ConnId, ConnManager, Ignored, Input, Instant};

/// The manager, recording or not.
pub(crate) enum Core {
    Plain(ConnManager),
    Recorded(Recorder<TraceOut>, TraceOut),
}

/// Where a trace goes: shared between the recorder and the reactor, so the
/// reactor can close it at `stop` (the recorder only hands its writer back
/// together with the manager). Once closed, writes are discarded: after
/// `Stop` the manager ignores every input, so nothing is lost.
#[derive(Clone)]
pub(crate) struct TraceOut(Rc<RefCell<Option<Box<dyn Write>>>>);

impl TraceOut {
    pub(crate) fn new(out: Box<dyn Write>) -> TraceOut {
        TraceOut(Rc::new(RefCell::new(Some(out))))
    }

    /// Flushes and drops the underlying writer (closing a file).
    fn close(&self) -> io::Result<()> {
        match self.0.borrow_mut().take() {
            Some(mut out) => out.flush(),
            None => Ok(()),
        }
    }
}

impl Write for TraceOut {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.0.borrow_mut().as_mut() {
            Some(out) => out.write(buf),
            None => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.0.borrow_mut().as_mut() {
            Some(out) => out.flush(),
            None => Ok(()),
        }
    }
}

impl Core {
    pub(crate) fn manager(&self) -> &ConnManager {
        match self {
            Core::Plain(mgr) => mgr,
            Core::Recorded(rec, _) => rec.manager(),
        }
    }

    /// Feeds `input` and appends the actions it produced to `out`.
    pub(crate) fn handle(
        &mut self,
        now: Instant,
        input: Input,
        out: &mut Vec<Action>,
    ) -> Result<Option<ConnId>, Ignored> {
        match self {
            Core::Plain(mgr) => {
                let result = mgr.handle(now, input);
                out.extend(std::iter::from_fn(|| mgr.poll_action()));
                result
            }
            Core::Recorded(rec, _) => {
                let handled = rec.handle(now, input);
                out.extend(handled.actions);
                handled.result
            }
        }
    }

    /// Ends the recording: reports a write error that stopped it, flushes,
    /// and closes the trace.
    pub(crate) fn end_recording(&mut self) -> io::Result<()> {
        match self {
            Core::Plain(_) => Ok(()),
            Core::Recorded(rec, out) => {
                let flushed = rec.flush();
                let closed = out.close();
                flushed.and(closed)
            }
        }
    }
}
