//! Addresses stored once and named by four-byte handles.
//!
//! A book refers to each address it holds, and to the peer that told it of
//! the address, by a handle into an [`AddressTable`]. Each book starts with
//! a table of its own; a simulation of many nodes gives them all one table
//! ([`AddrMan::share_addresses`](super::AddrMan::share_addresses)), so that
//! an address the whole network knows is stored once rather than once per
//! node, and each book keeps only handles and its own history of the
//! address.
//!
//! A handle is counted: the address is forgotten when the last book holding
//! it lets go, so a table holds what its books hold and no more. No decision
//! depends on a handle's value, only on the address it names, which is why
//! sharing a table changes no outcome.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Addresses shared by one or more books; cloning it shares it.
///
/// It is a `Mutex` inside so that books stay `Send` and `Sync`; books of a
/// simulated network run on one thread, so the lock is never contended.
#[derive(Clone, Default)]
pub struct AddressTable(Arc<Mutex<Interned>>);

#[derive(Default)]
struct Interned {
    /// Each handle's address.
    addrs: Vec<PeerAddr>,
    /// How many references each handle has (0: free, in `free`).
    holders: Vec<u32>,
    /// Lookup only: never iterated, so its order cannot reach a result.
    index: HashMap<PeerAddr, u32>,
    free: Vec<u32>,
}

use crate::{Host, PeerAddr};

/// The address a source host is stored as.
pub(crate) fn source_key(host: Host) -> PeerAddr {
    PeerAddr::new(host, 0)
}

impl AddressTable {
    /// An empty table.
    pub fn new() -> AddressTable {
        AddressTable::default()
    }

    fn lock(&self) -> MutexGuard<'_, Interned> {
        // A panic elsewhere cannot leave the table half-updated: every
        // change below completes before the lock is released.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Distinct addresses held.
    pub fn len(&self) -> usize {
        self.lock().index.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// An estimate of the heap held, in bytes (allocator overhead aside),
    /// which depends only on what the table holds.
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        let table = self.lock();
        table.addrs.capacity() * size_of::<PeerAddr>()
            + (table.holders.capacity() + table.free.capacity()) * size_of::<u32>()
            + crate::heap::hash_map_bytes(table.index.len(), size_of::<(PeerAddr, u32)>())
    }

    /// Whether `self` and `other` are the same table.
    pub(crate) fn same_as(&self, other: &AddressTable) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// The handle of `addr`, taking one reference to it.
    pub(crate) fn intern(&self, addr: PeerAddr) -> u32 {
        let mut table = self.lock();
        if let Some(&handle) = table.index.get(&addr) {
            table.holders[handle as usize] += 1;
            return handle;
        }
        let handle = match table.free.pop() {
            Some(handle) => {
                table.addrs[handle as usize] = addr;
                table.holders[handle as usize] = 1;
                handle
            }
            None => {
                // A table cannot reach 2³² addresses: they would take
                // hundreds of gigabytes first.
                table.addrs.push(addr);
                table.holders.push(1);
                (table.addrs.len() - 1) as u32
            }
        };
        table.index.insert(addr, handle);
        handle
    }

    /// Takes one more reference to each of `handles`.
    pub(crate) fn retain(&self, handles: impl Iterator<Item = u32>) {
        let mut table = self.lock();
        for handle in handles {
            if let Some(n) = table.holders.get_mut(handle as usize) {
                *n += 1;
            }
        }
    }

    /// Gives back one reference to each of `handles`, forgetting an
    /// address nobody refers to any more.
    pub(crate) fn release(&self, handles: impl Iterator<Item = u32>) {
        let mut table = self.lock();
        for handle in handles {
            let Some(n) = table.holders.get_mut(handle as usize) else {
                continue;
            };
            if *n == 0 {
                continue;
            }
            *n -= 1;
            if *n == 0 {
                let addr = table.addrs[handle as usize];
                table.index.remove(&addr);
                table.free.push(handle);
            }
        }
    }

    /// The handle of `addr`, if any book holds it.
    pub(crate) fn find(&self, addr: PeerAddr) -> Option<u32> {
        self.lock().index.get(&addr).copied()
    }

    /// The address `handle` names (the unspecified address for a handle
    /// that names none, which no book holds).
    pub(crate) fn addr(&self, handle: u32) -> PeerAddr {
        self.lock()
            .addrs
            .get(handle as usize)
            .copied()
            .unwrap_or(PeerAddr::new(Host::Ip(Ipv4Addr::UNSPECIFIED.into()), 0))
    }
}

impl std::fmt::Debug for AddressTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddressTable")
            .field("addresses", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_stored_once_and_forgotten_with_its_last_holder() {
        let table = AddressTable::new();
        let addr: PeerAddr = "203.0.113.9:8333".parse().unwrap();
        let a = table.intern(addr);
        let b = table.intern(addr);
        assert_eq!(a, b);
        assert_eq!(table.len(), 1);
        assert_eq!(table.addr(a), addr);
        table.release([a].into_iter());
        assert_eq!(table.find(addr), Some(a), "one holder is left");
        table.release([a].into_iter());
        assert_eq!(table.find(addr), None);
        assert!(table.is_empty());
        let other: PeerAddr = "203.0.113.10:8333".parse().unwrap();
        assert_eq!(table.intern(other), a, "a freed handle is reused");
    }

    #[test]
    fn releasing_an_unknown_or_free_handle_changes_nothing() {
        let table = AddressTable::new();
        let addr: PeerAddr = "203.0.113.9:8333".parse().unwrap();
        let a = table.intern(addr);
        table.release([a + 1, u32::MAX].into_iter());
        table.release([a].into_iter());
        table.release([a].into_iter());
        assert!(table.is_empty());
        assert_eq!(table.intern(addr), a);
        assert_eq!(table.len(), 1);
    }
}
