//! Bitcoin Core's `src/test/addrman_tests.cpp`, ported: each test is named
//! after Core's and checks what Core's checks, with Core's deterministic key
//! (`uint256{1}`) so that bucket numbers and collisions are Core's own.
//!
//! Differences, each forced by something this crate does not have:
//! - I2P addresses (`addrman_select_by_network`, `addrman_select_special`,
//!   `addrman_size`) are replaced by IPv6 ones: the book handles IP
//!   addresses only, and the tests are about networks, not I2P;
//! - `addrman_update_address` keeps its timestamp half: service flags are
//!   not modelled;
//! - Core's `CAddress` without a time carries `TIME_INIT` (1973), which is
//!   what `old` passes here.
//!
//! Core's `peers.dat` tests (`load_addrman`, `load_addrman_corrupted`,
//! `remove_invalid`) test this crate's own snapshot format instead, in
//! `snapshot.rs`. Not ported: the asmap tests (`caddrinfo_get_tried_bucket`,
//! `caddrinfo_get_new_bucket`, `addrman_serialization`), as this book has
//! no asmap.

use std::collections::BTreeSet;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::*;

/// The test clock (Core's tests read the wall clock).
const NOW: Instant = Instant::from_secs(1_700_000_000);
/// Core `TIME_INIT`: the time of an address gossiped without one.
const OLD: Instant = Instant::from_secs(100_000_000);

fn book() -> AddrMan {
    AddrMan::new(BucketKey::core_test_key(), 0)
}

fn service(text: &str) -> PeerAddr {
    text.parse()
        .or_else(|_| format!("{text}:0").parse())
        .unwrap_or_else(|e| panic!("bad test address {text:?}: {e}"))
}

fn ip(text: &str) -> Host {
    text.parse()
        .unwrap_or_else(|e| panic!("bad test address {text:?}: {e}"))
}

/// Core `Add({CAddress(addr, NODE_NONE)}, source)`: no timestamp, no penalty.
fn add(book: &mut AddrMan, addr: &str, source: &str) -> bool {
    add_seen(book, addr, source, OLD)
}

fn add_seen(book: &mut AddrMan, addr: &str, source: &str, seen: Instant) -> bool {
    book.add(NOW, &[(service(addr), seen)], ip(source), Duration::ZERO) > 0
}

fn good(book: &mut AddrMan, addr: &str) -> bool {
    book.good(NOW, service(addr))
}

/// Core `(HashWriter{} << n).GetHash()` for an `int`.
fn hashed_key(n: i32) -> BucketKey {
    let once = Sha256::digest(n.to_le_bytes());
    BucketKey::from_bytes(Sha256::digest(once).into())
}

fn checked(book: &AddrMan) {
    book.check()
        .unwrap_or_else(|e| panic!("inconsistent book: {e}"));
}

#[test]
fn addrman_simple() {
    let mut book = book();
    assert_eq!(book.len(), 0);
    assert_eq!(book.select(NOW, false, &[]), None);

    assert!(add(&mut book, "250.1.1.1:8333", "252.2.2.2"));
    assert_eq!(book.len(), 1);
    assert_eq!(
        book.select(NOW, false, &[]),
        Some(service("250.1.1.1:8333"))
    );

    // The same address again is not added.
    assert!(!add(&mut book, "250.1.1.1:8333", "252.2.2.2"));
    assert_eq!(book.len(), 1);

    assert!(add(&mut book, "250.1.1.2:8333", "252.2.2.2"));
    assert!(!book.is_empty());

    let mut book = AddrMan::new(BucketKey::core_test_key(), 0);
    let both = [
        (service("250.1.1.3:8333"), OLD),
        (service("250.1.1.4:8333"), OLD),
    ];
    assert!(book.add(NOW, &both, ip("252.2.2.2"), Duration::ZERO) > 0);
    assert!(!book.is_empty());
    checked(&book);
}

#[test]
fn addrman_ports() {
    let mut book = book();
    assert!(add(&mut book, "250.1.1.1:8333", "252.2.2.2"));
    assert_eq!(book.len(), 1);

    // Same IP, other port: another address.
    assert!(add(&mut book, "250.1.1.1:8334", "252.2.2.2"));
    assert_eq!(book.len(), 2);
    let picked = book.select(NOW, false, &[]).unwrap();
    assert!(picked == service("250.1.1.1:8333") || picked == service("250.1.1.1:8334"));

    // Only the port that succeeded moves to tried.
    assert!(good(&mut book, "250.1.1.1:8334"));
    assert_eq!(book.len(), 2);
    assert_eq!(book.select(NOW, true, &[]), Some(service("250.1.1.1:8333")));
    checked(&book);
}

