//! btcd's connmgr test suite (`connmanager_test.go`), re-expressed in virtual
//! time against `Config::btcd()`. Each test is named after the Go test it
//! pins down. Where btcd relied on sleeps and "at most" bounds, the virtual
//! clock lets us assert exact action sequences; where we deliberately differ
//! from btcd, the comment says so and `docs/DECISIONS.md` says why.

mod common;

use std::time::Duration;

use common::*;
use connmgr::{
    Action, Config, ConfigError, ConnKind, ConnManager, ConnState, DialError, Ignored, Input,
    Instant, ListenerId, PeerEvent, Reason, Route, Seed,
};

fn btcd(target: u32) -> Config {
    Config {
        target_outbound: target,
        ..Config::btcd()
    }
}

fn connect_mode_config() -> Config {
    Config {
        automatic_outbound: false,
        ..Config::btcd()
    }
}

const L0: ListenerId = ListenerId(0);
const L1: ListenerId = ListenerId(1);

fn accept(d: &mut Driver, listener: ListenerId, n: u16) -> (connmgr::ConnId, Vec<Action>) {
    let (id, actions) = d.feed(Input::Accepted {
        listener,
        remote: addr(&format!("198.51.100.1:{n}")),
        network: None,
    });
    (id.unwrap().unwrap(), actions)
}

fn admitted(actions: &[Action]) -> bool {
    matches!(
        actions,
        [Action::NotifyPeer(PeerEvent::Connected {
            direction: connmgr::Direction::Inbound,
            ..
        })]
    )
}

/// TestNewConfig: a config without its essentials is refused; defaults apply.
#[test]
fn new_config() {
    let bad = Config {
        retry_interval: Duration::ZERO,
        ..Config::btcd()
    };
    assert_eq!(
        ConnManager::new(bad, Instant::ZERO).unwrap_err(),
        ConfigError::ZeroDuration {
            field: "retry_interval"
        }
    );
    // The core draws no randomness: its seed is as essential as btcd's Dial.
    assert_eq!(
        ConnManager::new(Config::btcd(), Instant::ZERO).unwrap_err(),
        ConfigError::NoSeed
    );
    let seeded = Config {
        rng_seed: Some(Seed::from_u64(1)),
        ..Config::btcd()
    };
    let mgr = ConnManager::new(seeded, Instant::ZERO).unwrap();
    assert_eq!(mgr.config().target_outbound, 8);
    assert_eq!(mgr.config().retry_interval, Duration::from_secs(5));
}

/// TestInboundLimit: two slots; the third is refused; closing twice releases once.
#[test]
fn inbound_limit() {
    let mut d = Driver::new(Config {
        max_inbound: 2,
        ..btcd(1)
    });
    d.mgr.handle(d.now, Input::Start).unwrap();
    d.drain();
    let (c1, a1) = accept(&mut d, L0, 1);
    let (c2, a2) = accept(&mut d, L0, 2);
    assert!(admitted(&a1) && admitted(&a2));
    let (c3, a3) = accept(&mut d, L0, 3);
    assert_eq!(
        a3,
        vec![Action::Close {
            id: c3,
            reason: Reason::InboundFull
        }]
    );
    assert_eq!(d.mgr.stats().inbound_rejected_full, 1);
    assert_eq!(d.mgr.counts().inbound, 2);

    assert_eq!(d.feed(Input::Closed { id: c1 }).0, Ok(None));
    assert_eq!(
        d.feed(Input::Closed { id: c1 }).0,
        Err(Ignored::Finished(c1))
    );
    assert_eq!(d.mgr.counts().inbound, 1);

    let (c4, a4) = accept(&mut d, L0, 4);
    assert!(admitted(&a4));
    d.actions(Input::Closed { id: c2 });
    d.actions(Input::Closed { id: c4 });
    assert_eq!(d.mgr.counts().inbound, 0);
}

/// TestInboundLimitDisabled: `max_inbound` 0 refuses every inbound connection.
#[test]
fn inbound_limit_disabled() {
    let mut d = Driver::new(Config {
        max_inbound: 0,
        ..btcd(1)
    });
    d.mgr.handle(d.now, Input::Start).unwrap();
    d.drain();
    let (c, actions) = accept(&mut d, L0, 1);
    assert_eq!(
        actions,
        vec![Action::Close {
            id: c,
            reason: Reason::InboundFull
        }]
    );
    assert_eq!(d.mgr.stats().inbound_rejected_full, 1);
}

