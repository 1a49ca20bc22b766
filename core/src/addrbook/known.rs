//! One known address and btcd's two judgements of it: how likely it is to be
//! picked ([`KnownAddress::chance`]) and whether it may be thrown away
//! ([`KnownAddress::is_bad`]).
//!
//! Both are pure functions of the address's history and `now`, exactly as
//! btcd's `knownaddress.go`; only "never" is explicit (`None`) where Go uses
//! the zero `time.Time`, because an [`Instant`] near its epoch is a real time.

use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;
use std::time::Duration;

use crate::Instant;

/// btcd: an attempt this recent cuts the chance to 1 % and, in
/// `newAddressFunc`, makes the address skipped for the first 30 tries.
pub(crate) const RECENT_ATTEMPT: Duration = Duration::from_secs(10 * 60);
/// btcd `isBad`: an address attempted this recently is never bad.
const BAD_GRACE: Duration = Duration::from_secs(60);
/// btcd `isBad`: a timestamp this far in the future is a lie.
const FUTURE_SLACK: Duration = Duration::from_secs(10 * 60);
/// btcd `numMissingDays`: not heard of for 30 days, it has vanished.
const MISSING: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// btcd `numRetries`: this many attempts and never a success is bad.
const NUM_RETRIES: u32 = 3;
/// btcd `maxFailures`: this many attempts without a recent success is bad.
const MAX_FAILURES: u32 = 10;
/// btcd `minBadDays`: what "recent" means for `MAX_FAILURES`.
const MIN_BAD: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// btcd `Connected`: the timestamp is refreshed once it is this stale.
pub(crate) const CONNECTED_REFRESH: Duration = Duration::from_secs(20 * 60);

/// Where an address sits in the tables.
///
/// An address is in the tried table (exactly one bucket) or in one to eight
/// new buckets, never both; keeping the buckets here makes `good` and
/// eviction O(1) instead of btcd's scan of all 1024 new buckets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Place {
    /// In the new table: `buckets[..refs]` are its (distinct) new buckets.
    New {
        /// The new buckets, in the order they were added.
        buckets: [u16; super::flavor::MAX_NEW_PER_ADDRESS],
        /// How many of `buckets` are used (1..=8 while in the book).
        refs: u8,
    },
    /// In the tried table, in this bucket.
    Tried(u16),
}

/// An address the book knows, with the history that decides its fate.
///
/// Read it with [`AddrBook::get`](super::AddrBook::get); only the book changes
/// it, so its counters always agree with the tables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownAddress {
    pub(crate) addr: SocketAddr,
    pub(crate) source: IpAddr,
    pub(crate) timestamp: Instant,
    pub(crate) attempts: u32,
    pub(crate) last_attempt: Option<Instant>,
    pub(crate) last_success: Option<Instant>,
    pub(crate) place: Place,
}

impl KnownAddress {
    /// The address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Who first told us about it; its group decides the new buckets.
    pub fn source(&self) -> IpAddr {
        self.source
    }

    /// When it was last heard of (gossip's "last seen", or a connection).
    pub fn timestamp(&self) -> Instant {
        self.timestamp
    }

    /// Attempts since the last success (reset by `good`).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// When it was last attempted, if ever.
    pub fn last_attempt(&self) -> Option<Instant> {
        self.last_attempt
    }

    /// When it last completed a handshake (`good`), if ever.
    pub fn last_success(&self) -> Option<Instant> {
        self.last_success
    }

    /// Whether it is in the tried table (it has worked at least once).
    pub fn is_tried(&self) -> bool {
        matches!(self.place, Place::Tried(_))
    }

    /// btcd's `chance()`: the relative probability that `get_address` accepts
    /// this address when it samples it.
    ///
    /// 1.0, times 0.01 if it was attempted in the last 10 minutes, divided by
    /// 1.5 once per failed attempt, so fresh addresses are preferred and
    /// failing ones fade without being forgotten. The value is bit-for-bit
    /// btcd's (repeated division, read from a table computed once), and
    /// costs the same for any attempt count.
    pub fn chance(&self, now: Instant) -> f64 {
        let recent = self.attempted_within(now, RECENT_ATTEMPT);
        let table = decay_tables()
            .get(usize::from(recent))
            .map_or(&[][..], Vec::as_slice);
        let n = usize::try_from(self.attempts).unwrap_or(usize::MAX);
        // Past the table's end the value no longer changes.
        table.get(n).or(table.last()).copied().unwrap_or(0.0)
    }

