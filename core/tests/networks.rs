//! Network policy (`Config::networks`): which networks automatic
//! connections reach, the route each `Dial` takes, and each network's
//! share of the outbound and inbound connections.

mod common;

use std::time::Duration;

use common::*;
use connmgr::{
    Action, AddressBook, Advertised, Config, ConfigError, ConnKind, Host, Input, Instant,
    ListenerId, Network, NetworkError, PeerAddr, Proxy, Reason, Route,
};

const T: Instant = Instant::from_secs(1_700_000_000);

fn tor() -> Proxy {
    Proxy::new("127.0.0.1:9050".parse().unwrap())
}

/// Onion address `n` (a made-up key: the book never checks keys).
fn onion(n: u8) -> PeerAddr {
    let mut key = [0x40; 32];
    key[0] = n.wrapping_mul(17);
    key[1] = n;
    PeerAddr::new(Host::Onion(key), 8333)
}

/// IPv4 address `n`, each in a /16 of its own.
fn ipv4(n: u8) -> PeerAddr {
    addr(&format!("{}.{n}.1.1:8333", 20 + n / 8))
}

/// A running manager with Core's book holding `addrs`.
fn running(config: Config, addrs: impl IntoIterator<Item = PeerAddr>) -> (Driver, Vec<Action>) {
    let mut d = Driver::new(Config {
        address_book: AddressBook::Core,
        handshake_timeout: Duration::ZERO,
        ..config
    });
    d.now = T;
    let addrs = addrs.into_iter().map(|a| Advertised::new(a, T)).collect();
    d.actions(Input::Learned { from: None, addrs });
    let start = d.actions(Input::Start);
    (d, start)
}

fn dials(actions: &[Action]) -> Vec<(PeerAddr, ConnKind, Route)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Dial {
                addr, kind, route, ..
            } => Some((*addr, *kind, *route)),
            _ => None,
        })
        .collect()
}

fn onion_only() -> Config {
    let mut config = Config::default();
    config.networks.onion.proxy = Some(tor());
    config.networks.only(&[Network::Onion]);
    config
}

#[test]
fn onlynet_onion_dials_only_onion_peers_and_through_the_proxy() {
    let addrs = (0..20).map(ipv4).chain((0..20).map(onion));
    let (_, start) = running(onion_only(), addrs);
    let dials = dials(&start);
    assert_eq!(dials.len(), 10, "8 full-relay and 2 block-relay-only");
    for (addr, _, route) in dials {
        assert_eq!(addr.network(), Network::Onion, "{addr}");
        assert_eq!(route, Route::Socks5(tor()));
    }
}

#[test]
fn a_manual_connection_goes_anywhere_by_its_networks_route() {
    let mut config = onion_only();
    config.networks.ipv4.proxy = Some(tor());
    let (mut d, _) = running(config, []);
    let manual = d.actions(Input::Connect {
        addr: addr("198.51.100.7:8333"),
        permanent: false,
    });
    assert_eq!(
        dials(&manual),
        [(
            addr("198.51.100.7:8333"),
            ConnKind::Manual,
            Route::Socks5(tor())
        )],
        "IPv4 is unreachable for automatic connections only"
    );
    let direct = d.actions(Input::Connect {
        addr: addr("[2001:db8::7]:8333"),
        permanent: false,
    });
    assert_eq!(dials(&direct)[0].2, Route::Direct, "IPv6 has no proxy");
}

