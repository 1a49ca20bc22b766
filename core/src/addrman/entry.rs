//! One address Core's book knows, and Core's two judgements of it: how
//! likely it is to be picked ([`AddrInfo::chance`]) and whether it may be
//! overwritten or left out of gossip ([`AddrInfo::is_terrible`]).
//!
//! Core stores "never" as the Unix epoch; here it is its own value
//! ([`Stamp::NEVER`]), so that a simulation whose clock starts at zero
//! judges a never-tried address as Core judges one on a real clock.

use std::time::Duration;

use crate::{Host, Instant, Network, PeerAddr};

/// Core `ADDRMAN_HORIZON`: not heard of for this long, an address is gone.
const HORIZON: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// Core `ADDRMAN_RETRIES`: attempts without any success that make it terrible.
const RETRIES: u32 = 3;
/// Core `ADDRMAN_MAX_FAILURES`: failures in a row that make it terrible...
const MAX_FAILURES: u32 = 10;
/// ...when the last success is older than this (Core `ADDRMAN_MIN_FAIL`).
const MIN_FAIL: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// An address tried this recently is never terrible.
const TRY_GRACE: Duration = Duration::from_secs(60);
/// A timestamp this far ahead is a lie ("came in a flying DeLorean").
const FUTURE_SLACK: Duration = Duration::from_secs(10 * 60);
/// An attempt this recent cuts the chance of being picked to 1 %.
pub(crate) const RECENT_TRY: Duration = Duration::from_secs(10 * 60);

/// A moment to the second, as Core keeps a book's times, in four bytes:
/// "never" is `u32::MAX`, and moments past 2106 (`u32::MAX - 1` seconds)
/// read back as that last second.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Stamp(u32);

impl Stamp {
    pub(crate) const NEVER: Stamp = Stamp(u32::MAX);

    pub(crate) fn at(t: Instant) -> Stamp {
        let secs = t.as_nanos() / 1_000_000_000;
        Stamp(u32::try_from(secs).unwrap_or(u32::MAX).min(u32::MAX - 1))
    }

    pub(crate) fn get(self) -> Option<Instant> {
        (self != Stamp::NEVER).then(|| self.instant())
    }

    /// The moment, for a stamp that is never [`NEVER`](Stamp::NEVER).
    pub(crate) fn instant(self) -> Instant {
        Instant::from_secs(u64::from(self.0))
    }
}

/// What the book keeps of one address (Core's `AddrInfo`), compactly: the
/// address and its source are handles into the book's
/// [`AddressTable`](super::AddressTable), so that a network of books stores
/// each address once.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Entry {
    /// The address's handle.
    pub(crate) addr: u32,
    /// The handle of who told us first (its IP, port 0).
    pub(crate) source: u32,
    /// When the address was last seen, as gossip claims (Core's `nTime`).
    pub(crate) time: Stamp,
    pub(crate) last_try: Stamp,
    /// When a failure was last counted in `attempts`.
    pub(crate) last_count_attempt: Stamp,
    pub(crate) last_success: Stamp,
    /// Failed attempts since the last success.
    pub(crate) attempts: u32,
    /// Its index in the book's shuffle vector.
    pub(crate) random_pos: u32,
    /// The address's network, kept so that counting and filtering by
    /// network need not look the address up.
    pub(crate) network: Network,
    /// How many new buckets hold it (0 while tried).
    pub(crate) ref_count: u8,
    pub(crate) in_tried: bool,
}

impl Entry {
    pub(crate) fn new(addr: u32, source: u32, network: Network, time: Instant) -> Entry {
        Entry {
            addr,
            source,
            time: Stamp::at(time),
            last_try: Stamp::NEVER,
            last_count_attempt: Stamp::NEVER,
            last_success: Stamp::NEVER,
            attempts: 0,
            random_pos: 0,
            network,
            ref_count: 0,
            in_tried: false,
        }
    }

    /// Core `IsTerrible`: so stale, so far in the future or so often failed
    /// that it may be overwritten and is not gossiped.
    pub(crate) fn is_terrible(&self, now: Instant) -> bool {
        let last_success = self.last_success.get();
        if self.last_try.get().is_some_and(|t| now - t <= TRY_GRACE) {
            return false;
        }
        if self.time.instant() > now + FUTURE_SLACK {
            return true;
        }
        if now - self.time.instant() > HORIZON {
            return true;
        }
        if last_success.is_none() && self.attempts >= RETRIES {
            return true;
        }
        let stale_success = last_success.is_none_or(|t| now - t > MIN_FAIL);
        stale_success && self.attempts >= MAX_FAILURES
    }