/// TestInboundLimitConcurrent: 100 accepts against 8 slots admit exactly 8.
#[test]
fn inbound_limit_concurrent() {
    let mut d = Driver::new(Config {
        max_inbound: 8,
        ..btcd(1)
    });
    d.mgr.handle(d.now, Input::Start).unwrap();
    d.drain();
    let mut live = Vec::new();
    let (mut admits, mut closes) = (0, 0);
    for n in 0..100 {
        let (id, actions) = accept(&mut d, L0, n);
        if admitted(&actions) {
            admits += 1;
            live.push(id);
        } else if actions
            == vec![Action::Close {
                id,
                reason: Reason::InboundFull,
            }]
        {
            closes += 1;
        }
        assert!(d.mgr.counts().inbound <= 8);
    }
    assert_eq!((admits, closes), (8, 92));
    for id in live {
        d.actions(Input::Closed { id });
    }
    assert_eq!(d.mgr.counts().inbound, 0);
}

/// TestStartStop: one connection, then Stop. Deliberately unlike btcd, Stop
/// closes the connection it owns (quirk 19) and a second Stop is a no-op.
/// Commands after Stop change nothing.
#[test]
fn start_stop() {
    let mut d = Driver::new(btcd(1));
    let mut rt = fixed_ok("203.0.113.1:8333");
    let actions = d.run(Input::Start, &mut rt);
    let ids = connected(&actions);
    assert_eq!(ids.len(), 1);
    let id = ids[0].0;

    assert_eq!(
        d.actions(Input::Stop),
        vec![
            Action::Close {
                id,
                reason: Reason::Stopped
            },
            Action::NotifyPeer(PeerEvent::Disconnected {
                id,
                reason: Reason::Stopped
            }),
            Action::CloseListeners,
        ]
    );
    assert_eq!(d.feed(Input::Stop), (Err(Ignored::AlreadyStopped), vec![]));
    let connect = Input::Connect {
        addr: addr("203.0.113.2:8333"),
        permanent: true,
    };
    assert_eq!(d.feed(connect), (Err(Ignored::Stopped), vec![]));
    assert_eq!(
        d.feed(Input::Disconnect { id }),
        (Err(Ignored::Finished(id)), vec![])
    );
    assert_eq!(
        d.feed(Input::Remove { id }),
        (Err(Ignored::Finished(id)), vec![])
    );
    assert_eq!(d.mgr.poll_timeout(), None);
}

/// TestConnectMode: without automatic outbound only `Connect` dials.
#[test]
fn connect_mode() {
    let mut d = Driver::new(Config {
        target_outbound: 2,
        ..connect_mode_config()
    });
    assert_eq!(d.actions(Input::Start), vec![]);
    let target = addr("203.0.113.1:8333");
    let (id, actions) = d.feed(Input::Connect {
        addr: target,
        permanent: true,
    });
    let id = id.unwrap().unwrap();
    assert_eq!(
        actions,
        vec![Action::Dial {
            id,
            attempt: 1,
            addr: target,
            kind: ConnKind::Permanent,
            route: Route::Direct,
        }]
    );
    assert_eq!(
        d.actions(Input::DialResult {
            id,
            attempt: 1,
            result: Ok(())
        }),
        vec![Action::NotifyPeer(PeerEvent::Connected {
            id,
            addr: target,
            direction: connmgr::Direction::Outbound,
            kind: ConnKind::Permanent,
            stream: (),
        })]
    );
    assert_eq!(d.mgr.state(id), ConnState::Established);
    assert_eq!(d.mgr.poll_timeout(), None, "nothing else is scheduled");
    assert_eq!(d.feed(Input::NewConnReq).0, Err(Ignored::ConnectMode));
}

/// TestTargetOutbound: target 10 gives exactly 10 connections and no more.
#[test]
fn target_outbound() {
    let mut d = Driver::new(btcd(10));
    let mut rt = fixed_ok("203.0.113.1:8333");
    let actions = d.run(Input::Start, &mut rt);
    assert_eq!(
        count(&actions, |a| matches!(a, Action::RequestAddress { .. })),
        10
    );
    assert_eq!(count(&actions, |a| matches!(a, Action::Dial { .. })), 10);
    assert_eq!(connected(&actions).len(), 10);
    assert_eq!(actions.len(), 30);
    assert_eq!(d.mgr.counts().automatic_established, 10);
    assert_eq!(d.feed(Input::NewConnReq).0, Err(Ignored::AtTarget));
}

