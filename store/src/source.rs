//! Where a runtime gets addresses for the manager's automatic connections,
//! and where the address book is kept.
//!
//! With the book inside the manager (`Config::address_book` `Core` or
//! `Btcd`, the default), the manager chooses its own addresses and the
//! runtime only keeps the book's file: a [`BookFile`], written with the
//! manager's book on `save`. With the book outside (`External`), the
//! manager asks with `Action::RequestAddress` and never cares where the
//! answer comes from: runtimes take any [`AddressSource`], by default a
//! [`BookSource`] (btcd's book and selection policy, filled from a seed
//! list and from what peers report, and saved to a file).
//!
//! btcd's book knows IP peers only: a [`BookSource`] drops onion, I2P and
//! CJDNS addresses, as btcd's `addrmgr` did before `addrv2`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use connmgr::addrbook::{AddrBook, SelectPolicy};
use connmgr::{AddressError, BookSnapshot, GroupKey, Host, Instant, PeerAddr};

use crate::{BookLock, StoreError};

/// A supplier of addresses to dial, told how its addresses fared.
pub trait AddressSource: Send {
    /// An address for an automatic connection. `outbound_in_group` gives the
    /// manager's outbound count of a network group (use
    /// `ConnManager::outbound_group_count`), so a source can skip full groups.
    fn next_address(
        &mut self,
        now: Instant,
        outbound_in_group: &dyn Fn(&GroupKey) -> u32,
    ) -> Result<PeerAddr, AddressError>;

    /// The peer at `addr`, which we dialled, completed its handshake: a
    /// good address (btcd's and Core's `Good`). Not called on a bare TCP
    /// connection: an attacker that only accepts connections must not get
    /// its addresses promoted.
    fn handshaked(&mut self, _now: Instant, _addr: PeerAddr) {}

    /// A peer at `source` told us about `addr` (or we accepted a connection
    /// from it).
    fn learned(&mut self, _now: Instant, _addr: PeerAddr, _source: Host) {}

    /// Persist what was learned, if the source persists anything; `inside`
    /// is the manager's own book, if it keeps one.
    fn save(&mut self, _inside: Option<&BookSnapshot>) -> Result<(), StoreError> {
        Ok(())
    }

    /// Keep `anchors` for the next start (`Action::SaveAnchors`), if the
    /// source persists anything.
    fn save_anchors(&mut self, _anchors: &[PeerAddr]) -> Result<(), StoreError> {
        Ok(())
    }

    /// The anchors a clean stop saved, forgotten as they are handed over
    /// (`Input::Anchors`): none if there are none.
    fn take_anchors(&mut self) -> Result<Vec<PeerAddr>, StoreError> {
        Ok(Vec::new())
    }
}

/// The file of the address book inside the manager, locked while open:
/// it is read once, to start the manager from
/// ([`ConnManager::with_book`](connmgr::ConnManager::with_book)), and
/// written with the manager's book on every [`save`](AddressSource::save).
/// It is never asked for addresses: the manager picks its own.
#[derive(Debug)]
pub struct BookFile {
    path: PathBuf,
    _lock: BookLock,
}

