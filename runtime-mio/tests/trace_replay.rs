//! A real run on loopback, recorded with one builder call, replays
//! identically with the core alone.

mod common;

use std::io::BufReader;
use std::time::Duration;

use common::{refused_addr, run_until, Seen};
use connmgr::trace::{self, ReplayReport};
use connmgr::{Config, Direction};
use connmgr_mio::{Builder, StaticList};

#[test]
fn a_recorded_run_replays_identically() {
    let dir = std::env::temp_dir().join(format!("connmgr-mio-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("run.trace.jsonl");

    // A remote that never accepts (its queue completes the handshakes), and
    // an address that refuses: automatic dials alternate between them.
    let remote = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let config = Config {
        target_outbound: 2,
        block_relay_outbound: 0,
        address_book: connmgr::AddressBook::External,
        ..Config::default()
    };
    let mut reactor = Builder::new(config)
        .listen("127.0.0.1:0".parse().unwrap())
        .address_source(Box::new(StaticList::new(vec![
            refused_addr(),
            remote.local_addr().unwrap(),
        ])))
        .record_trace(&path)
        .build()
        .unwrap();
    let own = reactor.listen_addrs()[0];
    reactor.start().unwrap();
    reactor.connect(own, false).unwrap();
    let mut seen = Seen::default();
    // Two automatic + one manual outbound, one inbound.
    assert!(run_until(
        &mut reactor,
        &mut seen,
        Duration::from_secs(10),
        |seen, _| seen.connected == 4
    ));
    assert!(!seen.gave_up.is_empty(), "a refused dial was recorded");

    // The application drops an automatic peer (replaced), the manager
    // disconnects the inbound one.
    let automatic = seen
        .peers
        .iter()
        .position(|p| p.peer_addr() == remote.local_addr().unwrap())
        .unwrap();
    drop(seen.peers.swap_remove(automatic));
    let inbound = seen
        .peers
        .iter()
        .find(|p| p.direction() == Direction::Inbound)
        .unwrap()
        .id();
    reactor.disconnect(inbound).unwrap();
    assert!(run_until(
        &mut reactor,
        &mut seen,
        Duration::from_secs(10),
        |seen, r| seen.disconnected.len() >= 2 && r.manager().counts().automatic_established == 2
    ));
    let stats = reactor.shutdown().unwrap();
    drop(reactor);

    let file = std::fs::File::open(&path).unwrap();
    let report = trace::replay(BufReader::new(file)).unwrap();
    let ReplayReport::Identical {
        inputs,
        actions_compared,
        unchecked_inputs,
    } = report
    else {
        panic!("{report}");
    };
    println!("replay: {report}");
    assert_eq!(inputs, stats.inputs);
    assert_eq!(unchecked_inputs, 0);
    assert!(actions_compared >= 20, "{report}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// With the address book inside the manager: a first life learns addresses
/// and saves them; a second, recorded, starts from the saved book (carried
/// in the trace's header), dials from it, and hears of more from a peer
/// after its handshake. The trace replays identically.
#[test]
fn a_run_with_the_book_inside_replays_identically() {
    let dir = std::env::temp_dir().join(format!("connmgr-mio-book-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (peers, path) = (dir.join("peers.json"), dir.join("run.trace.jsonl"));
    let remote = std::net::TcpListener::bind("127.0.0.1:0").unwrap();

    let mut first = Builder::new(common::manual_config())
        .peers_file(&peers)
        .accept_local_addresses(true)
        .build()
        .unwrap();
    let known = vec![
        common::advertised(&first, remote.local_addr().unwrap()),
        common::advertised(&first, refused_addr()),
    ];
    first.learned(None, known).unwrap();
    // Both loopback addresses fall in one new bucket placed by the secret
    // key; one in 64 keys puts them in one slot, and the book keeps one.
    let saved = first.shutdown().unwrap().addresses_learned;
    assert!((1..=2).contains(&saved), "{saved} addresses saved");
    drop(first);

    let config = Config {
        target_outbound: 2,
        dial_timeout: Duration::from_millis(500),
        ..Config::default()
    };
    let mut reactor = Builder::new(config)
        .peers_file(&peers)
        .accept_local_addresses(true)
        .record_trace(&path)
        .build()
        .unwrap();
    reactor.start().unwrap();
    let mut seen = Seen::default();
    assert!(run_until(
        &mut reactor,
        &mut seen,
        Duration::from_secs(10),
        |seen, _| seen.peers.iter().any(|p| p.kind().relays_addresses())
    ));
    // Addresses come over a full-relay peer: the block-relay-only ones,
    // which may connect first, take none.
    let peer = seen.peers.iter().find(|p| p.kind().relays_addresses());
    let id = peer.expect("a full-relay peer connected").id();
    reactor.handshaked(id).unwrap();
    let more = vec![
        common::advertised(&reactor, "127.0.0.2:18444".parse().unwrap()),
        common::advertised(&reactor, "127.0.0.3:18444".parse().unwrap()),
    ];
    reactor.learned(Some(id), more).unwrap();
    // Every loopback address shares one new bucket, placed by the secret
    // key: one of the two may lose its slot to an address learned before.
    let stats = reactor.manager().stats();
    assert_eq!(stats.addresses_offered, 2, "the outbound peer is heard");
    assert!((1..=2).contains(&stats.addresses_learned), "{stats:?}");
    assert_eq!(reactor.manager().book_counts().unwrap().tried, 1);
    let stats = reactor.shutdown().unwrap();
    drop(reactor);

    let read = || BufReader::new(std::fs::File::open(&path).unwrap());
    let report = trace::replay(read()).unwrap();
    assert!(report.is_identical(), "{report}");
    let header = trace::TraceReader::new(read()).unwrap().header().clone();
    assert_eq!(header.book.map(|b| b.len() as u64), Some(saved));
    assert!(stats.inputs >= 4);
    assert_eq!(
        common::saved_state(&peers, remote.local_addr().unwrap()),
        Some(true)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_trace_can_go_to_any_writer() {
    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Shared::default();
    let mut reactor = Builder::new(common::manual_config())
        .record_trace_to(buffer.clone())
        .build()
        .unwrap();
    reactor.start().unwrap();
    reactor.connect(refused_addr(), false).unwrap();
    let mut seen = Seen::default();
    assert!(run_until(
        &mut reactor,
        &mut seen,
        Duration::from_secs(10),
        |seen, _| !seen.gave_up.is_empty()
    ));
    reactor.shutdown().unwrap();
    let bytes = buffer.0.lock().unwrap().clone();
    assert!(trace::replay(&bytes[..]).unwrap().is_identical());
}
