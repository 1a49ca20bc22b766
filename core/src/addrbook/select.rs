//! Choosing the next address to dial: btcd's `GetAddress` sampling and, on
//! top of it, its server's `newAddressFunc` policy.

use std::net::SocketAddr;
use std::time::Duration;

use super::known::RECENT_ATTEMPT;
use super::AddrBook;
use crate::{AddressError, GroupKey, Instant};

/// btcd's `GetAddress` compares `rand.Intn(2^30)` with `factor × chance × 2^30`.
const LARGE: u64 = 1 << 30;

/// The rules [`AddrBook::select`] applies to each candidate: btcd server's
/// `newAddressFunc`, with its constants as fields.
///
/// [`SelectPolicy::default`] is btcd's: 100 tries, one outbound per group,
/// skip addresses attempted in the last 10 minutes for the first 30 tries,
/// and ports other than 8333 only after 50 tries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectPolicy {
    /// Skip a candidate whose group already has this many outbound
    /// connections (btcd: 1). 0 means no limit, as in
    /// [`Config::max_outbound_per_group`](crate::Config::max_outbound_per_group).
    /// Local and unroutable groups are never limited
    /// ([`GroupKey::is_exempt`]).
    pub max_per_group: u32,
    /// The network's usual port; others are avoided at first, because a
    /// node on an odd port is more likely a misconfiguration or a trap
    /// (btcd: the chain's default port, 8333 on mainnet).
    pub default_port: u16,
    /// Candidates drawn before giving up with
    /// [`AddressError::NoneSuitable`] (btcd: 100).
    pub max_tries: u32,
    /// For the first this-many tries, skip an address attempted within
    /// `recent_window` (btcd: 30): do not hammer one peer while others wait.
    pub skip_recent_tries: u32,
    /// What "attempted recently" means (btcd: 10 minutes).
    pub recent_window: Duration,
    /// For the first this-many tries, skip an address whose port is not
    /// `default_port` (btcd: 50).
    pub other_port_after: u32,
}

impl SelectPolicy {
    /// Most candidates one [`AddrBook::get_address`] samples before settling
    /// for the best of them. btcd's loop is unbounded; by 256 samples the
    /// acceptance factor is 1.2^256 ≈ 2·10^20, enough to accept any address
    /// with fewer than about 100 failed attempts outright.
    pub const MAX_SAMPLES: u32 = 256;
}

impl Default for SelectPolicy {
    /// btcd's `newAddressFunc` on mainnet.
    fn default() -> SelectPolicy {
        SelectPolicy {
            max_per_group: 1,
            default_port: 8333,
            max_tries: 100,
            skip_recent_tries: 30,
            recent_window: RECENT_ATTEMPT,
            other_port_after: 50,
        }
    }
}

impl AddrBook {
    /// The next address to dial, chosen by btcd's `newAddressFunc`, and
    /// recorded as [attempted](AddrBook::attempt).
    ///
    /// Draws up to `policy.max_tries` candidates with
    /// [`get_address`](AddrBook::get_address) and returns the first that
    /// passes, in order: its group is below `policy.max_per_group`
    /// outbound connections (`outbound_in_group` gives the manager's count;
    /// exempt groups always pass); it was not attempted within
    /// `recent_window`, unless `skip_recent_tries` tries have gone by; its
    /// port is the default, unless `other_port_after` tries have gone by.
    ///
    /// Errors: [`AddressError::Empty`] for an empty book,
    /// [`AddressError::NoneSuitable`] when no candidate passed (btcd's "no
    /// valid connect address"). Both are address failures for the manager,
    /// counted toward its throttle as in btcd.
    pub fn select(
        &mut self,
        now: Instant,
        policy: &SelectPolicy,
        outbound_in_group: impl FnMut(&GroupKey) -> u32,
    ) -> Result<SocketAddr, AddressError> {
        self.select_with_outbound(now, policy, 0, outbound_in_group)
    }

