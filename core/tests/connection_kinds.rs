//! Connection kinds beyond btcd's one: block-relay-only connections keep
//! their own target, are replaced as their own kind, and stay out of
//! address gossip.

mod common;

use std::collections::BTreeMap;

use common::*;
use connmgr::{
    Action, Advertised, Config, ConnId, ConnKind, Ignored, Input, Instant, ListenerId, PeerAddr,
    PeerEvent,
};

const T: Instant = Instant::from_secs(1_700_000_000);

/// A started manager with Core's book inside, fed 60 addresses in 60
/// groups, every dial connected and handshaked; the kinds connected.
fn running() -> (Driver, BTreeMap<ConnId, ConnKind>) {
    running_with(Config::default())
}

fn running_with(config: Config) -> (Driver, BTreeMap<ConnId, ConnKind>) {
    let mut d = Driver::new(Config {
        handshake_timeout: std::time::Duration::ZERO,
        ..config
    });
    d.now = T;
    let addrs = (0..60)
        .map(|g| Advertised::new(addr::<PeerAddr>(&format!("{}.9.9.9:8333", 20 + g)), T))
        .collect();
    d.actions(Input::Learned { from: None, addrs });
    let start = d.actions(Input::Start);
    let kinds = connect_all(&mut d, start).into_iter().collect();
    (d, kinds)
}

fn of_kind(kinds: &BTreeMap<ConnId, ConnKind>, kind: ConnKind) -> Vec<ConnId> {
    kinds
        .iter()
        .filter(|(_, k)| **k == kind)
        .map(|(id, _)| *id)
        .collect()
}

#[test]
fn the_default_keeps_two_block_relay_only_connections_beside_eight_full_relay() {
    let (d, kinds) = running();
    assert_eq!(of_kind(&kinds, ConnKind::Automatic).len(), 8);
    assert_eq!(of_kind(&kinds, ConnKind::BlockRelay).len(), 2);
    let counts = d.mgr.counts();
    assert_eq!(
        (counts.automatic_established, counts.block_relay_established),
        (8, 2)
    );
    assert_eq!(counts.outbound_established(), 10);
    assert_eq!(Config::btcd().block_relay_outbound, 0, "btcd has one kind");
}

#[test]
fn a_lost_block_relay_only_connection_is_replaced_by_one_of_its_kind() {
    let (mut d, kinds) = running();
    let lost = of_kind(&kinds, ConnKind::BlockRelay)[0];
    let actions = d.actions(Input::Closed { id: lost });
    let redials: Vec<ConnKind> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Dial { kind, .. } => Some(*kind),
            _ => None,
        })
        .collect();
    assert_eq!(redials, vec![ConnKind::BlockRelay], "{actions:?}");
    assert_eq!(d.mgr.counts().block_relay(), 2);
    assert_eq!(d.mgr.counts().automatic(), 8);
}

#[test]
fn a_block_relay_only_peer_is_neither_heard_on_addresses_nor_relayed_to() {
    let (mut d, kinds) = running();
    let block_relay = of_kind(&kinds, ConnKind::BlockRelay);
    let (result, _) = d.feed(Input::Learned {
        from: Some(block_relay[0]),
        addrs: vec![Advertised::new(addr::<PeerAddr>("99.1.1.1:8333"), T)],
    });
    assert!(
        matches!(result, Err(Ignored::NotAllowed { .. })),
        "{result:?}"
    );
    // Fresh news from an inbound peer goes to two ready peers, never to a
    // block-relay-only one, whoever the keyed hash would pick.
    let inbound = d.id(Input::Accepted {
        listener: ListenerId(0),
        remote: addr("203.0.114.5:50000"),
        network: None,
    });
    d.actions(Input::Handshaked { id: inbound });
    for i in 0..50u8 {
        let actions = d.actions(Input::Learned {
            from: Some(inbound),
            addrs: vec![Advertised::new(
                addr::<PeerAddr>(&format!("98.{i}.1.1:8333")),
                T,
            )],
        });
        for action in actions {
            if let Action::NotifyPeer(PeerEvent::ShareAddresses { id, .. }) = action {
                assert!(!block_relay.contains(&id), "relayed to {id}");
            }
        }
        // The inbound peer's tokens refill at 0.1/s.
        d.now = d.now + std::time::Duration::from_secs(10);
    }
    assert!(d.mgr.stats().addresses_relayed >= 50);
}