fn composition(permanent_first: bool) {
    let mut d = Driver::new(btcd(3));
    let mut rt = fixed_ok("203.0.113.1:8333");
    let perms = [addr("203.0.113.2:18556"), addr("203.0.113.3:18557")];
    let mut all = Vec::new();
    if !permanent_first {
        all.extend(d.run(Input::Start, &mut rt));
    }
    for p in perms {
        all.extend(d.run(
            Input::Connect {
                addr: p,
                permanent: true,
            },
            &mut rt,
        ));
    }
    if permanent_first {
        all.extend(d.run(Input::Start, &mut rt));
    }
    let conns = connected(&all);
    assert_eq!(conns.iter().filter(|(_, p)| !p).count(), 3, "automatic");
    assert_eq!(conns.iter().filter(|(_, p)| *p).count(), 2, "permanent");
    assert_eq!(rt.dials, 5);
    assert_eq!(d.mgr.poll_timeout(), None, "nothing more is coming");
}

/// TestTargetOutboundComposition/permanent_before_start: permanent peers
/// come on top of the automatic target (btcd HEAD, 58ee9ef6).
#[test]
fn target_outbound_composition_permanent_before_start() {
    composition(true);
}

/// TestTargetOutboundComposition/permanent_after_start.
#[test]
fn target_outbound_composition_permanent_after_start() {
    composition(false);
}

/// TestRetryPermanent: a permanent peer is redialled under its own id after a
/// Disconnect, and not after a Remove.
#[test]
fn retry_permanent() {
    let config = Config {
        target_outbound: 1,
        retry_interval: ms(1),
        max_retry_interval: ms(2),
        ..connect_mode_config()
    };
    let mut d = Driver::new(config);
    let peer = addr("203.0.113.1:8333");
    let id = d.id(Input::Connect {
        addr: peer,
        permanent: true,
    });
    assert_eq!(d.mgr.state(id), ConnState::Queued);
    assert_eq!(
        d.actions(Input::Start),
        vec![Action::Dial {
            id,
            attempt: 1,
            addr: peer,
            kind: ConnKind::Permanent,
            route: Route::Direct,
        }]
    );
    d.actions(Input::DialResult {
        id,
        attempt: 1,
        result: Ok(()),
    });
    assert_eq!(d.mgr.state(id), ConnState::Established);

    let retry_at = d.now + ms(1);
    assert_eq!(
        d.actions(Input::Disconnect { id }),
        vec![
            Action::Close {
                id,
                reason: Reason::Disconnected
            },
            Action::NotifyPeer(PeerEvent::Disconnected {
                id,
                reason: Reason::Disconnected
            }),
            Action::RetryAfter { id, at: retry_at },
        ]
    );
    assert_eq!(d.mgr.state(id), ConnState::Waiting { until: retry_at });

    assert_eq!(
        d.advance_manual(retry_at),
        vec![Action::Dial {
            id,
            attempt: 2,
            addr: peer,
            kind: ConnKind::Permanent,
            route: Route::Direct,
        }]
    );
    let actions = d.actions(Input::DialResult {
        id,
        attempt: 2,
        result: Ok(()),
    });
    assert_eq!(connected(&actions), vec![(id, true)]);
    assert_eq!(d.mgr.state(id), ConnState::Established);

    assert_eq!(
        d.actions(Input::Remove { id }),
        vec![
            Action::Close {
                id,
                reason: Reason::Removed
            },
            Action::NotifyPeer(PeerEvent::Disconnected {
                id,
                reason: Reason::Removed
            }),
        ]
    );
    assert_eq!(d.mgr.state(id), ConnState::Finished);
    assert_eq!(d.mgr.poll_timeout(), None);
}

/// TestMaxRetryDuration: the backoff grows by one unit per failure and is
/// capped: delays 1, 2, 2 ms, then the dial succeeds at 5 ms.
#[test]
fn max_retry_duration() {
    let config = Config {
        retry_interval: ms(1),
        max_retry_interval: ms(2),
        ..connect_mode_config()
    };
    let mut d = Driver::new(config);
    let mut rt = Fixed {
        addr: addr("203.0.113.1:8333"),
        dial_ok: |now: Instant| {
            if now >= Instant::from_millis(5) {
                Ok(())
            } else {
                Err(DialError::Refused)
            }
        },
        dials: 0,
    };
    let id = d.id(Input::Connect {
        addr: rt.addr,
        permanent: true,
    });
    let mut all = d.run(Input::Start, &mut rt);
    all.extend(d.advance(Instant::from_millis(100), &mut rt));
    let retries: Vec<_> = d
        .log
        .iter()
        .filter_map(|(t, a)| match a {
            Action::RetryAfter { at, .. } => Some(*at - *t),
            _ => None,
        })
        .collect();
    assert_eq!(retries, vec![ms(1), ms(2), ms(2)]);
    let (when, _) = d
        .log
        .iter()
        .find(|(_, a)| !connected(std::slice::from_ref(a)).is_empty())
        .unwrap();
    assert_eq!(*when, Instant::from_millis(5));
    assert_eq!(connected(&all), vec![(id, true)]);
    assert_eq!(rt.dials, 4);
}

