//! The analytical model of Heilman, Kendler, Zohar and Goldberg, "Eclipse
//! Attacks on Bitcoin's Peer-to-Peer Network" (USENIX Security 2015), for
//! bitcoind 0.9.3's address book: what the simulator's measurements are
//! checked against (`docs/ECLIPSE.md`).
//!
//! Time is in the paper's unit, ten minutes, because 0.9.3's selection
//! accepts an address `τ` ten-minute units old with probability
//! `min(1, 1.2^r / (1 + τ))` at its `r`-th draw (`600 / (600 + seconds)`
//! times a factor that grows by 1.2 per refusal).

use crate::SimConfig;

/// Outbound connections an eclipse must capture (0.9.3 kept 8).
pub const OUTBOUND: i32 = 8;

/// Tried buckets of 0.9.3's book, and slots in each.
pub const TRIED_BUCKETS: u32 = 64;
/// See [`TRIED_BUCKETS`].
pub const BUCKET_SIZE: u32 = 64;

/// Eq. (2): the chance the `r`-th draw (from 0) accepts an address `tau`
/// ten-minute units old.
pub fn accept(r: i32, tau: f64) -> f64 {
    (1.2f64.powi(r) / (1.0 + tau)).min(1.0)
}

/// Eq. (3): the chance that one selection from the tried table returns an
/// attacker address, when a share `f` of the table is the attacker's (at
/// most `tau_round` old: it reconnects every round), a share `f_fresh` is
/// honest and fresh (peers connected until the restart), and the rest is
/// honest and `tau_attack` old (the attack's length).
pub fn adversarial_pick(f: f64, f_fresh: f64, tau_attack: f64, tau_round: f64) -> f64 {
    let stale = (1.0 - f - f_fresh).max(0.0);
    let mut rejected_so_far = 1.0;
    let mut total = 0.0;
    // Each draw is accepted with probability one by r ≈ 40 (1.2^40 > 1 400
    // ten-minute units of age); 200 draws leave nothing.
    for r in 0..200 {
        total += rejected_so_far * f * accept(r, tau_round);
        let rejected = f * (1.0 - accept(r, tau_round))
            + f_fresh * (1.0 - accept(r, 0.0))
            + stale * (1.0 - accept(r, tau_attack));
        rejected_so_far *= rejected;
        if rejected_so_far < 1e-15 {
            break;
        }
    }
    total
}

/// The eclipse probability with 0.9.3's time-biased selection: every one
/// of the [`OUTBOUND`] connections picks the attacker (the new table being
/// all trash, every connection that succeeds comes from tried).
pub fn eclipse_time_biased(f: f64, f_fresh: f64, tau_attack: f64, tau_round: f64) -> f64 {
    adversarial_pick(f, f_fresh, tau_attack, tau_round).powi(OUTBOUND)
}

/// [`eclipse_time_biased`] under 0.9.3's one outbound connection per
/// network group, which the paper's model leaves out: once the attacker
/// holds `k` connections, the addresses of its `groups − k` other groups
/// are the only ones of its that can take the next (its entries spread
/// evenly over its groups).
pub fn eclipse_time_biased_one_per_group(
    f: f64,
    groups: u32,
    tau_attack: f64,
    tau_round: f64,
) -> f64 {
    let groups = f64::from(groups.max(1));
    (0..OUTBOUND)
        .map(|k| {
            let open = f * ((groups - f64::from(k)) / groups).max(0.0);
            let share = open / (open + (1.0 - f)).max(f64::MIN_POSITIVE);
            adversarial_pick(share, 0.0, tau_attack, tau_round)
        })
        .product()
}

/// The eclipse probability when selection ignores timestamps (the
/// countermeasure of 0.10.1): `f^8`.
pub fn eclipse_uniform(f: f64) -> f64 {
    f.powi(OUTBOUND)
}

/// Eq. (6): how many of the 64 tried buckets `s` groups reach, each group
/// reaching 4 buckets drawn at random.
pub fn buckets_reached(s: u32) -> f64 {
    let n = f64::from(TRIED_BUCKETS);
    n * (1.0 - (1.0 - 1.0 / n).powi(4 * s as i32))
}

/// Eq. (4): the attacker's tried entries after enough rounds, a botnet of
/// `t` addresses each in a group of its own (each lands in a uniformly
/// random bucket; a bucket keeps at most 64): `64 · E[min(64, B(t, 1/64))]`.
pub fn botnet_tried(t: u32) -> f64 {
    let p = 1.0 / f64::from(TRIED_BUCKETS);
    let cap = BUCKET_SIZE;
    // E[min(cap, X)] = Σ_{k<cap} k·P(X=k) + cap·P(X≥cap), X ~ B(t, p).
    let mut pmf = (1.0 - p).powi(t as i32);
    let (mut below, mut mass) = (0.0, 0.0);
    for k in 0..cap.min(t + 1) {
        below += f64::from(k) * pmf;
        mass += pmf;
        pmf *= f64::from(t - k) / f64::from(k + 1) * p / (1.0 - p);
    }
    f64::from(TRIED_BUCKETS) * (below + f64::from(cap) * (1.0 - mass).max(0.0))
}

