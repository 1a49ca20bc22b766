//! What a socket error means to the core.
//!
//! std names the portable cases (`io::ErrorKind`); on Unix the `errno`
//! refines the rest, because accept(2)'s "retry" list has no kinds.

use std::io;

use connmgr::{AcceptError, DialError};

/// What a failed connect means to the core; a SOCKS5 proxy's refusal
/// carried in the error means what the proxy said. A proxy that cannot be
/// used at all (it wants other credentials, or does not speak SOCKS5) is
/// the operator's to fix, and is logged as a warning.
pub fn dial_error(error: &io::Error) -> DialError {
    if let Some(socks) = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<crate::socks5::Socks5Error>())
    {
        if !matches!(socks, crate::socks5::Socks5Error::Reply(_)) {
            tracing::warn!(%socks, "the SOCKS5 proxy cannot be used: check its address, and whether it takes the per-connection credentials sent for Tor stream isolation (`Proxy::isolate`, `--no-proxy-isolation` on the command line)");
        }
        return socks.dial_error();
    }
    #[cfg(unix)]
    match error.raw_os_error() {
        Some(libc::ENETUNREACH | libc::EHOSTUNREACH | libc::ENETDOWN | libc::EHOSTDOWN) => {
            return DialError::Unreachable
        }
        // Out of descriptors, buffers or ephemeral ports; EAGAIN is what
        // connect(2) says when the routing cache or the ports run out.
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::EAGAIN) => {
            return DialError::Exhausted
        }
        _ => {}
    }
    match error.kind() {
        io::ErrorKind::ConnectionRefused => DialError::Refused,
        io::ErrorKind::NetworkUnreachable
        | io::ErrorKind::HostUnreachable
        | io::ErrorKind::NetworkDown => DialError::Unreachable,
        io::ErrorKind::TimedOut => DialError::TimedOut,
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => DialError::Reset,
        io::ErrorKind::AddrNotAvailable | io::ErrorKind::AddrInUse | io::ErrorKind::OutOfMemory => {
            DialError::Exhausted
        }
        _ => DialError::Other,
    }
}

/// What a failed accept means: the error to tell the core (which may pause
/// the listener), or `None` when there is nothing to tell.
///
/// `None` covers two cases, and the caller must tell them apart:
/// `WouldBlock` means the queue is empty, so wait for readiness before
/// accepting again; every other `None` (a signal, a connection that died
/// in the queue) means accept again at once. A listener of this crate is
/// a TCP stream socket, so the errors accept(2) lists as "retry" cannot
/// mean a misused socket here.
pub fn accept_error(error: &io::Error) -> Option<AcceptError> {
    #[cfg(unix)]
    match error.raw_os_error() {
        Some(libc::EMFILE | libc::ENFILE) => return Some(AcceptError::TooManyOpenFiles),
        Some(libc::ENOBUFS) => return Some(AcceptError::OutOfMemory),
        // accept(2), "Error handling": Linux passes the new connection's
        // pending network errors to accept(); retry as for EAGAIN.
        Some(
            libc::EPROTO
            | libc::ENETDOWN
            | libc::ENOPROTOOPT
            | libc::EHOSTDOWN
            | libc::EHOSTUNREACH
            | libc::EOPNOTSUPP
            | libc::ENETUNREACH,
        ) => return None,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        Some(libc::ENONET) => return None,
        _ => {}
    }
    match error.kind() {
        io::ErrorKind::OutOfMemory => Some(AcceptError::OutOfMemory),
        io::ErrorKind::Interrupted
        | io::ErrorKind::WouldBlock
        | io::ErrorKind::ConnectionAborted => None,
        _ => Some(AcceptError::Other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(k: io::ErrorKind) -> io::Error {
        io::Error::from(k)
    }

    #[test]
    fn dial_errors_by_kind() {
        use io::ErrorKind::*;
        for (k, want) in [
            (ConnectionRefused, DialError::Refused),
            (TimedOut, DialError::TimedOut),
            (ConnectionReset, DialError::Reset),
            (BrokenPipe, DialError::Reset),
            (AddrNotAvailable, DialError::Exhausted),
            (OutOfMemory, DialError::Exhausted),
            (PermissionDenied, DialError::Other),
        ] {
            assert_eq!(dial_error(&kind(k)), want, "{k:?}");
        }
    }

    #[test]
    fn accept_errors_by_kind() {
        assert_eq!(
            accept_error(&kind(io::ErrorKind::OutOfMemory)),
            Some(AcceptError::OutOfMemory)
        );
        assert_eq!(accept_error(&kind(io::ErrorKind::Interrupted)), None);
        assert_eq!(accept_error(&kind(io::ErrorKind::WouldBlock)), None);
        assert_eq!(
            accept_error(&kind(io::ErrorKind::InvalidInput)),
            Some(AcceptError::Other)
        );
    }

    #[cfg(unix)]
    #[test]
    fn unix_errnos() {
        let os = io::Error::from_raw_os_error;
        assert_eq!(dial_error(&os(libc::ECONNREFUSED)), DialError::Refused);
        assert_eq!(dial_error(&os(libc::ETIMEDOUT)), DialError::TimedOut);
        assert_eq!(dial_error(&os(libc::EHOSTUNREACH)), DialError::Unreachable);
        assert_eq!(dial_error(&os(libc::ENETDOWN)), DialError::Unreachable);
        assert_eq!(dial_error(&os(libc::ECONNRESET)), DialError::Reset);
        assert_eq!(dial_error(&os(libc::EMFILE)), DialError::Exhausted);
        assert_eq!(dial_error(&os(libc::EADDRNOTAVAIL)), DialError::Exhausted);
        assert_eq!(dial_error(&os(libc::EAGAIN)), DialError::Exhausted);
        assert_eq!(dial_error(&os(libc::EACCES)), DialError::Other);
        assert_eq!(
            accept_error(&os(libc::EMFILE)),
            Some(AcceptError::TooManyOpenFiles)
        );
        assert_eq!(
            accept_error(&os(libc::ENFILE)),
            Some(AcceptError::TooManyOpenFiles)
        );
        assert_eq!(
            accept_error(&os(libc::ENOBUFS)),
            Some(AcceptError::OutOfMemory)
        );
        assert_eq!(
            accept_error(&os(libc::ENOMEM)),
            Some(AcceptError::OutOfMemory)
        );
        assert_eq!(accept_error(&os(libc::ECONNABORTED)), None);
        assert_eq!(accept_error(&os(libc::EPROTO)), None);
        assert_eq!(accept_error(&os(libc::EAGAIN)), None);
        assert_eq!(accept_error(&os(libc::EINVAL)), Some(AcceptError::Other));
    }
}
