//! Inbound protection and retry policy beyond btcd (issue 4): one test per
//! rule and per reason, then properties over random floods.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use common::*;
use connmgr::{
    Action, Backoff, Config, ConnId, ConnManager, ConnState, DialError, Ignored, Input, Instant,
    ListenerId, PeerEvent, PeerFact, Reason, Seed, Subnet,
};
use proptest::prelude::*;

const L: ListenerId = ListenerId(0);

fn started(config: Config) -> Driver {
    let mut d = Driver::new(config);
    d.actions(Input::Start);
    d
}

/// An inbound-only config: no automatic outbound, nothing but the rule under test.
fn inbound_only() -> Config {
    Config {
        automatic_outbound: false,
        ..Config::btcd()
    }
}

fn accept(d: &mut Driver, remote: &str) -> (ConnId, Vec<Action>) {
    let (id, actions) = d.feed(Input::Accepted {
        listener: L,
        remote: addr(remote),
        network: None,
    });
    (id.unwrap().unwrap(), actions)
}

fn refused(actions: &[Action]) -> Option<Reason> {
    match actions {
        [Action::Close { reason, .. }] => Some(*reason),
        _ => None,
    }
}

fn admitted(actions: &[Action]) -> bool {
    matches!(
        actions.last(),
        Some(Action::NotifyPeer(PeerEvent::Connected { .. }))
    )
}

fn subnet(s: &str) -> Subnet {
    s.parse().unwrap()
}

#[test]
fn per_ip_limit_refuses_one_connection_too_many() {
    let mut d = started(Config {
        max_inbound_per_ip: 2,
        ..inbound_only()
    });
    assert!(admitted(&accept(&mut d, "45.33.1.5:1").1));
    assert!(admitted(&accept(&mut d, "45.33.1.5:2").1));
    assert_eq!(
        refused(&accept(&mut d, "45.33.1.5:3").1),
        Some(Reason::IpLimit)
    );
    assert!(
        admitted(&accept(&mut d, "45.33.1.6:1").1),
        "another IP is fine"
    );
    assert_eq!(d.mgr.stats().inbound_rejected_ip_limit, 1);
}

#[test]
fn per_ip_limit_counts_an_ipv6_slash_64_as_one_host() {
    let mut d = started(Config {
        max_inbound_per_ip: 2,
        ..inbound_only()
    });
    // One host hands itself 2 000 addresses of its /64: two get in.
    let admitted_from_one_64 = (1..=2000u32)
        .filter(|n| admitted(&accept(&mut d, &format!("[2a01:4f8:1:2::{n:x}]:1")).1))
        .count();
    assert_eq!(admitted_from_one_64, 2);
    assert_eq!(d.mgr.stats().inbound_rejected_ip_limit, 1998);
    assert!(
        admitted(&accept(&mut d, "[2a01:4f8:1:3::1]:1").1),
        "the next /64 is another host"
    );
}

#[test]
fn per_group_limit_refuses_one_connection_too_many() {
    let mut d = started(Config {
        max_inbound_per_group: 2,
        ..inbound_only()
    });
    assert!(admitted(&accept(&mut d, "203.0.1.1:1").1));
    assert!(admitted(&accept(&mut d, "203.0.2.2:1").1));
    assert_eq!(
        refused(&accept(&mut d, "203.0.3.3:1").1),
        Some(Reason::GroupLimit)
    );
    assert!(
        admitted(&accept(&mut d, "198.51.0.1:1").1),
        "another /16 is fine"
    );
    assert_eq!(d.mgr.stats().inbound_rejected_group_limit, 1);
}

#[test]
fn local_addresses_are_exempt_from_per_ip_group_and_rate_limits() {
    let config = Config {
        max_inbound_per_ip: 1,
        max_inbound_per_group: 1,
        inbound_rate_per_group: 1,
        inbound_burst_per_group: 1,
        ..inbound_only()
    };
    let mut d = started(config);
    for port in 1..=5 {
        assert!(admitted(&accept(&mut d, &format!("127.0.0.1:{port}")).1));
    }
}