#[test]
fn every_reachable_network_gets_an_outbound_connection() {
    let mut config = Config::default();
    config.networks.onion.proxy = Some(tor());
    config.networks.onion.reachable = true;
    // 60 IPv4 addresses against 2 onion ones: a draw without the rule
    // picks an onion address for one of 8 slots about a quarter of the
    // time.
    let addrs = || (0..60).map(ipv4).chain((0..2).map(onion));
    let onion_full_relay = |config: Config| {
        let (_, start) = running(config, addrs());
        dials(&start)
            .iter()
            .filter(|(a, kind, _)| a.network() == Network::Onion && *kind == ConnKind::Automatic)
            .count()
    };
    assert_eq!(onion_full_relay(config.clone()), 1, "one per network");

    let mut two = config.clone();
    two.networks.onion.min_outbound = 2;
    assert_eq!(onion_full_relay(two), 2, "a minimum of two");

    // Without the rule, some of 20 seeds give Tor no full-relay peer.
    let without = (0..20u64).filter(|&seed| {
        let mut config = config.clone();
        config.networks.one_per_network = false;
        config.rng_seed = Some(connmgr::Seed::from_u64(seed));
        onion_full_relay(config) == 0
    });
    assert!(without.count() > 0, "the rule is what gives Tor its peer");
}

#[test]
fn a_network_at_its_maximum_takes_no_more_automatic_connections() {
    let mut config = Config::default();
    config.networks.onion.proxy = Some(tor());
    config.networks.onion.reachable = true;
    config.networks.onion.max_outbound = Some(1);
    let (_, start) = running(config, (0..3).map(ipv4).chain((0..40).map(onion)));
    let dials = dials(&start);
    let onion = dials
        .iter()
        .filter(|(a, ..)| a.network() == Network::Onion)
        .count();
    assert_eq!(onion, 1, "{dials:?}");
    assert_eq!(dials.len(), 4, "three IPv4 addresses and one onion one");
}

#[test]
fn an_address_from_an_unreachable_network_is_refused_from_any_book() {
    let mut config = Config {
        address_book: AddressBook::External,
        target_outbound: 1,
        block_relay_outbound: 0,
        feeler_interval: Duration::ZERO,
        ..Config::default()
    };
    config.networks.only(&[Network::Ipv6]);
    let mut d = Driver::new(config);
    d.now = T;
    let start = d.actions(Input::Start);
    let Some(Action::RequestAddress { id }) = start.first().cloned() else {
        panic!("{start:?}")
    };
    let again = d.actions(Input::AddressResult {
        id,
        result: Ok(addr("203.0.113.1:8333")),
    });
    assert_eq!(again, [Action::RequestAddress { id }], "asked again");
    assert_eq!(d.mgr.stats().addresses_refused_network, 1);
    let dial = d.actions(Input::AddressResult {
        id,
        result: Ok(addr("[2001:db8::1]:8333")),
    });
    assert_eq!(dials(&dial).len(), 1);
}

#[test]
fn inbound_through_the_onion_service_counts_as_tor_and_meets_its_limit() {
    let mut config = Config::default();
    config.networks.onion.max_inbound = Some(2);
    let (mut d, _) = running(config, []);
    let mut accept = |port: u16, network| {
        d.feed(Input::Accepted {
            listener: ListenerId(1),
            remote: addr(&format!("127.0.0.1:{port}")),
            network,
        })
    };
    for port in [50_001, 50_002] {
        let (_, actions) = accept(port, Some(Network::Onion));
        assert!(
            !actions.iter().any(|a| matches!(a, Action::Close { .. })),
            "{actions:?}"
        );
    }
    let (_, third) = accept(50_003, Some(Network::Onion));
    assert!(
        third.iter().any(|a| matches!(
            a,
            Action::Close {
                reason: Reason::NetworkLimit,
                ..
            }
        )),
        "{third:?}"
    );
    // The same address without the onion tag is IPv4, which has no limit.
    let (_, plain) = accept(50_004, None);
    assert!(!plain.iter().any(|a| matches!(a, Action::Close { .. })));
    assert_eq!(d.mgr.stats().inbound_rejected_network_limit, 1);
}

