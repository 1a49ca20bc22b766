//! Stop while dials are in flight leaks no descriptor. Alone in its test
//! binary (its own process), so no other test's sockets change the count.

mod common;

use std::time::Duration;

use connmgr_store::StaticList;
use connmgr_tokio::{Builder, Event};
use tokio::io::AsyncReadExt;

use common::*;

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_while_dials_are_in_flight_leaks_no_descriptor() {
    tokio::time::timeout(Duration::from_secs(30), async {
        let hole = blackhole();
        let peer = std::net::TcpListener::bind(loopback()).unwrap();
        let dir = temp_dir("fd-leak");
        let before = open_descriptors();

        let mut config = config();
        config.automatic_outbound = true;
        config.target_outbound = 8;
        let (handle, mut events) = Builder::new(config)
            .listen(loopback())
            .address_source(Box::new(StaticList::new(vec![hole.addr])))
            .record_trace(dir.join("trace.jsonl"))
            .spawn()
            .unwrap();
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
        } = until(&mut events, "Connected", |e| {
            matches!(e, Event::Connected { .. })
        })
        .await
        else {
            unreachable!()
        };
        assert_eq!(got, id);

        let deadline = tokio::time::Instant::now() + WAIT;
        while handle.counts().await.unwrap().dialing < 10 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "dials never all in flight"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let during = open_descriptors();
        // 10 dialling sockets, the listener, the trace file, the stream.
        assert!(during >= before + 13, "before {before}, during {during}");

        let stats = handle.shutdown().await.unwrap();
        assert_eq!(stats.dial_timeouts, 0, "cancelled by stop, not timed out");
        // The stream the application holds was shut down, not closed: its
        // descriptor is the application's until it drops it.
        let mut buf = [0u8; 1];
        assert_eq!(stream.read(&mut buf).await.unwrap(), 0);
        assert_eq!(open_descriptors(), before + 1);
        drop(stream);
        while events.recv().await.is_some() {}
        assert_eq!(open_descriptors(), before, "descriptors leaked");
        std::fs::remove_dir_all(&dir).unwrap();
    })
    .await
    .expect("test exceeded 30 s");
}
