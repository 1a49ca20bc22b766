//! The map from [`ConnId`] to record.
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

/// Hashes one `u64` key (a [`ConnId`]) to itself plus a tag; see the module
/// docs. Other keys go through a multiplicative mix of everything written.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

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
    fn mix(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(GOLDEN);
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

pub(crate) type IdMap<V> = HashMap<ConnId, V, BuildHasherDefault<IdHasher>>;
