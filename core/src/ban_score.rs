//! btcd's `DynamicBanScore`: how badly a peer has behaved, lately.
//!
//! Two parts: a persistent score that never decays, and a transient one that
//! halves every minute and is forgotten after half an hour, so a burst of
//! small offences bans a peer but the same offences spread over a day do
//! not. Time comes in as [`Instant`]; the arithmetic is btcd's.

use std::time::Duration;

use crate::Instant;

/// The transient score halves this often (btcd: 60 s).
pub const HALF_LIFE: Duration = Duration::from_secs(60);
/// After this long the transient score counts for nothing (btcd: 1800 s).
pub const LIFETIME: Duration = Duration::from_secs(1800);

/// A peer's misbehaviour score.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BanScore {
    persistent: u32,
    transient: f64,
    last: Instant,
}

impl BanScore {
    /// Adds to both parts at `now` and returns the new total.
    pub fn increase(&mut self, persistent: u32, transient: u32, now: Instant) -> u32 {
        self.transient = self.transient_at(now) + f64::from(transient);
        self.last = now;
        self.persistent = self.persistent.saturating_add(persistent);
        self.score(now)
    }

    /// The total at `now`: persistent plus what is left of the transient part.
    pub fn score(&self, now: Instant) -> u32 {
        let total = f64::from(self.persistent) + self.transient_at(now);
        if total >= f64::from(u32::MAX) {
            u32::MAX
        } else {
            total as u32
        }
    }

    /// Forgets everything.
    pub fn reset(&mut self) {
        *self = BanScore::default();
    }

    fn transient_at(&self, now: Instant) -> f64 {
        let elapsed = now - self.last;
        if elapsed > LIFETIME {
            return 0.0;
        }
        // btcd: exp(-t · ln 2 / half-life), from whole seconds.
        let secs = elapsed.as_secs() as f64;
        self.transient * (-secs * std::f64::consts::LN_2 / HALF_LIFE.as_secs_f64()).exp()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> Instant {
        Instant::from_secs(secs)
    }

    /// btcd's TestDynamicBanScoreDecay.
    #[test]
    fn transient_score_halves_every_minute() {
        let mut score = BanScore::default();
        assert_eq!(score.increase(100, 50, at(0)), 150);
        assert_eq!(score.score(at(60)), 125);
        assert_eq!(score.score(at(420)), 100);
    }

    /// btcd's TestDynamicBanScoreLifetime.
    #[test]
    fn transient_score_is_forgotten_after_its_lifetime() {
        let mut score = BanScore::default();
        score.increase(0, u32::MAX, at(0));
        assert_eq!(score.score(at(1800)), 3);
        assert_eq!(score.score(at(1801)), 0);
    }

    /// btcd's TestDynamicBanScoreReset.
    #[test]
    fn reset_forgets_everything() {
        let mut score = BanScore::default();
        assert_eq!(score.increase(100, 0, at(5)), 100);
        score.reset();
        assert_eq!(score.score(at(5)), 0);
    }
}
