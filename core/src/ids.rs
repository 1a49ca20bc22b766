//! The crate's fast hasher for keys no peer chooses: the map from
//! [`ConnId`] to record, and the address book's slot map.
//!
//! Ids are sequential integers handed out by the manager itself, so SipHash's
//! protection against chosen keys buys nothing while costing most of a
//! lookup. The hash keeps the id itself in its low bits, which the table uses
//! to pick a bucket, so ids made close in time sit close in memory and a
//! churning slot stays in cache even with a million other connections; the
//! top seven bits, which the table uses as a tag, come from a multiplicative
//! mix so that neighbours' tags differ. Only lookups use the map: nothing
//! iterates it in an order that could reach an output.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::ConnId;

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// Hashes one `u64` key (a [`ConnId`]) to itself plus a tag: ids are
/// handed out by the manager, never chosen by a peer, so a map keyed by
/// them needs no SipHash (the manager's own maps, and an application's
/// per-connection state: [`IdMap`]). Other keys go through a
/// multiplicative mix of everything written.
#[derive(Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.mix(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }

    fn write_isize(&mut self, n: isize) {
        self.mix(n as u64);
    }

    fn write_u64(&mut self, n: u64) {
        const TAG: u64 = 0xFE00_0000_0000_0000;
        const BLOCK: u64 = 15;
        let block = (n & !BLOCK).wrapping_mul(GOLDEN) & !BLOCK;
        let tag = (self.0 ^ n).wrapping_mul(GOLDEN) & TAG;
        self.0 = ((block | (n & BLOCK)) & !TAG) | tag;
    }
}

impl IdHasher {
    /// A multiply moves entropy only upward, and the table picks buckets
    /// with the low bits: the rotation brings the well-mixed high half
    /// down. Without it, IPv4 addresses sharing a first octet (its byte is
    /// the lowest) all fell in 1/256 of the buckets, and admitting one
    /// inbound peer among 100 000 took 600 µs instead of 1.
    fn mix(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(GOLDEN).rotate_left(26);
    }
}

/// Mixes every write, whatever its width: for maps keyed by peers'
/// addresses that only ever hold what the config bounds (the outbound
/// connections), where a peer choosing colliding keys can slow a lookup by
/// at most that bound, so SipHash's protection is not worth its cost on
/// every dial. (An address's `u64` must not take [`IdHasher`]'s id path,
/// which keeps the low bits: those are the port, the same for most peers.)
#[derive(Default)]
pub(crate) struct MixHasher(IdHasher);

impl Hasher for MixHasher {
    fn finish(&self) -> u64 {
        self.0.finish()
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.write(bytes);
    }

    fn write_u64(&mut self, n: u64) {
        self.0.mix(n);
    }

    fn write_u128(&mut self, n: u128) {
        self.0.mix(n as u64);
        self.0.mix((n >> 64) as u64);
    }
}

/// A hash of `value` keyed with `key`: stable across Rust releases (unlike
/// std's `DefaultHasher`), so decisions made with it replay anywhere.
pub(crate) fn keyed_hash<T: std::hash::Hash + ?Sized>(key: u64, value: &T) -> u64 {
    let mut hasher = IdHasher(key);
    value.hash(&mut hasher);
    hasher.mix(0x5A5A_5A5A);
    hasher.finish()
}

/// A map keyed by [`ConnId`], with [`IdHasher`].
pub type IdMap<V> = HashMap<ConnId, V, BuildHasherDefault<IdHasher>>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;
    use std::net::{IpAddr, Ipv4Addr};

    #[test]
    fn addresses_sharing_a_first_octet_spread_over_the_low_bits() {
        let build = BuildHasherDefault::<IdHasher>::default();
        let low: std::collections::BTreeSet<u64> = (0..4096u32)
            .map(|n| IpAddr::V4(Ipv4Addr::from(0x3000_0000 + n * 13)))
            .map(|ip| build.hash_one(ip) & 0xFFF)
            .collect();
        // Uniform hashing fills about 63 % of 4 096 buckets.
        assert!(low.len() > 2000, "{} of 4096 low-bit values", low.len());
    }

    #[test]
    fn peers_on_one_port_spread_over_the_low_bits() {
        let build = BuildHasherDefault::<MixHasher>::default();
        let low: std::collections::BTreeSet<u64> = (0..4096u32)
            .map(|n| {
                crate::PeerAddr::from(std::net::SocketAddr::new(
                    IpAddr::V4(Ipv4Addr::from(0x3000_0000 + n * 13)),
                    8333,
                ))
            })
            .map(|addr| build.hash_one(addr) & 0xFFF)
            .collect();
        assert!(low.len() > 2000, "{} of 4096 low-bit values", low.len());
    }
}
