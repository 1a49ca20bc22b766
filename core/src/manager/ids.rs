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

#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        const TAG: u64 = 0xFE00_0000_0000_0000;
        self.0 = (n & !TAG) | (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) & TAG);
    }
}

pub(crate) type IdMap<V> = HashMap<ConnId, V, BuildHasherDefault<IdHasher>>;