/// Fires `d`'s timers one by one (for up to an hour) until a feeler is
/// dialled; returns it, with the clock at its dial.
fn next_feeler(d: &mut Driver) -> Option<(ConnId, u32, PeerAddr)> {
    let end = d.now + std::time::Duration::from_secs(3600);
    for _ in 0..10_000 {
        let at = d.mgr.poll_timeout().filter(|at| *at <= end)?;
        d.now = d.now.max(at);
        for action in d.actions(Input::Tick) {
            if let Action::Dial {
                id,
                attempt,
                addr,
                kind: ConnKind::Feeler,
                ..
            } = action
            {
                return Some((id, attempt, addr));
            }
        }
    }
    None
}

#[test]
fn a_feeler_moves_a_new_address_to_tried_and_closes_after_its_handshake() {
    let (mut d, _) = running();
    let before = d.mgr.book_counts().unwrap();
    let (id, attempt, addr) = next_feeler(&mut d).expect("a feeler within the hour");
    assert!(
        !d.mgr.book_tried_addresses().contains(&addr),
        "a new address"
    );
    assert_eq!(d.mgr.counts().feelers, 1);
    let connected = d.actions(Input::DialResult {
        id,
        attempt,
        result: Ok(()),
    });
    assert!(connected.iter().any(|a| matches!(
        a,
        Action::NotifyPeer(PeerEvent::Connected {
            kind: ConnKind::Feeler,
            ..
        })
    )));
    let done = d.actions(Input::Handshaked { id });
    let reason = connmgr::Reason::FeelerDone;
    assert!(done.contains(&Action::Close { id, reason }), "{done:?}");
    assert!(done.contains(&Action::NotifyPeer(PeerEvent::Disconnected { id, reason })));
    let after = d.mgr.book_counts().unwrap();
    assert_eq!(after.tried, before.tried + 1);
    assert!(d.mgr.book_tried_addresses().contains(&addr));
    let counts = d.mgr.counts();
    assert_eq!(
        (counts.feelers, counts.automatic(), counts.block_relay()),
        (0, 8, 2)
    );
    assert_eq!(d.mgr.stats().feelers_handshaked, 1);
    assert_eq!(d.mgr.failed_attempts(), 0);
}

#[test]
fn feelers_wait_for_the_targets_never_overlap_and_never_count_as_failures() {
    // Dials stay out until answered, so the test decides when they end.
    let hours = std::time::Duration::from_secs(10 * 3600);
    let (mut d, kinds) = running_with(Config {
        dial_timeout: hours,
        ..Config::default()
    });
    // A slot short: no feeler for an hour while it is being refilled.
    let lost = of_kind(&kinds, ConnKind::Automatic)[0];
    let refill = d.actions(Input::Closed { id: lost });
    let Some((refilled, attempt)) = refill.iter().find_map(|a| match a {
        Action::Dial {
            id,
            attempt,
            kind: ConnKind::Automatic,
            ..
        } => Some((*id, *attempt)),
        _ => None,
    }) else {
        panic!("{refill:?}")
    };
    assert_eq!(next_feeler(&mut d), None, "the slot's dial is still out");
    assert_eq!(d.mgr.stats().feelers, 0);

    // Targets met again: one feeler, and no second one while it is out.
    d.actions(Input::DialResult {
        id: refilled,
        attempt,
        result: Ok(()),
    });
    let (feeler, attempt, _) = next_feeler(&mut d).expect("a feeler");
    assert_eq!(next_feeler(&mut d), None, "one at a time");
    assert_eq!(d.mgr.counts().feelers, 1);
    let failed = d.actions(Input::DialResult {
        id: feeler,
        attempt,
        result: Err(connmgr::DialError::Refused),
    });
    assert!(
        !failed.iter().any(|a| matches!(a, Action::Dial { .. })),
        "not replaced"
    );
    assert_eq!(d.mgr.counts().feelers, 0);
    assert_eq!(
        d.mgr.failed_attempts(),
        0,
        "a feeler's failure is the book's news"
    );
    assert_eq!(d.mgr.stats().feelers, 1);
}