/// The attacker's tried entries after enough rounds for `s` groups of `t`
/// addresses: every bucket the groups reach (Eq. 6) full, when `t` fills
/// a group's 4 buckets (`t ≥ 256`); below that, the `s · t` addresses.
pub fn infrastructure_tried(s: u32, t: u32) -> f64 {
    (buckets_reached(s) * f64::from(BUCKET_SIZE)).min(f64::from(s) * f64::from(t))
}

/// The attacker's share of a tried table holding `attacker` of its entries
/// and `honest` others.
pub fn share(attacker: f64, honest: f64) -> f64 {
    attacker / (attacker + honest).max(1.0)
}

/// Addresses a botnet needs for eclipse probability `p` against a book
/// with deterministic random placement and uniform selection over
/// `slots` slots (the paper's model of 0.10.1, `slots` = 65 536):
/// `f = p^(1/8)` of the slots, each address taking a random slot.
pub fn botnet_needed_after_countermeasures(p: f64, slots: f64) -> f64 {
    -slots * (1.0 - p.powf(1.0 / f64::from(OUTBOUND))).ln()
}

/// What the model predicts for a simulated run: the eclipse probability
/// with 0.9.3's time-biased selection (Eq. 3 to the 8th), the same under
/// one outbound connection per group, and with uniform selection (`f^8`),
/// `f` being the attacker's share of the victim's tried table as it went
/// down (`tried`: attacker entries, table size).
///
/// Only for a bitcoind 0.9.3 victim attacked in rounds, the paper's
/// setting: the attacker's entries are at most a round old, the honest
/// ones as old as the attack (the simulated 0.9.3 book refreshes a
/// connected peer's timestamp only when the connection ends, so none is
/// fresh at a crash).
pub fn predicted(config: &SimConfig, tried: (usize, usize)) -> Option<[f64; 3]> {
    let attack = config.attack.as_ref()?;
    let round = attack.round?;
    if config.node_config.address_book != connmgr::AddressBook::Bitcoind093 {
        return None;
    }
    let f = tried.0 as f64 / tried.1.max(1) as f64;
    let ten_minutes = |d: std::time::Duration| d.as_secs_f64() / 600.0;
    let (tau_attack, tau_round) = (
        ten_minutes(attack.start + attack.period),
        ten_minutes(round),
    );
    let groups = u32::try_from(attack.model.groups()).unwrap_or(u32::MAX);
    Some([
        eclipse_time_biased(f, 0.0, tau_attack, tau_round),
        eclipse_time_biased_one_per_group(f, groups, tau_attack, tau_round),
        eclipse_uniform(f),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The figures the paper states, recomputed from its formulas.
    #[test]
    fn the_formulas_give_the_papers_figures() {
        // 32 groups reach 55.5 of the 64 tried buckets; 63 groups, 98 %.
        assert!((buckets_reached(32) - 55.47).abs() < 0.01);
        assert!((buckets_reached(63) / 64.0 - 0.981).abs() < 0.001);
        // A botnet of 4 600 fills 98 % of tried; of 6 000, all of it.
        assert!((botnet_tried(4600) / 4096.0 - 0.988).abs() < 0.001);
        assert!(botnet_tried(6000) > 4095.0);
        // 1 000 bots rarely share a bucket past 64: all of them land.
        assert!((botnet_tried(1000) - 1000.0).abs() < 0.5);
        // With the time bias, 72 % of tried gives 90 % (48 h, 27-minute
        // rounds); uniform selection needs 98.7 %.
        let biased = eclipse_time_biased(0.72, 8.0 / 4096.0, 288.0, 2.7);
        assert!((biased - 0.916).abs() < 0.01, "{biased}");
        assert!((eclipse_uniform(0.987) - 0.90).abs() < 0.01);
        // 0.10.1: 163 000 bots for 50 %.
        let half = botnet_needed_after_countermeasures(0.5, 65_536.0);
        assert!((half - 163_117.0).abs() < 1.0, "{half}");
    }

    #[test]
    fn one_outbound_per_group_holds_back_an_attacker_of_few_groups() {
        let (f, tau_a, tau_r) = (0.7, 30.0, 2.7);
        let free = eclipse_time_biased(f, 0.0, tau_a, tau_r);
        let few = eclipse_time_biased_one_per_group(f, 8, tau_a, tau_r);
        let many = eclipse_time_biased_one_per_group(f, 10_000, tau_a, tau_r);
        assert!(few < free * 0.6, "{few} against {free}");
        assert!((many - free).abs() < 0.01, "{many} against {free}");
        // Fewer groups than connections: never.
        assert_eq!(eclipse_time_biased_one_per_group(f, 7, tau_a, tau_r), 0.0);
    }

    #[test]
    fn the_time_bias_favours_fresh_attacker_addresses() {
        let f = 0.5;
        assert!(adversarial_pick(f, 0.0, 30.0, 2.7) > f);
        // Nothing to favour when everything is as old.
        assert!((adversarial_pick(f, 0.0, 2.7, 2.7) - f).abs() < 1e-9);
        assert_eq!(adversarial_pick(0.0, 0.0, 30.0, 2.7), 0.0);
        assert!((adversarial_pick(1.0, 0.0, 30.0, 2.7) - 1.0).abs() < 1e-9);
    }
}
