//! `runtime=raw`: the physical limit. The same socket operations as the
//! runtimes do, in a minimal single-threaded non-blocking mio loop, with no
//! manager at all: connect, learn the outcome from `SO_ERROR` and
//! `getpeername`, read to EOF, close, connect again.

use std::io::{self, Read};
use std::net::SocketAddr;
use std::time::Duration;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

use super::{is_over, listeners, poll_timeout, Churn, Establish, Meter};

/// Listener `i` has token `i`; client `j` has `CLIENTS + j`.
const CLIENTS: usize = 1 << 20;

/// The harness: `k` listeners in `poll`, and the addresses to cycle over.
struct Harness {
    poll: Poll,
    listeners: Vec<TcpListener>,
    addrs: Vec<SocketAddr>,
    next_addr: usize,
}

impl Harness {
    fn new(k: usize) -> io::Result<Harness> {
        let poll = Poll::new()?;
        let mut mio_listeners = Vec::with_capacity(k);
        for (i, listener) in listeners(k)?.into_iter().enumerate() {
            let mut listener = TcpListener::from_std(listener);
            poll.registry()
                .register(&mut listener, Token(i), Interest::READABLE)?;
            mio_listeners.push(listener);
        }
        let addrs = mio_listeners
            .iter()
            .map(TcpListener::local_addr)
            .collect::<io::Result<_>>()?;
        Ok(Harness {
            poll,
            listeners: mio_listeners,
            addrs,
            next_addr: 0,
        })
    }

    /// A non-blocking connect to the next listener, registered for
    /// `interest` as client `index`.
    fn dial(&mut self, index: usize, interest: Interest) -> io::Result<TcpStream> {
        let addr = self.addrs[self.next_addr % self.addrs.len()];
        self.next_addr = self.next_addr.wrapping_add(1);
        let mut stream = TcpStream::connect(addr)?;
        self.poll
            .registry()
            .register(&mut stream, Token(CLIENTS + index), interest)?;
        Ok(stream)
    }
}

/// The outcome of a non-blocking connect that reported readiness, as the
/// runtimes check it: `Some(true)` connected, `Some(false)` failed, `None`
/// not yet (a spurious wake-up).
fn connect_outcome(stream: &TcpStream) -> Option<bool> {
    match stream.take_error() {
        Ok(None) => match stream.peer_addr() {
            Ok(_) => Some(true),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => None,
            Err(_) => Some(false),
        },
        Ok(Some(_)) | Err(_) => Some(false),
    }
}

/// Connects `n` clients round-robin to `k` listeners that accept and hold
/// every connection; the clock stops at the `n`-th connected client.
pub fn establish(n: usize, k: usize, timeout: Duration) -> io::Result<Establish> {
    let mut meter = Meter::start(timeout);
    let mut h = Harness::new(k)?;
    let mut events = Events::with_capacity(1024);
    let mut accepted = Vec::with_capacity(n);
    let mut clients: Vec<(TcpStream, bool)> = Vec::with_capacity(n);
    let mut connected = 0;

    meter.restart();
    for i in 0..n {
        let stream = h.dial(i, Interest::WRITABLE)?;
        clients.push((stream, false));
    }
    let accept = |h: &mut Harness, accepted: &mut Vec<TcpStream>, i: usize| {
        while let Ok((stream, _)) = h.listeners[i].accept() {
            accepted.push(stream);
        }
    };
    while connected < n && !meter.expired() {
        h.poll.poll(&mut events, poll_timeout(None, meter.left()))?;
        for event in events.iter() {
            let Token(token) = event.token();
            if token < k {
                accept(&mut h, &mut accepted, token);
                continue;
            }
            let index = token - CLIENTS;
            let (stream, done) = &mut clients[index];
            if *done {
                continue;
            }
            match connect_outcome(stream) {
                Some(true) => {
                    *done = true;
                    connected += 1;
                    h.poll.registry().deregister(stream)?;
                }
                Some(false) => clients[index].0 = h.dial(index, Interest::WRITABLE)?,
                None => {}
            }
        }
    }
    let secs = meter.secs();
    let cpu_us = meter.cpu_us();
    // Both ends held before memory is read.
    while accepted.len() < connected && !meter.expired() {
        h.poll.poll(&mut events, poll_timeout(None, meter.left()))?;
        for i in 0..k {
            accept(&mut h, &mut accepted, i);
        }
    }
    let rss_kb = meter.peak_rss_kb();
    let held = accepted.len();
    Ok(Establish {
        secs,
        rss_kb,
        connected,
        held,
        cpu_us,
    })
}

/// `n` clients connect round-robin to `k` listeners that close every
/// connection as soon as they accept it; a client that reads EOF closes and
/// connects again. Counts connections up to `conns`.
pub fn churn(n: usize, k: usize, conns: u64, timeout: Duration) -> io::Result<Churn> {
    struct Client {
        stream: TcpStream,
        connected: bool,
    }
    let interest = Interest::READABLE | Interest::WRITABLE;
    let mut meter = Meter::start(timeout);
    let mut h = Harness::new(k)?;
    let mut events = Events::with_capacity(1024);
    let mut buf = [0u8; 64];
    let mut done = 0u64;

    meter.restart();
    let mut clients = (0..n)
        .map(|i| {
            Ok(Client {
                stream: h.dial(i, interest)?,
                connected: false,
            })
        })
        .collect::<io::Result<Vec<_>>>()?;
    'run: while done < conns && !meter.expired() {
        h.poll.poll(&mut events, poll_timeout(None, meter.left()))?;
        for event in events.iter() {
            let Token(token) = event.token();
            if token < k {
                while let Ok((stream, _)) = h.listeners[token].accept() {
                    drop(stream);
                }
                continue;
            }
            let index = token - CLIENTS;
            let client = &mut clients[index];
            let mut redial = false;
            if !client.connected {
                match connect_outcome(&client.stream) {
                    Some(true) => {
                        client.connected = true;
                        done += 1;
                        if done >= conns {
                            break 'run;
                        }
                    }
                    Some(false) => redial = true,
                    None => {}
                }
            }
            if client.connected && event.is_readable() {
                redial = is_over(&client.stream.read(&mut buf));
            }
            if redial {
                clients[index] = Client {
                    stream: h.dial(index, interest)?,
                    connected: false,
                };
            }
        }
    }
    Ok(Churn {
        conns: done,
        secs: meter.secs(),
        cpu_us: meter.cpu_us(),
    })
}
