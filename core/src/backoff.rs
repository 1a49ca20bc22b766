//! How long to wait before trying again.
//!
//! Two schedules: btcd's linear one for permanent peers (the n-th retry waits
//! n × unit, capped), and a doubling one for listener pauses after accept
//! errors. Both saturate, so no count or unit can overflow.

use std::time::Duration;

/// btcd's permanent-peer backoff: `retry_count × unit`, at most `cap`.
/// The first retry (count 1) already waits one unit, as in btcd.
pub(crate) fn linear(retry_count: u32, unit: Duration, cap: Duration) -> Duration {
    unit.saturating_mul(retry_count).min(cap)
}

/// `initial × 2^(failures − 1)`, at most `cap`: 5 ms, 10 ms, 20 ms, … 1 s.
pub(crate) fn doubling(failures: u32, initial: Duration, cap: Duration) -> Duration {
    let exponent = failures.saturating_sub(1).min(31);
    initial.saturating_mul(1 << exponent).min(cap)
}

/// "Full jitter": uniform in `[0, initial × 2^(n − 1)]`, capped; from the
/// manager's seeded RNG, so it replays.
pub(crate) fn full_jitter(
    retry_count: u32,
    initial: Duration,
    cap: Duration,
    rng: &mut crate::Rng,
) -> Duration {
    let ceiling = doubling(retry_count, initial, cap);
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rng.below(nanos.saturating_add(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn linear_grows_by_one_unit_per_retry_up_to_the_cap() {
        let unit = 5 * S;
        let cap = 300 * S;
        let delays: Vec<_> = (1..=4).map(|n| linear(n, unit, cap)).collect();
        assert_eq!(delays, vec![5 * S, 10 * S, 15 * S, 20 * S]);
        assert_eq!(linear(59, unit, cap), 295 * S);
        assert_eq!(linear(60, unit, cap), cap);
        assert_eq!(linear(u32::MAX, unit, cap), cap);
    }

    #[test]
    fn full_jitter_stays_under_the_doubling_ceiling_and_varies() {
        let mut rng = crate::Rng::new(3);
        let ms = Duration::from_millis(1);
        let draws: Vec<_> = (0..200)
            .map(|_| full_jitter(4, 5 * ms, S, &mut rng))
            .collect();
        assert!(draws.iter().all(|d| *d <= 40 * ms));
        assert!(draws.iter().any(|d| *d < 10 * ms) && draws.iter().any(|d| *d > 30 * ms));
        assert!((0..50).all(|_| full_jitter(100, 5 * ms, S, &mut rng) <= S));
    }

    #[test]
    fn doubling_starts_at_initial_and_saturates_at_the_cap() {
        let ms = Duration::from_millis(1);
        let delays: Vec<_> = (1..=4).map(|n| doubling(n, 5 * ms, S)).collect();
        assert_eq!(delays, vec![5 * ms, 10 * ms, 20 * ms, 40 * ms]);
        assert_eq!(doubling(100, 5 * ms, S), S);
        assert_eq!(
            doubling(u32::MAX, Duration::MAX, Duration::MAX),
            Duration::MAX
        );
    }
}
