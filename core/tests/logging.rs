//! What the manager says where an operator can hear it: once per episode at
//! warn level when accepting fails or there is nothing to dial, not a line
//! per event for ever.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use connmgr::{AcceptError, AddressError, Config, Input, ListenerId};

/// Runs `f` with every log line at warn or above captured.
fn warnings(f: impl FnOnce()) -> Vec<String> {
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    text.lines().map(str::to_owned).collect()
}

#[test]
fn an_empty_address_source_is_reported_once_until_an_address_comes() {
    let config = Config {
        target_outbound: 4,
        ..Config::default()
    };
    let mut d = Driver::new(config);
    let logged = warnings(|| {
        let mut requests = d.actions(Input::Start);
        // Many rounds of failed requests and their replacements.
        for _ in 0..20 {
            for action in std::mem::take(&mut requests) {
                if let connmgr::Action::RequestAddress { id } = action {
                    let failed = Input::AddressResult {
                        id,
                        result: Err(AddressError::Empty),
                    };
                    requests.extend(d.actions(failed));
                }
            }
            let later = d.now + Duration::from_secs(10);
            requests.extend(d.advance_manual(later));
        }
    });
    assert_eq!(logged.len(), 1, "{logged:#?}");
    assert!(logged[0].contains("no address to dial"), "{}", logged[0]);
}

#[test]
fn accept_errors_are_reported_once_per_episode() {
    // No automatic outbound: its empty address book would warn too.
    for config in [Config::default(), Config::btcd()] {
        let config = Config {
            automatic_outbound: false,
            ..config
        };
        let mut d = Driver::new(config);
        let listener = ListenerId(0);
        let failed = || Input::AcceptFailed {
            listener,
            error: AcceptError::TooManyOpenFiles,
        };
        let logged = warnings(|| {
            d.actions(Input::Start);
            for _ in 0..50 {
                d.actions(failed());
                let later = d.now + Duration::from_millis(50);
                d.advance_manual(later);
            }
            // It recovers; a later error is a new episode.
            d.actions(Input::Accepted {
                listener,
                remote: addr("203.0.113.9:8333"),
                network: None,
            });
            d.actions(failed());
        });
        assert_eq!(logged.len(), 2, "{logged:#?}");
        assert!(logged[0].contains("accepting failed"), "{}", logged[0]);
    }
}
