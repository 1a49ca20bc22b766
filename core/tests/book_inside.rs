//! The address book inside the manager (`Config::address_book`): the
//! manager answers its own address requests, learns from what peers
//! advertise under Bitcoin Core's caps, answers `getaddr`, and moves an
//! address to the tried table only after a handshake.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use connmgr::{
    Action, AddressBook, Advertised, Config, ConnId, GroupKey, Ignored, Input, Instant, ListenerId,
    PeerAddr, PeerEvent,
};

const T: Instant = Instant::from_secs(1_700_000_000);

fn config(book: AddressBook) -> Config {
    Config {
        address_book: book,
        handshake_timeout: Duration::ZERO,
        ..Config::default()
    }
}

fn started(book: AddressBook) -> Driver {
    let mut d = Driver::new(config(book));
    d.now = T;
    d
}

fn advertised(addrs: impl IntoIterator<Item = String>, seen: Instant) -> Vec<Advertised> {
    addrs
        .into_iter()
        .map(|a| Advertised::new(addr::<PeerAddr>(&a), seen))
        .collect()
}

/// 60 addresses: 5 /16s of 8, and 20 /16s of one.
fn sixty() -> Vec<Advertised> {
    let crowded = (0..5).flat_map(|g| (0..8).map(move |h| format!("{}.1.{h}.1:8333", 20 + g)));
    let single = (0..20).map(|g| format!("{}.9.9.9:8333", 40 + g));
    advertised(crowded.chain(single), T)
}

fn dials(actions: &[Action]) -> Vec<(ConnId, u32, connmgr::PeerAddr)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Dial {
                id, attempt, addr, ..
            } => Some((*id, *attempt, *addr)),
            _ => None,
        })
        .collect()
}

/// Starts, connects every dial at once, and returns the addresses dialled.
fn start_and_connect(d: &mut Driver) -> Vec<(ConnId, connmgr::PeerAddr)> {
    let mut pending = dials(&d.actions(Input::Start));
    let mut connected = Vec::new();
    for _ in 0..100 {
        let Some((id, attempt, a)) = pending.pop() else {
            break;
        };
        let result = Ok(());
        pending.extend(dials(&d.actions(Input::DialResult {
            id,
            attempt,
            result,
        })));
        connected.push((id, a));
    }
    connected
}

#[test]
fn the_book_inside_answers_its_own_requests_one_outbound_per_group() {
    for kind in [AddressBook::Core, AddressBook::Btcd] {
        let mut d = started(kind);
        d.actions(Input::Learned {
            from: None,
            addrs: sixty(),
        });
        let connected = start_and_connect(&mut d);
        assert!(
            d.log
                .iter()
                .all(|(_, a)| !matches!(a, Action::RequestAddress { .. })),
            "{kind:?}: no request leaves the manager"
        );
        // 8 full-relay and 2 block-relay-only.
        assert_eq!(connected.len(), 10, "{kind:?}");
        let groups: BTreeSet<GroupKey> = connected
            .iter()
            .map(|(_, a)| GroupKey::of_host(a.host()))
            .collect();
        assert_eq!(groups.len(), 10, "{kind:?}: one per group: {connected:?}");
        // All from one source (the application): a few may share a slot.
        let counts = d.mgr.book_counts().unwrap();
        assert!(
            (50..=60).contains(&(counts.new + counts.tried)),
            "{kind:?}: {counts:?}"
        );
    }
}

#[test]
fn only_a_handshake_moves_an_address_to_tried() {
    let mut d = started(AddressBook::Core);
    d.actions(Input::Learned {
        from: None,
        addrs: sixty(),
    });
    let connected = start_and_connect(&mut d);
    assert_eq!(
        d.mgr.book_counts().unwrap().tried,
        0,
        "TCP alone proves nothing"
    );
    let (id, _) = connected[0];
    d.actions(Input::Handshaked { id });
    assert_eq!(d.mgr.book_counts().unwrap().tried, 1);
}

