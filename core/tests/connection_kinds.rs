//! Connection kinds beyond btcd's one: block-relay-only connections keep
//! their own target, are replaced as their own kind, and stay out of
//! address gossip.

mod common;

use std::collections::BTreeMap;

use common::*;
use connmgr::{
    Action, Advertised, Config, ConnId, ConnKind, Ignored, Input, Instant, ListenerId, PeerEvent,
};

const T: Instant = Instant::from_secs(1_700_000_000);

/// A started manager with Core's book inside, fed 60 addresses in 60
/// groups, every dial connected and handshaked; the kinds connected.
fn running() -> (Driver, BTreeMap<ConnId, ConnKind>) {
    let mut d = Driver::new(Config {
        handshake_timeout: std::time::Duration::ZERO,
        ..Config::default()
    });
    d.now = T;
    let addrs = (0..60)
        .map(|g| Advertised::new(addr(&format!("{}.9.9.9:8333", 20 + g)), T))
        .collect();
    d.actions(Input::Learned { from: None, addrs });
    let mut pending = d.actions(Input::Start);
    let mut kinds = BTreeMap::new();
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
                kinds.insert(id, kind);
                pending.extend(d.actions(Input::Handshaked { id }));
            }
            _ => {}
        }
    }
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
        addrs: vec![Advertised::new(addr("99.1.1.1:8333"), T)],
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
    });
    d.actions(Input::Handshaked { id: inbound });
    for i in 0..50u8 {
        let actions = d.actions(Input::Learned {
            from: Some(inbound),
            addrs: vec![Advertised::new(addr(&format!("98.{i}.1.1:8333")), T)],
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