    /// [`select`](AddrBook::select) by a node with `outbound` outbound
    /// connections open, which bitcoind 0.9.3's book weighs when it picks
    /// the table ([`Flavor::Bitcoind093`](super::Flavor::Bitcoind093));
    /// btcd's ignores it.
    pub fn select_with_outbound(
        &mut self,
        now: Instant,
        policy: &SelectPolicy,
        outbound: u32,
        mut outbound_in_group: impl FnMut(&GroupKey) -> u32,
    ) -> Result<SocketAddr, AddressError> {
        if self.is_empty() {
            return Err(AddressError::Empty);
        }
        for tries in 0..policy.max_tries {
            let Some(id) = self.pick(now, outbound) else {
                break;
            };
            let Some(entry) = self.entry(id) else {
                break;
            };
            let addr = entry.addr;
            let group = GroupKey::of(addr.ip());
            if policy.max_per_group > 0
                && !group.is_exempt()
                && outbound_in_group(&group) >= policy.max_per_group
            {
                continue;
            }
            if tries < policy.skip_recent_tries && entry.attempted_within(now, policy.recent_window)
            {
                continue;
            }
            if tries < policy.other_port_after && addr.port() != policy.default_port {
                continue;
            }
            // `attempt`, without looking the address up again.
            if let Some(entry) = self.entry_mut(id) {
                entry.attempts = entry.attempts.saturating_add(1);
                entry.last_attempt = Some(now);
            }
            return Ok(addr);
        }
        Err(AddressError::NoneSuitable)
    }

    /// btcd's `GetAddress` on ids; see [`AddrBook::get_address`].
    pub(super) fn pick(&mut self, now: Instant, outbound: u32) -> Option<u32> {
        if self.is_empty() {
            return None;
        }
        // btcd draws the coin only when both tables have addresses.
        let use_tried = self.n_tried > 0 && (self.n_new == 0 || self.tried_coin(outbound));
        let mut factor = 1.0f64;
        let mut best: Option<(u32, f64)> = None;
        for _ in 0..SelectPolicy::MAX_SAMPLES {
            let table = if use_tried { &self.tried } else { &self.new };
            let id = table.pick(&mut self.rng)?;
            let chance = self.chance(self.entry(id)?, now);
            let draw = self.rng.below(LARGE) as f64;
            if draw < factor * chance * LARGE as f64 {
                return Some(id);
            }
            if best.is_none_or(|(_, c)| chance > c) {
                best = Some((id, chance));
            }
            factor *= 1.2;
        }
        best.map(|(id, _)| id)
    }
}

impl AddrBook {
    /// Whether to pick from the tried table, both tables holding addresses.
    /// btcd: even odds. 0.9.3 (`Select(10 + 10·ω)`): tried with weight
    /// `√tried · (90 − 10ω)` against `√new · (10 + 10ω)`, ω the open
    /// outbound connections (at most 8), so a node with few peers leans on
    /// addresses that worked before.
    fn tried_coin(&mut self, outbound: u32) -> bool {
        if !self.flavor.is_093() {
            return self.rng.below(2) == 0;
        }
        let bias = 10.0 + 10.0 * f64::from(outbound.min(8));
        let tried = (self.n_tried as f64).sqrt() * (100.0 - bias);
        let new = (self.n_new as f64).sqrt() * bias;
        self.rng.unit() * (tried + new) < tried
    }

