//! Where we deliberately differ from btcd: one test per fix. The numbers are
//! the quirks of `docs/BTCD.md`; the reasons are in `docs/DECISIONS.md`
//! ("Deliberate differences from btcd").

mod common;

use std::time::Duration;

use common::*;
use connmgr::{
    AcceptError, Action, Config, ConnState, DialError, GroupKey, Ignored, Input, Instant,
    ListenerId, PeerAddr, PeerEvent, Reason,
};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn gave_up(id: connmgr::ConnId, reason: Reason) -> Action {
    Action::NotifyPeer(PeerEvent::GaveUp { id, reason })
}

/// Quirk 1: an accept error pauses the listener 5 ms, doubling to 1 s, and a
/// successful accept resets the pause.
#[test]
fn accept_errors_pause_the_listener_with_doubling_backoff() {
    let mut d = Driver::new(Config::default());
    d.actions(Input::Start);
    d.drain();
    let listener = ListenerId(3);
    let fail = Input::AcceptFailed {
        listener,
        error: AcceptError::TooManyOpenFiles,
    };
    let mut pauses = Vec::new();
    for _ in 0..10 {
        let actions = d.actions(fail.clone());
        let [Action::PauseListener { until, .. }] = actions[..] else {
            panic!("{actions:?}")
        };
        pauses.push(until - d.now);
        let resumed = d.advance_manual(until);
        assert!(resumed.contains(&Action::ResumeListener { listener }));
    }
    let expected: Vec<_> = [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]
        .map(ms)
        .into();
    assert_eq!(pauses, expected);

    d.actions(Input::Accepted {
        listener,
        remote: addr("198.51.100.1:1"),
        network: None,
    });
    let actions = d.actions(fail);
    assert_eq!(
        actions,
        vec![Action::PauseListener {
            listener,
            until: d.now + ms(5)
        }]
    );
}

/// An error while already paused does not stack a second pause.
#[test]
fn accept_error_while_paused_keeps_the_pause() {
    let mut d = Driver::new(Config::default());
    d.actions(Input::Start);
    let fail = Input::AcceptFailed {
        listener: ListenerId(0),
        error: AcceptError::Other,
    };
    assert_eq!(d.actions(fail.clone()).len(), 1);
    assert_eq!(d.actions(fail), vec![]);
}

/// Quirk 4: a failed non-permanent manual request gives up; btcd leaves it
/// pending for ever.
#[test]
fn failed_manual_request_gives_up() {
    let mut d = Driver::new(Config::default());
    d.actions(Input::Start);
    d.drain();
    let id = d.id(Input::Connect {
        addr: addr("203.0.113.9:8333"),
        permanent: false,
    });
    d.drain();
    let failed = Input::DialResult {
        id,
        attempt: 1,
        result: Err(DialError::Unreachable),
    };
    assert_eq!(
        d.actions(failed),
        vec![gave_up(id, Reason::DialFailed(DialError::Unreachable))]
    );
    assert_eq!(d.mgr.state(id), ConnState::Finished);
    assert_eq!(d.mgr.counts().manual_pending, 0);
}

/// Quirk 5: a Disconnect at the target leaves no stale "established" request;
/// the id ends (manual) or is replaced (automatic).
#[test]
fn disconnect_at_target_ends_the_request() {
    let mut d = Driver::new(Config {
        target_outbound: 1,
        ..Config::btcd()
    });
    let mut rt = fixed_ok("203.0.113.1:8333");
    let auto = connected(&d.run(Input::Start, &mut rt))[0].0;
    let manual = connected(&d.run(
        Input::Connect {
            addr: addr("203.0.113.2:8333"),
            permanent: false,
        },
        &mut rt,
    ))[0]
        .0;
    d.actions(Input::Disconnect { id: manual });
    assert_eq!(d.mgr.state(manual), ConnState::Finished);
    let actions = d.actions(Input::Disconnect { id: auto });
    assert_eq!(d.mgr.state(auto), ConnState::Finished);
    assert!(matches!(actions.last(), Some(Action::RequestAddress { id }) if *id != auto));
}