#[test]
fn an_empty_book_fails_each_request_and_then_throttles() {
    let mut d = started(AddressBook::Core);
    let actions = d.actions(Input::Start);
    let stats = d.mgr.stats();
    // Each failure is replaced at once until the throttle, then waits;
    // the other 9 of the 10 requests (8 full-relay, 2 block-relay-only)
    // fail once each on top.
    assert_eq!(
        stats.address_failures,
        u64::from(Config::default().max_failed_attempts) + 9
    );
    assert!(actions
        .iter()
        .any(|a| matches!(a, Action::RetryAfter { .. })));
    assert!(dials(&actions).is_empty());
}

/// A connection from `remote` (inbound), handshaked.
fn ready_inbound(d: &mut Driver, remote: &str) -> ConnId {
    let id = d.id(Input::Accepted {
        listener: ListenerId(0),
        remote: addr(remote),
        network: None,
    });
    d.actions(Input::Handshaked { id });
    id
}

#[test]
fn addresses_count_only_from_peers_that_completed_their_handshake() {
    let mut d = started(AddressBook::Core);
    d.actions(Input::Start);
    let id = d.id(Input::Accepted {
        listener: ListenerId(0),
        remote: addr("203.0.114.5:50000"),
        network: None,
    });
    let addrs = advertised(["45.1.1.1:8333".to_owned()], T);
    let (result, _) = d.feed(Input::Learned {
        from: Some(id),
        addrs: addrs.clone(),
    });
    assert_eq!(result, Err(Ignored::NotReady(id)));
    d.actions(Input::Handshaked { id });
    d.feed(Input::Learned {
        from: Some(id),
        addrs,
    })
    .0
    .unwrap();
    assert_eq!(d.mgr.stats().addresses_learned, 1);
}

#[test]
fn a_message_of_over_1000_addresses_is_ignored_whole() {
    let mut d = started(AddressBook::Core);
    d.actions(Input::Start);
    let id = ready_inbound(&mut d, "203.0.114.5:50000");
    let flood = advertised(
        (0..1001).map(|i| format!("45.{}.{}.1:8333", i / 256, i % 256)),
        T,
    );
    let (result, _) = d.feed(Input::Learned {
        from: Some(id),
        addrs: flood,
    });
    assert_eq!(result, Err(Ignored::TooManyAddresses { id, count: 1001 }));
    assert_eq!(d.mgr.book_counts().unwrap().new, 0);
    assert_eq!(d.mgr.stats().address_messages_oversized, 1);
}

#[test]
fn a_peer_gets_a_tenth_of_an_address_per_second() {
    let mut d = started(AddressBook::Core);
    d.actions(Input::Start);
    let id = ready_inbound(&mut d, "203.0.114.5:50000");
    let batch = |n: u32| advertised((0..10).map(move |i| format!("{}.{i}.1.1:8333", 45 + n)), T);
    // An inbound peer starts with one token.
    d.actions(Input::Learned {
        from: Some(id),
        addrs: batch(0),
    });
    assert_eq!(d.mgr.stats().addresses_offered, 1);
    assert_eq!(d.mgr.stats().addresses_rate_limited, 9);
    // 100 seconds later: 10 more.
    d.now = T + Duration::from_secs(100);
    d.actions(Input::Learned {
        from: Some(id),
        addrs: batch(1),
    });
    assert_eq!(d.mgr.stats().addresses_offered, 11);
    assert_eq!(d.mgr.stats().addresses_rate_limited, 9);
}

#[cfg(feature = "serde")]
#[test]
fn unbelievable_times_become_five_days_ago_and_port_0_is_dropped() {
    let mut d = started(AddressBook::Core);
    let future = T + Duration::from_secs(3600);
    let addrs = vec![
        Advertised::new(addr::<PeerAddr>("45.1.1.1:8333"), future),
        Advertised::new(addr::<PeerAddr>("45.2.1.1:8333"), Instant::from_secs(5)),
        Advertised::new(addr::<PeerAddr>("45.3.1.1:0"), T),
    ];
    d.actions(Input::Learned { from: None, addrs });
    let Some(connmgr::BookSnapshot::Core(book)) = d.mgr.book_snapshot() else {
        panic!("a Core book")
    };
    assert_eq!(book.addresses.len(), 2);
    let five_days_ago = T - Duration::from_secs(5 * 24 * 3600);
    assert!(
        book.addresses.iter().all(|e| e.time == five_days_ago),
        "{book:?}"
    );
}