#[test]
fn addrman_select() {
    let mut book = book();
    assert_eq!(book.select(NOW, false, &[]), None);
    assert_eq!(book.select(NOW, true, &[]), None);

    let addr1 = service("250.1.1.1:8333");
    assert!(add(&mut book, "250.1.1.1:8333", "252.2.2.2"));
    assert_eq!(book.len(), 1);
    assert_eq!(book.select(NOW, true, &[]), Some(addr1));
    assert_eq!(book.select(NOW, false, &[]), Some(addr1));

    assert!(good(&mut book, "250.1.1.1:8333"));
    assert_eq!(book.len(), 1);
    assert_eq!(book.select(NOW, true, &[]), None);
    assert_eq!(book.select(NOW, false, &[]), Some(addr1));

    assert!(add(&mut book, "250.3.1.1:8333", "250.3.1.1"));
    assert_eq!(book.select(NOW, true, &[]), Some(service("250.3.1.1:8333")));

    assert!(add(&mut book, "250.3.2.2:9999", "250.3.1.1"));
    assert!(add(&mut book, "250.3.3.3:9999", "250.4.1.1"));

    for addr in ["250.4.4.4:8333", "250.4.5.5:7777"] {
        assert!(add(&mut book, addr, "250.3.2.2"));
        assert!(good(&mut book, addr));
    }
    assert!(add(&mut book, "250.4.6.6:8333", "250.1.1.3"));
    assert!(good(&mut book, "250.4.6.6:8333"));

    // 6 addresses and the one from before: no collision with Core's key.
    assert_eq!(book.len(), 7);

    // Both tables are picked from, whatever the port.
    let ports: BTreeSet<u16> = (0..20)
        .map(|_| book.select(NOW, false, &[]).unwrap().port())
        .collect();
    assert_eq!(ports.len(), 3);
    checked(&book);
}

#[test]
fn addrman_select_by_network() {
    let (v4, v6) = (Network::Ipv4, Network::Ipv6);
    let mut book = book();
    assert_eq!(book.select(NOW, true, &[v4]), None);
    assert_eq!(book.select(NOW, false, &[v4]), None);

    let addr1 = service("250.1.1.1:8333");
    assert!(add(&mut book, "250.1.1.1:8333", "252.2.2.2"));
    assert_eq!(book.select(NOW, true, &[v4]), Some(addr1));
    assert_eq!(book.select(NOW, false, &[v4]), Some(addr1));
    assert_eq!(book.select(NOW, false, &[v6]), None);
    assert_eq!(book.select(NOW, true, &[v6]), None);
    assert_eq!(book.select(NOW, false, &[]), Some(addr1));

    // Core uses an I2P address here.
    let other = service("[2a01:4f8::1]:8333");
    assert!(add(&mut book, "[2a01:4f8::1]:8333", "252.2.2.2"));
    assert_eq!(book.select(NOW, true, &[v6]), Some(other));
    assert_eq!(book.select(NOW, false, &[v6]), Some(other));
    assert_eq!(book.select(NOW, false, &[v4]), Some(addr1));
    assert!(book.select(NOW, false, &[v4, v6]).is_some());

    assert!(book.good(NOW, other));
    assert_eq!(book.select(NOW, true, &[v6]), None);
    assert_eq!(book.select(NOW, false, &[v6]), Some(other));

    let other2 = service("[2a02:6b8::2]:8333");
    assert!(add(&mut book, "[2a02:6b8::2]:8333", "252.2.2.2"));
    assert_eq!(book.select(NOW, true, &[v6]), Some(other2));

    // Both tables are searched.
    let (mut new_seen, mut tried_seen) = (false, false);
    for _ in 0..255 {
        if new_seen && tried_seen {
            break;
        }
        let picked = book.select(NOW, false, &[v6]).unwrap();
        assert!(picked == other || picked == other2);
        tried_seen |= picked == other;
        new_seen |= picked == other2;
    }
    assert!(new_seen && tried_seen);
    checked(&book);
}

#[test]
fn addrman_select_special() {
    // Not Core's key: a pass must not depend on where the key puts things.
    let mut book = AddrMan::new(BucketKey::from_bytes([0x5a; 32]), 99);
    // Core uses an I2P address here.
    let other = service("[2a01:4f8::1]:8333");
    book.add(NOW, &[(other, OLD)], ip("252.2.2.2"), Duration::ZERO);
    assert!(book.good(NOW, other));

    let addr1 = service("250.1.1.3:8333");
    assert!(add(&mut book, "250.1.1.3:8333", "252.2.2.2"));
    // The only IPv4 address is new: the new table is searched even though
    // new_only is false (picking a table at random would fail half the time).
    for _ in 0..20 {
        assert_eq!(book.select(NOW, false, &[Network::Ipv4]), Some(addr1));
    }
}

