//! The clock mapping: the core's [`Instant`] from tokio's clock.
//!
//! The core counts nanoseconds from an epoch the runtime chooses. This
//! adapter chooses the Unix epoch: an instant is the wall-clock time read
//! once at start plus the monotonic time elapsed since, so it never goes
//! backwards while the process runs, and the times stored in a persisted
//! address book ("last seen", "last attempt") stay meaningful across
//! restarts.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use connmgr::Instant;

/// How far ahead a deadline beyond tokio's range is put: far enough to be
/// "never", small enough not to overflow tokio's instant.
const FAR_FUTURE: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// Maps tokio's monotonic clock onto the core's [`Instant`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    origin: tokio::time::Instant,
    origin_nanos: u64,
}

impl Clock {
    /// A clock whose "now" is the current Unix time in nanoseconds.
    pub(crate) fn start() -> Clock {
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        Clock {
            origin: tokio::time::Instant::now(),
            origin_nanos: unix,
        }
    }

    /// The core's current instant.
    pub(crate) fn now(&self) -> Instant {
        Instant::from_nanos(self.origin_nanos).saturating_add(self.origin.elapsed())
    }

    /// The tokio instant at which the core's `at` falls; an instant before
    /// the start maps to the start (it is due at once).
    pub(crate) fn deadline(&self, at: Instant) -> tokio::time::Instant {
        let after = at.saturating_duration_since(Instant::from_nanos(self.origin_nanos));
        self.origin
            .checked_add(after.min(FAR_FUTURE))
            .unwrap_or(self.origin + FAR_FUTURE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_unix_time_and_deadlines_round_trip() {
        let clock = Clock::start();
        let now = clock.now();
        let unix = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let diff = Duration::from_nanos(now.as_nanos()).abs_diff(unix);
        assert!(diff < Duration::from_secs(5), "{diff:?}");
        let later = now + Duration::from_millis(1500);
        let deadline = clock.deadline(later);
        let back = deadline.duration_since(clock.origin);
        let expected = later.saturating_duration_since(Instant::from_nanos(clock.origin_nanos));
        assert_eq!(back, expected);
        // Before the start: due at once; the end of time: far away, no panic.
        assert_eq!(clock.deadline(Instant::ZERO), clock.origin);
        assert_eq!(clock.deadline(Instant::MAX), clock.origin + FAR_FUTURE);
    }
}
