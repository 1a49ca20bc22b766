//! The handshake gate: a connection is ready, and its address good, only
//! once the application reports its protocol's handshake; without one in
//! time it is closed.

mod common;

use std::time::Duration;

use common::*;
use connmgr::{Action, Config, ConnId, Direction, Ignored, Input, PeerEvent, Reason};

/// Connect mode, and no periodic `Persist` to tell apart from the
/// handshake's actions.
fn manual() -> Config {
    Config {
        automatic_outbound: false,
        persist_interval: Duration::ZERO,
        ..Config::default()
    }
}

/// Connects `addr` (permanent or not): its id, and what connecting it
/// produced.
fn connect(d: &mut Driver, addr: &str, permanent: bool) -> (ConnId, Vec<Action>) {
    let addr = common::addr(addr);
    let id = d.id(Input::Connect { addr, permanent });
    let attempt = Driver::dial_of(&d.drain(), id).expect("dialled");
    let connected = d.actions(Input::DialResult {
        id,
        attempt,
        result: Ok(()),
    });
    (id, connected)
}

/// [`connect`]'s id.
fn established(d: &mut Driver, addr: &str, permanent: bool) -> ConnId {
    connect(d, addr, permanent).0
}

#[test]
fn a_peer_is_ready_only_after_its_handshake() {
    let mut d = Driver::new(manual());
    d.actions(Input::Start);
    let (id, connected) = connect(&mut d, "203.0.113.7:8333", false);
    assert!(connected
        .iter()
        .any(|a| matches!(a, Action::NotifyPeer(PeerEvent::Connected { .. }))));
    assert!(!connected
        .iter()
        .any(|a| matches!(a, Action::NotifyPeer(PeerEvent::Ready { .. }))));
    assert_eq!(d.mgr.counts().handshaked, 0);

    let ready = d.actions(Input::Handshaked { id });
    assert_eq!(
        ready,
        [Action::NotifyPeer(PeerEvent::Ready {
            id,
            addr: addr("203.0.113.7:8333"),
            direction: Direction::Outbound,
        })]
    );
    assert_eq!(d.mgr.counts().handshaked, 1);
    assert_eq!(d.mgr.stats().handshakes, 1);

    // Ready, it is not timed out; when it ends, it is no longer counted.
    assert!(d
        .advance_manual(d.now + Duration::from_secs(3600))
        .is_empty());
    d.actions(Input::Closed { id });
    assert_eq!(d.mgr.counts().handshaked, 0);
}

#[test]
fn without_a_handshake_in_time_a_connection_is_closed_and_the_policy_acts() {
    let mut d = Driver::new(manual());
    d.actions(Input::Start);
    let permanent = established(&mut d, "203.0.113.7:8333", true);
    let inbound = d.id(Input::Accepted {
        listener: connmgr::ListenerId(0),
        remote: addr("198.51.100.9:40000"),
        network: None,
    });
    let timeout = d.mgr.config().handshake_timeout;
    assert_eq!(timeout, Duration::from_secs(30));
    assert!(d
        .advance_manual(d.now + timeout - Duration::from_millis(1))
        .is_empty());
    let expired = d.advance_manual(d.now + Duration::from_millis(1));
    for id in [permanent, inbound] {
        assert!(expired.contains(&Action::Close {
            id,
            reason: Reason::HandshakeTimeout
        }));
        assert!(
            expired.contains(&Action::NotifyPeer(PeerEvent::Disconnected {
                id,
                reason: Reason::HandshakeTimeout
            }))
        );
    }
    // The permanent peer is redialled after its backoff, not at once.
    assert!(expired
        .iter()
        .any(|a| matches!(a, Action::RetryAfter { id, .. } if *id == permanent)));
    assert_eq!(d.mgr.stats().handshake_timeouts, 2);
    assert_eq!(d.mgr.counts().inbound, 0);
}

/// One automatic connection, its address from the application.
fn one_automatic() -> Config {
    Config {
        target_outbound: 1,
        block_relay_outbound: 0,
        address_book: connmgr::AddressBook::External,
        ..Config::default()
    }
}