/// Quirk 6: automatic outbound never exceeds the target. A failing manual
/// request is not replaced by an automatic one, and NewConnReq at the target
/// is refused.
#[test]
fn automatic_outbound_never_exceeds_target() {
    let mut d = Driver::new(Config {
        target_outbound: 2,
        ..Config::btcd()
    });
    let mut rt = fixed_ok("203.0.113.1:8333");
    d.run(Input::Start, &mut rt);
    assert_eq!(d.mgr.counts().automatic(), 2);
    let id = d.id(Input::Connect {
        addr: addr("203.0.113.2:8333"),
        permanent: false,
    });
    d.drain();
    d.actions(Input::DialResult {
        id,
        attempt: 1,
        result: Err(DialError::Refused),
    });
    assert_eq!(d.mgr.counts().automatic(), 2);
    assert_eq!(d.feed(Input::NewConnReq).0, Err(Ignored::AtTarget));
    assert_eq!(d.mgr.stats().replacements, 0);
}

/// NewConnReq below the target makes one more automatic request.
#[test]
fn new_conn_req_below_target_requests_an_address() {
    let mut d = Driver::new(Config {
        target_outbound: 2,
        ..Config::btcd()
    });
    let mut rt = fixed_ok("203.0.113.1:8333");
    let first = connected(&d.run(Input::Start, &mut rt))[0].0;
    d.actions(Input::Remove { id: first });
    assert_eq!(d.mgr.counts().automatic(), 1, "Remove does not replace");
    let (id, actions) = d.feed(Input::NewConnReq);
    let id = id.unwrap().unwrap();
    assert_eq!(actions, vec![Action::RequestAddress { id }]);
}

/// Quirk 9: the backoff of a flapping permanent peer keeps growing; it is
/// forgiven only after the connection stayed up `stable_after`.
#[test]
fn flapping_permanent_peer_backs_off_until_stable() {
    let config = Config {
        automatic_outbound: false,
        ..Config::default()
    };
    assert_eq!(config.stable_after, secs(60));
    let mut d = Driver::new(config);
    let mut rt = fixed_ok("203.0.113.1:8333");
    d.run(Input::Start, &mut rt);
    let id = connected(&d.run(
        Input::Connect {
            addr: rt.addr,
            permanent: true,
        },
        &mut rt,
    ))[0]
        .0;
    let mut delays = Vec::new();
    for up_for in [1, 1, 1, 61, 1] {
        d.now = d.now + secs(up_for);
        let actions = d.actions(Input::Closed { id });
        let Some(Action::RetryAfter { at, .. }) = actions.last() else {
            panic!("{actions:?}")
        };
        delays.push((*at - d.now).as_secs());
        d.advance(*at, &mut rt);
        assert_eq!(d.mgr.state(id), ConnState::Established);
    }
    assert_eq!(delays, vec![5, 10, 15, 5, 10]);
}

/// btcd's preset keeps btcd's behaviour: every success forgives.
#[test]
fn btcd_preset_forgives_backoff_on_every_success() {
    let config = Config {
        automatic_outbound: false,
        ..Config::btcd()
    };
    let mut d = Driver::new(config);
    let mut rt = fixed_ok("203.0.113.1:8333");
    d.run(Input::Start, &mut rt);
    let id = connected(&d.run(
        Input::Connect {
            addr: rt.addr,
            permanent: true,
        },
        &mut rt,
    ))[0]
        .0;
    for _ in 0..3 {
        d.now = d.now + secs(1);
        let actions = d.actions(Input::Closed { id });
        assert_eq!(
            actions.last(),
            Some(&Action::RetryAfter {
                id,
                at: d.now + secs(5)
            })
        );
        let until = d.now + secs(5);
        d.advance(until, &mut rt);
    }
}