#[test]
fn btcd_and_connect_mode_make_no_feelers() {
    for config in [
        Config::btcd(),
        Config {
            automatic_outbound: false,
            ..Config::default()
        },
    ] {
        let mut d = Driver::new(config);
        d.actions(Input::Start);
        assert_eq!(next_feeler(&mut d), None);
        assert_eq!(d.mgr.stats().feelers, 0);
    }
}

/// Connects (and handshakes) every `Dial` in `actions` and what follows.
fn connect_all(d: &mut Driver, actions: Vec<Action>) -> Vec<(ConnId, ConnKind)> {
    let mut pending = actions;
    let mut connected = Vec::new();
    for _ in 0..100 {
        let Some(action) = pending.pop() else { break };
        match action {
            Action::Dial {
                id, attempt, kind, ..
            } => {
                assert_eq!(d.mgr.info(id).map(|i| i.kind), Some(kind));
                pending.extend(d.actions(Input::DialResult {
                    id,
                    attempt,
                    result: Ok(()),
                }));
            }
            Action::NotifyPeer(PeerEvent::Connected { id, kind, .. }) => {
                connected.push((id, kind));
                pending.extend(d.actions(Input::Handshaked { id }));
            }
            _ => {}
        }
    }
    connected
}

#[test]
fn a_stale_tip_adds_one_full_relay_peer_and_the_least_useful_one_goes() {
    let (mut d, kinds) = running();
    let stale = d.actions(Input::TipStale { stale: true });
    let extra = connect_all(&mut d, stale);
    assert_eq!(extra.len(), 1, "one extra");
    assert_eq!(extra[0].1, ConnKind::Automatic, "a full-relay one");
    assert_eq!(d.mgr.counts().automatic_established, 9);
    assert_eq!(d.mgr.stats().stale_tips, 1);

    // The application names the least useful: too soon at first.
    let oldest = of_kind(&kinds, ConnKind::Automatic)[0];
    let young = extra[0].0;
    d.now = d.now + std::time::Duration::from_secs(10);
    let (result, _) = d.feed(Input::LeastUseful { id: young });
    assert!(
        matches!(result, Err(Ignored::NotAllowed { .. })),
        "{result:?}"
    );
    let block_relay = of_kind(&kinds, ConnKind::BlockRelay)[0];
    let (result, _) = d.feed(Input::LeastUseful { id: block_relay });
    assert!(
        matches!(result, Err(Ignored::NotAllowed { .. })),
        "{result:?}"
    );

    // Old enough: closed, and while the tip stays stale the slot is
    // refilled with a new extra peer.
    d.now = d.now + std::time::Duration::from_secs(60);
    let evicted = d.actions(Input::LeastUseful { id: oldest });
    let reason = connmgr::Reason::LeastUseful;
    assert!(
        evicted.contains(&Action::Close { id: oldest, reason }),
        "{evicted:?}"
    );
    let refilled = connect_all(&mut d, evicted);
    assert_eq!(refilled.len(), 1);
    assert_eq!(d.mgr.counts().automatic_established, 9);

    // The tip advances: the next eviction brings the count back to the
    // target and nothing replaces it; then nothing more is evicted.
    d.actions(Input::TipStale { stale: false });
    d.now = d.now + std::time::Duration::from_secs(60);
    let evicted = d.actions(Input::LeastUseful { id: young });
    assert!(
        !evicted.iter().any(|a| matches!(a, Action::Dial { .. })),
        "{evicted:?}"
    );
    assert_eq!(d.mgr.counts().automatic_established, 8);
    let other = of_kind(&kinds, ConnKind::Automatic)[1];
    let (result, _) = d.feed(Input::LeastUseful { id: other });
    assert!(
        matches!(result, Err(Ignored::NotAllowed { .. })),
        "at target: {result:?}"
    );
    assert_eq!(d.mgr.stats().least_useful_evicted, 2);
}

