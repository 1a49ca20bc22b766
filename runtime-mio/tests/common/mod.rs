//! Helpers shared by the integration tests. Every loop here is bounded in
//! time; every address is on loopback.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use connmgr::{Config, ConnId, Reason};
use connmgr_mio::{Event, LoopEvent, Peer, Reactor};
use socket2::{Domain, Socket, Type};

/// Descriptors this process has open.
pub fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

/// A config with no automatic outbound: only what a test asks for.
pub fn manual_config() -> Config {
    Config {
        automatic_outbound: false,
        ..Config::default()
    }
}

/// An address nothing listens on: connecting is refused.
pub fn refused_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// A listener with a backlog of 1 whose queue is full and which never
/// accepts: Linux drops further SYNs, so a dial to it never completes.
pub struct FullListener {
    pub addr: SocketAddr,
    _socket: Socket,
    _fillers: Vec<mio::net::TcpStream>,
}

pub fn full_listener() -> FullListener {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket
        .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    socket.listen(1).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    // The queue holds backlog + 1 = 2; a third makes sure it is full.
    let fillers = (0..3)
        .map(|_| mio::net::TcpStream::connect(addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    FullListener {
        addr,
        _socket: socket,
        _fillers: fillers,
    }
}

/// What a standalone reactor delivered.
#[derive(Debug, Default)]
pub struct Seen {
    pub peers: Vec<Peer>,
    pub connected: usize,
    pub ready: Vec<ConnId>,
    pub disconnected: Vec<(ConnId, Reason)>,
    pub gave_up: Vec<(ConnId, Reason)>,
}

impl Seen {
    pub fn record(&mut self, event: LoopEvent<'_>) {
        let LoopEvent::Peer(event) = event else {
            return;
        };
        match event {
            Event::Connected { stream: peer, .. } => {
                self.connected += 1;
                self.peers.push(peer);
            }
            Event::Ready { id, .. } => self.ready.push(id),
            Event::Disconnected { id, reason } => self.disconnected.push((id, reason)),
            Event::GaveUp { id, reason } => self.gave_up.push((id, reason)),
            _ => {}
        }
    }

    pub fn take_peer(&mut self, id: ConnId) -> Peer {
        let index = self.peers.iter().position(|p| p.id() == id).unwrap();
        self.peers.swap_remove(index)
    }
}

/// Runs `reactor` in 10 ms slices until `done` holds or `limit` passes;
/// returns whether `done` held.
pub fn run_until(
    reactor: &mut Reactor,
    seen: &mut Seen,
    limit: Duration,
    done: impl Fn(&Seen, &Reactor) -> bool,
) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done(seen, reactor) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        reactor
            .run_for(Duration::from_millis(10), |_, event| seen.record(event))
            .unwrap();
    }
}

/// Reads `peer` (non-blocking) until EOF or an error, for at most `limit`;
/// returns what ended it: `Ok(())` for EOF, the error otherwise.
pub fn read_to_end(peer: &Peer, limit: Duration) -> std::io::Result<()> {
    use std::io::Read;
    let deadline = Instant::now() + limit;
    let mut buf = [0u8; 1024];
    loop {
        match (&*peer).read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "no EOF within {limit:?}");
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(e),
        }
    }
}

/// `addr`, advertised as seen now (the reactor's clock is the Unix time).
pub fn advertised(reactor: &Reactor, addr: SocketAddr) -> connmgr::Advertised {
    connmgr::Advertised::new(addr, reactor.now())
}

/// Whether the book saved at `path` knows `addr`: `Some(true)` if tried,
/// `Some(false)` if new, `None` if unknown (or no file yet).
pub fn saved_state(path: &std::path::Path, addr: SocketAddr) -> Option<bool> {
    let book = connmgr_store::load_book(path).ok()??;
    let found = book.addresses().into_iter().find(|(a, _)| *a == addr);
    found.map(|(_, tried)| tried)
}
