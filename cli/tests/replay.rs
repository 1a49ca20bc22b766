//! `connmgr replay` as a user runs it: the built binary on trace files.
//!
//! `tests/data/example.jsonl` is a committed trace, so that a change in the
//! core's decisions, or in the trace format, shows up as a failing replay of
//! a file written before it. It is produced by [`example_trace`] below;
//! regenerate it after a deliberate change with
//! `CONNMGR_BLESS=1 cargo test -p connmgr-cli --test replay`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use connmgr::trace::Recorder;
use connmgr::{
    AcceptError, Action, AddressError, Config, ConnId, ConnManager, DialError, Ignored, Input,
    Instant, ListenerId, Seed,
};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/example.jsonl");

/// A test address, as the context wants it (`SocketAddr` or `PeerAddr`).
fn addr<A: std::str::FromStr>(s: &str) -> A
where
    A::Err: std::fmt::Debug,
{
    s.parse().expect("test address")
}

fn dial_of(actions: &[Action], id: ConnId) -> u32 {
    actions
        .iter()
        .find_map(|a| match a {
            Action::Dial { id: d, attempt, .. } if *d == id => Some(*attempt),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no Dial for {id} in {actions:?}"))
}

fn address_requests(actions: &[Action]) -> Vec<ConnId> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::RequestAddress { id } => Some(*id),
            _ => None,
        })
        .collect()
}

/// What one input gave: its result and the actions drained after it.
struct Step {
    result: Result<Option<ConnId>, Ignored>,
    actions: Vec<Action>,
}

/// Feeds `input` and drains, as a runtime does.
fn handle(rec: &mut Recorder<Vec<u8>>, t: Instant, input: Input) -> Step {
    let result = rec.handle(t, input);
    let actions = std::iter::from_fn(|| rec.poll_action()).collect();
    Step { result, actions }
}

/// A short life: two automatic connections (one address source empty at
/// first), a permanent peer that refuses once and is redialled after its
/// backoff, an inbound peer, an accept error, and stop.
fn example_trace() -> Vec<u8> {
    let config = Config {
        target_outbound: 2,
        block_relay_outbound: 0,
        rng_seed: Some(Seed::from_u64(1)),
        // The run answers the address requests itself.
        address_book: connmgr::AddressBook::External,
        ..Config::default()
    };
    let mgr = ConnManager::new(config, Instant::ZERO).unwrap();
    let mut rec = Recorder::new(mgr, Some(Vec::new())).unwrap();
    let t = Instant::from_millis;

    let step = handle(&mut rec, t(1_000), Input::Start);
    let [a, b] = address_requests(&step.actions)[..] else {
        panic!("{:?}", step.actions)
    };
    let permanent = Input::Connect {
        addr: addr("198.51.100.1:8333"),
        permanent: true,
    };
    let step = handle(&mut rec, t(1_000), permanent);
    let p = step.result.unwrap().unwrap();
    let p_attempt = dial_of(&step.actions, p);
    let step = handle(
        &mut rec,
        t(1_010),
        Input::AddressResult {
            id: a,
            result: Ok(addr("203.0.113.7:8333")),
        },
    );
    let a_attempt = dial_of(&step.actions, a);
    let step = handle(
        &mut rec,
        t(1_010),
        Input::AddressResult {
            id: b,
            result: Err(AddressError::Empty),
        },
    );
    let [c] = address_requests(&step.actions)[..] else {
        panic!("{:?}", step.actions)
    };
    let _ = handle(
        &mut rec,
        t(1_080),
        Input::DialResult {
            id: a,
            attempt: a_attempt,
            result: Ok(()),
        },
    );
    let _ = handle(
        &mut rec,
        t(1_100),
        Input::DialResult {
            id: p,
            attempt: p_attempt,
            result: Err(DialError::Refused),
        },
    );
    let step = handle(
        &mut rec,
        t(1_500),
        Input::AddressResult {
            id: c,
            result: Ok(addr("192.0.2.9:8333")),
        },
    );
    let c_attempt = dial_of(&step.actions, c);
    let _ = handle(
        &mut rec,
        t(1_620),
        Input::DialResult {
            id: c,
            attempt: c_attempt,
            result: Ok(()),
        },
    );
    let due = rec.poll_timeout().expect("the permanent peer's retry");
    let step = handle(&mut rec, due, Input::Tick);
    let p_attempt = dial_of(&step.actions, p);
    let _ = handle(
        &mut rec,
        due + std::time::Duration::from_millis(40),
        Input::DialResult {
            id: p,
            attempt: p_attempt,
            result: Ok(()),
        },
    );
    let listener = ListenerId(0);
    let step = handle(
        &mut rec,
        t(9_000),
        Input::Accepted {
            listener,
            remote: addr("100.64.1.1:50000"),
            network: None,
        },
    );
    let inbound = step.result.unwrap().unwrap();
    let _ = handle(
        &mut rec,
        t(9_500),
        Input::AcceptFailed {
            listener,
            error: AcceptError::TooManyOpenFiles,
        },
    );
    let due = rec.poll_timeout().expect("the listener's pause");
    let _ = handle(&mut rec, due, Input::Tick);
    let _ = handle(&mut rec, t(12_000), Input::Closed { id: inbound });
    let _ = handle(&mut rec, t(15_000), Input::Stop);
    rec.close().unwrap().unwrap()
}