    /// btcd's `isBad()`: whether the address is worthless and may be evicted
    /// from a full new bucket.
    ///
    /// Never bad if attempted in the last minute (it may be connecting now).
    /// Otherwise bad if its timestamp is more than 10 minutes in the future
    /// or more than 30 days old, if it failed 3 times and never succeeded, or
    /// if it failed 10 times with no success in the last 7 days.
    pub fn is_bad(&self, now: Instant) -> bool {
        if self.attempted_within(now, BAD_GRACE) {
            return false;
        }
        if self.timestamp.saturating_duration_since(now) > FUTURE_SLACK {
            return true;
        }
        if now.saturating_duration_since(self.timestamp) > MISSING {
            return true;
        }
        if self.last_success.is_none() && self.attempts >= NUM_RETRIES {
            return true;
        }
        // btcd: !lastsuccess.After(now - 7 days); "never" is the zero time,
        // which is not after anything.
        let no_recent_success = match self.last_success {
            None => true,
            Some(success) => now.saturating_duration_since(success) >= MIN_BAD,
        };
        no_recent_success && self.attempts >= MAX_FAILURES
    }

    /// Whether the last attempt was less than `window` before `now` (an
    /// attempt in the future counts as recent, as a negative duration does
    /// in Go).
    pub(crate) fn attempted_within(&self, now: Instant, window: Duration) -> bool {
        self.last_attempt
            .is_some_and(|at| now.saturating_duration_since(at) < window)
    }
}

/// btcd's chance for every attempt count, from a start of 1.0 (index 0)
/// and of 0.01 (index 1, attempted recently): `c /= 1.5` repeated, exactly
/// as btcd's loop, until it sticks at the smallest subnormal (about 1 840
/// steps). Computed once, so `chance` costs a lookup however many attempts
/// an address has piled up (a node offline for days reaches thousands, and
/// `get_address` may evaluate 25 600 chances per `select`).
fn decay_tables() -> &'static [Vec<f64>; 2] {
    static TABLES: OnceLock<[Vec<f64>; 2]> = OnceLock::new();
    TABLES.get_or_init(|| [decay_from(1.0), decay_from(0.01)])
}