/// Quirks 11 and 14: a working connection that drops is not a failure, and
/// the target counts automatic connections only.
#[test]
fn dropped_working_connection_is_not_a_failure() {
    let mut d = Driver::new(Config {
        target_outbound: 3,
        ..Config::btcd()
    });
    let mut rt = fixed_ok("203.0.113.1:8333");
    for port in [18556, 18557] {
        let peer = addr(&format!("203.0.113.2:{port}"));
        d.run(
            Input::Connect {
                addr: peer,
                permanent: true,
            },
            &mut rt,
        );
    }
    let started = connected(&d.run(Input::Start, &mut rt));
    let autos: Vec<_> = started.iter().filter(|(_, permanent)| !permanent).collect();
    assert_eq!((started.len(), autos.len()), (5, 3));
    let before = d.mgr.failed_attempts();
    let actions = d.run(Input::Disconnect { id: autos[0].0 }, &mut rt);
    assert_eq!(d.mgr.failed_attempts(), before);
    assert_eq!(
        connected(&actions).len(),
        1,
        "replaced although 5 are connected"
    );
    assert_eq!(d.mgr.counts().automatic_established, 3);
    assert_eq!(d.mgr.counts().permanent_established, 2);
}

/// Quirk 16: after the throttle engages, the failed request ends at once and
/// only its replacement waits; removing the replacement cancels it cleanly.
#[test]
fn throttled_replacement_waits_but_the_failed_request_ends_at_once() {
    let config = Config {
        target_outbound: 1,
        ..Config::btcd()
    };
    let mut d = Driver::new(config);
    let mut rt = Fixed {
        addr: addr("203.0.113.1:8333"),
        dial_ok: |_| Err(DialError::Refused),
        dials: 0,
    };
    let actions = d.run(Input::Start, &mut rt);
    assert_eq!(rt.dials, 25);
    let Some(&Action::RetryAfter { id: waiting, at }) = actions.last() else {
        panic!()
    };
    assert_eq!(at, d.now + secs(5));
    let last_failed = actions
        .iter()
        .rev()
        .find_map(|a| match a {
            Action::NotifyPeer(PeerEvent::GaveUp { id, .. }) => Some(*id),
            _ => None,
        })
        .unwrap();
    assert_eq!(d.mgr.state(last_failed), ConnState::Finished);
    assert_eq!(d.mgr.state(waiting), ConnState::Waiting { until: at });
    assert_eq!(
        d.actions(Input::Remove { id: waiting }),
        vec![gave_up(waiting, Reason::Removed)]
    );
    assert_eq!(d.advance(at + secs(1), &mut rt), vec![]);
    assert_eq!(rt.dials, 25);
}

/// After a success, the failure count starts again from zero.
#[test]
fn a_successful_dial_resets_the_throttle() {
    let config = Config {
        target_outbound: 1,
        ..Config::btcd()
    };
    let mut d = Driver::new(config);
    let mut fail = true;
    let mut rt = Fixed {
        addr: addr("203.0.113.1:8333"),
        dial_ok: move |_| {
            if std::mem::replace(&mut fail, false) {
                Err(DialError::Refused)
            } else {
                Ok(())
            }
        },
        dials: 0,
    };
    d.run(Input::Start, &mut rt);
    assert_eq!(d.mgr.failed_attempts(), 0);
    assert_eq!(d.mgr.counts().automatic_established, 1);
}

/// Quirk 17: nothing blocks before Start; requests are queued and acted on at
/// Start, and can be cancelled while queued.
#[test]
fn inputs_before_start_are_queued() {
    let mut d = Driver::new(Config {
        automatic_outbound: false,
        ..Config::btcd()
    });
    let a = d.id(Input::Connect {
        addr: addr("203.0.113.1:8333"),
        permanent: true,
    });
    let b = d.id(Input::Connect {
        addr: addr("203.0.113.2:8333"),
        permanent: false,
    });
    assert_eq!(d.drain(), vec![]);
    assert_eq!(d.mgr.state(a), ConnState::Queued);
    assert_eq!(
        d.actions(Input::Remove { id: b }),
        vec![gave_up(b, Reason::Removed)]
    );
    let accepted = d.actions(Input::Accepted {
        listener: ListenerId(0),
        remote: addr("198.51.100.1:1"),
        network: None,
    });
    assert!(matches!(
        accepted[..],
        [Action::Close {
            reason: Reason::NotRunning,
            ..
        }]
    ));
    assert_eq!(
        d.actions(Input::Start),
        vec![Action::Dial {
            id: a,
            attempt: 1,
            addr: addr("203.0.113.1:8333"),
            kind: connmgr::ConnKind::Permanent,
            route: connmgr::Route::Direct,
        }]
    );
}