#[test]
fn getaddr_is_answered_once_and_only_to_inbound_peers() {
    let mut d = started(AddressBook::Core);
    d.actions(Input::Learned {
        from: None,
        addrs: sixty(),
    });
    let outbound = start_and_connect(&mut d)[0].0;
    d.actions(Input::Handshaked { id: outbound });
    let (result, _) = d.feed(Input::AddressesRequested { id: outbound });
    assert!(
        matches!(result, Err(Ignored::NotAllowed { .. })),
        "{result:?}"
    );

    let inbound = ready_inbound(&mut d, "203.0.114.5:50000");
    let actions = d.actions(Input::AddressesRequested { id: inbound });
    let [Action::NotifyPeer(PeerEvent::ShareAddresses { id, addrs })] = &actions[..] else {
        panic!("{actions:?}")
    };
    assert_eq!(*id, inbound);
    // 23 % of the book.
    let counts = d.mgr.book_counts().unwrap();
    assert_eq!(addrs.len(), (counts.new + counts.tried) * 23 / 100);
    let (again, _) = d.feed(Input::AddressesRequested { id: inbound });
    assert!(matches!(again, Err(Ignored::NotAllowed { .. })));

    // Another peer within the day gets the same sample: asking from many
    // connections does not reveal more of the book.
    let other = ready_inbound(&mut d, "198.51.99.5:50000");
    let second = d.actions(Input::AddressesRequested { id: other });
    let [Action::NotifyPeer(PeerEvent::ShareAddresses { addrs: same, .. })] = &second[..] else {
        panic!("{second:?}")
    };
    assert_eq!(same, addrs);
}

#[test]
fn without_a_book_inside_address_inputs_are_ignored() {
    let mut d = started(AddressBook::External);
    let (result, _) = d.feed(Input::Learned {
        from: None,
        addrs: sixty(),
    });
    assert_eq!(result, Err(Ignored::NoBook));
    assert_eq!(d.mgr.book_counts(), None);
}

#[cfg(feature = "serde")]
#[test]
fn failed_dials_count_against_an_address_only_while_online() {
    // Offline (no outbound connection yet): a failure is an attempt, not a
    // strike, so the book keeps the address in good standing.
    let mut d = started(AddressBook::Core);
    d.actions(Input::Learned {
        from: None,
        addrs: sixty(),
    });
    let actions = d.actions(Input::Start);
    let (id, attempt, failed_addr) = dials(&actions)[0];
    let result = Err(connmgr::DialError::Refused);
    d.actions(Input::DialResult {
        id,
        attempt,
        result,
    });
    let Some(connmgr::BookSnapshot::Core(book)) = d.mgr.book_snapshot() else {
        panic!()
    };
    let entry = book
        .addresses
        .iter()
        .find(|e| e.addr == failed_addr)
        .unwrap();
    assert_eq!(entry.attempts, 0);
    assert_eq!(entry.last_try, Some(T));
}

#[cfg(feature = "serde")]
#[test]
fn a_saved_btcd_book_moves_into_a_core_book() {
    let mut btcd = started(AddressBook::Btcd);
    btcd.actions(Input::Learned {
        from: None,
        addrs: sixty(),
    });
    let saved = btcd.mgr.book_snapshot().unwrap();
    let mut config = config(AddressBook::Core);
    config.rng_seed = Some(connmgr::Seed::from_u64(4));
    let (mgr, restored) = connmgr::ConnManager::with_book(config, T, &saved).unwrap();
    assert_eq!(restored.migrated_from, Some(AddressBook::Btcd));
    assert_eq!(restored.kept + restored.dropped, 60);
    assert!(restored.kept >= 55, "{restored:?}");
    assert_eq!(mgr.book_counts().unwrap().new, restored.kept);
    mgr.check_book().unwrap();
}

