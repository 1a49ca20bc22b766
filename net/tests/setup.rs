//! The one setup path: secret seeds by default, and traces that carry them.

use std::io::Write;
use std::sync::{Arc, Mutex};

use connmgr::trace::replay;
use connmgr::{Config, Input, Instant, ListenerId};
use connmgr_net::{BuildError, Builder, Launch, Prepared};

/// A runtime that hands the prepared manager back, to look at it.
#[derive(Default)]
struct Inspect;

impl Launch for Inspect {
    type Built = Prepared;
    type Error = BuildError;

    fn launch(self, prepared: Prepared) -> Result<Prepared, BuildError> {
        Ok(prepared)
    }
}

/// A writer whose bytes stay readable after the recorder is done.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn two_managers_built_with_the_default_config_get_different_keys() {
    let build = || {
        Builder::<Inspect>::new(Config::default())
            .build()
            .unwrap()
            .core
            .manager()
            .config()
            .rng_seed
            .expect("the builder resolves the seed")
    };
    let (a, b) = (build(), build());
    assert_ne!(a, b);
    let (a, b) = (a.keys(), b.keys());
    assert_ne!(a.book, b.book);
    assert_ne!(a.eviction, b.eviction);
    assert_ne!(a.jitter, b.jitter);
}

#[test]
fn a_seed_set_in_the_config_is_kept() {
    let seed = connmgr::Seed::from_u64(42);
    let config = Config {
        rng_seed: Some(seed),
        ..Config::default()
    };
    let prepared = Builder::<Inspect>::new(config).build().unwrap();
    assert_eq!(prepared.core.manager().config().rng_seed, Some(seed));
}

/// Enough inbound connections from distinct groups to make the manager
/// evict, a choice its secret eviction key decides.
#[test]
fn a_default_config_run_records_its_seed_and_replays_identically() {
    let out = Shared::default();
    let config = Config {
        automatic_outbound: false,
        // Bitcoin Core's eviction protects up to 28 peers before the
        // uptime half: 30 leaves room to evict, and which groups are
        // protected is a keyed hash.
        max_inbound: 30,
        ..Config::default()
    };
    let mut prepared = Builder::<Inspect>::new(config)
        .record_trace_to(out.clone())
        .build()
        .unwrap();
    let seed = prepared.core.manager().config().rng_seed.unwrap();
    let core = &mut prepared.core;
    let start = core.manager().now();
    let mut evicted = 0;
    for i in 0..40u8 {
        let now = start + std::time::Duration::from_secs(u64::from(i));
        let input = match i {
            0 => Input::Start,
            _ => Input::Accepted {
                listener: ListenerId(0),
                remote: ([203, i, 0, 1], 8333).into(),
                network: None,
            },
        };
        let _ = core.handle(now, input);
        while let Some(action) = core.poll_action() {
            evicted += usize::from(matches!(
                action,
                connmgr::Action::Close {
                    reason: connmgr::Reason::Evicted,
                    ..
                }
            ));
        }
    }
    assert!(evicted > 0, "the run must exercise the eviction key");
    let _ = core.handle(Instant::MAX, Input::Stop);
    core.close().unwrap();

    let bytes = out.0.lock().unwrap().clone();
    let header = std::str::from_utf8(&bytes).unwrap().lines().next().unwrap();
    assert!(header.contains(&seed.to_hex()), "{header}");
    let report = replay(&bytes[..]).unwrap();
    assert!(report.is_identical(), "{report}");
}

#[test]
fn one_file_for_the_trace_and_the_peers_file_is_refused_at_start() {
    let dir = std::env::temp_dir().join(format!("connmgr-same-path-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let peers = dir.join("node.json");
    // The same file through another spelling of its directory.
    let trace = dir.join(".").join("node.json");
    let err = Builder::<Inspect>::new(Config::default())
        .peers_file(&peers)
        .record_trace(&trace)
        .build()
        .map(drop)
        .unwrap_err();
    assert!(matches!(err, BuildError::SamePath { .. }), "{err}");
    assert!(err
        .to_string()
        .contains("both as the trace and as the peers file"));
    assert!(!peers.exists(), "nothing was created");
    std::fs::remove_dir_all(&dir).unwrap();
}
