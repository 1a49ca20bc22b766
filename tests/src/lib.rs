//! `connmgr-sim`: a deterministic network simulator for connmgr, the
//! invariant checker that judges it, and scenario tests.
//!
//! Many nodes, each a real [`ConnManager`](connmgr::ConnManager) with its
//! [`AddrBook`](connmgr::addrbook::AddrBook), talk over a simulated network in
//! virtual time: latency, refused and unanswered dials, resets, partitions,
//! crashes and restarts, accept errors, empty address books. One `u64` seed
//! decides everything: the same seed gives the same run, byte for byte.
//!
//! ```
//! use std::time::Duration;
//! use connmgr_sim::{FaultProfile, Sim, SimConfig};
//!
//! let config = SimConfig::new(7, 30, Duration::from_secs(60), FaultProfile::mixed());
//! let report = Sim::new(config).run().expect("every invariant holds");
//! assert!(report.checks() > 0);
//! println!("{report}");
//! ```

pub mod addresses;
pub mod attack;
pub mod faults;
pub mod invariants;
pub mod node;
mod overlay;
pub mod paper;
pub mod preset;
pub mod report;
pub mod sim;
mod trickle;

pub use attack::{Attack, AttackModel, EclipseReport, START as ATTACK_START};
pub use faults::{FaultProfile, Shutdown};
pub use invariants::{Checker, Violation};
pub use node::NodeStats;
pub use preset::{preset, preset_name, PRESETS};
pub use report::{Report, Sample};
pub use sim::{Failure, Sim, SimConfig, EPOCH};
