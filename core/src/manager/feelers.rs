//! Feeler connections (Bitcoin Core's, PR #8282 and #9037): every
//! `feeler_interval` on average, while the automatic targets are met, one
//! short connection tests the address book. It goes first to a tried
//! address that a newcomer would evict (test-before-evict: if it answers it
//! keeps its slot, if not the newcomer takes it), otherwise to an address
//! of the new table, which moves to tried if it answers. It is closed as
//! soon as its handshake completes, is never counted in a target, and its
//! failures do not count toward the replacement throttle.

use std::time::Duration;

use crate::timers::{Owner, TimerSeq};
use crate::ConnKind;

use super::addresses::Unusable;
use super::conn::{Conn, Phase};
use super::{ConnManager, Lifecycle};

/// The manager's own timers (not a connection's or a listener's).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Periodic {
    /// The next `Persist`.
    pub persist: Option<TimerSeq>,
    /// The next feeler.
    pub feeler: Option<TimerSeq>,
}

impl ConnManager {
    /// Schedules the next feeler, an exponentially distributed time away
    /// (a Poisson process: the times cannot be predicted from the last).
    pub(super) fn arm_feeler(&mut self) {
        let mean = self.config.feeler_interval;
        // Connect mode makes no connection of its own, feelers included.
        let automatic = self.config.automatic_outbound;
        if mean.is_zero() || !automatic || !self.book.as_ref().is_some_and(|b| b.tests_collisions())
        {
            return;
        }
        let delay = exponential(mean, self.rng.unit());
        let at = self.now + delay;
        self.periodic.feeler = Some(self.timers.schedule(at, Owner::Feeler));
    }

    pub(super) fn feeler_timer_fired(&mut self) {
        self.periodic.feeler = None;
        if self.lifecycle != Lifecycle::Running {
            debug_assert!(false, "a feeler timer outlived the run");
            return;
        }
        self.arm_feeler();
        self.maybe_network_peer();
        let full = [ConnKind::Automatic, ConnKind::BlockRelay]
            .into_iter()
            .all(|kind| self.automatic_established(kind) >= self.automatic_target(kind).0);
        if self.counts.feelers > 0 || !full {
            return;
        }
        let rules = Unusable::new(&self.groups, &self.bans, &self.config, self.now);
        let Some(book) = self.book.as_mut() else {
            return;
        };
        let Some(addr) = book.feeler_address(rules.now, |addr| rules.rules_out(addr)) else {
            return;
        };
        self.stats.feelers += 1;
        let id = self.insert(Conn::new(ConnKind::Feeler, Phase::Queued, Some(addr)));
        tracing::debug!(conn = id.raw(), %addr, "feeler");
        self.dial(id);
    }

    /// Established connections of automatic `kind`.
    fn automatic_established(&self, kind: ConnKind) -> u32 {
        match kind {
            ConnKind::Automatic => self.counts.automatic_established,
            ConnKind::BlockRelay => self.counts.block_relay_established,
            _ => 0,
        }
    }
}

/// `-ln(1 - u) × mean` for `u` uniform in [0, 1): exponentially
/// distributed with that mean (Core's `GetExponentialRand`), at most about
/// 37 means.
fn exponential(mean: Duration, u: f64) -> Duration {
    let factor = -(1.0 - u.clamp(0.0, 1.0 - f64::EPSILON)).ln();
    mean.mul_f64(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_delays_have_the_mean_asked_for() {
        let mean = Duration::from_secs(120);
        let mut rng = crate::Rng::new(7);
        let n = 20_000;
        let total: f64 = (0..n)
            .map(|_| exponential(mean, rng.unit()).as_secs_f64())
            .sum();
        let measured = total / f64::from(n);
        assert!((110.0..130.0).contains(&measured), "{measured}");
        assert_eq!(exponential(mean, 0.0), Duration::ZERO);
        assert!(exponential(mean, 1.0) < mean * 40);
    }
}
