//! Picking addresses: one to dial (Core `Select`) and a sample to gossip
//! (Core `GetAddr`).

use super::{AddrMan, BUCKET_SIZE, NEW_BUCKETS, TRIED_BUCKETS};
use crate::{Instant, Network, PeerAddr};

/// Draws after which `select` stops drawing and scans. Core draws until an
/// entry is accepted, which ends with probability one but without a bound:
/// each refusal raises the acceptance factor by 1.2, so after about 50 even
/// the least likely address is taken, and a network filter that matches
/// one address in 1 024 buckets is found within 100 000 draws but for a
/// chance below 10⁻⁴⁰. The bound keeps the work of one call finite.
const MAX_DRAWS: u32 = 100_000;

impl AddrMan {
    /// Core `Select`: an address to connect to, from the tried or new table
    /// with even odds (or from the new one only), restricted to `networks`
    /// unless that is empty. `None` when no address qualifies.
    ///
    /// A random slot is drawn and the bucket scanned from it; the entry
    /// found is taken with probability `chance × factor`, the factor
    /// growing by 1.2 at every refusal, so a poor address is not starved
    /// for ever and the loop ends.
    pub fn select(
        &mut self,
        now: Instant,
        new_only: bool,
        networks: &[Network],
    ) -> Option<PeerAddr> {
        let (new_count, tried_count) = if networks.is_empty() {
            (self.n_new, self.n_tried)
        } else {
            networks.iter().fold((0, 0), |(n, t), net| {
                let counts = self.by_network[net.index()];
                (n + counts.new, t + counts.tried)
            })
        };
        if new_count + tried_count == 0 || (new_only && new_count == 0) {
            return None;
        }
        let search_tried = if new_only || tried_count == 0 {
            false
        } else if new_count == 0 {
            true
        } else {
            self.rng.below(2) == 1
        };
        let buckets = if search_tried {
            TRIED_BUCKETS
        } else {
            NEW_BUCKETS
        };
        let mut chance_factor = 1.0;
        for _ in 0..MAX_DRAWS {
            // Uniform over the non-empty buckets: what Core's redraws of
            // empty ones amount to, in one draw.
            let table = if search_tried { &self.tried } else { &self.new };
            let pick = self.rng.below(table.filled_buckets() as u64) as usize;
            let bucket = table.filled_bucket(pick)?;
            let start = self.rng.below(BUCKET_SIZE as u64) as usize;
            let Some(id) = self.scan_bucket(search_tried, bucket, start, networks) else {
                continue;
            };
            let info = self.entry(id)?;
            let (addr, chance) = (self.addr_of(info), info.chance(now));
            let draw = (self.rng.next_u64() >> 34) as f64; // Core: 30 random bits
            if draw < chance_factor * chance * f64::from(1u32 << 30) {
                return Some(addr);
            }
            chance_factor *= 1.2;
        }
        // Unreachable in practice (see MAX_DRAWS): the first qualifying
        // entry from a random bucket on.
        let first = self.rng.below(buckets as u64) as usize;
        (0..buckets)
            .find_map(|n| self.scan_bucket(search_tried, (first + n) % buckets, 0, networks))
            .and_then(|id| self.entry(id))
            .map(|info| self.addr_of(info))
    }

    /// The first entry of `bucket` from slot `start` on (wrapping) whose
    /// network is in `networks` (any if empty).
    fn scan_bucket(
        &self,
        tried: bool,
        bucket: usize,
        start: usize,
        networks: &[Network],
    ) -> Option<u32> {
        let table = if tried { &self.tried } else { &self.new };
        table.bucket_from(bucket, start).find(|&id| {
            networks.is_empty()
                || self
                    .entry(id)
                    .is_some_and(|info| networks.contains(&info.network))
        })
    }

    /// Core `GetAddr`: a random sample of the book to answer a peer's
    /// `getaddr`: at most `max_pct` percent of it (0: no limit) and at most
    /// `max_addresses` (0: no limit), of one network if given, without
    /// terrible addresses when `filtered`.
    ///
    /// Core's node answers with 23 % and at most 1 000, so that one peer
    /// cannot download the whole book by asking once.
    pub fn get_addr(
        &mut self,
        now: Instant,
        max_addresses: usize,
        max_pct: usize,
        network: Option<Network>,
        filtered: bool,
    ) -> Vec<PeerAddr> {
        let total = self.random.len();
        let mut wanted = total;
        if max_pct != 0 {
            wanted = max_pct.min(100) * total / 100;
        }
        if max_addresses != 0 {
            wanted = wanted.min(max_addresses);
        }
        let mut out = Vec::with_capacity(wanted);
        for n in 0..total {
            if out.len() >= wanted {
                break;
            }
            // A partial Fisher-Yates shuffle of the id vector.
            let pick = n + self.rng.below((total - n) as u64) as usize;
            self.swap_random(n, pick);
            let Some(info) = self.entry(self.random[n]) else {
                continue;
            };
            if network.is_some_and(|net| info.network != net) {
                continue;
            }
            if filtered && info.is_terrible(now) {
                continue;
            }
            out.push(self.addr_of(info));
        }
        out
    }
}