#[test]
fn anchors_are_dialled_first_and_a_clean_stop_reports_the_block_relay_peers() {
    let mut d = Driver::new(Config {
        handshake_timeout: std::time::Duration::ZERO,
        ..Config::default()
    });
    d.now = T;
    let addrs = (0..60)
        .map(|g| Advertised::new(addr::<PeerAddr>(&format!("{}.9.9.9:8333", 20 + g)), T))
        .collect();
    d.actions(Input::Learned { from: None, addrs });
    let anchors = vec![
        addr("198.51.100.7:8333"),
        addr("203.0.113.9:8333"),
        addr("192.0.2.44:8333"),
    ];
    d.actions(Input::Anchors {
        addrs: anchors.clone(),
    });
    let start = d.actions(Input::Start);
    let dials: Vec<(PeerAddr, ConnKind)> = start
        .iter()
        .filter_map(|a| match a {
            Action::Dial { addr, kind, .. } => Some((*addr, *kind)),
            _ => None,
        })
        .collect();
    assert_eq!(
        dials[..2],
        [
            (anchors[0], ConnKind::BlockRelay),
            (anchors[1], ConnKind::BlockRelay)
        ],
        "the first two anchors, first; the third is one too many"
    );
    assert_eq!(
        dials.len(),
        10,
        "8 full-relay from the book, no third block-relay"
    );
    assert_eq!(d.mgr.stats().anchors_dialled, 2);
    let (late, _) = d.feed(Input::Anchors {
        addrs: anchors.clone(),
    });
    assert_eq!(late, Err(Ignored::AlreadyStarted), "only before Start");

    connect_all(&mut d, start);
    let stop = d.actions(Input::Stop);
    let saved = stop
        .iter()
        .position(|a| matches!(a, Action::SaveAnchors { .. }));
    let first_close = stop.iter().position(|a| matches!(a, Action::Close { .. }));
    assert!(saved < first_close, "reported before they close: {stop:?}");
    let Some(Action::SaveAnchors { addrs }) = saved.map(|i| &stop[i]) else {
        panic!("{stop:?}")
    };
    let mut addrs = addrs.clone();
    addrs.sort();
    let mut expected = anchors[..2].to_vec();
    expected.sort();
    assert_eq!(addrs, expected);

    // btcd's config keeps no block-relay-only peers and reports nothing.
    let mut btcd = Driver::new(Config::btcd());
    btcd.actions(Input::Start);
    let stop = btcd.actions(Input::Stop);
    assert!(!stop.iter().any(|a| matches!(a, Action::SaveAnchors { .. })));
}

/// Asks for an address fetch to `peer`; connects and handshakes it.
#[test]
fn two_spellings_of_one_anchor_are_dialled_once() {
    // Found by fuzzing: one IPv6 address with two scopes, given as two
    // anchors, opened two connections to one peer.
    let mut d = Driver::new(Config::default());
    d.now = T;
    // Socket addresses of one peer convert to one `PeerAddr`.
    let anchors = [
        "[2001:db8::7%1]:8333",
        "[2001:db8::7%2]:8333",
        "[::ffff:198.51.100.7]:8333",
        "198.51.100.7:8333",
    ]
    .map(|s| PeerAddr::from(addr::<std::net::SocketAddr>(s)))
    .to_vec();
    d.actions(Input::Anchors { addrs: anchors });
    let start = d.actions(Input::Start);
    let dialled: Vec<PeerAddr> = start
        .iter()
        .filter_map(|a| match a {
            Action::Dial { addr, .. } => Some(*addr),
            _ => None,
        })
        .collect();
    assert_eq!(
        dialled,
        [
            addr::<PeerAddr>("[2001:db8::7]:8333"),
            addr("198.51.100.7:8333")
        ],
        "one dial per peer"
    );
    assert_eq!(d.mgr.stats().anchors_dialled, 2);
}

fn fetch_connected(d: &mut Driver, peer: &str) -> ConnId {
    let (id, actions) = d.feed(Input::FetchAddresses { addr: addr(peer) });
    let id = id.unwrap().unwrap();
    let connected = connect_all(d, actions);
    assert_eq!(connected, vec![(id, ConnKind::AddrFetch)]);
    id
}

fn addresses(n: u8) -> Vec<Advertised> {
    (0..n)
        .map(|i| Advertised::new(addr::<PeerAddr>(&format!("150.{i}.1.1:8333")), T))
        .collect()
}