#[test]
fn a_group_connecting_too_fast_is_rate_limited_then_refilled() {
    let config = Config {
        inbound_rate_per_group: 2,
        inbound_burst_per_group: 3,
        ..inbound_only()
    };
    let mut d = started(config);
    let outcomes: Vec<_> = (1..=5)
        .map(|i| refused(&accept(&mut d, &format!("203.0.{i}.1:1")).1))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            None,
            None,
            None,
            Some(Reason::RateLimited),
            Some(Reason::RateLimited)
        ]
    );
    d.now = d.now + Duration::from_millis(500);
    assert!(
        admitted(&accept(&mut d, "203.0.9.9:1").1),
        "one token back after 0.5 s at 2/s"
    );
    assert_eq!(d.mgr.stats().inbound_rejected_rate_limited, 2);
}

/// Accepts one peer per second from each of `remotes`, each in a group of
/// its own unless two share a /16.
fn accept_all(d: &mut Driver, remotes: impl IntoIterator<Item = String>) -> Vec<ConnId> {
    remotes
        .into_iter()
        .map(|remote| {
            d.now = d.now + Duration::from_secs(1);
            accept(d, &remote).0
        })
        .collect()
}

/// `n` peers, each in a (routable) network group of its own.
fn strangers(n: u8) -> impl Iterator<Item = String> {
    (0..n).map(|i| format!("45.{i}.0.1:1"))
}

#[test]
fn when_full_the_youngest_of_the_largest_group_is_evicted() {
    let config = Config {
        max_inbound: 31,
        evict_when_full: true,
        ..inbound_only()
    };
    let mut d = started(config);
    // 24 peers in groups of their own, then 6 from one group, then the
    // youngest, alone in its group.
    let mut ids = accept_all(&mut d, strangers(24));
    ids.extend(accept_all(
        &mut d,
        (1..=6).map(|h| format!("203.0.1.{h}:1")),
    ));
    ids.extend(accept_all(&mut d, ["80.1.2.3:1".to_owned()]));
    assert_eq!(d.mgr.counts().inbound, 31);
    let (newcomer, actions) = accept(&mut d, "198.51.100.1:1");
    // Of the unprotected (the youngest few), the group of six keeps the
    // most peers: its youngest goes, not the youngest of all.
    let youngest_of_largest = ids[29];
    assert_eq!(
        actions[..2],
        [
            Action::Close {
                id: youngest_of_largest,
                reason: Reason::Evicted
            },
            Action::NotifyPeer(PeerEvent::Disconnected {
                id: youngest_of_largest,
                reason: Reason::Evicted
            }),
        ]
    );
    assert!(admitted(&actions));
    assert_eq!(d.mgr.state(newcomer), ConnState::Established);
    assert_eq!(d.mgr.state(ids[30]), ConnState::Established);
    assert_eq!(d.mgr.counts().inbound, 31);
    assert_eq!(d.mgr.stats().evictions, 1);
}

#[test]
fn with_twenty_inbound_or_fewer_every_peer_is_protected() {
    let config = Config {
        max_inbound: 20,
        evict_when_full: true,
        ..inbound_only()
    };
    let mut d = started(config);
    accept_all(&mut d, strangers(20));
    assert_eq!(
        refused(&accept(&mut d, "192.0.2.1:1").1),
        Some(Reason::InboundFull),
        "4 by group, 8 by ping, 4 by transactions, 4 by blocks: all protected"
    );
}

/// A node with eviction on and inbound full of 30 strangers.
fn full_of_strangers() -> (Driver, Vec<ConnId>) {
    let mut d = started(Config {
        max_inbound: 30,
        evict_when_full: true,
        ..inbound_only()
    });
    let ids = accept_all(&mut d, strangers(30));
    (d, ids)
}

#[test]
fn reported_facts_protect_a_peer_from_eviction() {
    // Without facts the youngest goes...
    let (mut d, ids) = full_of_strangers();
    accept(&mut d, "192.0.2.1:1");
    assert_eq!(d.mgr.state(ids[29]), ConnState::Finished);
    // ...but a novel block from it, the lowest ping, or `noban` keeps it.
    for fact in [
        PeerFact::NovelBlock,
        PeerFact::Ping(Duration::from_millis(5)),
        PeerFact::NoBan,
    ] {
        let (mut d, ids) = full_of_strangers();
        d.actions(Input::PeerFact { id: ids[29], fact });
        accept(&mut d, "192.0.2.1:1");
        assert_eq!(d.mgr.state(ids[29]), ConnState::Established, "{fact:?}");
        assert_eq!(d.mgr.stats().evictions, 1);
        assert_eq!(d.mgr.stats().peer_facts, 1);
    }
}