/// NewConnReq before Start is queued and counts toward the target at Start.
#[test]
fn new_conn_req_before_start_counts_toward_the_target() {
    let mut d = Driver::new(Config {
        target_outbound: 2,
        ..Config::btcd()
    });
    let early = d.id(Input::NewConnReq);
    let actions = d.actions(Input::Start);
    assert_eq!(
        count(&actions, |a| matches!(a, Action::RequestAddress { .. })),
        2
    );
    assert_eq!(actions[0], Action::RequestAddress { id: early });
}

/// Quirk 19: Stop cancels dials and timers and closes every connection,
/// outbound and inbound.
#[test]
fn stop_closes_everything_it_owns() {
    let mut d = Driver::new(Config {
        target_outbound: 1,
        ..Config::btcd()
    });
    let mut rt = fixed_ok("203.0.113.1:8333");
    let auto = connected(&d.run(Input::Start, &mut rt))[0].0;
    let dialing = d.id(Input::Connect {
        addr: addr("203.0.113.2:8333"),
        permanent: false,
    });
    let waiting = d.id(Input::Connect {
        addr: addr("203.0.113.3:8333"),
        permanent: true,
    });
    d.actions(Input::DialResult {
        id: waiting,
        attempt: 1,
        result: Err(DialError::Refused),
    });
    let inbound = d.id(Input::Accepted {
        listener: ListenerId(0),
        remote: addr("198.51.100.1:1"),
        network: None,
    });
    d.drain();
    let stop = d.actions(Input::Stop);
    assert_eq!(
        stop,
        vec![
            Action::Close {
                id: auto,
                reason: Reason::Stopped
            },
            Action::NotifyPeer(PeerEvent::Disconnected {
                id: auto,
                reason: Reason::Stopped
            }),
            Action::CancelDial {
                id: dialing,
                attempt: 1
            },
            gave_up(dialing, Reason::Stopped),
            gave_up(waiting, Reason::Stopped),
            Action::Close {
                id: inbound,
                reason: Reason::Stopped
            },
            Action::NotifyPeer(PeerEvent::Disconnected {
                id: inbound,
                reason: Reason::Stopped
            }),
            Action::CloseListeners,
        ]
    );
    assert_eq!(d.mgr.counts(), connmgr::Counts::default());
    assert_eq!(d.mgr.poll_timeout(), None);
}

/// Groups are counted from the moment an address is chosen, so two requests
/// dialling at once cannot both pick the same /16 (btcd counts after the
/// handshake, which races).
#[test]
fn group_is_counted_from_address_choice_not_handshake() {
    let mut d = Driver::new(Config {
        target_outbound: 2,
        address_book: connmgr::AddressBook::External,
        ..Config::default()
    });
    let actions = d.actions(Input::Start);
    let ids: Vec<_> = actions
        .iter()
        .filter_map(|a| match a {
            Action::RequestAddress { id } => Some(*id),
            _ => None,
        })
        .collect();
    let first = addr("203.0.1.1:8333");
    d.actions(Input::AddressResult {
        id: ids[0],
        result: Ok(first),
    });
    let group = GroupKey::of_host(first.host());
    assert_eq!(
        d.mgr.outbound_group_count(&group),
        1,
        "counted while still dialling"
    );
    let same_group = addr("203.0.200.200:8333");
    assert_eq!(
        d.actions(Input::AddressResult {
            id: ids[1],
            result: Ok(same_group)
        }),
        vec![Action::RequestAddress { id: ids[1] }]
    );
    assert_eq!(d.mgr.stats().addresses_refused_group_full, 1);
    let other: PeerAddr = addr("198.18.0.1:8333"); // a different group
    let other = if GroupKey::of_host(other.host()) == group {
        addr("8.8.8.8:8333")
    } else {
        other
    };
    let actions = d.actions(Input::AddressResult {
        id: ids[1],
        result: Ok(other),
    });
    assert!(matches!(actions[..], [Action::Dial { .. }]));
}