    /// Core `GetChance`: the relative chance of being picked. A recent
    /// attempt divides it by 100, each failure multiplies it by 0.66 (at
    /// most 8 times). How long ago the address was seen does not count:
    /// that bias let an attacker win selection by sending fresh timestamps
    /// (the 2015 paper's countermeasure "random selection").
    pub(crate) fn chance(&self, now: Instant) -> f64 {
        let mut chance = 1.0;
        if self.last_try.get().is_some_and(|t| now - t < RECENT_TRY) {
            chance *= 0.01;
        }
        chance * 0.66f64.powi(self.attempts.min(8) as i32)
    }
}

/// What the book knows of one address, as [`AddrMan::get`](super::AddrMan::get)
/// reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct AddrInfo {
    pub(crate) addr: PeerAddr,
    pub(crate) source: Host,
    pub(crate) entry: Entry,
}

impl AddrInfo {
    /// The address.
    pub fn addr(&self) -> PeerAddr {
        self.addr
    }

    /// The peer that first told us of it.
    pub fn source(&self) -> Host {
        self.source
    }

    /// When it was last seen, as its gossip claimed.
    pub fn time(&self) -> Instant {
        self.entry.time.instant()
    }

    /// The last time we tried to connect to it.
    pub fn last_try(&self) -> Option<Instant> {
        self.entry.last_try.get()
    }

    /// The last time a connection to it completed its handshake.
    pub fn last_success(&self) -> Option<Instant> {
        self.entry.last_success.get()
    }

    /// Failed attempts since the last success.
    pub fn attempts(&self) -> u32 {
        self.entry.attempts
    }

    /// Whether it is in the tried table.
    pub fn is_tried(&self) -> bool {
        self.entry.in_tried
    }

    /// The network it is on.
    pub fn network(&self) -> Network {
        self.entry.network
    }

    /// Core `IsTerrible`: so stale, so far in the future or so often failed
    /// that it may be overwritten and is not gossiped.
    pub fn is_terrible(&self, now: Instant) -> bool {
        self.entry.is_terrible(now)
    }

    /// Core `GetChance`: the relative chance of being picked (see the
    /// book's selection).
    pub fn chance(&self, now: Instant) -> f64 {
        self.entry.chance(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(24 * 60 * 60);

    fn info(now: Instant) -> Entry {
        Entry::new(0, 1, Network::Ipv4, now)
    }

    #[test]
    fn an_entry_takes_36_bytes_and_a_free_one_no_more() {
        // A network's books hold hundreds of millions of entries: every
        // byte here is a hundred megabytes there.
        assert_eq!(std::mem::size_of::<Entry>(), 36);
        assert_eq!(std::mem::size_of::<Option<Entry>>(), 36);
    }

    #[test]
    fn stamps_keep_seconds_and_saturate_past_2106() {
        let t = Instant::from_nanos(1_700_000_000_999_999_999);
        assert_eq!(Stamp::at(t).get(), Some(Instant::from_secs(1_700_000_000)));
        let far = Instant::from_secs(u64::from(u32::MAX) + 5);
        assert_eq!(
            Stamp::at(far).instant(),
            Instant::from_secs(u64::from(u32::MAX - 1))
        );
        assert_ne!(Stamp::at(far), Stamp::NEVER);
    }

    #[test]
    fn terrible_when_stale_from_the_future_or_failing() {
        let now = Instant::from_secs(1_700_000_000);
        assert!(!info(now).is_terrible(now));
        assert!(info(now - 31 * DAY).is_terrible(now));
        assert!(info(now + Duration::from_secs(11 * 60)).is_terrible(now));
        let mut failing = info(now);
        failing.attempts = RETRIES;
        assert!(failing.is_terrible(now));
        failing.last_success = Stamp::at(now - 8 * DAY);
        assert!(!failing.is_terrible(now), "one success, three failures");
        failing.attempts = MAX_FAILURES;
        assert!(failing.is_terrible(now));
        failing.last_try = Stamp::at(now - Duration::from_secs(60));
        assert!(!failing.is_terrible(now), "tried in the last minute");
    }

    #[test]
    fn chance_ignores_age_and_falls_with_failures_and_recent_tries() {
        let now = Instant::from_secs(1_700_000_000);
        assert_eq!(info(now).chance(now), 1.0);
        assert_eq!(info(now - 20 * DAY).chance(now), 1.0);
        let mut tried = info(now);
        tried.last_try = Stamp::at(now - Duration::from_secs(60));
        assert_eq!(tried.chance(now), 0.01);
        tried.attempts = 20;
        let floor = 0.01 * 0.66f64.powi(8);
        assert!((tried.chance(now) - floor).abs() < 1e-12);
    }
}