#[test]
fn addrman_new_collisions() {
    let mut book = book();
    let mut n = 0;
    // 250.1.1.1 to 250.1.1.22 do not collide with Core's key.
    while n < 22 {
        n += 1;
        assert!(add(&mut book, &format!("250.1.1.{n}"), "252.2.2.2"));
        assert_eq!(book.len(), n);
    }
    // The 23rd takes the slot of an earlier (terrible, as it has no time)
    // address.
    n += 1;
    assert!(add(&mut book, &format!("250.1.1.{n}"), "252.2.2.2"));
    assert_eq!(book.len(), n - 1);
    n += 1;
    assert!(add(&mut book, &format!("250.1.1.{n}"), "252.2.2.2"));
    assert_eq!(book.len(), n - 1);
    checked(&book);
}

#[test]
fn addrman_new_multiplicity() {
    let mut book = book();
    let addr = service("253.3.3.3:8333");
    let start = NOW;
    let source = |i: u32| ip(&format!("{}.{}.1.1", i % 256, i >> 8));

    // Without a newer time, it stays in one bucket.
    for i in 1..20 {
        book.add(NOW, &[(addr, start)], source(i), Duration::ZERO);
    }
    assert_eq!(book.position(addr).unwrap().multiplicity, 1);
    assert_eq!(book.len(), 1);

    // With newer times it spreads, to at most 8 buckets.
    for i in 1..400u32 {
        let seen = start + Duration::from_secs(u64::from(i));
        book.add(NOW, &[(addr, seen)], source(i), Duration::ZERO);
    }
    assert_eq!(book.position(addr).unwrap().multiplicity, 8);
    assert_eq!(book.len(), 1);
    checked(&book);
}

#[test]
fn addrman_tried_collisions() {
    let mut book = book();
    let mut n = 0;
    // 250.1.1.1 to 250.1.1.35 do not collide in tried with Core's key.
    while n < 35 {
        n += 1;
        let addr = format!("250.1.1.{n}");
        assert!(add(&mut book, &addr, "252.2.2.2"));
        assert!(good(&mut book, &addr));
    }
    n += 1;
    let addr = format!("250.1.1.{n}");
    assert!(add(&mut book, &addr, "252.2.2.2"));
    assert!(!good(&mut book, &addr), "collides: waits for a test");
    n += 1;
    let addr = format!("250.1.1.{n}");
    assert!(add(&mut book, &addr, "252.2.2.2"));
    assert!(good(&mut book, &addr));
    checked(&book);
}

#[test]
fn addrman_getaddr() {
    let mut book = book();
    assert!(book.get_addr(NOW, 0, 0, None, true).is_empty());

    let source1 = "250.1.2.1";
    let source2 = "250.2.3.3";
    for addr in ["250.250.2.1:8333", "251.252.2.3:8333", "252.254.4.5:8333"] {
        assert!(add_seen(&mut book, addr, source1, NOW));
    }
    for addr in ["250.251.2.2:9999", "252.253.3.4:8333"] {
        assert!(add_seen(&mut book, addr, source2, NOW));
    }
    assert_eq!(book.get_addr(NOW, 0, 0, None, true).len(), 5);
    // Nodes answer with 23 %: of 5, 1.
    assert_eq!(book.get_addr(NOW, 2500, 23, None, true).len(), 1);

    assert!(good(&mut book, "250.250.2.1:8333"));
    assert!(good(&mut book, "250.251.2.2:9999"));
    assert_eq!(book.get_addr(NOW, 0, 0, None, true).len(), 5);
    assert_eq!(book.get_addr(NOW, 2500, 23, None, true).len(), 1);

    for i in 1..(8 * 256) {
        let addr = format!("{}.{}.1.23", i % 256, i >> 8);
        add_seen(&mut book, &addr, &addr, NOW);
        if i % 8 == 0 {
            good(&mut book, &addr);
        }
    }
    let sample = book.get_addr(NOW, 2500, 23, None, true);
    assert_eq!(sample.len(), book.len() * 23 / 100);
    assert_eq!(sample.len(), 461);
    // Fewer than were added: collisions.
    assert_eq!(book.len(), 2006);
    checked(&book);
}

