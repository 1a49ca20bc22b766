//! Test-before-evict (Core `ResolveCollisions`, `SelectTriedCollision`).
//!
//! An address that completed a handshake but whose tried slot is taken does
//! not evict the occupant at once: an attacker with many handshaking
//! addresses could otherwise flush the tried table of honest peers. It waits
//! in the collision set while the node tests the occupant (with a feeler
//! connection). The occupant stays if it answered in the last 4 hours; it
//! goes if it was tried and failed (more than a minute ago) or if the test
//! never happens within 40 minutes.

use std::time::Duration;

use super::AddrMan;
use crate::{Instant, PeerAddr};

/// Core `ADDRMAN_REPLACEMENT`: a tried entry that succeeded this recently
/// keeps its slot.
const REPLACEMENT: Duration = Duration::from_secs(4 * 60 * 60);
/// Core `ADDRMAN_TEST_WINDOW`: how long a collision may wait for its test.
const TEST_WINDOW: Duration = Duration::from_secs(40 * 60);
/// How long a test connection gets before its failure counts.
const TEST_GRACE: Duration = Duration::from_secs(60);

impl AddrMan {
    /// The tried entry that a waiting address (picked at random) collides
    /// with: the address a feeler connection should test (Core
    /// `SelectTriedCollision`). `None` when nothing waits.
    pub fn select_tried_collision(&mut self) -> Option<PeerAddr> {
        if self.collisions.is_empty() {
            return None;
        }
        let pick = self.rng.below(self.collisions.len() as u64) as usize;
        let id = self.collisions[pick];
        let Some(info) = self.entry(id) else {
            self.collisions.remove(pick);
            return None;
        };
        let slot = self.tried_slot(self.addr_of(info));
        self.entry(self.tried.get(slot))
            .map(|old| self.addr_of(old))
    }

    /// Settles every waiting address whose test is over (Core
    /// `ResolveCollisions`): it replaces the tried entry if that entry
    /// failed its test or was not tested in time, and is dropped from the
    /// set if the entry proved alive.
    pub fn resolve_collisions(&mut self, now: Instant) {
        let waiting = std::mem::take(&mut self.collisions);
        for id in waiting {
            if !self.resolve_collision(now, id) {
                self.collisions.push(id);
            }
        }
    }

    /// Whether the collision of `id` is settled.
    fn resolve_collision(&mut self, now: Instant, id: u32) -> bool {
        let Some(new) = self.entry(id) else {
            return true;
        };
        let (addr, new_success) = (self.addr_of(new), new.last_success.get());
        let slot = self.tried_slot(addr);
        let Some(old) = self.entry(self.tried.get(slot)) else {
            // The slot freed up meanwhile.
            self.good_inner(now, addr, false);
            return true;
        };
        let since = |t: Option<Instant>| t.map_or(Duration::MAX, |t| now - t);
        if since(old.last_success.get()) < REPLACEMENT {
            // The occupant answered recently: it stays.
            true
        } else if since(old.last_try.get()) < REPLACEMENT {
            // Tried recently, not successfully: replace it once the test
            // had its minute.
            if since(old.last_try.get()) > TEST_GRACE {
                self.good_inner(now, addr, false);
                true
            } else {
                false
            }
        } else if since(new_success) > TEST_WINDOW {
            // Never tested in time: the occupant is likely gone.
            self.good_inner(now, addr, false);
            true
        } else {
            false
        }
    }

    /// Addresses waiting for their tried slot.
    pub fn collisions_len(&self) -> usize {
        self.collisions.len()
    }
}
