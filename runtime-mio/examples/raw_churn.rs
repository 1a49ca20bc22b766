//! The same socket work as `churn.rs` with no manager: a minimal,
//! single-threaded mio loop. `--n` clients (default 8) connect round-robin
//! to `--k` listeners (default 8) that close every connection at once; a
//! client that reads EOF closes and connects again, until `--total`
//! connections (default 20 000) were made.
//!
//! ```text
//! cargo run --release -p connmgr-mio --example raw_churn
//! ```

#[path = "common/measure.rs"]
mod measure;

use std::io::Read;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

const CLIENT_TOKENS: usize = 1 << 20;

struct Client {
    stream: TcpStream,
    connected: bool,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = measure::arg("--n", 8);
    let k: usize = measure::arg("--k", 8);
    let total: usize = measure::arg("--total", 20_000);

    let mut poll = Poll::new()?;
    let mut listeners = Vec::new();
    for i in 0..k {
        let mut listener = connmgr_mio::listen("127.0.0.1:0".parse()?)?;
        poll.registry()
            .register(&mut listener, Token(i), Interest::READABLE)?;
        listeners.push(listener);
    }
    let addrs: Vec<SocketAddr> = listeners
        .iter()
        .map(|l| l.local_addr())
        .collect::<Result<_, _>>()?;
    let mut next_addr = 0usize;
    let mut dial = |poll: &Poll, index: usize| -> std::io::Result<Client> {
        let addr = addrs[next_addr % addrs.len()];
        next_addr += 1;
        let mut stream = TcpStream::connect(addr)?;
        poll.registry().register(
            &mut stream,
            Token(CLIENT_TOKENS + index),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        Ok(Client {
            stream,
            connected: false,
        })
    };

    let mut events = Events::with_capacity(1024);
    let mut connected = 0usize;
    let mut buf = [0u8; 64];
    let cpu_before = measure::cpu_us();
    let started = Instant::now();
    let mut clients = (0..n)
        .map(|i| dial(&poll, i))
        .collect::<Result<Vec<_>, _>>()?;
    while connected < total {
        assert!(started.elapsed() < Duration::from_secs(120), "too slow");
        poll.poll(&mut events, None)?;
        for event in events.iter() {
            let token = event.token();
            if token.0 < k {
                while let Ok((stream, _)) = listeners[token.0].accept() {
                    drop(stream);
                }
                continue;
            }
            let index = token.0 - CLIENT_TOKENS;
            let client = &mut clients[index];
            let mut redial = false;
            if !client.connected {
                match client.stream.take_error() {
                    Ok(None) => {
                        if client.stream.peer_addr().is_ok() {
                            client.connected = true;
                            connected += 1;
                        }
                    }
                    _ => redial = true,
                }
            }
            if client.connected && event.is_readable() {
                redial = !matches!(client.stream.read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
            }
            if redial {
                clients[index] = dial(&poll, index)?;
            }
        }
    }
    let wall = started.elapsed();
    let cpu = measure::cpu_us() - cpu_before;
    println!(
        "churn (raw mio) N={n} K={k}: {connected} connections in {:.3} s = {:.0} conn/s; CPU {:.1} µs/conn (user+sys)",
        wall.as_secs_f64(),
        connected as f64 / wall.as_secs_f64(),
        cpu as f64 / connected as f64,
    );
    Ok(())
}