/// TestNetworkFailure: every dial fails. Failures 1–24 are replaced at once,
/// the 25th and later wait `throttle_interval`. btcd asserts "at most 75
/// dials" in 10 ms; in virtual time it is exactly 29 at t=0 plus 5 at 5 ms.
#[test]
fn network_failure() {
    let config = Config {
        target_outbound: 5,
        retry_interval: ms(5),
        throttle_interval: ms(5),
        max_retry_interval: ms(5),
        ..Config::btcd()
    };
    let mut d = Driver::new(config);
    let mut rt = Fixed {
        addr: addr("203.0.113.1:8333"),
        dial_ok: |_| Err(DialError::Refused),
        dials: 0,
    };
    let at_start = d.run(Input::Start, &mut rt);
    assert_eq!(rt.dials, 29);
    let throttled: Vec<_> = at_start
        .iter()
        .filter(|a| matches!(a, Action::RetryAfter { .. }))
        .collect();
    assert_eq!(throttled.len(), 5);
    assert!(throttled
        .iter()
        .all(|a| matches!(a, Action::RetryAfter { at, .. } if *at == Instant::from_millis(5))));
    assert_eq!(
        d.mgr.counts().automatic(),
        5,
        "the target is never exceeded"
    );

    d.advance(Instant::from_millis(10) - Duration::from_nanos(1), &mut rt);
    assert_eq!(rt.dials, 34);
    d.now = Instant::from_millis(10);
    d.actions(Input::Stop);
    d.advance(Instant::from_millis(100), &mut rt);
    assert_eq!(rt.dials, 34, "nothing dials after Stop");
    assert_eq!(d.mgr.stats().throttled_replacements, 10);
}

/// TestStopFailed: a dial that fails after Stop schedules no retry.
#[test]
fn stop_failed() {
    let mut d = Driver::new(connect_mode_config());
    d.actions(Input::Start);
    let id = d.id(Input::Connect {
        addr: addr("203.0.113.1:8333"),
        permanent: true,
    });
    d.drain();
    assert_eq!(
        d.actions(Input::Stop),
        vec![
            Action::CancelDial { id, attempt: 1 },
            Action::NotifyPeer(PeerEvent::GaveUp {
                id,
                reason: Reason::Stopped
            }),
            Action::CloseListeners,
        ]
    );
    let late = Input::DialResult {
        id,
        attempt: 1,
        result: Err(DialError::Refused),
    };
    assert_eq!(d.feed(late), (Err(Ignored::Finished(id)), vec![]));
    assert_eq!(d.mgr.poll_timeout(), None);
}

/// btcd quirk 7, fixed: a dial that succeeds after Stop is closed, not leaked.
#[test]
fn dial_succeeding_after_stop_is_closed() {
    let mut d = Driver::new(connect_mode_config());
    d.actions(Input::Start);
    let id = d.id(Input::Connect {
        addr: addr("203.0.113.1:8333"),
        permanent: false,
    });
    d.actions(Input::Stop);
    let late = Input::DialResult {
        id,
        attempt: 1,
        result: Ok(()),
    };
    assert_eq!(
        d.feed(late),
        (
            Err(Ignored::Finished(id)),
            vec![Action::Close {
                id,
                reason: Reason::StaleDial
            }]
        )
    );
    assert_eq!(d.mgr.stats().late_sockets_closed, 1);
}

/// TestRemovePendingConnection: removing a request mid-dial cancels it; its
/// late result is ignored, and a late socket is closed.
#[test]
fn remove_pending_connection() {
    let mut d = Driver::new(connect_mode_config());
    d.actions(Input::Start);
    let id = d.id(Input::Connect {
        addr: addr("203.0.113.1:8333"),
        permanent: true,
    });
    d.drain();
    assert_eq!(d.mgr.state(id), ConnState::Dialing { attempt: 1 });
    assert_eq!(
        d.actions(Input::Remove { id }),
        vec![
            Action::CancelDial { id, attempt: 1 },
            Action::NotifyPeer(PeerEvent::GaveUp {
                id,
                reason: Reason::Removed
            }),
        ]
    );
    assert_eq!(d.mgr.state(id), ConnState::Finished);
    let failed = Input::DialResult {
        id,
        attempt: 1,
        result: Err(DialError::Refused),
    };
    assert_eq!(d.feed(failed), (Err(Ignored::Finished(id)), vec![]));
    let succeeded = Input::DialResult {
        id,
        attempt: 1,
        result: Ok(()),
    };
    assert_eq!(
        d.actions(succeeded),
        vec![Action::Close {
            id,
            reason: Reason::StaleDial
        }]
    );
}

