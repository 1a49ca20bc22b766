//! The `tracing` set-up of the commands that log (`node`): a filter that is
//! refused, not ignored, when it does not parse; colours only for a
//! terminal that wants them; and a handle to change the filter while the
//! node runs (SIGHUP rereads it from the config file).

use std::io::IsTerminal;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

use crate::Error;

/// Where the log filter comes from, strongest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterFrom {
    /// `--log`.
    Flag,
    /// The `RUST_LOG` environment variable.
    Env,
    /// The config file's `node.log`, or the default.
    File,
}

/// Changes the running filter.
pub struct Reload {
    handle: reload::Handle<EnvFilter, Registry>,
    /// Whether the filter came from the file (so rereading it applies).
    pub from: FilterFrom,
}

impl Reload {
    /// Sets the filter to `text` (the config file's `node.log`).
    pub fn set(&self, text: &str) -> Result<(), Error> {
        let filter = parse(text, "node.log")?;
        self.handle
            .reload(filter)
            .map_err(|e| format!("cannot change the log filter: {e}"))
    }
}

/// Logs to standard error, filtered by `flag` (`--log`), else `RUST_LOG`,
/// else `file` (the config file's `node.log`, `info` by default).
pub fn init(flag: Option<&str>, file: &str) -> Result<Reload, Error> {
    let (filter, from) = match (flag, std::env::var("RUST_LOG")) {
        (Some(text), _) => (parse(text, "--log")?, FilterFrom::Flag),
        (None, Ok(text)) if !text.trim().is_empty() => (parse(&text, "RUST_LOG")?, FilterFrom::Env),
        (None, Err(std::env::VarError::NotUnicode(_))) => {
            return Err("RUST_LOG is not valid UTF-8".into());
        }
        (None, _) => (parse(file, "node.log")?, FilterFrom::File),
    };
    let (filter, handle) = reload::Layer::new(filter);
    let output = tracing_subscriber::fmt::layer()
        .with_ansi(colours())
        .with_writer(std::io::stderr);
    tracing_subscriber::registry()
        .with(filter)
        .with(output)
        .try_init()
        .map_err(|e| format!("cannot start logging: {e}"))?;
    Ok(Reload { handle, from })
}

/// `text` as a filter, or an error naming `source`.
fn parse(text: &str, source: &str) -> Result<EnvFilter, Error> {
    EnvFilter::try_new(text).map_err(|e| {
        format!(
            "{source} {:?} is not a log filter ({e}); use a level (`info`, `debug`) or per-module directives (`info,connmgr=debug`)",
            connmgr::printable(text, connmgr::EXCERPT_CHARS)
        )
    })
}

/// Whether to colour the log: only on a terminal, and not when `NO_COLOR`
/// is set to anything (<https://no-color.org>).
fn colours() -> bool {
    std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
}
