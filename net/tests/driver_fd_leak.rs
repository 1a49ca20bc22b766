//! Shutdown while dials are in flight leaks no descriptor, on every runtime
//! of the shared driver. Alone in its test binary (its own process), and the
//! runtimes run one after the other, so no other test's sockets change the
//! count.

mod common;

use std::time::Duration;

use connmgr::Event;
use connmgr_net::Builder;
use connmgr_store::StaticList;

use common::*;

async fn shutdown_with_dials_in_flight<H: Harness>() {
    let hole = blackhole();
    let peer = std::net::TcpListener::bind(loopback()).unwrap();
    let dir = temp_dir(&format!("fd-leak-{}", H::NAME));
    // The runtime's own descriptors (async-io makes its reactor on first
    // use, and keeps it) are not the manager's.
    H::sleep(Duration::from_millis(1)).await;
    let before = open_descriptors();

    let mut config = config();
    config.automatic_outbound = true;
    config.target_outbound = 8;
    config.address_book = connmgr::AddressBook::External;
    let builder = Builder::new(config)
        .listen(loopback())
        .address_source(Box::new(StaticList::new(vec![hole.addr])))
        .record_trace(dir.join("trace.jsonl"));
    let (handle, mut events) = H::start(builder).unwrap();
    handle.connect(hole.addr, false).await.unwrap();
    handle.connect(hole.addr, true).await.unwrap();
    let id = handle
        .connect(peer.local_addr().unwrap(), true)
        .await
        .unwrap();
    let Event::Connected {
        id: got,
        mut stream,
        ..
    } = until::<H>(&mut events, "Connected", |e| {
        matches!(e, Event::Connected { .. })
    })
    .await
    else {
        unreachable!()
    };
    assert_eq!(got, id);
    eventually::<H, _>("ten dials in flight", || async {
        handle.counts().await.unwrap().dialing >= 10
    })
    .await;
    let during = open_descriptors();
    // 10 dialling sockets, the listener, the trace file, the stream.
    assert!(during >= before + 13, "before {before}, during {during}");

    let stats = handle.shutdown().await.unwrap();
    assert_eq!(
        stats.dial_timeouts, 0,
        "cancelled by shutdown, not timed out"
    );
    // The stream the application holds was shut down, not closed: its
    // descriptor is the application's until it drops it.
    let mut buf = [0u8; 1];
    assert_eq!(H::read(&mut stream, &mut buf).await.unwrap(), 0);
    assert_eq!(open_descriptors(), before + 1);
    drop(stream);
    while events.recv().await.is_some() {}
    assert_eq!(
        open_descriptors(),
        before,
        "{}: descriptors leaked",
        H::NAME
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn shutdown_while_dials_are_in_flight_leaks_no_descriptor() {
    Tokio::run(shutdown_with_dials_in_flight::<Tokio>());
    // Let the first runtime's threads go before counting again.
    std::thread::sleep(Duration::from_millis(100));
    Smol::run(shutdown_with_dials_in_flight::<Smol>());
}
