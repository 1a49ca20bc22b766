//! The socket work: listeners with the system's backlog, and what each
//! `errno` means to the core.

use std::io;
use std::net::SocketAddr;

use connmgr::{AcceptError, DialError};
use socket2::{Domain, Protocol, Socket, Type};

/// The backlog when `/proc/sys/net/core/somaxconn` cannot be read: Linux's
/// default since 5.4.
const DEFAULT_SOMAXCONN: i32 = 4096;

/// The system's `somaxconn`, the largest listen backlog it grants.
pub(crate) fn somaxconn() -> i32 {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_SOMAXCONN)
}

/// A non-blocking listener on `addr` with a backlog of `backlog`.
///
/// `SO_REUSEADDR` is set as mio and std do on Unix: it lets a restarted node
/// bind while old connections sit in `TIME_WAIT`, and on Linux it never lets
/// two sockets listen on one address.
pub(crate) fn listen(addr: SocketAddr, backlog: i32) -> io::Result<mio::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    Ok(mio::net::TcpListener::from_std(socket.into()))
}

/// What a failed connect means to the core.
pub(crate) fn dial_error(error: &io::Error) -> DialError {
    match error.raw_os_error() {
        Some(libc::ECONNREFUSED) => DialError::Refused,
        Some(libc::ETIMEDOUT) => DialError::TimedOut,
        Some(libc::ENETUNREACH | libc::EHOSTUNREACH | libc::ENETDOWN | libc::EHOSTDOWN) => {
            DialError::Unreachable
        }
        Some(libc::ECONNRESET | libc::ECONNABORTED | libc::EPIPE) => DialError::Reset,
        // Out of descriptors, buffers or ephemeral ports; EAGAIN is what
        // connect(2) says when the routing cache or the ports run out.
        Some(
            libc::EMFILE
            | libc::ENFILE
            | libc::ENOBUFS
            | libc::ENOMEM
            | libc::EADDRNOTAVAIL
            | libc::EADDRINUSE
            | libc::EAGAIN,
        ) => DialError::Exhausted,
        _ => DialError::Other,
    }
}

/// What a failed accept means: `None` for the errors accept(2) says to
/// treat like `EAGAIN` and retry (a connection that died in the queue, a
/// signal), otherwise the error the core is told.
pub(crate) fn accept_error(error: &io::Error) -> Option<AcceptError> {
    match error.raw_os_error() {
        Some(libc::EMFILE | libc::ENFILE) => Some(AcceptError::TooManyOpenFiles),
        Some(libc::ENOBUFS | libc::ENOMEM) => Some(AcceptError::OutOfMemory),
        // accept(2), "Error handling": Linux passes the new connection's
        // pending network errors to accept(); retry as for EAGAIN.
        Some(
            libc::EINTR
            | libc::ECONNABORTED
            | libc::EPROTO
            | libc::ENETDOWN
            | libc::ENOPROTOOPT
            | libc::EHOSTDOWN
            | libc::ENONET
            | libc::EHOSTUNREACH
            | libc::EOPNOTSUPP
            | libc::ENETUNREACH,
        ) => None,
        _ => Some(AcceptError::Other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errnos_map_to_the_core_vocabulary() {
        let e = io::Error::from_raw_os_error;
        assert_eq!(dial_error(&e(libc::ECONNREFUSED)), DialError::Refused);
        assert_eq!(dial_error(&e(libc::ETIMEDOUT)), DialError::TimedOut);
        assert_eq!(dial_error(&e(libc::EHOSTUNREACH)), DialError::Unreachable);
        assert_eq!(dial_error(&e(libc::ECONNRESET)), DialError::Reset);
        assert_eq!(dial_error(&e(libc::EMFILE)), DialError::Exhausted);
        assert_eq!(dial_error(&e(libc::EADDRNOTAVAIL)), DialError::Exhausted);
        assert_eq!(dial_error(&e(libc::EACCES)), DialError::Other);
        assert_eq!(
            accept_error(&e(libc::EMFILE)),
            Some(AcceptError::TooManyOpenFiles)
        );
        assert_eq!(
            accept_error(&e(libc::ENOBUFS)),
            Some(AcceptError::OutOfMemory)
        );
        assert_eq!(accept_error(&e(libc::ECONNABORTED)), None);
        assert_eq!(accept_error(&e(libc::EINVAL)), Some(AcceptError::Other));
    }

    #[test]
    fn somaxconn_is_positive() {
        assert!(somaxconn() > 0);
    }
}
