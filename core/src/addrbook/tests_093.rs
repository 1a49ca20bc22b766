//! bitcoind 0.9.3's rules ([`Flavor::Bitcoind093`]): its table sizes and
//! spreads, its time-biased selection, its tried eviction, its snapshots.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::tests::{check, sa, t};
use super::*;

fn book() -> AddrBook {
    AddrBook::keyed_as(Flavor::Bitcoind093, [3, 4], 5)
}

#[test]
fn a_group_reaches_at_most_4_of_64_tried_buckets() {
    let book = book();
    let buckets: BTreeSet<u16> = (0..=255u8)
        .flat_map(|c| (1..=20u8).map(move |d| SocketAddr::from(([7, 7, c, d], 8333))))
        .map(|a| book.key.tried_bucket(&book.geometry, a))
        .collect();
    assert!(buckets.len() <= 4 && buckets.len() >= 2, "{buckets:?}");
    assert!(buckets.iter().all(|&b| b < 64));
}

#[test]
fn a_source_group_reaches_at_most_32_of_256_new_buckets() {
    let mut book = book();
    let source = IpAddr::from([9, 9, 9, 9]);
    for a in 0..=255u8 {
        for b in 0..8u8 {
            book.add(
                t(0),
                SocketAddr::from(([a.max(1), b + 1, 1, 1], 8333)),
                source,
            );
        }
    }
    let used = book.new.iter().filter(|(_, b)| !b.is_empty()).count();
    assert!(used <= 32, "{used} new buckets from one source group");
    assert!(book.new.iter().all(|(b, _)| b < 256));
    check(&book).unwrap();
}

#[test]
fn selection_prefers_fresh_addresses() {
    // One address seen just now, one seen a day ago, both new: 0.9.3
    // weighs them 600 : 600/(600 + 86 400), about 145 : 1; btcd evenly.
    let (fresh, stale) = (sa("1.1.1.1:8333"), sa("2.2.2.2:8333"));
    let now = t(100_000);
    let picks = |flavor| {
        let mut book = AddrBook::keyed_as(flavor, [3, 4], 5);
        book.add_seen(now, fresh, IpAddr::from([5, 5, 5, 5]), now);
        book.add_seen(now, stale, IpAddr::from([6, 6, 6, 6]), t(100_000 - 86_400));
        (0..400)
            .filter(|_| book.get_address(now) == Some(fresh))
            .count()
    };
    let (biased, even) = (picks(Flavor::Bitcoind093), picks(Flavor::Btcd));
    assert!(biased > 380, "fresh picked {biased} of 400 by 0.9.3");
    assert!(
        (150..250).contains(&even),
        "fresh picked {even} of 400 by btcd"
    );
}

#[test]
fn a_good_address_becomes_fresh() {
    let mut book = book();
    let a = sa("1.2.3.4:8333");
    book.add_seen(t(50), a, IpAddr::from([5, 5, 5, 5]), t(0));
    book.good(t(50), a);
    assert_eq!(book.get(a).unwrap().timestamp(), t(50));
    // btcd's keeps the gossiped time.
    let mut btcd = AddrBook::keyed([3, 4], 5);
    btcd.add_seen(t(50), a, IpAddr::from([5, 5, 5, 5]), t(0));
    btcd.good(t(50), a);
    assert_eq!(btcd.get(a).unwrap().timestamp(), t(0));
}

#[test]
fn a_full_tried_bucket_evicts_one_of_its_older_entries() {
    let mut book = book();
    let target = book.key.tried_bucket(&book.geometry, sa("1.2.0.1:8333"));
    let same: Vec<SocketAddr> = (0..=u16::MAX)
        .map(|i| {
            let [c, d] = i.to_be_bytes();
            SocketAddr::from(([1, 2, c, d], 8333))
        })
        .filter(|&a| book.key.tried_bucket(&book.geometry, a) == target)
        .take(65)
        .collect();
    assert_eq!(same.len(), 65);
    for (i, &a) in same.iter().enumerate() {
        let src = IpAddr::from(Ipv4Addr::from(0x2000_0000 + ((i as u32) << 16)));
        book.add(t(0), a, src);
        // Each succeeds a second after the one before.
        book.good(t(i as u64), a);
    }
    assert_eq!(book.tried_len(), 64);
    let evicted: Vec<usize> = (0..64)
        .filter(|&i| !book.get(same[i]).unwrap().is_tried())
        .collect();
    // Of 4 distinct entries inspected, the one that succeeded first goes:
    // never one of the 3 most recent.
    assert_eq!(evicted.len(), 1, "{evicted:?}");
    assert!(evicted[0] < 61, "{evicted:?}");
    assert!(book.get(same[64]).unwrap().is_tried());
    check(&book).unwrap();
}

#[cfg(feature = "serde")]
#[test]
fn snapshots_rebuild_with_the_flavours_sizes() {
    let mut book = book();
    book.add(t(0), sa("1.2.3.4:8333"), IpAddr::from([5, 5, 5, 5]));
    book.good(t(1), sa("1.2.3.4:8333"));
    book.add(t(0), sa("5.6.7.8:8333"), IpAddr::from([5, 5, 5, 5]));
    let snap = book.snapshot();
    let back = AddrBook::from_snapshot_as(Flavor::Bitcoind093, &snap, 5).unwrap();
    assert_eq!(back.flavor(), Flavor::Bitcoind093);
    assert_eq!((back.new_len(), back.tried_len()), (1, 1));
    // btcd's larger tables do not fit 0.9.3's.
    let mut wide = snap;
    wide.addresses[0].buckets = vec![300];
    wide.addresses[0].tried = false;
    let err = AddrBook::from_snapshot_as(Flavor::Bitcoind093, &wide, 5).unwrap_err();
    assert!(err.to_string().contains("there are 256"), "{err}");
}
