//! The logic of every fuzz target, one function per target.
//!
//! Each `fuzz_targets/<name>.rs` is one line: `fuzz_target!(|data: &[u8]|
//! connmgr_fuzz::<name>(data))`. The functions decode the bytes themselves
//! with [`arbitrary::Unstructured`], so the same bytes give the same run
//! under libFuzzer and anywhere else.
//!
//! This crate is also compiled into the main workspace, as the module
//! `fuzz_logic` of `tests/tests/fuzz_corpus.rs` (by `#[path]`), which replays
//! every file of `fuzz/seeds/<target>/` and `fuzz/artifacts/<target>/` through
//! these functions in a plain `cargo test`. It may therefore use only crates
//! that `connmgr-sim` and its dev-dependencies provide: `connmgr` (features
//! `serde` and `arbitrary`), `connmgr-sim`, `connmgr-store`, `arbitrary`,
//! `serde_json` and `toml`.
//!
//! A target fails by panicking, with a message saying which promise broke.
//! The oracles are the invariants of the invariants of `docs/ARCHITECTURE.md` (through the shared
//! [`Checker`](connmgr_sim::Checker)), determinism, and each API's
//! documented contract; "does not panic" is only the least of them.

#![forbid(unsafe_code)]

use std::fmt::Write as _;

mod addrbook;
mod addrbook_file;
mod config_toml;
mod core_inputs;
mod group_key;
mod net_addr_parse;
mod subnet_parse;
mod trace_parse;

pub use addrbook::addrbook;
pub use addrbook_file::{addrbook_file, scratch_dir, MAX_FILE};
pub use config_toml::config_toml;
pub use core_inputs::core_inputs;
pub use group_key::group_key;
pub use net_addr_parse::net_addr_parse;
pub use subnet_parse::subnet_parse;
pub use trace_parse::{trace_parse, MAX_LINE};

use addrbook::decode_book;
use core_inputs::decode_core;
use group_key::decode_ips;

/// A target: its name (the directory under `fuzz/seeds/` and
/// `fuzz/artifacts/`) and its function.
pub type Target = (&'static str, fn(&[u8]));

/// Every target.
pub const TARGETS: &[Target] = &[
    ("core_inputs", core_inputs),
    ("group_key", group_key),
    ("trace_parse", trace_parse),
    ("addrbook", addrbook),
    ("addrbook_file", addrbook_file),
    ("subnet_parse", subnet_parse),
    ("net_addr_parse", net_addr_parse),
    ("config_toml", config_toml),
];

/// What a structured target made of `data`, for a failure report: the
/// decoded config and steps, or operations. Empty for the byte-level targets.
pub fn describe(target: &str, data: &[u8]) -> String {
    let mut out = String::new();
    match target {
        "core_inputs" => {
            let (config, steps) = decode_core(data);
            let _ = writeln!(out, "{config:?}");
            for (i, (dt, step)) in steps.iter().enumerate() {
                let _ = writeln!(out, "{i:4}: {dt:?} {step:?}");
            }
        }
        "addrbook" => {
            let (seed, ops) = decode_book(data);
            let _ = writeln!(out, "seed {seed}");
            for (i, op) in ops.iter().enumerate() {
                let _ = writeln!(out, "{i:4}: {op:?}");
            }
        }
        "group_key" => {
            let _ = writeln!(out, "{:?}", decode_ips(data));
        }
        _ => {}
    }
    out
}

/// Whether the check for the known, reported bug `name` is switched off:
/// `CONNMGR_FUZZ_SKIP` lists names separated by commas. Only for long
/// campaigns, so that a bug already found does not stop the search for the
/// next; the regression tests and CI leave it unset, so every check runs.
fn skip_known(name: &str) -> bool {
    static SKIP: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SKIP.get_or_init(|| std::env::var("CONNMGR_FUZZ_SKIP").unwrap_or_default())
        .split(',')
        .any(|s| s.trim() == name)
}