#[test]
fn a_fact_about_an_unknown_or_pending_connection_is_ignored() {
    let mut d = started(inbound_only());
    let unknown = ConnId::from_raw(99);
    let (result, _) = d.feed(Input::PeerFact {
        id: unknown,
        fact: PeerFact::NovelBlock,
    });
    assert_eq!(result, Err(Ignored::UnknownId(unknown)));
    let pending = d.id(Input::Connect {
        addr: addr("203.0.113.9:8333"),
        permanent: false,
    });
    let (result, _) = d.feed(Input::PeerFact {
        id: pending,
        fact: PeerFact::NovelBlock,
    });
    assert!(
        matches!(result, Err(Ignored::UnexpectedState { id, .. }) if id == pending),
        "{result:?}"
    );
    assert_eq!(d.mgr.stats().peer_facts, 0);
}

#[test]
fn a_noban_peer_is_not_banned_for_misbehaviour() {
    let mut d = started(Config {
        ban_threshold: 10,
        ..inbound_only()
    });
    let (id, _) = accept(&mut d, "203.0.113.7:1");
    d.actions(Input::PeerFact {
        id,
        fact: PeerFact::NoBan,
    });
    d.actions(Input::Misbehaved {
        id,
        persistent: 100,
        transient: 0,
    });
    assert_eq!(d.mgr.state(id), ConnState::Established);
    assert_eq!(d.mgr.stats().bans, 0);
}

#[test]
fn without_eviction_a_full_node_refuses_like_btcd() {
    let mut d = started(Config {
        max_inbound: 1,
        ..inbound_only()
    });
    accept(&mut d, "203.0.1.1:1");
    assert_eq!(
        refused(&accept(&mut d, "198.51.1.1:1").1),
        Some(Reason::InboundFull)
    );
}

#[test]
fn allowlisted_peers_pass_every_limit_and_are_never_evicted_or_banned() {
    let config = Config {
        max_inbound: 29,
        max_inbound_per_ip: 1,
        evict_when_full: true,
        allowlist: vec![subnet("203.0.113.0/24")],
        ban_threshold: 10,
        ..inbound_only()
    };
    let mut d = started(config);
    let friends: Vec<ConnId> = (1..=3)
        .map(|p| accept(&mut d, &format!("203.0.113.9:{p}")).0)
        .collect();
    assert!(friends
        .iter()
        .all(|id| d.mgr.state(*id) == ConnState::Established));
    assert_eq!(
        (d.mgr.counts().inbound, d.mgr.counts().inbound_allowlisted),
        (0, 3)
    );
    let others = accept_all(&mut d, strangers(29));
    assert_eq!(
        d.mgr.state(others[28]),
        ConnState::Established,
        "room is counted without friends"
    );
    d.actions(Input::Ban {
        subnet: subnet("203.0.0.0/8"),
        until: Instant::from_secs(100),
    });
    d.actions(Input::Misbehaved {
        id: friends[0],
        persistent: 100,
        transient: 0,
    });
    assert!(friends
        .iter()
        .all(|id| d.mgr.state(*id) == ConnState::Established));
    let (newcomer, actions) = accept(&mut d, "192.0.2.1:1");
    assert!(
        admitted(&actions),
        "the stranger is evicted, never a friend"
    );
    let evicted = others
        .iter()
        .filter(|id| d.mgr.state(**id) == ConnState::Finished);
    assert_eq!(evicted.count(), 1, "one stranger made room");
    assert_eq!(d.mgr.state(newcomer), ConnState::Established);
}