#[test]
fn getaddr_unfiltered() {
    let mut book = book();
    let source = "250.1.2.1";
    assert!(add_seen(&mut book, "250.250.2.1:8333", source, NOW));
    // No time: terrible.
    assert!(add(&mut book, "250.251.2.2:9999", source));

    let addr3 = service("250.251.2.3:9998");
    book.good(NOW, addr3);
    assert!(add_seen(&mut book, "250.251.2.3:9998", source, NOW));
    // Three counted failures, none in the last minute: terrible.
    for _ in 0..3 {
        book.attempt(NOW - Duration::from_secs(61), addr3, true);
    }
    assert_eq!(book.get_addr(NOW, 0, 0, None, true).len(), 1);
    assert_eq!(book.get_addr(NOW, 0, 0, None, false).len(), 3);
    checked(&book);
}

#[test]
fn caddrinfo_get_tried_bucket_legacy() {
    let (key1, key2) = (hashed_key(1), hashed_key(2));
    let addr1 = service("250.1.1.1:8333");
    let addr2 = service("250.1.1.1:9999");

    assert_eq!(key1.tried_bucket(addr1), 40);
    // The key moves the bucket: a failure here would be a security issue.
    assert_ne!(key1.tried_bucket(addr1), key2.tried_bucket(addr1));
    // The port is part of the address.
    assert_ne!(key1.tried_bucket(addr1), key1.tried_bucket(addr2));

    let same_group: BTreeSet<usize> = (0..255)
        .map(|i| key1.tried_bucket(service(&format!("250.1.1.{i}"))))
        .collect();
    // One /16 reaches exactly 8 tried buckets.
    assert_eq!(same_group.len(), 8);

    let groups: BTreeSet<usize> = (0..255)
        .map(|j| key1.tried_bucket(service(&format!("250.{j}.1.1"))))
        .collect();
    assert_eq!(groups.len(), 160);
}

#[test]
fn caddrinfo_get_new_bucket_legacy() {
    let (key1, key2) = (hashed_key(1), hashed_key(2));
    let addr1 = service("250.1.2.1:8333");
    let addr2 = service("250.1.2.1:9999");
    let source1 = ip("250.1.2.1");

    assert_eq!(key1.new_bucket(addr1, source1), 786);
    assert_ne!(
        key1.new_bucket(addr1, source1),
        key2.new_bucket(addr1, source1)
    );
    // The port does not count.
    assert_eq!(
        key1.new_bucket(addr1, source1),
        key1.new_bucket(addr2, source1)
    );

    let same_group: BTreeSet<usize> = (0..255)
        .map(|i| {
            let text = format!("250.1.1.{i}");
            key1.new_bucket(service(&text), ip(&text))
        })
        .collect();
    assert_eq!(same_group.len(), 1);

    let one_source: BTreeSet<usize> = (0..4 * 255)
        .map(|j| {
            let addr = service(&format!("{}.{}.1.1", 250 + j / 255, j % 256));
            key1.new_bucket(addr, ip("251.4.1.1"))
        })
        .collect();
    // One source group reaches at most 64 new buckets.
    assert!(one_source.len() <= 64, "{}", one_source.len());

    let many_sources: BTreeSet<usize> = (0..255)
        .map(|p| key1.new_bucket(service("250.1.1.1"), ip(&format!("250.{p}.1.1"))))
        .collect();
    assert!(many_sources.len() > 64, "{}", many_sources.len());
}

#[test]
fn addrman_selecttriedcollision() {
    let mut book = book();
    assert_eq!(book.select_tried_collision(), None);
    for i in 1..23 {
        let addr = format!("250.1.1.{i}");
        assert!(add(&mut book, &addr, "252.2.2.2"));
        assert!(good(&mut book, &addr));
        assert_eq!(book.select_tried_collision(), None);
    }
    // Already tried: not a collision.
    for i in 1..23 {
        assert!(!good(&mut book, &format!("250.1.1.{i}")));
        assert_eq!(book.select_tried_collision(), None);
    }
    checked(&book);
}

