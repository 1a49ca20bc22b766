//! The `tracing` set-up of the commands that log (`node`): a filter from
//! `RUST_LOG` that is refused, not ignored, when it does not parse, and
//! colours only for a terminal that wants them.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::Error;

/// Logs to standard error at `default` (an `EnvFilter` directive) unless
/// `RUST_LOG` says otherwise.
pub fn init(default: &str) -> Result<(), Error> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(text) if !text.trim().is_empty() => EnvFilter::try_new(&text).map_err(|e| {
            format!(
                "RUST_LOG={:?} is not a log filter ({e}); use a level (`info`, `debug`) or per-module directives (`info,connmgr=debug`)",
                connmgr::printable(&text, connmgr::EXCERPT_CHARS)
            )
        })?,
        Ok(_) | Err(std::env::VarError::NotPresent) => EnvFilter::new(default),
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err("RUST_LOG is not valid UTF-8".into());
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colours())
        .with_writer(std::io::stderr)
        .init();
    Ok(())
}

/// Whether to colour the log: only on a terminal, and not when `NO_COLOR`
/// is set to anything (<https://no-color.org>).
fn colours() -> bool {
    std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
}
