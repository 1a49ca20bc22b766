//! `connmgr sim --seeds`: the results of a sweep do not depend on how it is
//! spread over threads or machines, and the shards' summaries merge.

use std::path::PathBuf;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_connmgr");

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("connmgr-cli-sweep-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `connmgr sim` with a small experiment and `extra`; returns the
/// exit code and standard output without the wall-time line.
fn sim(extra: &[&str]) -> (Option<i32>, String) {
    let experiment = [
        "sim",
        "--seeds",
        "0..6",
        "--nodes",
        "8",
        "--duration",
        "20s",
    ];
    let out = Command::new(BIN)
        .args(experiment)
        .args(["--faults", "mixed"])
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.contains("wall time"))
        .collect::<Vec<_>>()
        .join("\n");
    (out.status.code(), stdout)
}

#[test]
fn a_sweep_reports_the_same_on_one_thread_and_on_three() {
    let (code, one) = sim(&["--jobs", "1"]);
    assert_eq!(code, Some(0), "{one}");
    let (_, three) = sim(&["--jobs", "3"]);
    assert_eq!(one, three);
    assert!(one.contains("6 runs of --nodes 8"), "{one}");
}

#[test]
fn the_shards_of_a_sweep_merge_into_the_whole() {
    let dir = temp_dir("shards");
    let (a, b, merged) = (dir.join("a.json"), dir.join("b.json"), dir.join("all.json"));
    for (shard, path) in [("1/2", &a), ("2/2", &b)] {
        let (code, out) = sim(&["--shard", shard, "--summary", path.to_str().unwrap()]);
        assert_eq!(code, Some(0), "{out}");
        assert!(out.contains("3 runs"), "{out}");
    }
    let out = Command::new(BIN)
        .args(["sim", "merge"])
        .args([&a, &b])
        .args(["--summary".as_ref(), merged.as_os_str()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let merged_text = String::from_utf8_lossy(&out.stdout);
    let (_, whole) = sim(&[]);
    // Everything but the first line (which names the shards) agrees.
    let tail = |s: &str| s.lines().skip(1).map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(
        tail(&merged_text),
        tail(&whole),
        "{merged_text}\n---\n{whole}"
    );
    assert!(merged_text.contains("shards 1,2 of 2"), "{merged_text}");
    assert!(std::fs::read_to_string(&merged)
        .unwrap()
        .contains("\"runs\": 6"));

    // A shard of another experiment does not merge.
    let other = dir.join("other.json");
    let out = Command::new(BIN)
        .args([
            "sim",
            "--seeds",
            "0..6",
            "--nodes",
            "9",
            "--duration",
            "20s",
        ])
        .args(["--faults", "mixed", "--shard", "2/2", "--summary"])
        .arg(&other)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = Command::new(BIN)
        .args(["sim", "merge"])
        .args([&a, &other])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("another experiment"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn several_attacks_and_presets_make_a_table_and_a_plot() {
    let dir = temp_dir("grid");
    let svg = dir.join("eclipse.svg");
    let out = Command::new(BIN)
        .args([
            "sim",
            "--seeds",
            "0..2",
            "--nodes",
            "12",
            "--duration",
            "3m",
        ])
        .args([
            "--faults",
            "none",
            "--attack",
            "botnet:20,infrastructure:2x10",
        ])
        .args([
            "--attack-period",
            "1m",
            "--preset",
            "default,btcd",
            "--plot",
        ])
        .arg(&svg)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("eclipse probability over seeds 0..2"),
        "{stdout}"
    );
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("botnet:20") || l.starts_with("infrastructure:2x10"))
        .collect();
    assert_eq!(rows.len(), 2, "{stdout}");
    assert!(
        rows.iter().all(|r| r.matches("/2 ").count() == 2),
        "{stdout}"
    );
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));

    let refused = |extra: &[&str], says: &str| {
        let out = Command::new(BIN)
            .args(["sim", "--nodes", "12", "--attack", "botnet:20,botnet:40"])
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{stderr}");
    };
    refused(&["--duration", "30m"], "--seeds");
    refused(&["--duration", "10m"], "after the run ends");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_seeds_trace_is_byte_identical_on_one_thread_and_on_eight() {
    let dir = temp_dir("sweep-traces");
    let (one, eight) = (dir.join("one"), dir.join("eight"));
    for (jobs, out) in [("1", &one), ("8", &eight)] {
        std::fs::create_dir_all(out).unwrap();
        let trace = format!("3:{}", out.join("node3.jsonl").display());
        let (code, stdout) = sim(&["--jobs", jobs, "--trace", &trace]);
        assert_eq!(code, Some(0), "{stdout}");
    }
    let mut names: Vec<_> = std::fs::read_dir(&one)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    // Six seeds, each with at least its first life's trace.
    assert!(names.len() >= 6, "{names:?}");
    assert!(names.iter().any(|n| n == "node3.jsonl.seed-5"), "{names:?}");
    for name in &names {
        let (a, b) = (one.join(name), eight.join(name));
        let (a, b) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        assert!(!a.is_empty());
        assert!(a == b, "{name:?} differs between --jobs 1 and --jobs 8");
    }
}
