//! Listeners: binding with the system's backlog.

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

/// The backlog when the system's cannot be read (Linux's default since 5.4).
const DEFAULT_BACKLOG: i32 = 4096;

/// The system's maximum listen backlog (`net.core.somaxconn`), as Go uses.
/// std's 128 overflows under a burst of connects and costs SYN
/// retransmits of a second or more.
pub(crate) fn system_backlog() -> i32 {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_BACKLOG)
}

/// A non-blocking listening socket on `addr`, with `SO_REUSEADDR` (as std
/// and tokio set it) so a restarted node can listen again at once.
pub(crate) fn bind(addr: SocketAddr, backlog: i32) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}