/// A source that keeps offering full groups is cut off after
/// `max_address_retries` and counted as an address failure.
#[test]
fn full_groups_end_in_an_address_failure_after_bounded_retries() {
    let config = Config {
        target_outbound: 2,
        block_relay_outbound: 0,
        max_address_retries: 3,
        address_book: connmgr::AddressBook::External,
        ..Config::default()
    };
    let mut d = Driver::new(config);
    let actions = d.actions(Input::Start);
    let [Action::RequestAddress { id: a }, Action::RequestAddress { id: b }] = actions[..] else {
        panic!()
    };
    d.actions(Input::AddressResult {
        id: a,
        result: Ok(addr("203.0.1.1:8333")),
    });
    for _ in 0..3 {
        let again = d.actions(Input::AddressResult {
            id: b,
            result: Ok(addr("203.0.2.2:8333")),
        });
        assert_eq!(again, vec![Action::RequestAddress { id: b }]);
    }
    let last = d.actions(Input::AddressResult {
        id: b,
        result: Ok(addr("203.0.3.3:8333")),
    });
    assert_eq!(
        last[0],
        gave_up(b, Reason::NoAddress(connmgr::AddressError::GroupsFull))
    );
    assert_eq!(d.mgr.failed_attempts(), 1);
}

/// Local and unroutable addresses are exempt from the group limit.
#[test]
fn local_addresses_are_exempt_from_the_group_limit() {
    let mut d = Driver::new(Config {
        target_outbound: 4,
        block_relay_outbound: 0,
        address_book: connmgr::AddressBook::External,
        ..Config::default()
    });
    let mut rt = fixed_ok("127.0.0.1:8333");
    let actions = d.run(Input::Start, &mut rt);
    assert_eq!(connected(&actions).len(), 4);
}

/// The core owns the dial timeout: it cancels the dial and counts a failure.
#[test]
fn dial_timeout_cancels_and_counts_a_failure() {
    let mut d = Driver::new(Config {
        target_outbound: 1,
        ..Config::btcd()
    });
    let actions = d.actions(Input::Start);
    let [Action::RequestAddress { id }] = actions[..] else {
        panic!()
    };
    d.actions(Input::AddressResult {
        id,
        result: Ok(addr("203.0.113.1:8333")),
    });
    assert_eq!(d.mgr.poll_timeout(), Some(d.now + secs(30)));
    let fired = d.advance_manual(Instant::ZERO + secs(30));
    assert_eq!(fired[0], Action::CancelDial { id, attempt: 1 });
    assert_eq!(
        fired[1],
        gave_up(id, Reason::DialFailed(DialError::TimedOut))
    );
    assert!(
        matches!(fired[2], Action::RequestAddress { .. }),
        "replaced"
    );
    assert_eq!(d.mgr.stats().dial_timeouts, 1);
    assert_eq!(d.mgr.failed_attempts(), 1);
}

/// A result for a timed-out attempt of a permanent request is recognised as
/// stale; the new attempt is unaffected.
#[test]
fn late_result_of_a_superseded_attempt_is_ignored() {
    let config = Config {
        automatic_outbound: false,
        ..Config::btcd()
    };
    let mut d = Driver::new(config);
    d.actions(Input::Start);
    let id = d.id(Input::Connect {
        addr: addr("203.0.113.1:8333"),
        permanent: true,
    });
    d.advance_manual(Instant::ZERO + secs(30 + 5));
    assert_eq!(d.mgr.state(id), ConnState::Dialing { attempt: 2 });
    let late = Input::DialResult {
        id,
        attempt: 1,
        result: Ok(()),
    };
    assert_eq!(
        d.feed(late),
        (Err(Ignored::StaleAttempt { id, attempt: 1 }), vec![])
    );
    assert_eq!(d.mgr.state(id), ConnState::Dialing { attempt: 2 });
}

/// Time that goes backwards is clamped and counted, never a panic.
#[test]
fn time_going_backwards_is_clamped() {
    let mut d = Driver::new(Config::btcd());
    d.now = Instant::from_secs(10);
    d.actions(Input::Start);
    d.now = Instant::from_secs(1);
    d.actions(Input::Tick);
    assert_eq!(d.mgr.now(), Instant::from_secs(10));
    assert_eq!(d.mgr.stats().time_went_backwards, 1);
}