#[test]
fn a_ban_closes_live_connections_refuses_new_ones_and_expires() {
    let mut d = started(inbound_only());
    let (victim, _) = accept(&mut d, "203.0.113.7:1");
    let until = Instant::from_secs(60);
    let net = subnet("203.0.113.0/24");
    assert_eq!(
        d.actions(Input::Ban { subnet: net, until }),
        vec![
            Action::NotifyPeer(PeerEvent::Banned {
                subnet: net,
                until,
                reason: Reason::Requested
            }),
            Action::Close {
                id: victim,
                reason: Reason::Banned
            },
            Action::NotifyPeer(PeerEvent::Disconnected {
                id: victim,
                reason: Reason::Banned
            }),
        ]
    );
    assert_eq!(
        refused(&accept(&mut d, "203.0.113.8:1").1),
        Some(Reason::Banned)
    );
    d.now = Instant::from_secs(59);
    assert_eq!(
        refused(&accept(&mut d, "203.0.113.8:2").1),
        Some(Reason::Banned),
        "holds until it ends"
    );
    d.now = until;
    assert!(
        admitted(&accept(&mut d, "203.0.113.8:3").1),
        "and not after"
    );
    assert_eq!(d.mgr.stats().bans, 1);
}

#[test]
fn unban_lifts_a_ban_and_says_so() {
    let mut d = started(inbound_only());
    let net = subnet("198.51.100.0/24");
    d.actions(Input::Ban {
        subnet: net,
        until: Instant::from_secs(3600),
    });
    assert_eq!(
        d.actions(Input::Unban { subnet: net }),
        vec![Action::NotifyPeer(PeerEvent::Unbanned { subnet: net })]
    );
    assert!(admitted(&accept(&mut d, "198.51.100.1:1").1));
    assert_eq!(
        d.feed(Input::Unban { subnet: net }).0,
        Err(Ignored::NotBanned)
    );
}

#[test]
fn banned_addresses_are_never_dialled() {
    let mut d = started(Config {
        target_outbound: 1,
        address_book: connmgr::AddressBook::External,
        ..Config::default()
    });
    let banned = subnet("203.0.113.0/24");
    d.actions(Input::Ban {
        subnet: banned,
        until: Instant::from_secs(3600),
    });
    let connect = Input::Connect {
        addr: addr("203.0.113.1:8333"),
        permanent: true,
    };
    assert_eq!(d.feed(connect).0, Err(Ignored::Banned));
    let id = d.log.iter().find_map(|(_, a)| match a {
        Action::RequestAddress { id } => Some(*id),
        _ => None,
    });
    let id = id.unwrap();
    let offered = Input::AddressResult {
        id,
        result: Ok(addr("203.0.113.2:8333")),
    };
    assert_eq!(
        d.actions(offered),
        vec![Action::RequestAddress { id }],
        "refused, asked again"
    );
    assert_eq!(d.mgr.stats().addresses_refused_banned, 1);
}

#[test]
fn a_permanent_peer_banned_while_backing_off_is_given_up() {
    let mut d = started(Config {
        automatic_outbound: false,
        ..Config::btcd()
    });
    let peer = addr("203.0.113.1:8333");
    let id = d.id(Input::Connect {
        addr: peer,
        permanent: true,
    });
    d.actions(Input::DialResult {
        id,
        attempt: 1,
        result: Err(DialError::Refused),
    });
    assert!(matches!(d.mgr.state(id), ConnState::Waiting { .. }));
    let actions = d.actions(Input::Ban {
        subnet: Subnet::host(peer.host().ip().unwrap()),
        until: Instant::from_secs(3600),
    });
    assert!(actions.contains(&Action::NotifyPeer(PeerEvent::GaveUp {
        id,
        reason: Reason::Banned
    })));
    assert_eq!(d.mgr.poll_timeout(), None, "no redial is scheduled");
}

#[test]
fn misbehaviour_bans_at_the_threshold_and_decays_below_it() {
    let config = Config {
        ban_threshold: 100,
        ..inbound_only()
    };
    let mut d = started(config);
    let (calm, _) = accept(&mut d, "203.0.1.1:1");
    d.actions(Input::Misbehaved {
        id: calm,
        persistent: 0,
        transient: 60,
    });
    d.now = Instant::from_secs(600);
    assert_eq!(
        d.actions(Input::Misbehaved {
            id: calm,
            persistent: 0,
            transient: 60
        }),
        vec![],
        "the first 60 decayed"
    );
    assert_eq!(d.mgr.state(calm), ConnState::Established);

    let (rogue, _) = accept(&mut d, "198.51.1.1:1");
    d.actions(Input::Misbehaved {
        id: rogue,
        persistent: 50,
        transient: 0,
    });
    let actions = d.actions(Input::Misbehaved {
        id: rogue,
        persistent: 50,
        transient: 0,
    });
    let host = Subnet::host("198.51.1.1".parse::<IpAddr>().unwrap());
    let until = d.now + Duration::from_secs(24 * 3600);
    assert_eq!(
        actions,
        vec![
            Action::NotifyPeer(PeerEvent::Banned {
                subnet: host,
                until,
                reason: Reason::Misbehaving
            }),
            Action::Close {
                id: rogue,
                reason: Reason::Misbehaving
            },
            Action::NotifyPeer(PeerEvent::Disconnected {
                id: rogue,
                reason: Reason::Misbehaving
            }),
        ]
    );
    assert_eq!(
        refused(&accept(&mut d, "198.51.1.1:2").1),
        Some(Reason::Banned)
    );
}