fn decay_from(start: f64) -> Vec<f64> {
    let mut table = vec![start];
    let mut c = start;
    loop {
        let next = c / 1.5;
        if next == c {
            return table;
        }
        table.push(next);
        c = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60;
    const DAY: u64 = 24 * 60 * MIN;

    fn ka(now_secs: u64) -> KnownAddress {
        KnownAddress {
            addr: "1.2.3.4:8333".parse().unwrap(),
            source: "5.6.7.8".parse().unwrap(),
            timestamp: Instant::from_secs(now_secs),
            attempts: 0,
            last_attempt: None,
            last_success: None,
            place: Place::New {
                buckets: [0; 8],
                refs: 1,
            },
        }
    }

    fn at(secs: u64) -> Instant {
        Instant::from_secs(secs)
    }

    #[test]
    fn chance_is_one_for_a_fresh_address() {
        let now = at(100 * DAY);
        assert_eq!(ka(100 * DAY).chance(now), 1.0);
    }

    #[test]
    fn chance_penalises_a_recent_attempt_and_each_failure() {
        let now = at(100 * DAY);
        let mut a = ka(100 * DAY);
        a.last_attempt = Some(now - Duration::from_secs(9 * MIN));
        assert_eq!(a.chance(now), 0.01);
        a.last_attempt = Some(now - Duration::from_secs(10 * MIN));
        assert_eq!(a.chance(now), 1.0, "10 minutes is no longer recent");
        a.attempts = 2;
        assert_eq!(a.chance(now), 1.0 / 1.5 / 1.5);
        a.last_attempt = Some(now);
        assert_eq!(a.chance(now), 0.01 / 1.5 / 1.5);
        // An attempt "in the future" is as recent as can be.
        a.last_attempt = Some(now + Duration::from_secs(DAY));
        assert_eq!(a.chance(now), 0.01 / 1.5 / 1.5);
    }

    #[test]
    fn chance_is_bounded_for_huge_attempt_counts() {
        let now = at(100 * DAY);
        let mut a = ka(100 * DAY);
        a.attempts = u32::MAX;
        // btcd's repeated division sticks at the smallest subnormal.
        assert_eq!(a.chance(now), f64::from_bits(1));
        a.attempts = 5000;
        assert_eq!(a.chance(now), f64::from_bits(1));
        a.attempts = 100;
        assert!(a.chance(now) > 0.0);
    }

    /// btcd's loop, literally, for comparison.
    fn btcd_chance(recent: bool, attempts: u32) -> f64 {
        let mut c = 1.0f64;
        if recent {
            c *= 0.01;
        }
        for _ in 0..attempts {
            c /= 1.5;
        }
        c
    }

    #[test]
    fn chance_is_bit_for_bit_btcds() {
        let now = at(100 * DAY);
        let mut a = ka(100 * DAY);
        for attempts in (0..2100).chain([5000, 100_000]) {
            a.attempts = attempts;
            a.last_attempt = None;
            assert_eq!(
                a.chance(now).to_bits(),
                btcd_chance(false, attempts).to_bits()
            );
            a.last_attempt = Some(now);
            assert_eq!(
                a.chance(now).to_bits(),
                btcd_chance(true, attempts).to_bits()
            );
        }
        assert!(decay_tables()[0].len() > 1700 && decay_tables()[0].len() < 2000);
    }

    #[test]
    fn never_attempted_is_not_recent_even_at_the_epoch() {
        let a = ka(0);
        assert_eq!(a.chance(Instant::ZERO), 1.0);
        assert!(!a.attempted_within(Instant::ZERO, RECENT_ATTEMPT));
    }

    #[test]
    fn is_bad_follows_btcd() {
        let now = at(100 * DAY);
        // Fresh: fine.
        assert!(!ka(100 * DAY).is_bad(now));
        // From the future (more than 10 min ahead).
        let future = ka(100 * DAY + 11 * MIN);
        assert!(future.is_bad(now));
        assert!(!ka(100 * DAY + 10 * MIN).is_bad(now));
        // Over a month old.
        assert!(ka(100 * DAY - 31 * DAY).is_bad(now));
        assert!(!ka(100 * DAY - 29 * DAY).is_bad(now));
        // Three failures, never a success.
        let mut a = ka(100 * DAY);
        a.attempts = 3;
        a.last_attempt = Some(now - Duration::from_secs(2 * MIN));
        assert!(a.is_bad(now));
        a.attempts = 2;
        assert!(!a.is_bad(now));
        // Ten failures and no success in a week.
        let mut a = ka(100 * DAY);
        a.attempts = 10;
        a.last_attempt = Some(now - Duration::from_secs(2 * MIN));
        a.last_success = Some(now - Duration::from_secs(8 * DAY));
        assert!(a.is_bad(now));
        a.last_success = Some(now - Duration::from_secs(6 * DAY));
        assert!(!a.is_bad(now));
        a.attempts = 9;
        a.last_success = Some(now - Duration::from_secs(8 * DAY));
        assert!(!a.is_bad(now));
    }

    #[test]
    fn a_recent_attempt_protects_even_a_bad_address() {
        let now = at(100 * DAY);
        let mut a = ka(0);
        a.attempts = 50;
        assert!(a.is_bad(now));
        a.last_attempt = Some(now - Duration::from_secs(30));
        assert!(!a.is_bad(now));
        a.last_attempt = Some(now - Duration::from_secs(60));
        assert!(a.is_bad(now), "a minute ago is no longer protected");
    }

    #[test]
    fn accessors_report_the_history() {
        let mut a = ka(5);
        a.attempts = 4;
        a.last_attempt = Some(at(6));
        a.last_success = Some(at(7));
        assert_eq!(a.addr(), "1.2.3.4:8333".parse::<SocketAddr>().unwrap());
        assert_eq!(a.source(), "5.6.7.8".parse::<IpAddr>().unwrap());
        assert_eq!(a.timestamp(), at(5));
        assert_eq!(a.attempts(), 4);
        assert_eq!(a.last_attempt(), Some(at(6)));
        assert_eq!(a.last_success(), Some(at(7)));
        assert!(!a.is_tried());
        a.place = Place::Tried(3);
        assert!(a.is_tried());
    }
}