#[test]
fn a_fresh_address_is_relayed_when_new_to_the_book_and_not_echoed() {
    let mut d = started(AddressBook::Core);
    d.actions(Input::Start);
    let peers: Vec<ConnId> = ["203.0.114.5:50000", "198.51.99.5:50000", "192.0.3.5:50000"]
        .into_iter()
        .map(|remote| ready_inbound(&mut d, remote))
        .collect();
    let news = advertised(["45.1.1.1:8333".to_owned()], T);
    let relayed = |actions: &[Action]| -> Vec<ConnId> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::NotifyPeer(PeerEvent::ShareAddresses { id, addrs }) => {
                    assert_eq!(addrs.len(), 1);
                    Some(*id)
                }
                _ => None,
            })
            .collect()
    };
    let first = d.actions(Input::Learned {
        from: Some(peers[0]),
        addrs: news.clone(),
    });
    let to = relayed(&first);
    assert_eq!(to.len(), 2, "{first:?}");
    assert!(!to.contains(&peers[0]), "never back to its sender");
    // The peers it went to pass it on to us again: known, so it stops here.
    for &peer in &to {
        let echo = d.actions(Input::Learned {
            from: Some(peer),
            addrs: news.clone(),
        });
        assert_eq!(relayed(&echo), vec![], "{echo:?}");
    }
    assert_eq!(d.mgr.stats().addresses_relayed, 2);
}

#[test]
fn the_getaddr_sample_is_redrawn_once_the_book_has_doubled() {
    let mut d = started(AddressBook::Core);
    d.actions(Input::Learned {
        from: None,
        addrs: sixty(),
    });
    d.actions(Input::Start);
    let ask = |d: &mut Driver, remote: &str| -> Vec<Advertised> {
        let id = ready_inbound(d, remote);
        let actions = d.actions(Input::AddressesRequested { id });
        let [Action::NotifyPeer(PeerEvent::ShareAddresses { addrs, .. })] = &actions[..] else {
            panic!("{actions:?}")
        };
        addrs.clone()
    };
    let young = ask(&mut d, "203.0.114.5:50000");
    let size = |d: &Driver| {
        let counts = d.mgr.book_counts().unwrap();
        counts.new + counts.tried
    };
    let drawn_from = size(&d);
    // Some growth, short of doubling: the same sample.
    let more = |from: u32, n: u32| {
        advertised(
            (from..from + n).map(|i| format!("{}.{}.7.7:8333", 60 + i / 200, i % 200)),
            T,
        )
    };
    d.actions(Input::Learned {
        from: None,
        addrs: more(0, 20),
    });
    assert!(size(&d) < 2 * drawn_from);
    assert_eq!(ask(&mut d, "198.51.99.5:50000"), young);
    // Doubled: a new sample, from the grown book.
    d.actions(Input::Learned {
        from: None,
        addrs: more(20, 200),
    });
    assert!(size(&d) >= 2 * drawn_from);
    let grown = ask(&mut d, "192.0.3.5:50000");
    assert!(
        grown.len() > young.len(),
        "{} vs {}",
        grown.len(),
        young.len()
    );
}

/// bitcoind 0.9.3's book, with btcd's single kind of connection.
fn started_093() -> Driver {
    let mut d = Driver::new(Config {
        address_book: AddressBook::Bitcoind093,
        handshake_timeout: Duration::ZERO,
        ..Config::btcd()
    });
    d.now = T;
    d
}

#[test]
fn bitcoind_093_puts_an_inbound_peer_in_tried_and_core_does_not() {
    for (book, tried) in [(AddressBook::Bitcoind093, 1), (AddressBook::Core, 0)] {
        let mut d = match book {
            AddressBook::Bitcoind093 => started_093(),
            _ => started(book),
        };
        d.actions(Input::Start);
        ready_inbound(&mut d, "203.0.114.5:8333");
        let counts = d.mgr.book_counts().unwrap();
        assert_eq!(counts.tried, tried, "{book:?}");
        d.mgr.check_book().unwrap();
    }
}

#[test]
fn bitcoind_093_takes_a_whole_addr_message() {
    let mut d = started_093();
    d.actions(Input::Start);
    let id = ready_inbound(&mut d, "203.0.114.5:8333");
    let addrs = advertised((0..10).map(|i| format!("45.{i}.1.1:8333")), T);
    d.actions(Input::Learned {
        from: Some(id),
        addrs,
    });
    // 0.9.3 had no per-peer token bucket: all 10, none limited.
    assert_eq!(d.mgr.stats().addresses_offered, 10);
    assert_eq!(d.mgr.stats().addresses_rate_limited, 0);
}
