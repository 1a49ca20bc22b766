//! What the system tests share: a real SOCKS5 server and a peer to reach
//! through it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

/// A `microsocks` on a free loopback port, killed on drop.
pub struct Proxy {
    child: Child,
    pub addr: SocketAddr,
}

impl Proxy {
    /// Starts microsocks and waits until it answers a SOCKS5 greeting.
    ///
    /// Its port is taken below the system's ephemeral range (32768 and
    /// up on Linux), so that no listener a test binds to port 0 can take it
    /// between the check that it is free and microsocks binding it; a port
    /// found taken anyway is skipped.
    pub fn start(auth: Option<(&str, &str)>) -> Proxy {
        static NEXT: AtomicU16 = AtomicU16::new(0);
        let base = 20_000 + (std::process::id() % 500) as u16 * 20;
        for _ in 0..50 {
            let port = base + NEXT.fetch_add(1, Ordering::Relaxed) % 10_000;
            if TcpListener::bind(("127.0.0.1", port)).is_err() {
                continue;
            }
            let mut command = Command::new("microsocks");
            command.args(["-i", "127.0.0.1", "-p", &port.to_string()]);
            if let Some((user, pass)) = auth {
                command.args(["-u", user, "-P", pass]);
            }
            let child = command
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("microsocks is installed (apt-get install microsocks; .ci/run does it)");
            let mut proxy = Proxy {
                child,
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
            };
            if proxy.answers(auth.is_some()) {
                return proxy;
            }
        }
        panic!("microsocks did not start on any of 50 ports");
    }

    /// Whether microsocks answers a greeting within 5 s (false if it
    /// exited, e.g. because its port was taken).
    fn answers(&mut self, auth: bool) -> bool {
        let method = if auth { 2 } else { 0 };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if let Ok(mut probe) = TcpStream::connect(self.addr) {
                let _ = probe.set_read_timeout(Some(Duration::from_secs(1)));
                let mut reply = [0u8; 2];
                let answered = probe.write_all(&[5, 1, method]).is_ok()
                    && probe.read_exact(&mut reply).is_ok();
                return answered && reply == [5, method];
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A peer on loopback that echoes what its first connection sends, once.
pub fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 64];
        let n = conn.read(&mut buf).unwrap();
        conn.write_all(&buf[..n]).unwrap();
    });
    addr
}
