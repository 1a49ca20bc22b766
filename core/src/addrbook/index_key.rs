//! The key of the book's address index.

use std::hash::{Hash, Hasher};
use std::net::SocketAddr;

use super::canonical;

/// An address in its canonical spelling (see `canonical`), as the index
/// hashes it.
///
/// `SocketAddr`'s derived `Hash` feeds the hasher four to six pieces
/// (variant, length, octets, port, flow info, scope); this key feeds one
/// buffer of 22 bytes. SipHash stays: the addresses come from strangers,
/// so the index must not be open to collision flooding. Equality is the
/// address's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IndexKey(SocketAddr);

impl IndexKey {
    /// The key of `addr`, however it is spelled (IPv4-mapped or not).
    pub(crate) fn new(addr: SocketAddr) -> IndexKey {
        IndexKey(canonical(addr))
    }
}

impl Hash for IndexKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let (ip, scope) = match self.0 {
            SocketAddr::V4(a) => (a.ip().to_ipv6_mapped().octets(), 0),
            SocketAddr::V6(a) => (a.ip().octets(), a.scope_id()),
        };
        let mut bytes = [0u8; 22];
        bytes[..16].copy_from_slice(&ip);
        bytes[16..20].copy_from_slice(&scope.to_le_bytes());
        bytes[20..].copy_from_slice(&self.0.port().to_le_bytes());
        state.write(&bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn both_spellings_of_an_ipv4_address_are_one_key() {
        let v4: SocketAddr = "1.2.3.4:8333".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:1.2.3.4]:8333".parse().unwrap();
        assert_eq!(IndexKey::new(v4), IndexKey::new(mapped));
    }

    #[test]
    fn port_and_scope_are_part_of_the_key() {
        let a: SocketAddr = "[fe80::1%1]:8333".parse().unwrap();
        let b: SocketAddr = "[fe80::1%2]:8333".parse().unwrap();
        let c: SocketAddr = "[fe80::1%1]:8334".parse().unwrap();
        let mut index = HashMap::new();
        for (i, addr) in [a, b, c].into_iter().enumerate() {
            index.insert(IndexKey::new(addr), i);
        }
        assert_eq!(index.len(), 3);
        assert_eq!(index.get(&IndexKey::new(b)), Some(&1));
    }
}
