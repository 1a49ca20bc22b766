//! The clock mapping: the core's [`Instant`] from the system's clocks.
//!
//! The core counts nanoseconds from an epoch the runtime chooses. The
//! adapters choose the Unix epoch: an instant is the wall-clock time read
//! once at start plus the monotonic time elapsed since, so it never goes
//! backwards while the process runs, and the times stored in a persisted
//! address book ("last seen", "last attempt") stay meaningful across
//! restarts.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use connmgr::Instant;

/// How far ahead a deadline beyond the monotonic clock's range is put: far
/// enough to be "never", small enough not to overflow any event loop's
/// instant type.
const FAR_FUTURE: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// Maps the monotonic clock onto the core's [`Instant`].
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    origin: std::time::Instant,
    origin_nanos: u64,
}

impl Clock {
    /// A clock whose "now" is the current Unix time in nanoseconds.
    pub fn start() -> Clock {
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        Clock {
            origin: std::time::Instant::now(),
            origin_nanos: unix,
        }
    }

    /// The core's current instant.
    pub fn now(&self) -> Instant {
        Instant::from_nanos(self.origin_nanos).saturating_add(self.origin.elapsed())
    }

    /// The monotonic instant at which the core's `at` falls, for a timer.
    /// An instant before the start maps to the start (it is due at once);
    /// one beyond the clock's range to ten years from the start.
    pub fn deadline(&self, at: Instant) -> std::time::Instant {
        let after = at.saturating_duration_since(Instant::from_nanos(self.origin_nanos));
        self.origin
            .checked_add(after.min(FAR_FUTURE))
            .unwrap_or(self.origin + FAR_FUTURE)
    }

    /// How long from now until `at`; zero if it is due.
    pub fn until(&self, at: Instant) -> Duration {
        at.saturating_duration_since(self.now())
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
        let back = clock.deadline(later).duration_since(clock.origin);
        let expected = later.saturating_duration_since(Instant::from_nanos(clock.origin_nanos));
        assert_eq!(back, expected);
    }

    #[test]
    fn deadlines_before_the_start_are_due_and_the_end_of_time_does_not_panic() {
        let clock = Clock::start();
        assert_eq!(clock.deadline(Instant::ZERO), clock.origin);
        assert_eq!(clock.deadline(Instant::MAX), clock.origin + FAR_FUTURE);
        assert_eq!(clock.until(Instant::ZERO), Duration::ZERO);
    }

    #[test]
    fn now_never_goes_backwards() {
        let clock = Clock::start();
        let mut last = clock.now();
        for _ in 0..1_000 {
            let now = clock.now();
            assert!(now >= last, "{now} after {last}");
            last = now;
        }
    }
}