#[test]
fn an_address_fetch_closes_once_its_peer_sends_addresses() {
    let (mut d, _) = running();
    let id = fetch_connected(&mut d, "90.1.1.1:8333");
    assert_eq!(d.mgr.counts().addr_fetches, 1);
    let known = d.mgr.book_counts().unwrap().new;
    // One address is the peer announcing itself: not the answer.
    let one = d.actions(Input::Learned {
        from: Some(id),
        addrs: addresses(1),
    });
    assert!(
        !one.iter().any(|a| matches!(a, Action::Close { .. })),
        "{one:?}"
    );
    let answer = d.actions(Input::Learned {
        from: Some(id),
        addrs: addresses(20),
    });
    let reason = connmgr::Reason::AddressesFetched;
    assert_eq!(
        answer,
        vec![
            Action::Close { id, reason },
            Action::NotifyPeer(PeerEvent::Disconnected { id, reason }),
        ]
    );
    assert_eq!(d.mgr.book_counts().unwrap().new, known + 20);
    let counts = d.mgr.counts();
    assert_eq!(
        (
            counts.addr_fetches,
            counts.automatic(),
            counts.block_relay()
        ),
        (0, 8, 2),
        "never counted in a target, never replaced"
    );
    let stats = d.mgr.stats();
    assert_eq!((stats.addr_fetches, stats.addr_fetches_answered), (1, 1));
}

#[test]
fn an_address_fetch_that_never_answers_closes_five_minutes_after_connecting() {
    let (mut d, _) = running_with(Config {
        feeler_interval: std::time::Duration::ZERO,
        ..Config::default()
    });
    let id = fetch_connected(&mut d, "90.1.1.1:8333");
    let deadline = d.now + std::time::Duration::from_secs(300);
    let early = d.advance_manual(deadline - std::time::Duration::from_secs(1));
    assert!(early.is_empty(), "{early:?}");
    let late = d.advance_manual(deadline);
    let reason = connmgr::Reason::AddrFetchTimeout;
    assert!(late.contains(&Action::Close { id, reason }), "{late:?}");
    assert_eq!(d.mgr.stats().addr_fetch_timeouts, 1);
    assert_eq!(d.mgr.failed_attempts(), 0);
}

#[test]
fn a_failed_address_fetch_is_given_up_and_counts_no_failure() {
    let (mut d, _) = running();
    let (id, actions) = d.feed(Input::FetchAddresses {
        addr: addr("90.1.1.1:8333"),
    });
    let id = id.unwrap().unwrap();
    let attempt = Driver::dial_of(&actions, id).expect("dialled at once");
    let failed = d.actions(Input::DialResult {
        id,
        attempt,
        result: Err(connmgr::DialError::Refused),
    });
    assert!(failed.iter().any(|a| matches!(
        a,
        Action::NotifyPeer(PeerEvent::GaveUp { id: gone, .. }) if *gone == id
    )));
    assert!(
        !failed.iter().any(|a| matches!(a, Action::Dial { .. })),
        "not retried, not replaced: {failed:?}"
    );
    assert_eq!(d.mgr.failed_attempts(), 0);
}

#[test]
fn with_the_book_outside_an_address_fetch_still_ends_on_its_answer() {
    let mut d = Driver::new(Config {
        automatic_outbound: false,
        ..Config::btcd()
    });
    d.now = T;
    d.actions(Input::Start);
    let id = fetch_connected(&mut d, "90.1.1.1:8333");
    let (result, actions) = d.feed(Input::Learned {
        from: Some(id),
        addrs: addresses(3),
    });
    assert_eq!(result, Ok(None));
    let reason = connmgr::Reason::AddressesFetched;
    assert!(
        actions.contains(&Action::Close { id, reason }),
        "{actions:?}"
    );
    let (result, _) = d.feed(Input::Learned {
        from: None,
        addrs: addresses(3),
    });
    assert_eq!(result, Err(Ignored::NoBook), "anything else needs a book");
}

/// Feelers and test-before-evict: the manager starts from a saved book
/// (which needs `serde`) in which a collision waits.
#[cfg(feature = "serde")]
mod collisions {
    use std::net::SocketAddr;
    use std::time::Duration;

    use connmgr::addrman::{AddrMan, BucketKey};
    use connmgr::{BookSnapshot, ConnManager, Seed};

    use super::*;

