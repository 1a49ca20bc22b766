//! The key of the book's address index.

use std::hash::{Hash, Hasher};
use std::net::SocketAddr;

/// A canonical address (see `canonical`) as the index hashes it.
///
/// `SocketAddr`'s derived `Hash` feeds the hasher four to six small writes
/// (variant, length, octets, port, flow info, scope), and each costs a
/// SipHash round; this key is one 24-byte write. SipHash stays: the
/// addresses come from strangers, so the index must not be open to
/// collision flooding. Equality is the address's own, so two keys that hash
/// alike but differ stay apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IndexKey(pub(crate) SocketAddr);

impl Hash for IndexKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let (ip, scope) = match self.0 {
            SocketAddr::V4(a) => (a.ip().to_ipv6_mapped().octets(), 0),
            SocketAddr::V6(a) => (a.ip().octets(), a.scope_id()),
        };
        let mut bytes = [0u8; 24];
        bytes[..16].copy_from_slice(&ip);
        bytes[16..20].copy_from_slice(&scope.to_le_bytes());
        bytes[20..22].copy_from_slice(&self.0.port().to_le_bytes());
        state.write(&bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn an_ipv4_address_and_its_mapped_spelling_stay_distinct_keys() {
        // Both hash alike by design; equality must still tell them apart.
        let v4: SocketAddr = "1.2.3.4:8333".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:1.2.3.4]:8333".parse().unwrap();
        let mut index = HashMap::new();
        index.insert(IndexKey(v4), 1);
        index.insert(IndexKey(mapped), 2);
        assert_eq!(index.get(&IndexKey(v4)), Some(&1));
        assert_eq!(index.get(&IndexKey(mapped)), Some(&2));
    }

    #[test]
    fn port_and_scope_are_part_of_the_key() {
        let a: SocketAddr = "[fe80::1%1]:8333".parse().unwrap();
        let b: SocketAddr = "[fe80::1%2]:8333".parse().unwrap();
        let c: SocketAddr = "[fe80::1%1]:8334".parse().unwrap();
        let mut index = HashMap::new();
        for (i, addr) in [a, b, c].into_iter().enumerate() {
            index.insert(IndexKey(addr), i);
        }
        assert_eq!(index.len(), 3);
        assert_eq!(index.get(&IndexKey(b)), Some(&1));
    }
}
