//! [`Core`]: the manager as a runtime drives it.
//!
//! Every runtime feeds its inputs and takes its actions through this one
//! type, so what watches the manager from outside (the trace recording and,
//! with the `metrics` feature, the metrics) sees the same stream whichever
//! event loop runs it. Neither changes a decision: the manager is the pure
//! core, handed every input as it would be without them.

use std::io;

use connmgr::trace::Recorder;
use connmgr::{Action, ConnId, ConnManager, Ignored, Input, Instant};

#[cfg(feature = "metrics")]
use crate::metrics::Metrics;
use crate::TraceSink;

/// The manager, recording a trace or not, reporting metrics or not.
pub struct Core {
    recorder: Recorder<TraceSink>,
    #[cfg(feature = "metrics")]
    metrics: Option<Metrics>,
}

impl Core {
    pub(crate) fn new(recorder: Recorder<TraceSink>, metrics: bool) -> Core {
        #[cfg(feature = "metrics")]
        let metrics = metrics.then(|| Metrics::register(recorder.manager()));
        #[cfg(not(feature = "metrics"))]
        let _ = metrics;
        Core {
            recorder,
            #[cfg(feature = "metrics")]
            metrics,
        }
    }

    /// [`ConnManager::handle`], recorded and measured.
    pub fn handle(&mut self, now: Instant, input: Input) -> Result<Option<ConnId>, Ignored> {
        #[cfg(feature = "metrics")]
        if let Some(metrics) = &mut self.metrics {
            metrics.input(now, &input);
        }
        self.recorder.handle(now, input)
    }

    /// The next action to perform: [`ConnManager::poll_action`].
    pub fn poll_action(&mut self) -> Option<Action> {
        let action = self.recorder.poll_action();
        #[cfg(feature = "metrics")]
        if let (Some(metrics), Some(action)) = (&mut self.metrics, &action) {
            metrics.action(self.recorder.manager().now(), action);
        }
        action
    }

    /// When [`tick`](Core::tick) is next due: the manager's next deadline,
    /// or the next metrics report if that is sooner.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let manager = self.recorder.manager().poll_timeout();
        #[cfg(feature = "metrics")]
        if let Some(metrics) = &self.metrics {
            let report = metrics.next_report();
            return Some(manager.map_or(report, |at| at.min(report)));
        }
        manager
    }

    /// The timer fired at `now`: reports metrics if due; says whether the
    /// manager is due an `Input::Tick`.
    pub fn tick(&mut self, now: Instant) -> bool {
        #[cfg(feature = "metrics")]
        if let Some(metrics) = &mut self.metrics {
            if now >= metrics.next_report() {
                metrics.report(now, self.recorder.manager());
            }
        }
        self.recorder
            .manager()
            .poll_timeout()
            .is_some_and(|at| at <= now)
    }

    /// The manager, for its queries.
    pub fn manager(&self) -> &ConnManager {
        self.recorder.manager()
    }

    /// Whether inputs are being recorded.
    pub fn is_recording(&self) -> bool {
        self.recorder.is_recording()
    }

    /// Ends the recording (see [`Recorder::close`]), and reports the
    /// metrics one last time.
    pub fn close(&mut self) -> io::Result<Option<TraceSink>> {
        #[cfg(feature = "metrics")]
        if let Some(metrics) = &mut self.metrics {
            let mgr = self.recorder.manager();
            metrics.report(mgr.now(), mgr);
        }
        self.recorder.close()
    }
}
