//! A versioned, serde-friendly copy of a book, and the checks that let one be
//! rebuilt from untrusted data (a file on disk) without breaking the book's
//! invariants.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

use super::buckets::HashKey;
use super::flavor::{Flavor, Geometry, MAX_NEW_PER_ADDRESS};
use super::known::{KnownAddress, Place};
use super::{canonical, AddrBook, IndexKey};
use crate::{Instant, Rng};

/// The snapshot format this version writes and reads.
pub const SNAPSHOT_FORMAT: u32 = 1;

/// Every format [`AddrBook::from_snapshot`] reads.
const SUPPORTED_FORMATS: &[u32] = &[SNAPSHOT_FORMAT];

/// Everything an [`AddrBook`] knows, in a form serde can write: made by
/// [`AddrBook::snapshot`], turned back into a book by
/// [`AddrBook::from_snapshot`].
///
/// The placement key is saved so that a reloaded book keeps addresses where
/// they were; the random generator is not, it is reseeded on load.
///
/// Its own fields are not strict: a saved file carries the book's kind
/// beside them (`"book"`, see `BookSnapshot`), and the store reads the file
/// straight into this type so that errors keep their line. Each address is
/// strict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The format version, [`SNAPSHOT_FORMAT`]; first, so a reader can
    /// check it before anything else.
    pub format: u32,
    /// The secret placement key.
    pub key: [u64; 2],
    /// Every known address, in the book's internal order.
    pub addresses: Vec<SnapshotAddress>,
}

/// One address of a [`Snapshot`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotAddress {
    /// The address.
    pub addr: SocketAddr,
    /// Who told us about it.
    pub source: IpAddr,
    /// When it was last heard of.
    pub timestamp: Instant,
    /// Attempts since the last success.
    pub attempts: u32,
    /// When it was last attempted, if ever.
    pub last_attempt: Option<Instant>,
    /// When it last succeeded, if ever.
    pub last_success: Option<Instant>,
    /// Whether it is in the tried table.
    pub tried: bool,
    /// Its buckets: the one tried bucket, or its one to eight new buckets.
    /// Saved because extra new buckets came from other sources, and an
    /// eviction from tried may have used a fallback bucket: neither can be
    /// recomputed from the address and its first source.
    pub buckets: Vec<u16>,
}

/// Why a [`Snapshot`] could not become a book. The messages say what is
/// wrong and with which address; the store adds which file.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The format version is not one this version reads.
    UnsupportedFormat {
        /// The version found.
        found: u32,
    },
    /// An address is listed twice.
    Duplicate {
        /// Its position in `addresses` (0-based).
        index: usize,
        /// The address.
        addr: crate::PeerAddr,
    },
    /// An address's fields contradict each other or the table sizes.
    Invalid {
        /// Its position in `addresses` (0-based).
        index: usize,
        /// The address.
        addr: crate::PeerAddr,
        /// What is wrong.
        problem: String,
    },
    /// More addresses are in one bucket than it holds.
    BucketOverflow {
        /// Its position in `addresses` (0-based) of the address that does not fit.
        index: usize,
        /// The address.
        addr: crate::PeerAddr,
        /// `"new"` or `"tried"`.
        table: &'static str,
        /// The bucket.
        bucket: u16,
        /// How many addresses the bucket holds.
        holds: usize,
    },
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotError::UnsupportedFormat { found } => write!(
                f,
                "address book format {found} is not supported; this version reads format {}",
                SUPPORTED_FORMATS
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            SnapshotError::Duplicate { index, addr } => {
                write!(f, "address #{index} ({addr}) is listed twice")
            }
            SnapshotError::Invalid {
                index,
                addr,
                problem,
            } => write!(f, "address #{index} ({addr}) is inconsistent: {problem}"),
            SnapshotError::BucketOverflow {
                index,
                addr,
                table,
                bucket,
                holds,
            } => write!(
                f,
                "address #{index} ({addr}) overflows {table} bucket {bucket}, which holds {holds}"
            ),
        }
    }
}