#[test]
fn exponential_jitter_backoff_is_random_capped_and_replays() {
    let config = Config {
        automatic_outbound: false,
        backoff: Backoff::ExponentialJitter,
        rng_seed: Some(Seed::from_u64(9)),
        ..Config::btcd()
    };
    let delays = |config: &Config| {
        let mut d = started(config.clone());
        let id = d.id(Input::Connect {
            addr: addr("203.0.113.1:8333"),
            permanent: true,
        });
        let mut delays = Vec::new();
        for attempt in 1..=12 {
            let failed = Input::DialResult {
                id,
                attempt,
                result: Err(DialError::Refused),
            };
            let actions = d.actions(failed);
            let Some(&Action::RetryAfter { at, .. }) = actions.last() else {
                panic!("{actions:?}")
            };
            delays.push(at - d.now);
            d.advance_manual(at);
        }
        delays
    };
    let first = delays(&config);
    assert_eq!(first, delays(&config), "the seed decides the jitter");
    assert!(first.iter().all(|d| *d <= config.max_retry_interval));
    assert!(
        first[..3].iter().all(|d| *d <= Duration::from_secs(20)),
        "{first:?}"
    );
    let distinct: std::collections::BTreeSet<_> = first.iter().collect();
    assert!(distinct.len() > 8, "jittered: {first:?}");
    assert_ne!(
        first,
        delays(&Config {
            rng_seed: Some(Seed::from_u64(10)),
            ..config.clone()
        })
    );
}

#[test]
fn a_flood_of_ten_thousand_from_one_group_admits_at_most_its_limit() {
    let mut d = started(Config {
        max_inbound: 10_000,
        ..Config::default()
    });
    let mut admitted_count = 0;
    for i in 0..10_000u32 {
        let remote = SocketAddr::from(([203, 0, (i / 250) as u8, (i % 250) as u8 + 1], 1));
        if admitted(&d.actions(Input::Accepted {
            listener: L,
            remote,
            network: None,
        })) {
            admitted_count += 1;
        }
    }
    assert!(
        admitted_count <= Config::default().max_inbound_per_group,
        "{admitted_count}"
    );
    assert!(admitted_count > 0);
}

fn flood_config() -> impl Strategy<Value = Config> {
    (
        // Bitcoin Core's eviction needs more than 20 inbound to choose.
        prop_oneof![0u32..6, 25u32..40],
        0u32..3,
        0u32..4,
        0u32..3,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(max_inbound, per_ip, per_group, rate, evict, allow)| Config {
                max_inbound,
                max_inbound_per_ip: per_ip,
                max_inbound_per_group: per_group,
                inbound_rate_per_group: rate,
                inbound_burst_per_group: 2,
                evict_when_full: evict,
                allowlist: if allow {
                    vec!["203.0.0.0/16".parse().unwrap()]
                } else {
                    Vec::new()
                },
                ban_threshold: 20,
                ..inbound_only()
            },
        )
}

#[derive(Clone, Debug)]
enum Op {
    Accept(u8, u8),
    Close(usize),
    Ban(u8, u64),
    Misbehave(usize, u32),
    Wait(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..4, 0u8..4).prop_map(|(g, h)| Op::Accept(g, h)),
        2 => any::<usize>().prop_map(Op::Close),
        1 => (0u8..4, 1u64..100).prop_map(|(g, s)| Op::Ban(g, s)),
        1 => (any::<usize>(), 0u32..30).prop_map(|(i, n)| Op::Misbehave(i, n)),
        2 => (0u64..3000).prop_map(Op::Wait),
    ]
}