fn connmgr(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_connmgr"))
        .args(args)
        .output()
        .expect("run connmgr")
}

fn replay(path: &Path) -> (Option<i32>, String, String) {
    let out = connmgr(&["replay", path.to_str().unwrap()]);
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// A copy of the example with line `line` (1-based) changed by `edit`.
fn variant(name: &str, line: usize, edit: impl FnOnce(&str) -> String) -> PathBuf {
    let text = std::fs::read_to_string(EXAMPLE).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[line - 1] = edit(&lines[line - 1]);
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

#[test]
fn the_committed_example_is_what_the_generator_writes() {
    let generated = example_trace();
    if std::env::var_os("CONNMGR_BLESS").is_some() {
        std::fs::write(EXAMPLE, &generated).unwrap();
        return;
    }
    let committed = std::fs::read(EXAMPLE).unwrap();
    assert!(
        committed == generated,
        "{EXAMPLE} is not what example_trace() writes; if the change is deliberate, \
         regenerate it with CONNMGR_BLESS=1 cargo test -p connmgr-cli --test replay"
    );
}

#[test]
fn the_example_replays_identically() {
    let lines = std::fs::read_to_string(EXAMPLE).unwrap().lines().count();
    let (code, stdout, stderr) = replay(Path::new(EXAMPLE));
    assert_eq!(code, Some(0), "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stdout.starts_with(&format!("identical: {} inputs, ", lines - 1)),
        "{stdout}"
    );
    assert!(stdout.trim_end().ends_with("actions compared"), "{stdout}");
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn a_tampered_trace_reports_the_line_of_the_divergence() {
    // Line 3 is the permanent peer's `Connect`; say it was dialled at attempt 2.
    let path = variant("tampered.jsonl", 3, |line| {
        assert!(line.contains(r#""input":{"Connect""#), "{line}");
        line.replacen(r#""attempt":1"#, r#""attempt":2"#, 1)
    });
    let (code, stdout, stderr) = replay(&path);
    assert_eq!(code, Some(1), "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stdout.starts_with("diverged at line 3 (input 2, "),
        "{stdout}"
    );
    assert!(
        stdout.contains(r#""attempt":2"#),
        "expected actions: {stdout}"
    );
    assert!(
        stdout.contains(r#""attempt":1"#),
        "actual actions: {stdout}"
    );
    assert!(stdout.contains("first difference at action 1"), "{stdout}");
}

#[test]
fn a_corrupt_trace_is_an_error_naming_the_line() {
    let path = variant("corrupt.jsonl", 5, |line| line.replacen(':', "", 1));
    let (code, stdout, stderr) = replay(&path);
    assert_eq!(code, Some(2), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(
        stderr.contains("corrupt.jsonl: line 5, column 5: corrupt JSON"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "no backtrace: {stderr}");
}

#[test]
fn an_unknown_version_is_an_error_naming_the_supported_one() {
    let path = variant("v8.jsonl", 1, |line| {
        line.replacen(r#""version":7"#, r#""version":8"#, 1)
    });
    let (code, _, stderr) = replay(&path);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains(
            "line 1: trace format version 8 is not supported; this build reads versions 5 to 7"
        ),
        "{stderr}"
    );
}

#[test]
fn a_missing_file_is_an_error() {
    let (code, _, stderr) = replay(Path::new("/nonexistent/trace.jsonl"));
    assert_eq!(code, Some(2));
    assert!(
        stderr.starts_with("error: cannot open /nonexistent/trace.jsonl: "),
        "{stderr}"
    );
}
