use std::cell::RefCell;
use std::io::{self, Write};
use std::rc::Rc;

use serde_json::Value;

use super::*;
use crate::{
    AcceptError, Action, AddressError, ConnId, ConnKind, ConnManager, DialError, Direction,
    Ignored, Input, ListenerId, PeerAddr, PeerEvent, Seed,
};

/// A test address, as the context wants it (`SocketAddr` or `PeerAddr`).
fn addr<A: std::str::FromStr>(s: &str) -> A
where
    A::Err: std::fmt::Debug,
{
    s.parse().expect("test address")
}

/// The runs here answer `RequestAddress` themselves; the book inside has
/// its own tests at the end.
fn config() -> Config {
    Config {
        target_outbound: 2,
        block_relay_outbound: 0,
        rng_seed: Some(Seed::from_u64(1)),
        address_book: crate::AddressBook::External,
        ..Config::default()
    }
}

/// What one input gave: its result and the actions drained after it.
struct Step {
    result: Result<Option<ConnId>, Ignored>,
    actions: Vec<Action>,
}

/// Feeds `input` and drains, as a runtime does.
fn handle<W: Write>(rec: &mut Recorder<W>, t: Instant, input: Input) -> Step {
    let result = rec.handle(t, input);
    let actions = std::iter::from_fn(|| rec.poll_action()).collect();
    Step { result, actions }
}

/// The attempt of the `Dial` for `id` among `actions`.
fn dial_of(actions: &[Action], id: ConnId) -> u32 {
    actions
        .iter()
        .find_map(|a| match a {
            Action::Dial { id: d, attempt, .. } if *d == id => Some(*attempt),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no Dial for {id} in {actions:?}"))
}

/// The ids of the `RequestAddress` actions among `actions`.
fn address_requests(actions: &[Action]) -> Vec<ConnId> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::RequestAddress { id } => Some(*id),
            _ => None,
        })
        .collect()
}

/// Every input fed, with its time and the actions it produced.
type Log = Vec<(Instant, Input, Vec<Action>)>;

