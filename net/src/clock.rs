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

/// The latest a deadline is put; see [`Clock::offset`].
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
        Clock::start_at(std::time::Instant::now())
    }

    /// A clock whose `origin` (now, on the event loop's monotonic clock) is
    /// the current Unix time. An event loop with a clock of its own (tokio's,
    /// which tests may pause) passes its "now", and reads the core's time
    /// with [`instant`](Clock::instant) from then on.
    pub fn start_at(origin: std::time::Instant) -> Clock {
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        Clock {
            origin,
            origin_nanos: unix,
        }
    }

    /// The core's current instant, on the standard monotonic clock.
    pub fn now(&self) -> Instant {
        self.instant(std::time::Instant::now())
    }

    /// The core's instant at the monotonic instant `at` (of the clock the
    /// origin came from); an instant before the origin is the origin.
    pub fn instant(&self, at: std::time::Instant) -> Instant {
        self.at(at.saturating_duration_since(self.origin))
    }

    /// The monotonic instant at which the core's `at` falls, for a timer.
    /// An instant before the start maps to the start (it is due at once);
    /// one beyond the clock's range to ten years from the start.
    pub fn deadline(&self, at: Instant) -> std::time::Instant {
        self.origin
            .checked_add(self.offset(at))
            .unwrap_or(self.origin)
    }

    /// How long from now until `at`; zero if it is due.
    pub fn until(&self, at: Instant) -> Duration {
        at.saturating_duration_since(self.now())
    }

    /// The core's instant `elapsed` after the start.
    fn at(&self, elapsed: Duration) -> Instant {
        Instant::from_nanos(self.origin_nanos).saturating_add(elapsed)
    }

    /// How long after the start the core's `at` falls: zero before the
    /// start, at most ten years (far enough to be "never", small enough
    /// not to overflow any event loop's instant type).
    fn offset(&self, at: Instant) -> Duration {
        at.saturating_duration_since(Instant::from_nanos(self.origin_nanos))
            .min(FAR_FUTURE)
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
        assert_eq!(clock.offset(Instant::MAX), FAR_FUTURE);
    }

    #[test]
    fn instant_and_deadline_are_inverse_within_range() {
        let clock = Clock::start();
        let later = clock.origin + Duration::from_millis(2_500);
        assert_eq!(clock.deadline(clock.instant(later)), later);
        assert_eq!(
            clock.instant(clock.origin - Duration::from_millis(1)),
            Instant::from_nanos(clock.origin_nanos),
            "before the origin is the origin"
        );
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
