//! The fuzz targets' regression tests: every seed (`fuzz/seeds/<target>/`)
//! and every saved crash input (`fuzz/artifacts/<target>/`) goes through the
//! target's own logic, the `fuzz/src/` crate compiled here as a module, so a
//! plain `cargo test` checks them without libFuzzer or cargo-fuzz. The bytes
//! are decoded exactly as under `cargo fuzz run`.

use std::fs;
use std::path::{Path, PathBuf};

#[path = "../../fuzz/src/lib.rs"]
mod fuzz_logic;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The files of `dir`, sorted; none if it does not exist.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("a readable directory entry").path())
        .filter(|p| p.is_file())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    files.sort();
    files
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else {
        "(a panic without a message)".to_owned()
    }
}

/// Runs every seed and artifact of `name`; fails listing each input that
/// fails, with what it decodes to.
fn replay(name: &str) {
    let (_, target) = fuzz_logic::TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no fuzz target {name}"));
    let seeds = files(&fuzz_dir().join("seeds").join(name));
    assert!(!seeds.is_empty(), "fuzz/seeds/{name}/ has no seed");
    let artifacts = files(&fuzz_dir().join("artifacts").join(name));
    let mut failures = Vec::new();
    for file in seeds.iter().chain(&artifacts) {
        let data = fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        if let Err(panic) = std::panic::catch_unwind(|| target(&data)) {
            failures.push(format!(
                "{}: {}\n{}",
                file.display(),
                panic_message(&*panic),
                fuzz_logic::describe(name, &data)
            ));
        }
    }
    let _ = fs::remove_dir_all(fuzz_logic::scratch_dir());
    assert!(
        failures.is_empty(),
        "{} of {} inputs of fuzz target {name} fail:\n\n{}",
        failures.len(),
        seeds.len() + artifacts.len(),
        failures.join("\n\n")
    );
}

#[test]
fn core_inputs() {
    replay("core_inputs");
}

#[test]
fn group_key() {
    replay("group_key");
}

#[test]
fn trace_parse() {
    replay("trace_parse");
}

#[test]
fn addrbook() {
    replay("addrbook");
}

#[test]
fn addrbook_file() {
    replay("addrbook_file");
}

#[test]
fn subnet_parse() {
    replay("subnet_parse");
}

#[test]
fn net_addr_parse() {
    replay("net_addr_parse");
}

#[test]
fn config_toml() {
    replay("config_toml");
}

/// Every target has seeds to replay.
#[test]
fn every_target_has_seeds() {
    for (name, _) in fuzz_logic::TARGETS {
        assert!(
            !files(&fuzz_dir().join("seeds").join(name)).is_empty(),
            "fuzz target {name} has no seeds in fuzz/seeds/{name}/"
        );
    }
}

/// Every directory of seeds or artifacts belongs to a target, so none is
/// silently skipped after a rename.
#[test]
fn every_directory_is_a_target() {
    for kind in ["seeds", "artifacts"] {
        let Ok(entries) = fs::read_dir(fuzz_dir().join(kind)) else {
            continue;
        };
        for entry in entries {
            let name = entry.expect("a readable directory entry").file_name();
            let name = name.to_string_lossy();
            assert!(
                fuzz_logic::TARGETS.iter().any(|(n, _)| *n == name),
                "fuzz/{kind}/{name} is not a fuzz target"
            );
        }
    }
}

/// The limit seeds sit on either side of the limits the targets read with,
/// so the fuzzer starts from both sides of each.
#[test]
fn the_limit_seeds_straddle_the_limits() {
    use connmgr::trace::{TraceError, TraceReader};
    let seeds = fuzz_dir().join("seeds");
    let read = |name: &str| {
        let data = fs::read(seeds.join("trace_parse").join(name)).unwrap();
        let reader =
            TraceReader::with_max_line(&data[..], fuzz_logic::MAX_LINE).expect("the header reads");
        reader.into_iter().find_map(Result::err)
    };
    assert!(read("at_line_limit.jsonl").is_none());
    assert!(matches!(
        read("past_line_limit.jsonl"),
        Some(TraceError::LineTooLong { .. })
    ));

    let load = |name: &str| {
        let path = seeds.join("addrbook_file").join(name);
        connmgr_store::load_within(&path, 1, fuzz_logic::MAX_FILE)
    };
    assert!(load("at_size_limit.json").unwrap().is_some());
    assert!(matches!(
        load("past_size_limit.json"),
        Err(connmgr_store::StoreError::TooLarge { .. })
    ));
}
