//! Stop with dials in flight leaks no descriptor. Alone in its binary:
//! `/proc/self/fd` counts the whole process, so no other test may run
//! beside it.

mod common;

use std::time::Duration;

use common::{fd_count, full_listener, manual_config, read_to_end, run_until, Seen};
use connmgr::Reason;
use connmgr_mio::Builder;

const DIALS: usize = 20;

#[test]
fn stop_with_dials_in_flight_leaks_no_descriptor() {
    let full = full_listener();
    let before = fd_count();

    let trace = std::env::temp_dir().join(format!("connmgr-mio-leak-{}.jsonl", std::process::id()));
    let mut reactor = Builder::new(manual_config())
        .listen("127.0.0.1:0".parse().unwrap())
        .record_trace(&trace)
        .build()
        .unwrap();
    let own = reactor.listen_addrs()[0];
    reactor.start().unwrap();
    // One connection established (both ends held by the application)...
    reactor.connect(own, false).unwrap();
    // ...and dials that cannot complete.
    for _ in 0..DIALS {
        reactor.connect(full.addr, false).unwrap();
    }
    let mut seen = Seen::default();
    assert!(run_until(
        &mut reactor,
        &mut seen,
        Duration::from_secs(10),
        |seen, _| seen.connected == 2
    ));
    std::thread::sleep(Duration::from_millis(50));
    let _ = run_until(
        &mut reactor,
        &mut seen,
        Duration::from_millis(20),
        |_, _| false,
    );
    assert_eq!(reactor.manager().counts().dialing as usize, DIALS);
    assert_eq!(reactor.sockets(), 1 + DIALS);
    let during = fd_count();
    assert!(during >= before + DIALS + 3, "{before} then {during}");

    let stats = reactor.shutdown().unwrap();
    assert_eq!(stats.gave_up as usize, DIALS);
    assert_eq!(reactor.sockets(), 0);
    // The application's peers were shut down: they read EOF and are dropped.
    for peer in seen.peers.drain(..) {
        read_to_end(&peer, Duration::from_secs(5)).unwrap();
    }
    let _ = run_until(
        &mut reactor,
        &mut seen,
        Duration::from_millis(20),
        |_, _| false,
    );
    assert_eq!(
        seen.disconnected
            .iter()
            .filter(|(_, r)| *r == Reason::Stopped)
            .count(),
        2
    );
    // Only the reactor's own epoll descriptor is left (the trace file is
    // closed too)...
    assert_eq!(fd_count(), before + 1);
    drop(reactor);
    // ...and it goes with the reactor.
    assert_eq!(fd_count(), before);
    std::fs::remove_file(&trace).unwrap();
    println!("descriptors: {before} before, {during} with {DIALS} dials in flight, {before} after");
}
