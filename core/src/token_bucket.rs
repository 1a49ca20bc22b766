//! A token bucket in integer milli-tokens, for rate limits that replay
//! identically on any machine (no floating point in the decision).

use std::time::Duration;

use crate::Instant;

/// Refills `rate` tokens per second up to `burst`; each admission takes one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TokenBucket {
    milli_tokens: u64,
    last: Instant,
}

const MILLI: u64 = 1000;

impl TokenBucket {
    /// A full bucket.
    pub fn full(burst: u32, now: Instant) -> TokenBucket {
        TokenBucket::holding(burst, now)
    }

    /// A bucket holding `tokens` now.
    pub fn holding(tokens: u32, now: Instant) -> TokenBucket {
        TokenBucket {
            milli_tokens: u64::from(tokens) * MILLI,
            last: now,
        }
    }

    /// Takes a token if one is there; `rate` per second, at most `burst`.
    pub fn try_take(&mut self, now: Instant, rate: u32, burst: u32) -> bool {
        self.take_up_to(now, u64::from(rate) * MILLI, burst, 1) == 1
    }

    /// Takes up to `n` whole tokens, refilling `milli_rate` thousandths of
    /// a token per second up to `burst`; returns how many were taken.
    pub fn take_up_to(&mut self, now: Instant, milli_rate: u64, burst: u32, n: u32) -> u32 {
        self.refill(now, milli_rate, burst);
        let taken = (self.milli_tokens / MILLI).min(u64::from(n));
        self.milli_tokens -= taken * MILLI;
        taken as u32
    }

    /// Whether the bucket would be full at `now` (then it can be forgotten).
    pub fn is_full(&self, now: Instant, rate: u32, burst: u32) -> bool {
        let mut copy = *self;
        copy.refill(now, u64::from(rate) * MILLI, burst);
        copy.milli_tokens >= u64::from(burst) * MILLI
    }

    fn refill(&mut self, now: Instant, milli_rate: u64, burst: u32) {
        let elapsed: Duration = now - self.last;
        let added = (elapsed.as_micros().saturating_mul(u128::from(milli_rate)) / 1_000_000)
            .min(u128::from(u64::MAX)) as u64;
        self.milli_tokens = self
            .milli_tokens
            .saturating_add(added)
            .min(u64::from(burst) * MILLI);
        self.last = self.last.max(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_the_rate() {
        let t0 = Instant::from_secs(10);
        let mut bucket = TokenBucket::full(3, t0);
        let taken = (0..10).filter(|_| bucket.try_take(t0, 2, 3)).count();
        assert_eq!(taken, 3, "the burst");
        assert!(
            !bucket.try_take(t0 + Duration::from_millis(400), 2, 3),
            "0.8 token"
        );
        assert!(
            bucket.try_take(t0 + Duration::from_millis(500), 2, 3),
            "1 token after 0.5 s at 2/s"
        );
        assert!(bucket.is_full(t0 + Duration::from_secs(60), 2, 3));
    }

    #[test]
    fn a_fractional_rate_refills_in_thousandths() {
        let t0 = Instant::from_secs(10);
        // 0.1 token per second (Bitcoin Core's `addr` rate), 1 000 at most.
        let mut bucket = TokenBucket::holding(1, t0);
        assert_eq!(bucket.take_up_to(t0, 100, 1000, 50), 1);
        assert_eq!(
            bucket.take_up_to(t0 + Duration::from_secs(9), 100, 1000, 50),
            0
        );
        assert_eq!(
            bucket.take_up_to(t0 + Duration::from_secs(30), 100, 1000, 50),
            3
        );
        let later = t0 + Duration::from_secs(1_000_000);
        assert_eq!(bucket.take_up_to(later, 100, 1000, 5000), 1000, "capped");
    }
}
