//! Listening sockets with the system's backlog.

use std::io;
use std::net::{SocketAddr, TcpListener};

use socket2::{Domain, Protocol, Socket, Type};

/// The backlog when the system's cannot be read: Linux's default since 5.4.
const DEFAULT_SOMAXCONN: i32 = 4096;

/// The system's largest listen backlog (`net.core.somaxconn`), as Go uses.
/// std's, tokio's and mio's 128 overflows under a burst of connects and
/// costs SYN retransmits of a second or more (`docs/BENCHMARKS.md`, "The
/// machine").
pub fn somaxconn() -> i32 {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_SOMAXCONN)
}

/// A non-blocking listener on `addr` with a backlog of `backlog`, ready to
/// hand to any event loop (`from_std`).
///
/// `SO_REUSEADDR` is set on Unix as std, tokio and mio do: it lets a
/// restarted node listen again while old connections sit in `TIME_WAIT`,
/// and on Linux it never lets two sockets listen on one address.
pub fn listen(addr: SocketAddr, backlog: i32) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn somaxconn_is_positive() {
        assert!(somaxconn() > 0);
    }

    #[test]
    fn a_second_listener_on_the_same_address_is_refused_as_in_use() {
        let first = listen("127.0.0.1:0".parse().unwrap(), somaxconn()).unwrap();
        let addr = first.local_addr().unwrap();
        let second = listen(addr, somaxconn()).unwrap_err();
        assert_eq!(second.kind(), io::ErrorKind::AddrInUse);
    }

    #[test]
    fn the_listener_does_not_block() {
        let listener = listen("127.0.0.1:0".parse().unwrap(), 16).unwrap();
        let e = listener.accept().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    }
}