impl std::error::Error for SnapshotError {}

impl AddrBook {
    /// A copy of everything the book knows, for saving.
    ///
    /// Addresses come in the book's internal order, which is a function of
    /// the seed and the calls, so equal books give equal snapshots.
    pub fn snapshot(&self) -> Snapshot {
        let addresses = self
            .slots
            .iter()
            .flatten()
            .map(|entry| {
                let (tried, buckets) = match entry.place {
                    Place::Tried(b) => (true, vec![b]),
                    Place::New { buckets, refs } => {
                        let used = usize::from(refs).min(MAX_NEW_PER_ADDRESS);
                        (false, buckets.get(..used).unwrap_or(&[]).to_vec())
                    }
                };
                SnapshotAddress {
                    addr: entry.addr,
                    source: entry.source,
                    timestamp: entry.timestamp,
                    attempts: entry.attempts,
                    last_attempt: entry.last_attempt,
                    last_success: entry.last_success,
                    tried,
                    buckets,
                }
            })
            .collect();
        Snapshot {
            format: SNAPSHOT_FORMAT,
            key: self.key.0,
            addresses,
        }
    }

    /// Rebuilds a book from a snapshot, with its random choices seeded from
    /// `seed` (the placement key comes from the snapshot).
    ///
    /// Everything is checked, since a snapshot usually comes from a file: the
    /// format version, duplicates, bucket numbers and counts against the
    /// table sizes, and that no bucket overflows. On error nothing is built.
    pub fn from_snapshot(snapshot: &Snapshot, seed: u64) -> Result<AddrBook, SnapshotError> {
        AddrBook::from_snapshot_as(Flavor::Btcd, snapshot, seed)
    }

    /// [`from_snapshot`](AddrBook::from_snapshot) into a book of `flavor`'s
    /// rules, its table sizes checked against that flavour's.
    pub fn from_snapshot_as(
        flavor: Flavor,
        snapshot: &Snapshot,
        seed: u64,
    ) -> Result<AddrBook, SnapshotError> {
        if !SUPPORTED_FORMATS.contains(&snapshot.format) {
            return Err(SnapshotError::UnsupportedFormat {
                found: snapshot.format,
            });
        }
        let mut book = AddrBook::with_key(flavor, HashKey(snapshot.key), Rng::new(seed));
        // Sized once for what the file claims, never past what a book holds:
        // loading a full book otherwise rehashes its index a dozen times.
        book.reserve(snapshot.addresses.len());
        for (index, saved) in snapshot.addresses.iter().enumerate() {
            let addr = canonical(saved.addr);
            if book.index.contains_key(&IndexKey::new(addr)) {
                return Err(SnapshotError::Duplicate {
                    index,
                    addr: addr.into(),
                });
            }
            let invalid = |problem: String| SnapshotError::Invalid {
                index,
                addr: addr.into(),
                problem,
            };
            let place = place_of(&book.geometry, saved).map_err(invalid)?;
            let entry = KnownAddress {
                addr,
                source: saved.source.to_canonical(),
                timestamp: saved.timestamp,
                attempts: saved.attempts,
                last_attempt: saved.last_attempt,
                last_success: saved.last_success,
                place,
            };
            let id = book
                .alloc(entry)
                .ok_or_else(|| invalid("too many addresses".to_string()))?;
            book.index.insert(IndexKey::new(addr), id);
            match place {
                Place::Tried(b) => {
                    if !book.tried.push(b, id) {
                        return Err(overflow(
                            index,
                            addr,
                            "tried",
                            b,
                            book.geometry.tried_bucket_size,
                        ));
                    }
                    book.n_tried += 1;
                }
                Place::New { buckets, refs } => {
                    for &b in buckets.iter().take(usize::from(refs)) {
                        if !book.new.push(b, id) {
                            let holds = book.geometry.new_bucket_size;
                            return Err(overflow(index, addr, "new", b, holds));
                        }
                    }
                    book.n_new += 1;
                }
            }
        }
        Ok(book)
    }
}