/// A real run, driven by hand through a `Recorder`: a permanent peer queued
/// before start, start, address results (one empty), dials that connect,
/// fail and time out, the permanent peer's retry, an inbound connection, an
/// accept error and its pause, a late stale result, a close, and stop.
/// Returns the trace and every `(t, input, actions)` fed.
fn real_run() -> (Vec<u8>, Log) {
    let mgr = ConnManager::new(config(), Instant::ZERO).unwrap();
    let mut rec = Recorder::new(mgr, Some(Vec::new())).unwrap();
    let mut log = Vec::new();
    let mut feed = |rec: &mut Recorder<Vec<u8>>, t: Instant, input: Input| {
        let handled = handle(rec, t, input.clone());
        log.push((t, input, handled.actions.clone()));
        handled
    };
    let secs = Instant::from_secs;

    let permanent = addr("198.51.100.1:8333");
    let step = feed(
        &mut rec,
        Instant::from_millis(500),
        Input::Connect {
            addr: permanent,
            permanent: true,
        },
    );
    let p = step.result.unwrap().unwrap();
    assert!(step.actions.is_empty(), "queued until start");

    let step = feed(&mut rec, secs(1), Input::Start);
    let p_attempt = dial_of(&step.actions, p);
    let [a, b] = address_requests(&step.actions)[..] else {
        panic!("two automatic requests: {:?}", step.actions)
    };

    let step = feed(
        &mut rec,
        secs(1),
        Input::AddressResult {
            id: a,
            result: Ok(addr("203.0.113.7:8333")),
        },
    );
    let a_attempt = dial_of(&step.actions, a);
    let step = feed(
        &mut rec,
        secs(1),
        Input::AddressResult {
            id: b,
            result: Err(AddressError::Empty),
        },
    );
    let [c] = address_requests(&step.actions)[..] else {
        panic!("b replaced: {:?}", step.actions)
    };
    let step = feed(
        &mut rec,
        secs(2),
        Input::DialResult {
            id: a,
            attempt: a_attempt,
            result: Ok(()),
        },
    );
    assert!(matches!(
        step.actions[..],
        [Action::NotifyPeer(PeerEvent::Connected { id, .. })] if id == a
    ));
    let step = feed(
        &mut rec,
        secs(2),
        Input::DialResult {
            id: p,
            attempt: p_attempt,
            result: Err(DialError::Refused),
        },
    );
    assert!(
        step.actions
            .iter()
            .any(|x| matches!(x, Action::RetryAfter { id, .. } if *id == p)),
        "permanent peer retried: {:?}",
        step.actions
    );
    let step = feed(
        &mut rec,
        secs(2),
        Input::AddressResult {
            id: c,
            result: Ok(addr("192.0.2.9:8333")),
        },
    );
    let c_attempt = dial_of(&step.actions, c);

    // The permanent peer's retry falls due, and this time it connects.
    let due = rec.poll_timeout().unwrap();
    let step = feed(&mut rec, due, Input::Tick);
    let p_attempt = dial_of(&step.actions, p);
    let step = feed(
        &mut rec,
        due,
        Input::DialResult {
            id: p,
            attempt: p_attempt,
            result: Ok(()),
        },
    );
    assert!(matches!(
        step.actions[..],
        [Action::NotifyPeer(PeerEvent::Connected { id, kind: ConnKind::Permanent, .. })] if id == p
    ));

    // Inbound: one admitted, then an accept error pauses the listener.
    let listener = ListenerId(0);
    let step = feed(
        &mut rec,
        secs(10),
        Input::Accepted {
            listener,
            remote: addr("100.64.1.1:50000"),
            network: None,
        },
    );
    let inbound = step.result.unwrap().unwrap();
    assert!(matches!(
        step.actions[..],
        [Action::NotifyPeer(PeerEvent::Connected {
            direction: Direction::Inbound,
            ..
        })]
    ));
    let step = feed(
        &mut rec,
        secs(10),
        Input::AcceptFailed {
            listener,
            error: AcceptError::TooManyOpenFiles,
        },
    );
    assert!(matches!(step.actions[..], [Action::PauseListener { .. }]));
    let due = rec.poll_timeout().unwrap();
    let step = feed(&mut rec, due, Input::Tick);
    assert!(matches!(step.actions[..], [Action::ResumeListener { .. }]));

    // c's dial times out in the core; its late result is ignored.
    let due = rec.poll_timeout().unwrap();
    assert_eq!(due, secs(2) + rec.manager().config().dial_timeout);
    let step = feed(&mut rec, due, Input::Tick);
    assert!(step
        .actions
        .iter()
        .any(|x| matches!(x, Action::CancelDial { id, .. } if *id == c)));
    let step = feed(
        &mut rec,
        due,
        Input::DialResult {
            id: c,
            attempt: c_attempt,
            result: Err(DialError::TimedOut),
        },
    );
    assert!(step.result.is_err(), "a result after CancelDial is ignored");

    let _ = feed(&mut rec, secs(40), Input::Closed { id: inbound });
    let step = feed(&mut rec, secs(41), Input::Stop);
    assert!(step.actions.contains(&Action::CloseListeners));
    (rec.close().unwrap().unwrap(), log)
}

