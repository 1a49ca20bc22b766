//! A SOCKS5 server for tests that records what each client asked for, then
//! plays the peer itself: it answers the CONNECT as told and echoes what
//! follows. It resolves nothing: a client that sent a name is seen sending
//! a name, which is how the tests know no DNS lookup happened on its side.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// One CONNECT as the proxy received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// RFC 1928's address type: 1 IPv4, 3 domain name, 4 IPv6.
    pub atyp: u8,
    /// The host as sent: the name, or the address in text.
    pub host: String,
    pub port: u16,
    /// The RFC 1929 username, if the client authenticated.
    pub user: Option<String>,
}

/// What the proxy answers every CONNECT with.
#[derive(Clone, Copy, Debug)]
pub enum Answer {
    /// Success, then echo.
    Connect,
    /// This RFC 1928 reply code, then close.
    Refuse(u8),
}

/// A running recorder on 127.0.0.1; its thread ends with the test process.
pub struct Recorder {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Recorder {
    pub fn start(answer: Answer) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let seen = Arc::clone(&seen);
                thread::spawn(move || {
                    let _ = serve(client, answer, &seen);
                });
            }
        });
        Recorder { addr, requests }
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

fn serve(mut client: TcpStream, answer: Answer, seen: &Mutex<Vec<Request>>) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut head = [0u8; 2];
    client.read_exact(&mut head)?;
    let mut methods = vec![0u8; usize::from(head[1])];
    client.read_exact(&mut methods)?;
    let user = if methods.contains(&2) {
        client.write_all(&[5, 2])?;
        let mut version_len = [0u8; 2];
        client.read_exact(&mut version_len)?;
        let mut user = vec![0u8; usize::from(version_len[1])];
        client.read_exact(&mut user)?;
        let mut pass_len = [0u8; 1];
        client.read_exact(&mut pass_len)?;
        let mut pass = vec![0u8; usize::from(pass_len[0])];
        client.read_exact(&mut pass)?;
        client.write_all(&[1, 0])?;
        Some(String::from_utf8_lossy(&user).into_owned())
    } else {
        client.write_all(&[5, 0])?;
        None
    };
    let mut request = [0u8; 4];
    client.read_exact(&mut request)?;
    let host = match request[3] {
        1 => {
            let mut ip = [0u8; 4];
            client.read_exact(&mut ip)?;
            std::net::Ipv4Addr::from(ip).to_string()
        }
        4 => {
            let mut ip = [0u8; 16];
            client.read_exact(&mut ip)?;
            std::net::Ipv6Addr::from(ip).to_string()
        }
        _ => {
            let mut len = [0u8; 1];
            client.read_exact(&mut len)?;
            let mut name = vec![0u8; usize::from(len[0])];
            client.read_exact(&mut name)?;
            String::from_utf8_lossy(&name).into_owned()
        }
    };
    let mut port = [0u8; 2];
    client.read_exact(&mut port)?;
    seen.lock().unwrap().push(Request {
        atyp: request[3],
        host,
        port: u16::from_be_bytes(port),
        user,
    });
    match answer {
        Answer::Refuse(code) => client.write_all(&[5, code, 0, 1, 0, 0, 0, 0, 0, 0]),
        Answer::Connect => {
            client.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0])?;
            let mut buf = [0u8; 1024];
            loop {
                let n = client.read(&mut buf)?;
                if n == 0 {
                    return Ok(());
                }
                client.write_all(&buf[..n])?;
            }
        }
    }
}