#[test]
fn a_network_without_a_route_is_refused_with_the_field_to_set() {
    let mut config = Config::default();
    config.networks.only(&[Network::Onion]);
    let err = config.validate().unwrap_err();
    assert_eq!(
        err,
        ConfigError::Networks(NetworkError::NoRoute {
            network: Network::Onion
        })
    );
    assert!(err.to_string().contains("`networks.onion.proxy`"), "{err}");

    let mut config = Config::default();
    config.networks.only(&[]);
    assert!(config
        .validate()
        .unwrap_err()
        .to_string()
        .contains("no network is reachable"));

    let mut config = Config::default();
    config.networks.ipv4.min_outbound = 3;
    config.networks.ipv4.max_outbound = Some(2);
    assert!(config
        .validate()
        .unwrap_err()
        .to_string()
        .contains("min_outbound"));
}

#[test]
fn an_anchor_on_a_network_no_longer_reached_is_not_dialled() {
    let mut d = Driver::new(onion_only());
    d.now = T;
    d.actions(Input::Anchors {
        addrs: vec![ipv4(1), onion(1)],
    });
    let start = d.actions(Input::Start);
    let anchors: Vec<_> = dials(&start)
        .into_iter()
        .filter(|(_, kind, _)| *kind == ConnKind::BlockRelay)
        .collect();
    assert_eq!(
        anchors,
        [(onion(1), ConnKind::BlockRelay, Route::Socks5(tor()))]
    );
    assert_eq!(d.mgr.stats().anchors_dialled, 1);
}

#[test]
fn an_onion_peer_can_be_banned_as_one_address() {
    let mut config = onion_only();
    config.target_outbound = 1;
    config.block_relay_outbound = 0;
    let (mut d, start) = running(config, [onion(1)]);
    let [(addr, ..)] = dials(&start)[..] else {
        panic!("{start:?}")
    };
    let subnet: connmgr::Subnet = addr.host().to_string().parse().unwrap();
    assert_eq!(
        subnet.to_string(),
        addr.host().to_string(),
        "a subnet of one"
    );
    let banned = d.actions(Input::Ban {
        subnet,
        until: T + Duration::from_secs(3600),
    });
    assert!(
        banned.iter().any(|a| matches!(
            a,
            Action::NotifyPeer(connmgr::PeerEvent::GaveUp {
                reason: Reason::Banned,
                ..
            })
        )),
        "the dial in flight ends: {banned:?}"
    );
    let again = d.actions(Input::Connect {
        addr,
        permanent: false,
    });
    assert!(
        dials(&again).is_empty(),
        "never dialled while banned: {again:?}"
    );
    let other = d.actions(Input::Connect {
        addr: onion(2),
        permanent: false,
    });
    assert_eq!(dials(&other).len(), 1, "other onion peers are not covered");
}

/// Answers every dial in `actions` (and those that follow) with success;
/// returns every action seen.
fn connect_all(d: &mut Driver, actions: Vec<Action>) -> Vec<Action> {
    let mut seen = actions.clone();
    let mut pending: Vec<Action> = actions;
    for _ in 0..1_000 {
        let Some(action) = pending.pop() else { break };
        if let Action::Dial { id, attempt, .. } = action {
            let more = d.actions(Input::DialResult {
                id,
                attempt,
                result: Ok(()),
            });
            seen.extend(more.iter().cloned());
            pending.extend(more);
        }
    }
    seen
}

/// Tor reachable and feelers every minute on average, every full-relay
/// slot connected to one of 40 IPv4 addresses, none of Tor's known yet.
fn full_on_ipv4_reaching_tor() -> Driver {
    let mut config = Config::default();
    config.networks.onion.proxy = Some(tor());
    config.networks.onion.reachable = true;
    config.feeler_interval = Duration::from_secs(60);
    let (mut d, start) = running(config, (0..40).map(ipv4));
    connect_all(&mut d, start);
    d
}

