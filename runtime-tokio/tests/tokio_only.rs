//! What only tokio's runtime does: the core's time follows tokio's clock,
//! so an application that tests with a paused runtime (`start_paused`) sees
//! the manager's timers fire in virtual time, as tokio's own timers do; and
//! building outside a runtime is an error that says so. (Everything the
//! shared driver does is tested on every runtime in `connmgr-net`'s
//! `tests/driver.rs`.)

use std::net::SocketAddr;
use std::time::Duration;

use connmgr::Config;
use connmgr_tokio::{BuildError, Builder};

/// An address nobody listens on (a port just released).
fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// Retries of a permanent peer that refuses, an hour apart, counted after
/// three hours and a minute of virtual time.
#[test]
fn a_paused_runtime_runs_the_managers_timers_in_virtual_time() {
    let (done, result) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        let dials = runtime.block_on(async {
            let config = Config {
                automatic_outbound: false,
                retry_interval: Duration::from_secs(3600),
                max_retry_interval: Duration::from_secs(3600),
                ..Config::default()
            };
            let (handle, _events) = Builder::new(config).spawn().unwrap();
            handle.connect(closed_port(), true).await.unwrap();
            tokio::time::sleep(Duration::from_secs(3 * 3600 + 60)).await;
            handle.stats().await.unwrap().dials
        });
        let _ = done.send(dials);
    });
    // A driver whose clock ignored the pause would never let tokio's clock
    // advance (it would spin on an expired timer), and this would time out.
    let dials = result
        .recv_timeout(Duration::from_secs(60))
        .expect("the paused runtime reaches three hours of virtual time");
    assert_eq!(dials, 4, "one dial, then a retry every virtual hour");
}

#[test]
fn building_outside_a_runtime_says_so() {
    let err = Builder::new(Config::default())
        .spawn()
        .map(drop)
        .unwrap_err();
    assert!(matches!(err, BuildError::Runtime(_)), "{err}");
    assert!(err.to_string().contains("within a tokio runtime"), "{err}");
}
