//! The periodic `Persist`: what was learned survives a crash because the
//! runtime is asked to save it every `persist_interval` while running.

mod common;

use std::time::Duration;

use common::*;
use connmgr::{Action, Config, Input, Instant};

fn persists(actions: &[Action]) -> usize {
    actions.iter().filter(|a| **a == Action::Persist).count()
}

fn manual(config: Config) -> Config {
    Config {
        automatic_outbound: false,
        ..config
    }
}

#[test]
fn the_runtime_is_asked_to_save_every_interval_while_running() {
    let mut d = Driver::new(manual(Config::default()));
    assert_eq!(d.mgr.config().persist_interval, Duration::from_secs(600));
    assert!(d.actions(Input::Start).is_empty());
    let start = d.now;
    assert_eq!(d.mgr.poll_timeout(), Some(start + Duration::from_secs(600)));
    assert_eq!(
        persists(&d.advance_manual(start + Duration::from_secs(599))),
        0
    );
    assert_eq!(
        persists(&d.advance_manual(start + Duration::from_secs(600))),
        1
    );
    let later = d.advance_manual(start + Duration::from_secs(1800));
    assert_eq!(persists(&later), 2, "at 20 and 30 minutes");
    assert_eq!(d.mgr.stats().persist_requests, 3);

    // Stop ends them: the runtime saves once more at shutdown itself.
    d.actions(Input::Stop);
    assert_eq!(d.mgr.poll_timeout(), None);
    assert_eq!(
        persists(&d.advance_manual(start + Duration::from_secs(7200))),
        0
    );
}

#[test]
fn btcds_connmgr_never_asks_and_zero_turns_it_off() {
    for config in [
        manual(Config::btcd()),
        Config {
            persist_interval: Duration::ZERO,
            ..manual(Config::default())
        },
    ] {
        let mut d = Driver::new(config);
        d.actions(Input::Start);
        assert_eq!(d.mgr.poll_timeout(), None);
        let day = d.advance_manual(Instant::ZERO + Duration::from_secs(24 * 3600));
        assert_eq!(persists(&day), 0);
    }
}