    /// An entry's chance of being accepted when drawn: btcd's
    /// [`KnownAddress::chance`], times 0.9.3's time bias
    /// `600 / (600 + seconds since last seen)`.
    fn chance(&self, entry: &super::KnownAddress, now: Instant) -> f64 {
        let chance = entry.chance(now);
        if !self.flavor.is_093() {
            return chance;
        }
        let age = now
            .saturating_duration_since(entry.timestamp())
            .as_secs_f64();
        chance * 600.0 / (600.0 + age)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn now() -> Instant {
        Instant::from_secs(1_000_000)
    }

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn src() -> IpAddr {
        "9.9.9.9".parse().unwrap()
    }

    fn none(_: &GroupKey) -> u32 {
        0
    }

    #[test]
    fn default_policy_is_btcds() {
        let p = SelectPolicy::default();
        assert_eq!(p.max_per_group, 1);
        assert_eq!(p.default_port, 8333);
        assert_eq!(p.max_tries, 100);
        assert_eq!(p.skip_recent_tries, 30);
        assert_eq!(p.recent_window, Duration::from_secs(600));
        assert_eq!(p.other_port_after, 50);
    }

    #[test]
    fn empty_book_is_empty_error_and_no_address() {
        let mut book = AddrBook::new(1);
        assert_eq!(
            book.select(now(), &SelectPolicy::default(), none),
            Err(AddressError::Empty)
        );
        assert_eq!(book.get_address(now()), None);
    }

    #[test]
    fn select_records_the_attempt() {
        let mut book = AddrBook::new(1);
        book.add(now(), sa("1.2.3.4:8333"), src());
        let got = book.select(now(), &SelectPolicy::default(), none);
        assert_eq!(got, Ok(sa("1.2.3.4:8333")));
        let ka = book.get(sa("1.2.3.4:8333")).unwrap();
        assert_eq!(ka.attempts(), 1);
        assert_eq!(ka.last_attempt(), Some(now()));
    }

    #[test]
    fn zero_max_per_group_means_no_limit_and_exempt_groups_pass() {
        let mut book = AddrBook::new(2);
        book.add(now(), sa("1.2.3.4:8333"), src());
        let full = |_: &GroupKey| 1000;
        let policy = SelectPolicy {
            max_per_group: 0,
            ..SelectPolicy::default()
        };
        assert!(book.select(now(), &policy, full).is_ok());

        let mut book = AddrBook::new(2);
        book.set_accept_unroutable(true);
        book.add(now(), sa("10.0.0.1:8333"), src());
        book.add(now(), sa("127.0.0.1:8333"), src());
        for _ in 0..10 {
            assert!(book.select(now(), &SelectPolicy::default(), full).is_ok());
        }
    }

    #[test]
    fn a_full_group_is_never_chosen() {
        let mut book = AddrBook::new(3);
        book.add(now(), sa("1.2.3.4:8333"), src());
        let group = GroupKey::of("1.2.0.0".parse().unwrap());
        let count = |g: &GroupKey| u32::from(*g == group);
        assert_eq!(
            book.select(now(), &SelectPolicy::default(), count),
            Err(AddressError::NoneSuitable)
        );
        assert_eq!(book.get(sa("1.2.3.4:8333")).unwrap().attempts(), 0);
    }

    #[test]
    fn get_address_terminates_when_every_chance_is_negligible() {
        let mut book = AddrBook::new(4);
        let a = sa("1.2.3.4:8333");
        book.add(now(), a, src());
        for _ in 0..3000 {
            book.attempt(now(), a);
        }
        assert_eq!(book.get(a).unwrap().chance(now()), f64::from_bits(1));
        assert_eq!(book.get_address(now()), Some(a));
    }

    #[test]
    fn get_address_prefers_fresh_addresses() {
        let mut book = AddrBook::new(5);
        let fresh = sa("1.2.3.4:8333");
        let stale = sa("5.6.7.8:8333");
        book.add(now(), fresh, src());
        book.add(now(), stale, src());
        for _ in 0..5 {
            book.attempt(now(), stale);
        }
        let picks = (0..1000)
            .filter(|_| book.get_address(now()) == Some(fresh))
            .count();
        // chance 1 vs 0.01/1.5^5: the fresh one wins nearly always.
        assert!(picks > 950, "{picks}");
    }

    #[test]
    fn both_tables_are_used_about_evenly() {
        let mut book = AddrBook::new(6);
        let tried = sa("1.2.3.4:8333");
        let new = sa("5.6.7.8:8333");
        book.add(now(), tried, src());
        book.add(now(), new, src());
        book.good(now() - Duration::from_secs(3600), tried);
        assert_eq!((book.new_len(), book.tried_len()), (1, 1));
        let picks = (0..2000)
            .filter(|_| book.get_address(now()) == Some(tried))
            .count();
        assert!((850..1150).contains(&picks), "{picks}");
    }
}
