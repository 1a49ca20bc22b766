//! Books sharing one [`AddressTable`] decide exactly as books with tables
//! of their own, and the table holds only what some book still holds.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::*;

const NOW: Instant = Instant::from_secs(1_700_000_000);

fn addr(n: u32) -> PeerAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0x2c00_0000 + n * 97)), 8333).into()
}

fn source(n: u32) -> Host {
    IpAddr::V4(Ipv4Addr::from(0x5a00_0000 + n * 65_537)).into()
}

/// Drives `book` through adds, handshakes, failures and selections and
/// returns everything it decided.
fn drive(book: &mut AddrMan, salt: u32) -> Vec<Option<PeerAddr>> {
    let mut decided = Vec::new();
    for round in 0..40u32 {
        let now = NOW + Duration::from_secs(u64::from(round) * 97);
        let batch: Vec<_> = (0..50)
            .map(|i| (addr(round * 31 + i * salt), now))
            .collect();
        book.add(now, &batch, source(round % 7), Duration::from_secs(7200));
        for i in 0..5 {
            let picked = book.select(now, i % 2 == 0, &[]);
            if let Some(a) = picked {
                book.attempt(now, a, true);
                if i % 3 == 0 {
                    book.good(now, a);
                }
            }
            decided.push(picked);
        }
        book.resolve_collisions(now);
        decided.push(book.select_tried_collision());
        decided.extend(book.get_addr(now, 10, 23, None, true).into_iter().map(Some));
    }
    book.check().unwrap();
    decided
}

#[test]
fn books_sharing_a_table_decide_as_books_alone() {
    let key = || BucketKey::from_bytes([9; 32]);
    let mut alone = AddrMan::new(key(), 5);
    let mut other_alone = AddrMan::new(key(), 6);
    let table = AddressTable::new();
    let mut shared = AddrMan::new(key(), 5);
    let mut other_shared = AddrMan::new(key(), 6);
    shared.share_addresses(&table);
    other_shared.share_addresses(&table);
    assert_eq!(drive(&mut shared, 3), drive(&mut alone, 3));
    assert_eq!(drive(&mut other_shared, 5), drive(&mut other_alone, 5));
    // The two shared books overlap: the table holds each address once.
    let held = |book: &AddrMan| book.len();
    assert!(table.len() < held(&shared) + held(&other_shared));
    for n in 0..2000 {
        assert_eq!(shared.get(addr(n)), alone.get(addr(n)));
    }
}

#[test]
fn sharing_midway_keeps_the_book_and_frees_its_own_table() {
    let mut book = AddrMan::new(BucketKey::from_bytes([4; 32]), 1);
    let mut twin = AddrMan::new(BucketKey::from_bytes([4; 32]), 1);
    drive(&mut book, 3);
    drive(&mut twin, 3);
    let before: Vec<_> = (0..2000).map(|n| book.get(addr(n))).collect();
    let own = book.addresses.clone();
    assert!(!own.is_empty());
    let table = AddressTable::new();
    book.share_addresses(&table);
    assert!(own.is_empty(), "the book's own table let go of everything");
    assert_eq!(
        (0..2000).map(|n| book.get(addr(n))).collect::<Vec<_>>(),
        before
    );
    book.check().unwrap();
    assert_eq!(drive(&mut book, 7), drive(&mut twin, 7));
}

#[test]
fn a_shared_table_forgets_what_no_book_holds() {
    let table = AddressTable::new();
    let mut book = AddrMan::new(BucketKey::from_bytes([2; 32]), 1);
    book.share_addresses(&table);
    drive(&mut book, 3);
    let copy = book.clone();
    let held = table.len();
    assert!(held > 0);
    drop(book);
    assert_eq!(table.len(), held, "the copy still holds them");
    drop(copy);
    assert!(table.is_empty());
}
