//! `connmgr-sim`: a deterministic network simulator for connmgr, the
//! invariant checker that judges it, and scenario tests.
//!
//! Everything here is decided by one `u64` seed: the same seed gives the same
//! run, byte for byte, on any machine.

pub mod invariants;

pub use invariants::{Checker, Violation};