fn lines(trace: &[u8]) -> Vec<String> {
    std::str::from_utf8(trace)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn join(lines: &[String]) -> Vec<u8> {
    let mut out = lines.join("\n");
    out.push('\n');
    out.into_bytes()
}

fn replace_line(trace: &[u8], line: usize, text: &str) -> Vec<u8> {
    let mut lines = lines(trace);
    lines[line - 1] = text.to_owned();
    join(&lines)
}

fn read_error(trace: &[u8]) -> TraceError {
    match TraceReader::new(trace) {
        Err(e) => e,
        Ok(reader) => reader
            .into_iter()
            .find_map(Result::err)
            .expect("the trace should be unreadable"),
    }
}

#[test]
fn round_trip_of_a_real_run_replays_identically() {
    let (trace, log) = real_run();
    let reader = TraceReader::new(&trace[..]).unwrap();
    assert_eq!(reader.header(), &TraceHeader::new(config(), Instant::ZERO));
    let records: Vec<Record> = reader.collect::<Result<_, _>>().unwrap();
    assert_eq!(records.len(), log.len());
    for (i, (record, (t, input, actions))) in records.iter().zip(&log).enumerate() {
        assert_eq!(record.line, i as u64 + 2);
        assert_eq!((&record.t, &record.input), (t, input));
        assert_eq!(record.actions.as_ref(), Some(actions));
    }

    let total: usize = log.iter().map(|(_, _, actions)| actions.len()).sum();
    let report = replay(&trace[..]).unwrap();
    assert_eq!(
        report,
        ReplayReport::Identical {
            inputs: log.len() as u64,
            actions_compared: total as u64,
            unchecked_inputs: 0,
        }
    );
    assert_eq!(
        report.to_string(),
        format!("identical: {} inputs, {total} actions compared", log.len())
    );
}

#[test]
fn recording_is_deterministic() {
    assert_eq!(real_run().0, real_run().0);
}

#[test]
fn lines_are_as_documented() {
    let (trace, _) = real_run();
    let lines = lines(&trace);
    let header = format!(
        "{{\"format\":\"connmgr-trace\",\"version\":7,\"crate_version\":\"{}\",\"start\":0,\"config\":{{\"target_outbound\":2,",
        env!("CARGO_PKG_VERSION")
    );
    assert!(lines[0].starts_with(&header), "{}", lines[0]);
    // The seed the run used, so a replay makes the same choices.
    let seed = format!("\"rng_seed\":\"{}\"", Seed::from_u64(1).to_hex());
    assert!(lines[0].contains(&seed), "{}", lines[0]);
    assert!(lines[0].ends_with(r#""book":null}"#), "{}", lines[0]);
    // Durations as people write them.
    assert!(
        lines[0].contains(r#""retry_interval":"5s""#),
        "{}",
        lines[0]
    );
    assert_eq!(
        lines[1],
        r#"{"t":500000000,"input":{"Connect":{"addr":"198.51.100.1:8333","permanent":true}},"actions":[]}"#
    );
    assert!(
        lines[2].starts_with(r#"{"t":1000000000,"input":"Start","actions":[{"Dial":{"id":1,"attempt":1,"addr":"198.51.100.1:8333","kind":"Permanent"}},{"RequestAddress":{"id":2}}"#),
        "{}",
        lines[2]
    );
}

#[test]
fn a_tampered_action_diverges_at_its_line() {
    let (trace, log) = real_run();
    // The line of the permanent peer's failed dial: its actions include a
    // RetryAfter; move the retry one second later.
    let index = log
        .iter()
        .position(|(_, _, actions)| {
            actions
                .iter()
                .any(|a| matches!(a, Action::RetryAfter { .. }))
        })
        .unwrap();
    let line = index + 2;
    let mut record: Value = serde_json::from_str(&lines(&trace)[line - 1]).unwrap();
    let actions = record["actions"].as_array_mut().unwrap();
    let retry = actions
        .iter_mut()
        .find_map(|a| a.get_mut("RetryAfter"))
        .unwrap();
    let at = retry["at"].as_u64().unwrap();
    retry["at"] = Value::from(at + 1_000_000_000);
    let tampered = replace_line(&trace, line, &record.to_string());

    let ReplayReport::Diverged(d) = replay(&tampered[..]).unwrap() else {
        panic!("the tampered trace should diverge")
    };
    assert_eq!(d.line, line as u64);
    assert_eq!(d.input_number, index as u64 + 1);
    assert_eq!(d.input, log[index].1);
    assert_eq!(d.actual, log[index].2);
    assert_ne!(d.expected, d.actual);
    assert_eq!(d.expected.len(), d.actual.len());
    let first = d.first_difference();
    assert!(matches!(d.actual[first], Action::RetryAfter { .. }));
    let text = d.to_string();
    assert!(
        text.starts_with(&format!("diverged at line {line} (input {}", index + 1)),
        "{text}"
    );
    assert!(text.contains(&format!("first difference at action {}", first + 1)));
    assert!(text.contains(r#""RetryAfter":{"id":1,"#), "{text}");
}

#[test]
fn a_missing_action_diverges_too() {
    let (trace, _) = real_run();
    let mut record: Value = serde_json::from_str(&lines(&trace)[2]).unwrap();
    record["actions"].as_array_mut().unwrap().pop();
    let tampered = replace_line(&trace, 3, &record.to_string());
    let ReplayReport::Diverged(d) = replay(&tampered[..]).unwrap() else {
        panic!("should diverge")
    };
    assert_eq!(d.line, 3);
    assert_eq!(d.first_difference(), d.expected.len());
    assert!(d.to_string().contains("(nothing)"));
}

#[test]
fn corrupt_json_names_its_line_and_column() {
    let (trace, _) = real_run();
    let corrupt = replace_line(&trace, 4, r#"{"t":1000000000,"input" "Tick"}"#);
    let err = read_error(&corrupt);
    assert!(
        matches!(
            err,
            TraceError::Json {
                line: 4,
                column: 25,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.line(), 4);
    assert_eq!(
        err.to_string(),
        "line 4, column 25: corrupt JSON: expected `:`"
    );
    // replay stops with the same error rather than calling a partial run identical.
    assert!(matches!(
        replay(&corrupt[..]),
        Err(TraceError::Json { line: 4, .. })
    ));
}

#[test]
fn a_record_of_the_wrong_shape_names_its_line() {
    let (trace, _) = real_run();
    let bad = replace_line(&trace, 5, r#"{"t":1,"input":"Tik"}"#);
    let err = read_error(&bad);
    assert!(
        matches!(err, TraceError::InvalidRecord { line: 5, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("unknown variant `Tik`"), "{err}");
    // A misspelt "actions" is refused, not silently left unchecked.
    let bad = replace_line(&trace, 5, r#"{"t":1,"input":"Tick","action":[]}"#);
    assert!(matches!(
        read_error(&bad),
        TraceError::InvalidRecord { line: 5, .. }
    ));
}

#[test]
fn a_truncated_last_line_names_its_line() {
    let (trace, _) = real_run();
    let n = lines(&trace).len();
    // Cut the last line in half: no newline, incomplete JSON.
    let cut = trace.len() - lines(&trace)[n - 1].len() / 2;
    let err = read_error(&trace[..cut]);
    assert!(
        matches!(err, TraceError::Truncated { line } if line == n as u64),
        "{err:?}"
    );
    assert!(err.to_string().starts_with(&format!("line {n}: truncated")));
    // A complete last line without its newline is fine.
    assert!(replay(&trace[..trace.len() - 1]).unwrap().is_identical());
    // Incomplete JSON followed by a newline is corrupt, not truncated.
    let bad = replace_line(&trace, 3, r#"{"t":1,"input":"#);
    assert!(matches!(read_error(&bad), TraceError::Json { line: 3, .. }));
}

#[test]
fn a_missing_or_invalid_header_is_refused() {
    assert!(matches!(read_error(b""), TraceError::MissingHeader));
    assert!(matches!(read_error(b"\n  \n"), TraceError::MissingHeader));
    assert_eq!(read_error(b"").line(), 1);

    let (trace, _) = real_run();
    let lines = lines(&trace);
    // A trace whose header was lost starts with a record.
    let headless = join(&lines[1..]);
    let err = read_error(&headless);
    assert!(
        matches!(err, TraceError::InvalidHeader { line: 1, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("no \"format\""), "{err}");

    let other = read_error(br#"{"format":"pcap","version":1}"#);
    assert!(
        other.to_string().contains(r#""format" is "pcap""#),
        "{other}"
    );
    assert!(matches!(
        read_error(b"[1,2]\n"),
        TraceError::InvalidHeader { line: 1, .. }
    ));
    assert!(matches!(
        read_error(b"not json\n"),
        TraceError::Json { line: 1, .. }
    ));
    assert!(matches!(
        read_error(br#"{"format":"connmgr-trace","vers"#),
        TraceError::Truncated { line: 1 }
    ));

    // Right format and version, wrong shape: an unknown config field.
    let mut header: Value = serde_json::from_str(&lines[0]).unwrap();
    header["config"]["target_outbund"] = Value::from(3);
    let err = read_error(&replace_line(&trace, 1, &header.to_string()));
    assert!(
        matches!(err, TraceError::InvalidHeader { line: 1, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("target_outbund"), "{err}");
}

#[test]
fn an_unknown_version_is_refused_with_the_supported_one() {
    let (trace, _) = real_run();
    let mut header: Value = serde_json::from_str(&lines(&trace)[0]).unwrap();
    header["version"] = Value::from(8);
    // Everything else may have changed in another version: only format and
    // version are looked at before refusing.
    header["config"] = Value::from("whatever version 8 puts here");
    let err = read_error(&replace_line(&trace, 1, &header.to_string()));
    assert!(
        matches!(
            err,
            TraceError::UnsupportedVersion {
                line: 1,
                version: 8
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "line 1: trace format version 8 is not supported; this build reads versions 5 to 7"
    );
    // Version 1 (a numeric seed), 2 (no book inside), 3 (no connection
    // kinds) and 4 (eviction without Core's protections) are told why
    // they cannot replay.
    for old in [1, 2, 3, 4] {
        header["version"] = Value::from(old);
        let err = read_error(&replace_line(&trace, 1, &header.to_string()));
        assert!(err.to_string().contains("record the run anew"), "{err}");
    }
}

#[test]
fn a_version_5_trace_still_replays() {
    let (trace, log) = real_run();
    let mut header: Value = serde_json::from_str(&lines(&trace)[0]).unwrap();
    header["version"] = Value::from(5);
    let old = replace_line(&trace, 1, &header.to_string());
    let reader = TraceReader::new(old.as_slice()).unwrap();
    assert_eq!(reader.header().version, 5);
    assert!(
        !reader.header().config.networks.one_per_network,
        "version 5 knew no such rule"
    );
    let total: usize = log.iter().map(|(_, _, actions)| actions.len()).sum();
    assert_eq!(
        reader.replay().unwrap(),
        ReplayReport::Identical {
            inputs: log.len() as u64,
            actions_compared: total as u64,
            unchecked_inputs: 0,
        }
    );
}

#[test]
fn an_invalid_config_is_refused_with_its_reason() {
    let bad = Config {
        dial_timeout: std::time::Duration::ZERO,
        ..config()
    };
    // The writer does not validate: it records what it is given.
    let trace = TraceWriter::new(Vec::new(), &bad, Instant::ZERO)
        .unwrap()
        .into_inner()
        .unwrap();
    let err = read_error(&trace);
    assert!(
        matches!(
            err,
            TraceError::InvalidConfig {
                line: 1,
                source: ConfigError::ZeroDuration {
                    field: "dial_timeout"
                }
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("`dial_timeout`"), "{err}");
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn a_trace_without_actions_replays_and_counts() {
    let (_, log) = real_run();
    let mut w = TraceWriter::new(Vec::new(), &config(), Instant::ZERO).unwrap();
    for (t, input, _) in &log {
        w.record(*t, input, None).unwrap();
    }
    assert_eq!(w.lines_written(), log.len() as u64 + 1);
    let trace = w.into_inner().unwrap();
    assert!(!String::from_utf8_lossy(&trace).contains("actions"));
    let report = replay(&trace[..]).unwrap();
    assert_eq!(
        report,
        ReplayReport::Identical {
            inputs: log.len() as u64,
            actions_compared: 0,
            unchecked_inputs: log.len() as u64,
        }
    );
    assert!(report.to_string().starts_with(&format!(
        "identical: {} inputs, 0 actions compared (",
        log.len()
    )));
}

#[test]
fn blank_lines_are_skipped_but_counted() {
    let (trace, _) = real_run();
    let mut lines = lines(&trace);
    lines.insert(2, String::new());
    lines.insert(3, "  \r".to_owned());
    let trace = join(&lines);
    assert!(replay(&trace[..]).unwrap().is_identical());
    let records: Vec<Record> = TraceReader::new(&trace[..])
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(records[0].line, 2);
    assert_eq!(records[1].line, 5);
}

#[test]
fn the_reader_stops_after_an_error() {
    let (trace, _) = real_run();
    let bad = replace_line(&trace, 3, "{");
    let results: Vec<_> = TraceReader::new(&bad[..]).unwrap().collect();
    assert_eq!(results.len(), 2);
    assert!(results[0].is_ok());
    assert!(results[1].is_err());
}

#[test]
fn a_recorder_refuses_a_used_manager() {
    let mut mgr = ConnManager::new(config(), Instant::ZERO).unwrap();
    mgr.start(Instant::ZERO).unwrap();
    let err = Recorder::new(mgr, Some(Vec::new())).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
}

/// Accepts `budget` writes, then fails every one; what it accepted stays
/// readable after the recorder is gone.
#[derive(Clone)]
struct FailAfter {
    budget: usize,
    written: Rc<RefCell<Vec<u8>>>,
}

impl FailAfter {
    fn new(budget: usize) -> FailAfter {
        FailAfter {
            budget,
            written: Rc::default(),
        }
    }
}

impl Write for FailAfter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.budget == 0 {
            return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
        }
        self.budget -= 1;
        self.written.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_write_error_stops_the_recording_but_not_the_manager() {
    let mgr = ConnManager::new(config(), Instant::ZERO).unwrap();
    let out = FailAfter::new(2);
    let mut rec = Recorder::new(mgr, Some(out.clone())).unwrap();
    let step = handle(&mut rec, Instant::from_secs(1), Input::Start);
    assert_eq!(step.actions.len(), 2);
    assert!(rec.write_error().is_none());
    assert!(rec.is_recording());
    // The third write fails: the actions are still given out.
    let [Action::RequestAddress { id }, _] = step.actions[..] else {
        panic!()
    };
    let step = handle(
        &mut rec,
        Instant::from_secs(1),
        Input::AddressResult {
            id,
            result: Ok(addr("203.0.113.7:8333")),
        },
    );
    assert!(matches!(step.actions[..], [Action::Dial { .. }]));
    assert_eq!(
        rec.write_error().map(io::Error::kind),
        Some(io::ErrorKind::StorageFull)
    );
    assert!(!rec.is_recording());
    let _ = handle(&mut rec, Instant::from_secs(2), Input::Tick);
    let err = rec.flush().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::StorageFull);
    assert!(err.to_string().contains("after line 2"), "{err}");
    assert!(rec.close().is_err());
    assert!(matches!(rec.close(), Ok(None)), "closed once");

    // What was written is a clean prefix, which replays.
    let written = out.written.borrow();
    assert_eq!(
        replay(&written[..]).unwrap(),
        ReplayReport::Identical {
            inputs: 1,
            actions_compared: 2,
            unchecked_inputs: 0
        }
    );
}

#[test]
fn a_recorder_without_a_writer_drains_like_the_manager() {
    let mut mgr = ConnManager::new(config(), Instant::ZERO).unwrap();
    let mut rec: Recorder<Vec<u8>> =
        Recorder::new(ConnManager::new(config(), Instant::ZERO).unwrap(), None).unwrap();
    assert!(!rec.is_recording());
    let inputs = [
        Input::Start,
        Input::Connect {
            addr: addr("198.51.100.1:8333"),
            permanent: true,
        },
        Input::Tick,
    ];
    for input in inputs {
        let t = Instant::from_secs(1);
        assert_eq!(rec.handle(t, input.clone()), mgr.handle(t, input));
        let ours: Vec<_> = std::iter::from_fn(|| rec.poll_action()).collect();
        let theirs: Vec<_> = std::iter::from_fn(|| mgr.poll_action()).collect();
        assert_eq!(ours, theirs);
        assert_eq!(rec.poll_timeout(), mgr.poll_timeout());
    }
    assert!(matches!(rec.close(), Ok(None)));
}

/// Reads `input` to its first error, which must come.
fn stream_error(input: impl std::io::Read) -> TraceError {
    let input = std::io::BufReader::new(input);
    match TraceReader::new(input) {
        Err(e) => e,
        Ok(reader) => reader
            .into_iter()
            .find_map(Result::err)
            .expect("the stream should be unreadable"),
    }
}

#[test]
fn endless_input_without_a_newline_is_refused_at_the_line_limit() {
    // `connmgr replay /dev/zero`: a header that never ends.
    let err = stream_error(std::io::repeat(0));
    assert!(
        matches!(err, TraceError::LineTooLong { line: 1, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("longer than 16777216 bytes"),
        "{err}"
    );
    // A good header, then a record line that never ends.
    let (trace, _) = real_run();
    let header = format!("{}\n", lines(&trace)[0]);
    let err = stream_error(std::io::Read::chain(
        header.as_bytes(),
        std::io::repeat(b'x'),
    ));
    assert!(
        matches!(err, TraceError::LineTooLong { line: 2, .. }),
        "{err:?}"
    );
}

#[test]
fn a_line_exactly_at_the_limit_is_read() {
    let (trace, _) = real_run();
    let mut record = String::from(r#"{"t":99000000000,"input":"Tick""#);
    record.extend(std::iter::repeat_n(' ', MAX_LINE_BYTES - record.len() - 1));
    record.push('}');
    assert_eq!(record.len(), MAX_LINE_BYTES);
    let mut bytes = trace.clone();
    bytes.extend_from_slice(record.as_bytes());
    bytes.push(b'\n');
    let records: Vec<_> = TraceReader::new(&bytes[..]).unwrap().collect();
    assert!(records.iter().all(Result::is_ok), "{:?}", records.last());
    let mut beyond = trace;
    beyond.extend_from_slice(record.as_bytes());
    beyond.extend_from_slice(b" \n");
    assert!(matches!(
        read_error(&beyond),
        TraceError::LineTooLong { .. }
    ));
}

#[test]
fn a_writer_ends_the_trace_before_a_line_a_reader_would_refuse() {
    let mut writer = TraceWriter::new(Vec::new(), &config(), Instant::ZERO).unwrap();
    let many = vec![Action::CloseListeners; MAX_LINE_BYTES / 10];
    let err = writer
        .record(Instant::ZERO, &Input::Stop, Some(&many))
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert!(err.to_string().contains("limit of 16 MiB"), "{err}");
    let written = writer.into_inner().unwrap();
    assert_eq!(lines(&written).len(), 1, "only the header");
}

#[test]
fn time_going_backwards_is_refused_at_its_line() {
    let (trace, _) = real_run();
    let third = lines(&trace)[2].clone();
    let earlier = third.replacen(r#""t":1000000000"#, r#""t":1"#, 1);
    assert_ne!(earlier, third, "the third line is at t = 1 s");
    let err = read_error(&replace_line(&trace, 3, &earlier));
    assert!(
        matches!(err, TraceError::TimeWentBackwards { line: 3, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with("line 3: time goes backwards"),
        "{err}"
    );
    // `replay` refuses it too, rather than reporting a divergence later.
    let replayed = replay(&replace_line(&trace, 3, &earlier)[..]).unwrap_err();
    assert!(matches!(
        replayed,
        TraceError::TimeWentBackwards { line: 3, .. }
    ));
}

#[test]
fn text_quoted_from_a_hostile_trace_is_escaped_and_short() {
    let (trace, _) = real_run();
    let hostile = format!(
        r#"{{"t":2000000000,"input":"\u001b]0;owned\u0007{}"}}"#,
        "A".repeat(10_000)
    );
    let err = read_error(&replace_line(&trace, 3, &hostile)).to_string();
    assert!(!err.chars().any(|c| c.is_control()), "{err:?}");
    assert!(err.contains("\\u{1b}]0;owned\\u{7}"), "{err}");
    assert!(err.len() < 1_000, "{} bytes", err.len());
}

// ----- the address book inside the manager -----

/// A config with Bitcoin Core's book inside, and a saved book of `n`
/// addresses (one per /16, so one outbound per group never runs out).
fn book_config_and_snapshot(n: u8) -> (Config, crate::BookSnapshot) {
    let config = Config {
        target_outbound: 2,
        block_relay_outbound: 1,
        rng_seed: Some(Seed::from_u64(9)),
        ..Config::default()
    };
    let mut mgr = ConnManager::new(config.clone(), Instant::ZERO).unwrap();
    let addrs = (0..n)
        .map(|i| {
            crate::Advertised::new(addr::<PeerAddr>(&format!("45.{i}.1.1:8333")), Instant::ZERO)
        })
        .collect();
    mgr.handle(Instant::from_secs(1), Input::Learned { from: None, addrs })
        .unwrap();
    (config, mgr.book_snapshot().unwrap())
}

/// A run of a node whose book was loaded from a file: it picks its own
/// addresses, connects, hears of more from a peer, loses it, stops.
fn book_run() -> Vec<u8> {
    let (config, snapshot) = book_config_and_snapshot(6);
    let start = Instant::from_secs(5);
    let (mgr, restored) = ConnManager::with_book(config, start, &snapshot).unwrap();
    assert_eq!(restored.kept, 6);
    let mut rec = Recorder::new(mgr, Some(Vec::new())).unwrap();
    let secs = Instant::from_secs;
    let step = handle(&mut rec, secs(10), Input::Start);
    assert!(
        address_requests(&step.actions).is_empty(),
        "answered inside"
    );
    let dials: Vec<(ConnId, u32)> = step
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Dial { id, attempt, .. } => Some((*id, *attempt)),
            _ => None,
        })
        .collect();
    assert_eq!(
        dials.len(),
        3,
        "2 full-relay, 1 block-relay: {:?}",
        step.actions
    );
    let (first, attempt) = dials[0];
    handle(
        &mut rec,
        secs(11),
        Input::DialResult {
            id: first,
            attempt,
            result: Ok(()),
        },
    );
    let (second, attempt) = dials[1];
    let failed = Err(DialError::Refused);
    handle(
        &mut rec,
        secs(11),
        Input::DialResult {
            id: second,
            attempt,
            result: failed,
        },
    );
    handle(&mut rec, secs(12), Input::Handshaked { id: first });
    let gossip = (0..20)
        .map(|i| crate::Advertised::new(addr::<PeerAddr>(&format!("77.{i}.9.9:8333")), secs(12)))
        .collect();
    handle(
        &mut rec,
        secs(13),
        Input::Learned {
            from: Some(first),
            addrs: gossip,
        },
    );
    handle(&mut rec, secs(20), Input::Closed { id: first });
    handle(&mut rec, secs(40), Input::Tick);
    handle(&mut rec, secs(50), Input::Stop);
    rec.close().unwrap().unwrap()
}

#[test]
fn a_run_with_the_book_inside_replays_identically() {
    let trace = book_run();
    assert_eq!(trace, book_run(), "recording is deterministic");
    let lines = lines(&trace);
    assert!(lines[0].contains(r#""book":{"#), "{}", lines[0]);
    assert!(lines[0].contains(r#""book":"core""#), "{}", lines[0]);
    assert!(lines[0].contains(r#""addresses":6"#), "{}", lines[0]);
    assert!(lines[1..=6]
        .iter()
        .all(|l| l.starts_with(r#"{"book_address":"#)));
    let report = replay(&trace[..]).unwrap();
    assert!(report.is_identical(), "{report}");
    let header = TraceReader::new(&trace[..]).unwrap().header().clone();
    assert_eq!(header.book.map(|b| b.len()), Some(6));
}

#[test]
fn a_changed_book_address_changes_the_choices_and_replay_says_where() {
    let trace = book_run();
    let lines = lines(&trace);
    // The saved book without the first address the node dialled.
    let start: Value = serde_json::from_str(&lines[7]).unwrap();
    let dialled = start["actions"][0]["Dial"]["addr"]
        .as_str()
        .unwrap()
        .to_owned();
    let at = lines[1..=6]
        .iter()
        .position(|l| l.contains(&dialled))
        .unwrap()
        + 1;
    let edited = lines[at].replacen(&dialled, "46.99.1.1:8333", 1);
    let report = replay(&replace_line(&trace, at + 1, &edited)[..]).unwrap();
    let ReplayReport::Diverged(d) = report else {
        panic!("a different book must change a choice: {report}")
    };
    assert!(
        d.line > 7,
        "diverges at a record, after the book: {}",
        d.line
    );
}

#[test]
fn a_book_line_of_the_wrong_shape_or_a_book_cut_short_names_its_line() {
    let trace = book_run();
    let bad = replace_line(&trace, 3, r#"{"book_address":{"addr":"nonsense"}}"#);
    let err = read_error(&bad);
    assert_eq!(err.line(), 3, "{err}");

    // One book line fewer: the first record is read as a book address.
    let lines = lines(&trace);
    let mut short: Vec<&str> = lines.iter().map(String::as_str).collect();
    short.remove(6);
    let err = read_error(format!("{}\n", short.join("\n")).as_bytes());
    assert_eq!(err.line(), 7, "{err}");

    // A header announcing more addresses than any book holds.
    let mut header: Value = serde_json::from_str(&lines[0]).unwrap();
    header["book"]["addresses"] = Value::from(1_000_000);
    let err = read_error(&replace_line(&trace, 1, &header.to_string()));
    assert!(err.to_string().contains("at most 81920"), "{err}");
}