#[test]
fn a_network_learned_late_gets_an_extra_peer_and_the_youngest_spare_one_goes() {
    let mut d = full_on_ipv4_reaching_tor();
    assert_eq!(d.mgr.counts().automatic_established, 8, "all on IPv4");
    // Onion addresses arrive once every slot is taken.
    let addrs = (0..5).map(|n| Advertised::new(onion(n), d.now)).collect();
    d.actions(Input::Learned { from: None, addrs });
    let mut seen = Vec::new();
    for _ in 0..50 {
        let Some(at) = d.mgr.poll_timeout() else {
            break;
        };
        d.now = d.now.max(at);
        let tick = d.actions(Input::Tick);
        seen.extend(connect_all(&mut d, tick));
        if d.mgr.stats().network_peer_evictions > 0 {
            break;
        }
    }
    let extra: Vec<_> = dials(&seen)
        .into_iter()
        .filter(|(_, kind, _)| *kind == ConnKind::Automatic)
        .collect();
    assert_eq!(extra.len(), 1, "one extra full-relay dial: {extra:?}");
    assert_eq!(extra[0].0.network(), Network::Onion);
    let closed: Vec<_> = seen
        .iter()
        .filter(|a| {
            matches!(
                a,
                Action::Close {
                    reason: Reason::NetworkDiversity,
                    ..
                }
            )
        })
        .collect();
    assert_eq!(closed.len(), 1, "{seen:?}");
    let counts = d.mgr.counts();
    assert_eq!(counts.automatic_established, 8, "back to the target");
    assert_eq!(d.mgr.stats().network_peers, 1);
}

#[test]
fn an_extra_peer_that_does_not_answer_costs_no_working_peer() {
    let mut d = full_on_ipv4_reaching_tor();
    let addrs = vec![Advertised::new(onion(1), d.now)];
    d.actions(Input::Learned { from: None, addrs });
    for _ in 0..50 {
        let Some(at) = d.mgr.poll_timeout() else {
            break;
        };
        d.now = d.now.max(at);
        for (id, attempt) in dials_of(&d.actions(Input::Tick)) {
            d.actions(Input::DialResult {
                id,
                attempt,
                result: Err(connmgr::DialError::Unreachable),
            });
        }
    }
    assert!(d.mgr.stats().network_peers >= 1, "tried");
    assert_eq!(d.mgr.stats().network_peer_evictions, 0);
    assert_eq!(
        d.mgr.counts().automatic_established,
        8,
        "no peer was closed"
    );
}

fn dials_of(actions: &[Action]) -> Vec<(connmgr::ConnId, u32)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Dial { id, attempt, .. } => Some((*id, *attempt)),
            _ => None,
        })
        .collect()
}

#[test]
fn peer_counts_tally_established_connections_by_kind_and_network() {
    let mut config = onion_only();
    config.networks.ipv4.reachable = true;
    let (mut d, start) = running(config, (0..20).map(onion));
    for (id, attempt) in start.iter().filter_map(|a| match a {
        Action::Dial { id, attempt, .. } => Some((*id, *attempt)),
        _ => None,
    }) {
        d.actions(Input::DialResult {
            id,
            attempt,
            result: Ok(()),
        });
    }
    for (port, network) in [(50_001, Some(Network::Onion)), (50_002, None)] {
        d.actions(Input::Accepted {
            listener: ListenerId(0),
            remote: addr(&format!("127.0.0.1:{port}")),
            network,
        });
    }
    let peers = d.mgr.peer_counts();
    assert_eq!(peers.get(ConnKind::Automatic, Network::Onion), 8);
    assert_eq!(peers.get(ConnKind::BlockRelay, Network::Onion), 2);
    assert_eq!(peers.get(ConnKind::Inbound, Network::Onion), 1);
    assert_eq!(peers.get(ConnKind::Inbound, Network::Ipv4), 1);
    let total: u32 = peers.iter().map(|(_, _, n)| n).sum();
    assert_eq!(total, 12, "{peers:?}");
}