#[test]
fn addrman_noevict() {
    let mut book = book();
    for i in 1..36 {
        let addr = format!("250.1.1.{i}");
        assert!(add(&mut book, &addr, "252.2.2.2"));
        assert!(good(&mut book, &addr));
    }
    // 36 collides with 19.
    assert!(add(&mut book, "250.1.1.36", "252.2.2.2"));
    assert!(!good(&mut book, "250.1.1.36"));
    assert_eq!(book.select_tried_collision(), Some(service("250.1.1.19:0")));

    // 19 succeeded recently: it stays, and 36 stays new.
    book.resolve_collisions(NOW);
    assert_eq!(book.select_tried_collision(), None);

    for i in 37..59 {
        let addr = format!("250.1.1.{i}");
        assert!(add(&mut book, &addr, "252.2.2.2"));
        assert!(good(&mut book, &addr));
    }
    // 59 collides with 10.
    assert!(add(&mut book, "250.1.1.59", "252.2.2.2"));
    assert!(!good(&mut book, "250.1.1.59"));
    assert_eq!(book.select_tried_collision(), Some(service("250.1.1.10:0")));

    // 36 again: known, and still colliding with 19.
    assert!(!add(&mut book, "250.1.1.36", "252.2.2.2"));
    assert!(!good(&mut book, "250.1.1.36"));
    assert!(book.select_tried_collision().is_some());

    book.resolve_collisions(NOW);
    assert_eq!(book.select_tried_collision(), None);
    checked(&book);
}

#[test]
fn addrman_evictionworks() {
    let mut book = book();
    assert_eq!(book.select_tried_collision(), None);
    for i in 1..36 {
        let addr = format!("250.1.1.{i}");
        assert!(add(&mut book, &addr, "252.2.2.2"));
        assert!(good(&mut book, &addr));
    }
    let addr36 = service("250.1.1.36");
    assert!(add(&mut book, "250.1.1.36", "252.2.2.2"));
    assert!(!book.good(NOW, addr36));
    let addr19 = book.select_tried_collision().unwrap();
    assert_eq!(addr19, service("250.1.1.19:0"));

    // 19's test fails: its last success is long ago, a try a minute ago.
    assert!(!book.good(Instant::from_secs(1), addr19));
    book.attempt(NOW - Duration::from_secs(61), addr19, false);

    // 36 takes 19's place.
    book.resolve_collisions(NOW);
    assert_eq!(book.select_tried_collision(), None);
    assert!(book.position(addr36).unwrap().tried);

    // 36 is tried already: no collision.
    assert!(!book.good(NOW, addr36));
    assert_eq!(book.select_tried_collision(), None);

    // 19 now collides with 36.
    assert!(!book.good(NOW, addr19));
    assert_eq!(book.select_tried_collision(), Some(addr36));

    // Untested for four hours: 19 evicts 36.
    book.resolve_collisions(NOW + Duration::from_secs(4 * 60 * 60));
    assert_eq!(book.select_tried_collision(), None);
    assert!(book.position(addr19).unwrap().tried);
    assert!(!book.position(addr36).unwrap().tried);
    checked(&book);
}

#[test]
fn addrman_update_address() {
    let mut book = book();
    let addr = service("250.1.1.1:8333");
    let start = NOW - Duration::from_secs(10_000);
    assert!(add_seen(&mut book, "250.1.1.1:8333", "252.2.2.2", start));
    assert_eq!(book.len(), 1);

    // Another port is another address: nothing changes.
    book.connected(NOW, service("250.1.1.1:8334"));
    assert_eq!(book.get(addr).unwrap().time(), start);

    book.connected(NOW, addr);
    assert!(book.get(addr).unwrap().time() >= start + Duration::from_secs(10_000));
    checked(&book);
}

#[test]
fn addrman_size() {
    let (v4, v6) = (Some(Network::Ipv4), Some(Network::Ipv6));
    let mut book = book();
    assert_eq!(book.len_of(None, None), 0);
    assert_eq!(book.len_of(v4, None), 0);
    assert_eq!(book.len_of(None, Some(true)), 0);
    assert_eq!(book.len_of(v4, Some(false)), 0);

    assert!(add(&mut book, "250.1.1.1:8333", "252.2.2.2"));
    assert!(good(&mut book, "250.1.1.1:8333"));
    assert!(add(&mut book, "250.1.1.2:8333", "252.2.2.2"));
    assert_eq!(book.len_of(None, None), 2);
    assert_eq!(book.len_of(v4, None), 2);
    assert_eq!(book.len_of(None, Some(true)), 1);
    assert_eq!(book.len_of(None, Some(false)), 1);
    assert_eq!(book.len_of(v4, Some(true)), 1);
    assert_eq!(book.len_of(v4, Some(false)), 1);

    // Core uses an I2P address here.
    assert!(add(&mut book, "[2a01:4f8::1]:8333", "252.2.2.2"));
    assert_eq!(book.len_of(None, None), 3);
    assert_eq!(book.len_of(v4, None), 2);
    assert_eq!(book.len_of(v6, None), 1);
    assert_eq!(book.len_of(v6, Some(true)), 1);
    assert_eq!(book.len_of(None, Some(true)), 2);
    assert_eq!(book.len_of(None, Some(false)), 1);
    checked(&book);
}
