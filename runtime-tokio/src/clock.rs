//! The core's clock on tokio's time: `connmgr_net::Clock`'s mapping (Unix
//! time at start plus monotonic time since), with tokio's monotonic clock as
//! the "since", so that a runtime whose clock is paused (`start_paused`,
//! `tokio::time::advance`) moves the core's time too and its timers fire
//! when the core expects them.

use connmgr::Instant;

/// The core's instants from tokio's clock.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    mapping: connmgr_net::Clock,
    origin: tokio::time::Instant,
}

impl Clock {
    pub(crate) fn start() -> Clock {
        Clock {
            mapping: connmgr_net::Clock::start(),
            origin: tokio::time::Instant::now(),
        }
    }

    /// The core's current instant.
    pub(crate) fn now(&self) -> Instant {
        self.mapping.at(self.origin.elapsed())
    }

    /// The tokio instant at which the core's `at` falls.
    pub(crate) fn deadline(&self, at: Instant) -> tokio::time::Instant {
        self.origin + self.mapping.offset(at)
    }
}
