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
        TokenBucket {
            milli_tokens: u64::from(burst) * MILLI,
            last: now,
        }
    }

    /// Takes a token if one is there; `rate` per second, at most `burst`.
    pub fn try_take(&mut self, now: Instant, rate: u32, burst: u32) -> bool {
        self.refill(now, rate, burst);
        if self.milli_tokens >= MILLI {
            self.milli_tokens -= MILLI;
            true
        } else {
            false
        }
    }

    /// Whether the bucket would be full at `now` (then it can be forgotten).
    pub fn is_full(&self, now: Instant, rate: u32, burst: u32) -> bool {
        let mut copy = *self;
        copy.refill(now, rate, burst);
        copy.milli_tokens >= u64::from(burst) * MILLI
    }

    fn refill(&mut self, now: Instant, rate: u32, burst: u32) {
        let elapsed: Duration = now - self.last;
        let added = (elapsed.as_micros().saturating_mul(u128::from(rate)) / 1000)
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
}