impl BookFile {
    /// Locks `path` and reads the book saved there (`None` if there is no
    /// file yet). Fails, leaving the file untouched, if another process has
    /// it open, if its directory does not take new files, or if the file is
    /// damaged.
    pub fn open(path: &Path) -> Result<(BookFile, Option<BookSnapshot>), StoreError> {
        let lock = BookLock::acquire(path)?;
        crate::check_writable(path)?;
        let saved = crate::load_book(path)?;
        let file = BookFile {
            path: path.to_owned(),
            _lock: lock,
        };
        Ok((file, saved))
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl AddressSource for BookFile {
    fn next_address(
        &mut self,
        _now: Instant,
        _outbound_in_group: &dyn Fn(&GroupKey) -> u32,
    ) -> Result<PeerAddr, AddressError> {
        Err(AddressError::Empty)
    }

    fn save(&mut self, inside: Option<&BookSnapshot>) -> Result<(), StoreError> {
        match inside {
            Some(book) => crate::save_book(&self.path, book),
            None => Ok(()),
        }
    }

    fn save_anchors(&mut self, anchors: &[PeerAddr]) -> Result<(), StoreError> {
        crate::save_anchors(&crate::anchors_path(&self.path), anchors)
    }

    fn take_anchors(&mut self) -> Result<Vec<PeerAddr>, StoreError> {
        crate::take_anchors(&crate::anchors_path(&self.path))
    }
}

/// A fixed list, handed out round-robin: for tests, demos and `--connect`.
/// The default one is empty and keeps nothing.
#[derive(Clone, Debug, Default)]
pub struct StaticList {
    addrs: Vec<PeerAddr>,
    next: usize,
}

impl StaticList {
    /// A source cycling over `addrs`.
    pub fn new<A: Into<PeerAddr>>(addrs: impl IntoIterator<Item = A>) -> StaticList {
        StaticList {
            addrs: addrs.into_iter().map(Into::into).collect(),
            next: 0,
        }
    }
}

impl AddressSource for StaticList {
    fn next_address(
        &mut self,
        _now: Instant,
        _outbound_in_group: &dyn Fn(&GroupKey) -> u32,
    ) -> Result<PeerAddr, AddressError> {
        let addr = *self
            .addrs
            .get(self.next % self.addrs.len().max(1))
            .ok_or(AddressError::Empty)?;
        self.next = self.next.wrapping_add(1);
        Ok(addr)
    }
}

/// btcd's address book with its `newAddressFunc` policy, seeded from a list
/// and optionally saved to a file, which it holds the lock of while open.
#[derive(Debug)]
pub struct BookSource {
    book: AddrBook,
    policy: SelectPolicy,
    /// The file, and its lock, held for as long as the book is open.
    file: Option<(PathBuf, BookLock)>,
}

impl BookSource {
    /// A book in memory only, knowing `seeds`. `accept_local` lets loopback
    /// and private addresses in (for demos and LANs); a public node leaves it
    /// off, as btcd does.
    pub fn in_memory(
        seed: u64,
        seeds: &[PeerAddr],
        accept_local: bool,
        now: Instant,
    ) -> BookSource {
        let mut book = AddrBook::new(seed);
        book.set_accept_unroutable(accept_local);
        let mut source = BookSource {
            book,
            policy: SelectPolicy::default(),
            file: None,
        };
        source.add_seeds(seeds, now);
        source
    }

    /// The book saved at `path` (an empty one if the file does not exist
    /// yet), plus `seeds`; [`save`](AddressSource::save) writes it back.
    ///
    /// Fails, leaving the file untouched, if another process has the book
    /// open ([`StoreError::InUse`]), if its directory does not take new
    /// files (found now rather than at the first save), or if the file is
    /// damaged.
    pub fn open(
        path: &Path,
        seed: u64,
        seeds: &[PeerAddr],
        accept_local: bool,
        now: Instant,
    ) -> Result<BookSource, StoreError> {
        let lock = BookLock::acquire(path)?;
        crate::check_writable(path)?;
        let mut book = crate::load_or_empty(path, seed)?;
        book.set_accept_unroutable(accept_local);
        let mut source = BookSource {
            book,
            policy: SelectPolicy::default(),
            file: Some((path.to_owned(), lock)),
        };
        source.add_seeds(seeds, now);
        Ok(source)
    }

    /// The selection policy (btcd's by default); set `max_per_group` to the
    /// manager's `Config::max_outbound_per_group` and `default_port` to the
    /// network's port.
    pub fn policy_mut(&mut self) -> &mut SelectPolicy {
        &mut self.policy
    }

    /// The book.
    pub fn book(&self) -> &AddrBook {
        &self.book
    }

    fn add_seeds(&mut self, seeds: &[PeerAddr], now: Instant) {
        for seed in seeds.iter().filter_map(|&seed| ip_peer(seed)) {
            self.book.add(now, seed, seed.ip());
        }
    }
}

impl AddressSource for BookSource {
    fn next_address(
        &mut self,
        now: Instant,
        outbound_in_group: &dyn Fn(&GroupKey) -> u32,
    ) -> Result<PeerAddr, AddressError> {
        self.book
            .select(now, &self.policy, outbound_in_group)
            .map(PeerAddr::from)
    }

    fn handshaked(&mut self, now: Instant, addr: PeerAddr) {
        if let Some(addr) = ip_peer(addr) {
            self.book.good(now, addr);
        }
    }

    fn learned(&mut self, now: Instant, addr: PeerAddr, source: Host) {
        if let (Some(addr), Some(source)) = (ip_peer(addr), source.ip()) {
            self.book.add(now, addr, source);
        }
    }

    fn save(&mut self, _inside: Option<&BookSnapshot>) -> Result<(), StoreError> {
        match &self.file {
            Some((path, _lock)) => crate::save(path, &self.book),
            None => Ok(()),
        }
    }
}

/// An IP peer's socket address; `None` for the networks btcd's book does
/// not know.
fn ip_peer(addr: PeerAddr) -> Option<SocketAddr> {
    match addr.host() {
        Host::Ip(_) => addr.socket_addr(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> PeerAddr {
        s.parse().unwrap()
    }

    #[test]
    fn static_list_cycles_and_an_empty_one_says_so() {
        let mut list = StaticList::new(vec![addr("127.0.0.1:1"), addr("127.0.0.1:2")]);
        let picks: Vec<_> = (0..3)
            .map(|_| list.next_address(Instant::ZERO, &|_| 0).unwrap())
            .collect();
        assert_eq!(
            picks,
            vec![
                addr("127.0.0.1:1"),
                addr("127.0.0.1:2"),
                addr("127.0.0.1:1")
            ]
        );
        let mut empty = StaticList::default();
        assert_eq!(
            empty.next_address(Instant::ZERO, &|_| 0),
            Err(AddressError::Empty)
        );
    }

    #[test]
    fn book_source_serves_its_seeds_and_refuses_local_ones_unless_asked() {
        let seeds = [addr("127.0.0.1:8333")];
        let mut public = BookSource::in_memory(1, &seeds, false, Instant::ZERO);
        assert_eq!(
            public.next_address(Instant::ZERO, &|_| 0),
            Err(AddressError::Empty)
        );
        let mut local = BookSource::in_memory(1, &seeds, true, Instant::ZERO);
        assert_eq!(local.next_address(Instant::ZERO, &|_| 0), Ok(seeds[0]));
    }

    #[test]
    fn book_source_round_trips_through_its_file() {
        let dir = std::env::temp_dir().join(format!("connmgr-source-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("peers.json");
        let _ = std::fs::remove_file(&path);
        let seeds = [addr("1.2.3.4:8333")];
        let mut source = BookSource::open(&path, 7, &seeds, false, Instant::ZERO).unwrap();
        source.learned(
            Instant::ZERO,
            addr("5.6.7.8:8333"),
            "1.2.3.4".parse().unwrap(),
        );
        source.save(None).unwrap();
        // Open: nobody else may use it.
        let err = BookSource::open(&path, 8, &[], false, Instant::ZERO).unwrap_err();
        assert!(matches!(err, StoreError::InUse { .. }), "{err}");
        drop(source);
        let reopened = BookSource::open(&path, 8, &[], false, Instant::ZERO).unwrap();
        assert_eq!(reopened.book().len(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