fn overflow(
    index: usize,
    addr: SocketAddr,
    table: &'static str,
    bucket: u16,
    holds: usize,
) -> SnapshotError {
    SnapshotError::BucketOverflow {
        index,
        addr: addr.into(),
        table,
        bucket,
        holds,
    }
}

/// The place a saved address claims, if it is a possible one.
fn place_of(geometry: &Geometry, saved: &SnapshotAddress) -> Result<Place, String> {
    let (tried_buckets, new_buckets) = (geometry.tried_buckets, geometry.new_buckets);
    let per_address = geometry.new_per_address;
    if saved.addr.port() == 0 {
        return Err("port 0 cannot be dialled".to_string());
    }
    if saved.tried {
        return match saved.buckets.as_slice() {
            [b] if usize::from(*b) < tried_buckets => Ok(Place::Tried(*b)),
            [b] => Err(format!(
                "tried bucket {b} does not exist (there are {tried_buckets})"
            )),
            other => Err(format!(
                "a tried address is in exactly one bucket, not {}",
                other.len()
            )),
        };
    }
    let count = saved.buckets.len();
    if count == 0 || count > per_address {
        return Err(format!(
            "a new address is in 1 to {per_address} buckets, not {count}"
        ));
    }
    let mut buckets = [0u16; MAX_NEW_PER_ADDRESS];
    for (i, &b) in saved.buckets.iter().enumerate() {
        if usize::from(b) >= new_buckets {
            return Err(format!(
                "new bucket {b} does not exist (there are {new_buckets})"
            ));
        }
        if saved
            .buckets
            .get(..i)
            .is_some_and(|before| before.contains(&b))
        {
            return Err(format!("new bucket {b} is listed twice"));
        }
        if let Some(slot) = buckets.get_mut(i) {
            *slot = b;
        }
    }
    // The unused tail repeats the first bucket, as `add` leaves it.
    let first = buckets[0];
    for slot in buckets.iter_mut().skip(count) {
        *slot = first;
    }
    Ok(Place::New {
        buckets,
        refs: u8::try_from(count).unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Instant {
        Instant::from_secs(1_000_000)
    }

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn book() -> AddrBook {
        let mut book = AddrBook::new(9);
        for i in 0..200u8 {
            let src = IpAddr::from([20, i % 7, 1, 1]);
            book.add(now(), SocketAddr::from(([1, i, 2, 3], 8333)), src);
            book.add(
                now(),
                SocketAddr::from(([1, i, 2, 3], 8333)),
                IpAddr::from([30, i, 1, 1]),
            );
        }
        for i in 0..50u8 {
            book.good(now(), SocketAddr::from(([1, i, 2, 3], 8333)));
        }
        book.attempt(now(), sa("1.100.2.3:8333"));
        book
    }

    #[test]
    fn round_trip_preserves_everything() {
        let original = book();
        let snap = original.snapshot();
        assert_eq!(snap.format, SNAPSHOT_FORMAT);
        assert_eq!(snap.addresses.len(), 200);
        let loaded = AddrBook::from_snapshot(&snap, 1).unwrap();
        assert_eq!(loaded.snapshot(), snap);
        assert_eq!(loaded.len(), original.len());
        assert_eq!(loaded.tried_len(), 50);
        for saved in &snap.addresses {
            assert_eq!(loaded.get(saved.addr), original.get(saved.addr));
        }
        crate::addrbook::tests::check(&loaded).unwrap();
    }

    #[test]
    fn unknown_format_is_refused_naming_the_supported_one() {
        let mut snap = book().snapshot();
        snap.format = 7;
        let err = AddrBook::from_snapshot(&snap, 1).unwrap_err();
        assert_eq!(err, SnapshotError::UnsupportedFormat { found: 7 });
        assert_eq!(
            err.to_string(),
            "address book format 7 is not supported; this version reads format 1"
        );
    }

    #[test]
    fn inconsistent_data_is_refused_with_the_address() {
        let mut base = book().snapshot();
        // Address 0 must be a new one, address 1 a tried one.
        let new_at = base.addresses.iter().position(|a| !a.tried).unwrap();
        base.addresses.swap(0, new_at);
        let tried_at = base.addresses.iter().position(|a| a.tried).unwrap();
        base.addresses.swap(1, tried_at);
        assert!(!base.addresses[0].tried && base.addresses[1].tried);
        type Breakage = Box<dyn Fn(&mut Snapshot)>;
        let cases: Vec<(Breakage, &str)> = vec![
            (
                Box::new(|s| {
                    let dup = s.addresses[0].clone();
                    s.addresses.push(dup);
                }),
                "listed twice",
            ),
            (
                Box::new(|s| s.addresses[0].buckets.clear()),
                "1 to 8 buckets",
            ),
            (
                Box::new(|s| s.addresses[0].buckets = vec![1; 9]),
                "1 to 8 buckets",
            ),
            (
                Box::new(|s| s.addresses[0].buckets = vec![1, 1]),
                "listed twice",
            ),
            (
                Box::new(|s| s.addresses[0].buckets = vec![1024]),
                "does not exist",
            ),
            (
                Box::new(|s| s.addresses[1].buckets = vec![64]),
                "tried bucket 64 does not exist",
            ),
            (
                Box::new(|s| s.addresses[1].buckets = vec![1, 2]),
                "exactly one bucket",
            ),
            (Box::new(|s| s.addresses[0].addr.set_port(0)), "port 0"),
        ];
        for (break_it, expected) in cases {
            let mut snap = base.clone();
            break_it(&mut snap);
            let err = AddrBook::from_snapshot(&snap, 1).unwrap_err().to_string();
            assert!(err.contains(expected), "{err:?} lacks {expected:?}");
            assert!(err.contains("address #"), "{err:?}");
        }
    }

    #[test]
    fn overfull_buckets_are_refused() {
        let mut snap = Snapshot {
            format: SNAPSHOT_FORMAT,
            key: [1, 2],
            addresses: Vec::new(),
        };
        for i in 0..=Flavor::Btcd.geometry().new_bucket_size {
            let i = u8::try_from(i).unwrap();
            snap.addresses.push(SnapshotAddress {
                addr: SocketAddr::from(([1, 2, 3, i], 8333)),
                source: IpAddr::from([5, 5, 5, 5]),
                timestamp: now(),
                attempts: 0,
                last_attempt: None,
                last_success: None,
                tried: false,
                buckets: vec![3],
            });
        }
        let err = AddrBook::from_snapshot(&snap, 1).unwrap_err();
        assert!(matches!(
            err,
            SnapshotError::BucketOverflow {
                index: 64,
                table: "new",
                bucket: 3,
                ..
            }
        ));
        assert!(err.to_string().contains("which holds 64"), "{err}");
        snap.addresses.pop();
        assert_eq!(AddrBook::from_snapshot(&snap, 1).unwrap().len(), 64);
    }

    #[test]
    fn json_round_trip() {
        let snap = book().snapshot();
        let json = serde_json::to_string(&snap).unwrap();
        let back: Snapshot = serde_json::from_str(&json).unwrap();
        assert_eq!(back, snap);
    }

    #[test]
    fn mapped_addresses_in_a_snapshot_are_canonicalised() {
        let mut snap = book().snapshot();
        let first = snap.addresses[0].addr;
        snap.addresses[0].addr = match first {
            SocketAddr::V4(v4) => SocketAddr::from((v4.ip().to_ipv6_mapped(), v4.port())),
            v6 => v6,
        };
        let loaded = AddrBook::from_snapshot(&snap, 1).unwrap();
        assert!(loaded.contains(first));
        assert_eq!(loaded.snapshot().addresses[0].addr, first);
    }
}
