//! A sans-IO peer connection manager: btcd's `connmgr` as a pure,
//! deterministic state machine.
//!
//! [`ConnManager`] keeps a target number of automatic outbound connections,
//! redials permanent peers with backoff, throttles after repeated failures,
//! admits or refuses inbound connections, and tells the application about
//! every peer that comes and goes. It does no I/O and reads no clock: a
//! runtime feeds it [`Input`]s with the current [`Instant`] and performs the
//! [`Action`]s it asks for. Every decision is therefore a function of the
//! inputs, which is what lets the whole lifecycle be fuzzed, simulated and
//! replayed from a trace.
//!
//! # The contract
//!
//! 1. **One entry point.** Every state change is a [`ConnManager::handle`]
//!    call with an [`Input`]. The convenience methods (`start`, `connect`,
//!    …) only build an `Input`, so a log of `(Instant, Input)` pairs
//!    reproduces everything.
//! 2. **Drain after every input.** After `handle`, call
//!    [`poll_action`](ConnManager::poll_action) until it returns `None`, then
//!    read [`poll_timeout`](ConnManager::poll_timeout).
//! 3. **Time is an input.** Call `handle(now, Input::Tick)` at or after the
//!    instant `poll_timeout` returned; such a tick always makes progress, and
//!    a spurious one is harmless. Time that goes backwards is clamped.
//! 4. **Answer what you are asked.** `RequestAddress` (only emitted when
//!    the application keeps the address book: `Config::address_book` is
//!    `External`) wants an `AddressResult`, `Dial` a `DialResult` carrying the same attempt number,
//!    unless a `CancelDial` for that attempt came first; after `CancelDial`
//!    the dial's socket, if any, is yours to close. Report the end of an
//!    established connection with `Closed`.
//! 5. **Determinism.** The same [`Config`] and the same input log give the
//!    same actions, on any machine. Ids come from a counter and are never
//!    reused; the only randomness is seeded from the config.
//! 6. **No panics.** Any input in any order is safe. Misuse (an unknown id,
//!    a duplicate or late result, …) is ignored, counted in [`Stats`] and
//!    returned as [`Ignored`]; a late successful dial whose request has ended
//!    is answered with `Close` so its socket does not leak.
//! 7. **Bounded work.** Each input costs O(log n) in live connections and
//!    timers, plus the timers that fall due. Three scan the connections:
//!    `Stop`, a ban (it closes what it covers) and an inbound eviction
//!    (it weighs every inbound peer, as Bitcoin Core does, and only when
//!    inbound is full).
//!
//! # Example
//!
//! ```
//! use connmgr::{Action, Advertised, Config, ConnManager, Input, Instant, PeerAddr, PeerEvent, Seed};
//!
//! let mut config = Config::default();
//! config.target_outbound = 1;
//! config.block_relay_outbound = 0; // Bitcoin Core's 2 block-relay-only: none here
//! // The secret behind every key. A node draws it from the operating system
//! // (the runtimes' builders do: `connmgr_net::os_seed`); a fixed one is for
//! // reproducing a run.
//! config.rng_seed = Some(Seed::from_u64(1));
//! let mut mgr = ConnManager::new(config, Instant::ZERO).unwrap();
//! let now = Instant::from_secs(1_700_000_000);
//!
//! // Addresses to start from (a seed list): they go into the manager's
//! // address book (Bitcoin Core's, by default)...
//! let addr: PeerAddr = "203.0.114.7:8333".parse().unwrap();
//! let seeds = vec![Advertised::new(addr, now)];
//! mgr.handle(now, Input::Learned { from: None, addrs: seeds }).unwrap();
//! mgr.start(now).unwrap();
//!
//! // ...from which it picks one for its automatic connection and dials it...
//! let Some(Action::Dial { id, attempt, addr: dialled, .. }) = mgr.poll_action() else { panic!() };
//! assert_eq!(dialled, addr);
//! assert_eq!(mgr.poll_timeout(), Some(now + mgr.config().dial_timeout));
//! mgr.handle(now, Input::DialResult { id, attempt, result: Ok(()) }).unwrap();
//!
//! // ...and tells the application, which runs the protocol's handshake.
//! assert!(matches!(
//!     mgr.poll_action(),
//!     Some(Action::NotifyPeer(PeerEvent::Connected { .. }))
//! ));
//! mgr.handle(now, Input::Handshaked { id }).unwrap();
//! assert_eq!(mgr.counts().handshaked, 1);
//! // Only now is the address a good one.
//! assert_eq!(mgr.book_counts().unwrap().tried, 1);
//! ```
//!
//! # Layout
//!
//! `manager/` holds the state machine, split into `outbound` (addresses,
//! dials, retries, replacement), `inbound` (admission and listener pauses,
//! over the counts of `inbound_index`), `eviction` (the facts reported of
//! peers, and whom [`eviction`] picks), `bans` (bans and misbehaviour),
//! `lifecycle` (start, stop, disconnect, remove, closed), `book` (one face
//! over the two address books), `addresses` (the book inside: lookups,
//! what peers advertise, `getaddr`), and one file per connection kind
//! beyond btcd's: `feelers`, `anchors`, `stale_tip`, `addr_fetch`.
//! `backoff.rs` decides how long to wait, `timers.rs` keeps the deadlines,
//! `group.rs` says which network group an address is in, `subnet.rs`,
//! `ban_score.rs` and `token_bucket.rs` are the small pieces admission uses.
//! `addrbook/` is btcd's address manager, `addrman/` Bitcoin Core's, `book.rs`
//! their common types, and `trace/` (feature `serde`) the record/replay
//! format.

#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod action;
pub mod addrbook;
pub mod addrman;
mod backoff;
pub mod ban_score;
mod book;
mod config;
mod event;
pub mod eviction;
pub mod group;
mod heap;
mod id;
mod ids;
mod ignored;
mod input;
mod labels;
mod manager;
mod network;
mod networks;
mod peer_addr;
mod peer_fact;
mod printable;
mod rng;
mod seed;
#[cfg(feature = "serde")]
pub mod serde_duration;
mod state;
mod stats;
mod subnet;
mod time;
mod timers;
mod token_bucket;
#[cfg(feature = "serde")]
pub mod trace;

pub use action::{Action, Direction, Reason};
pub use book::{AddressBook, Advertised, BookCounts, Restored};
#[cfg(feature = "serde")]
pub use book::{BookSnapshot, RestoreError};
pub use config::{Backoff, Config, ConfigError, MAX_TARGET_OUTBOUND};
pub use event::{ConnectedPeer, Event, PeerEvent};
pub use group::GroupKey;
pub use id::{ConnId, ListenerId};
pub use ids::{IdHasher, IdMap};
pub use ignored::Ignored;
pub use input::{AcceptError, AddressError, DialError, Input};
pub use manager::ConnManager;
pub use network::Network;
pub use networks::{NetworkError, NetworkPolicy, Networks, Proxy, Route};
pub use peer_addr::{AddrParseError, Bip155Error, Host, PeerAddr};
pub use peer_fact::{PeerFact, PeerFacts};
pub use printable::{printable, EXCERPT_CHARS};
pub use rng::Rng;
pub use seed::{Keys, Seed, SeedError};
pub use state::{ConnInfo, ConnKind, ConnState};
pub use stats::{Counts, PeerCounts, Stats};
pub use subnet::{Subnet, SubnetError};
pub use time::Instant;