    /// A manager whose Core book holds tried addresses last reached five
    /// hours ago, and a new one whose tried slot one of them holds;
    /// running, its one full-relay slot connected, then connected to the
    /// newcomer by hand, whose handshake makes it wait for that slot
    /// (test-before-evict). Returns the newcomer and the occupant.
    fn running_with_a_collision() -> (Driver, PeerAddr, PeerAddr) {
        let config = Config {
            target_outbound: 1,
            block_relay_outbound: 0,
            handshake_timeout: std::time::Duration::ZERO,
            rng_seed: Some(Seed::from_u64(5)),
            ..Config::default()
        };
        let keys = Seed::from_u64(5).keys();
        let long_ago = T - std::time::Duration::from_secs(5 * 3600);
        let addrs = (0..5_000u32).map(|i| {
            let [a, b] = [(i / 250) as u8, (i % 250) as u8];
            PeerAddr::from(SocketAddr::from(([20 + a, b, 1, 1], 8333)))
        });
        // Tried, one after the other, until one finds its slot taken; the
        // book keeps that one new (collisions are not saved).
        let mut book = AddrMan::new(BucketKey::from_bytes(keys.addrman), keys.book);
        let mut newcomer = None;
        for addr in addrs {
            let mut trial = book.clone();
            trial.add(long_ago, &[(addr, long_ago)], ip("9.9.9.9"), Duration::ZERO);
            let fits = trial.good(long_ago, addr);
            if !fits {
                book.add(long_ago, &[(addr, long_ago)], ip("9.9.9.9"), Duration::ZERO);
                newcomer = trial
                    .select_tried_collision()
                    .map(|occupant| (addr, occupant));
                break;
            }
            book = trial;
        }
        let (newcomer, occupant) = newcomer.expect("a collision among 5 000 addresses");
        let snapshot = BookSnapshot::Core(book.snapshot());
        let mut d = Driver::new(config.clone());
        d.mgr = ConnManager::with_book(config, T, &snapshot).unwrap().0;
        d.now = T;
        let start = d.actions(Input::Start);
        let full_relay = connect_all(&mut d, start);
        let (_, manual) = d.feed(Input::Connect {
            addr: newcomer,
            permanent: false,
        });
        connect_all(&mut d, manual);
        assert_eq!(d.mgr.book_counts().unwrap().collisions, 1);
        let peer = d.mgr.info(full_relay[0].0).unwrap().addr;
        assert_ne!(peer, Some(occupant), "else it answers without a feeler");
        (d, newcomer, occupant)
    }

    fn ip(s: &str) -> connmgr::Host {
        s.parse().unwrap()
    }

    #[test]
    fn a_feeler_tests_the_occupant_of_a_collision_and_keeps_it_when_it_answers() {
        let (mut d, newcomer, occupant) = running_with_a_collision();
        let (id, attempt, addr) = next_feeler(&mut d).expect("a feeler within the hour");
        assert_eq!(addr, occupant, "collisions are settled first");
        d.actions(Input::DialResult {
            id,
            attempt,
            result: Ok(()),
        });
        d.actions(Input::Handshaked { id });
        // The next feeler's turn settles it: the occupant answered, it stays.
        next_feeler(&mut d);
        let tried = d.mgr.book_tried_addresses();
        assert!(tried.contains(&occupant) && !tried.contains(&newcomer));
        assert_eq!(d.mgr.book_counts().unwrap().collisions, 0);
    }

    #[test]
    fn a_feeler_tests_the_occupant_of_a_collision_and_evicts_it_when_it_fails() {
        let (mut d, newcomer, occupant) = running_with_a_collision();
        // Until the occupant is out: a failed test counts once it had its
        // minute, so a feeler sooner than that may test it again.
        for _ in 0..10 {
            if d.mgr.book_tried_addresses().contains(&newcomer) {
                break;
            }
            let (id, attempt, addr) = next_feeler(&mut d).expect("a feeler within the hour");
            if addr != occupant {
                continue;
            }
            d.actions(Input::DialResult {
                id,
                attempt,
                result: Err(connmgr::DialError::Refused),
            });
        }
        let tried = d.mgr.book_tried_addresses();
        assert!(tried.contains(&newcomer) && !tried.contains(&occupant));
        assert_eq!(d.mgr.book_counts().unwrap().collisions, 0);
        assert_eq!(
            d.mgr.failed_attempts(),
            0,
            "a feeler's failure is the book's news"
        );
    }
}