/// TestCancelIgnoreDelayedConnection, as btcd runs it: a non-permanent request
/// in connect mode fails once. btcd leaves it pending for ever (quirk 4); we
/// give up at once, so the later Remove finds it finished and nothing dials.
#[test]
fn cancel_ignore_delayed_connection() {
    let config = Config {
        retry_interval: ms(10),
        ..connect_mode_config()
    };
    let mut d = Driver::new(config);
    d.actions(Input::Start);
    let id = d.id(Input::Connect {
        addr: addr("203.0.113.1:8333"),
        permanent: false,
    });
    d.drain();
    let reason = Reason::DialFailed(DialError::Refused);
    assert_eq!(
        d.actions(Input::DialResult {
            id,
            attempt: 1,
            result: Err(DialError::Refused)
        }),
        vec![Action::NotifyPeer(PeerEvent::GaveUp { id, reason })]
    );
    assert_eq!(d.mgr.state(id), ConnState::Finished);
    assert_eq!(d.feed(Input::Remove { id }).0, Err(Ignored::Finished(id)));
    assert_eq!(d.advance_manual(Instant::from_millis(100)), vec![]);
}

/// What TestCancelIgnoreDelayedConnection meant to test: a permanent request
/// fails, its retry is pending, it is removed, and the retry never dials.
#[test]
fn removed_permanent_request_never_redials() {
    let config = Config {
        retry_interval: ms(10),
        ..connect_mode_config()
    };
    let mut d = Driver::new(config);
    d.actions(Input::Start);
    let id = d.id(Input::Connect {
        addr: addr("203.0.113.1:8333"),
        permanent: true,
    });
    d.drain();
    let failed = Input::DialResult {
        id,
        attempt: 1,
        result: Err(DialError::Refused),
    };
    assert_eq!(
        d.actions(failed),
        vec![Action::RetryAfter {
            id,
            at: d.now + ms(10)
        }]
    );
    assert_eq!(
        d.actions(Input::Remove { id }),
        vec![Action::NotifyPeer(PeerEvent::GaveUp {
            id,
            reason: Reason::Removed
        })]
    );
    assert_eq!(d.mgr.poll_timeout(), None, "the retry timer is gone");
    assert_eq!(d.advance_manual(Instant::from_millis(100)), vec![]);
    let late = Input::DialResult {
        id,
        attempt: 2,
        result: Ok(()),
    };
    assert_eq!(
        d.actions(late),
        vec![Action::Close {
            id,
            reason: Reason::StaleDial
        }]
    );
}

/// TestListeners: two listeners, two connections each, all admitted; Stop
/// closes them and the listeners.
#[test]
fn listeners() {
    let mut d = Driver::new(connect_mode_config());
    d.actions(Input::Start);
    let mut ids = Vec::new();
    for (listener, n) in [(L0, 1), (L0, 2), (L1, 3), (L1, 4)] {
        let (id, actions) = accept(&mut d, listener, n);
        assert!(admitted(&actions));
        ids.push(id);
    }
    let stop = d.actions(Input::Stop);
    assert_eq!(
        count(&stop, |a| matches!(
            a,
            Action::Close {
                reason: Reason::Stopped,
                ..
            }
        )),
        4
    );
    assert_eq!(stop.last(), Some(&Action::CloseListeners));
    assert_eq!(d.mgr.counts().inbound, 0);
}

/// TestListenerInboundLimit: one slot; the second is refused until the first
/// closes.
#[test]
fn listener_inbound_limit() {
    let mut d = Driver::new(Config {
        max_inbound: 1,
        ..connect_mode_config()
    });
    d.actions(Input::Start);
    let (c1, a1) = accept(&mut d, L0, 1);
    assert!(admitted(&a1));
    let (c2, a2) = accept(&mut d, L0, 2);
    assert_eq!(
        a2,
        vec![Action::Close {
            id: c2,
            reason: Reason::InboundFull
        }]
    );
    assert_eq!(d.mgr.stats().inbound_rejected_full, 1);
    d.actions(Input::Closed { id: c1 });
    let (_, a3) = accept(&mut d, L0, 3);
    assert!(admitted(&a3));
}