/// Answers automatic request `id` with an address whose dial succeeds.
fn connect_request(d: &mut Driver, id: ConnId) {
    let dialled = d.actions(Input::AddressResult {
        id,
        result: Ok(addr("203.0.113.7:8333")),
    });
    let attempt = Driver::dial_of(&dialled, id).unwrap();
    d.actions(Input::DialResult {
        id,
        attempt,
        result: Ok(()),
    });
}

#[test]
fn an_automatic_connection_without_a_handshake_is_replaced() {
    let mut d = Driver::new(one_automatic());
    let start = d.actions(Input::Start);
    let [Action::RequestAddress { id }] = start[..] else {
        panic!("{start:?}")
    };
    connect_request(&mut d, id);
    let expired = d.advance_manual(d.now + Duration::from_secs(30));
    assert!(expired.contains(&Action::Close {
        id,
        reason: Reason::HandshakeTimeout
    }));
    assert!(
        expired
            .iter()
            .any(|a| matches!(a, Action::RequestAddress { id: new } if *new != id)),
        "replaced: {expired:?}"
    );
}

#[test]
fn a_connection_lost_before_its_handshake_counts_as_a_failed_attempt() {
    let mut d = Driver::new(one_automatic());
    let mut request = match d.actions(Input::Start)[..] {
        [Action::RequestAddress { id }] => id,
        ref other => panic!("{other:?}"),
    };
    // A full peer that accepts and drops at once is no success, however
    // often TCP connects: the throttle still engages.
    for failures in 1..=2 {
        connect_request(&mut d, request);
        let closed = d.actions(Input::Closed { id: request });
        assert_eq!(d.mgr.failed_attempts(), failures);
        request = closed
            .iter()
            .find_map(|a| match a {
                Action::RequestAddress { id } => Some(*id),
                _ => None,
            })
            .expect("replaced");
    }
    connect_request(&mut d, request);
    assert_eq!(d.mgr.failed_attempts(), 2, "TCP alone resets nothing");
    d.actions(Input::Handshaked { id: request });
    assert_eq!(d.mgr.failed_attempts(), 0);
}

#[test]
fn a_redial_waits_for_a_handshake_of_its_own() {
    let mut d = Driver::new(Config {
        retry_interval: Duration::from_millis(10),
        ..manual()
    });
    d.actions(Input::Start);
    let id = established(&mut d, "203.0.113.7:8333", true);
    d.actions(Input::Handshaked { id });
    d.actions(Input::Closed { id });
    let redial = d.advance_manual(d.now + Duration::from_secs(1));
    let attempt = Driver::dial_of(&redial, id).expect("redialled");
    d.actions(Input::DialResult {
        id,
        attempt,
        result: Ok(()),
    });
    assert_eq!(
        d.mgr.counts().handshaked,
        0,
        "the new connection is not ready"
    );
    assert!(d
        .actions(Input::Handshaked { id })
        .iter()
        .any(|a| matches!(a, Action::NotifyPeer(PeerEvent::Ready { .. }))));
}

#[test]
fn handshakes_that_cannot_apply_are_ignored() {
    let mut d = Driver::new(manual());
    d.actions(Input::Start);
    let unknown = ConnId::from_raw(99);
    assert_eq!(
        d.feed(Input::Handshaked { id: unknown }).0,
        Err(Ignored::UnknownId(unknown))
    );
    let dialling = d.id(Input::Connect {
        addr: addr("203.0.113.8:8333"),
        permanent: false,
    });
    d.drain();
    assert!(matches!(
        d.feed(Input::Handshaked { id: dialling }).0,
        Err(Ignored::UnexpectedState { .. })
    ));
    let id = established(&mut d, "203.0.113.7:8333", false);
    assert_eq!(d.feed(Input::Handshaked { id }).0, Ok(None));
    assert_eq!(
        d.feed(Input::Handshaked { id }).0,
        Err(Ignored::AlreadyHandshaked(id))
    );
}

#[test]
fn btcds_connmgr_has_no_handshake_timeout() {
    let mut d = Driver::new(Config {
        automatic_outbound: false,
        ..Config::btcd()
    });
    d.actions(Input::Start);
    established(&mut d, "203.0.113.7:8333", true);
    assert!(d
        .advance_manual(d.now + Duration::from_secs(24 * 3600))
        .is_empty());
}