/// Group 0 is 203.0/16 (allow-listed when the config says so).
fn remote(group: u8, host: u8) -> SocketAddr {
    let prefix = [[203, 0], [198, 51], [192, 0], [100, 20]][usize::from(group % 4)];
    SocketAddr::from(([prefix[0], prefix[1], 1, host + 1], 1))
}

fn flood(config: &Config, ops: &[Op]) -> Result<Vec<Action>, TestCaseError> {
    let mut seeded = config.clone();
    seeded.rng_seed.get_or_insert(Seed::from_u64(0));
    let mut mgr = ConnManager::new(seeded, Instant::ZERO).unwrap();
    let mut now = Instant::ZERO;
    let mut log = Vec::new();
    let mut live: Vec<(ConnId, SocketAddr)> = Vec::new();
    let mut bans: Vec<(Subnet, Instant)> = Vec::new();
    mgr.handle(now, Input::Start).unwrap();
    let allow = |a: &SocketAddr| config.allowlist.iter().any(|s| s.contains(a.ip()));
    for op in ops {
        let (input, accepting) = match *op {
            Op::Accept(g, h) => (
                Input::Accepted {
                    listener: L,
                    remote: remote(g, h),
                    network: None,
                },
                Some(remote(g, h)),
            ),
            Op::Close(i) if !live.is_empty() => (
                Input::Closed {
                    id: live[i % live.len()].0,
                },
                None,
            ),
            Op::Ban(g, secs) => {
                let subnet = Subnet::new(remote(g, 0).ip(), 16).unwrap();
                // Banning again replaces the end time.
                bans.retain(|(s, _)| *s != subnet);
                bans.push((subnet, now + Duration::from_secs(secs)));
                (
                    Input::Ban {
                        subnet,
                        until: now + Duration::from_secs(secs),
                    },
                    None,
                )
            }
            Op::Misbehave(i, n) if !live.is_empty() => (
                Input::Misbehaved {
                    id: live[i % live.len()].0,
                    persistent: n,
                    transient: 0,
                },
                None,
            ),
            Op::Wait(ms) => {
                now = now + Duration::from_millis(ms);
                (Input::Tick, None)
            }
            _ => (Input::Tick, None),
        };
        let result = mgr.handle(now, input);
        let mut actions = Vec::new();
        while let Some(a) = mgr.poll_action() {
            actions.push(a);
        }
        for a in &actions {
            match a {
                Action::NotifyPeer(PeerEvent::Connected { id, addr, .. }) => {
                    live.push((*id, addr.socket_addr().expect("an IP peer")))
                }
                Action::NotifyPeer(PeerEvent::Disconnected { id, reason }) => {
                    let gone = live
                        .iter()
                        .position(|(l, _)| l == id)
                        .map(|p| live.remove(p));
                    if let Some((_, addr)) = gone {
                        let limit = matches!(
                            reason,
                            Reason::Evicted | Reason::Banned | Reason::Misbehaving
                        );
                        prop_assert!(
                            !(limit && allow(&addr)),
                            "allow-listed {addr} ended by {reason:?}"
                        );
                    }
                }
                Action::Close { reason, .. } if accepting.is_some_and(|r| allow(&r)) => {
                    prop_assert!(false, "allow-listed {:?} refused: {reason:?}", accepting);
                }
                _ => {}
            }
        }
        if let (Some(r), Ok(Some(_))) = (accepting, &result) {
            let banned_now = bans
                .iter()
                .any(|(s, until)| s.contains(r.ip()) && *until > now);
            let was_admitted = actions
                .iter()
                .any(|a| matches!(a, Action::NotifyPeer(PeerEvent::Connected { .. })));
            if banned_now && !allow(&r) {
                prop_assert!(!was_admitted, "{r} admitted while banned");
            }
        }
        prop_assert!(mgr.counts().inbound <= config.max_inbound);
        log.extend(actions);
    }
    Ok(log)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn inbound_limits_allowlist_and_bans_hold_and_replay(config in flood_config(), ops in proptest::collection::vec(op(), 1..120)) {
        let first = flood(&config, &ops)?;
        prop_assert_eq!(first, flood(&config, &ops)?);
    }
}
