//! The `connmgr` command.
//!
//! Each subcommand lives in its own module with a clap `Args` struct and a
//! `run` function; this file only parses the command line, dispatches, and
//! turns the outcome into an exit status, so that every subcommand reports
//! the same way:
//!
//! - 0: success (`replay`: identical; `sim`: every invariant held; `demo`:
//!   its trace replayed identically; `node`: shut down cleanly);
//! - 1: the command ran and found a problem (`replay`: a divergence; `sim`:
//!   a violated invariant; `demo`: its trace diverged);
//! - 2: the command could not run (unreadable input, bad arguments); the
//!   message is printed as `error: …` on standard error, without a backtrace.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod config_file;
mod demo;
mod grid;
mod logging;
mod metrics;
mod networks;
mod node;
mod plot;
mod remote_status;
mod replay;
mod signals;
mod sim;
mod status;
mod sweep;

/// What a subcommand that ran to the end found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// Nothing wrong: exit status 0.
    Success,
    /// A problem was found and reported on standard output: exit status 1.
    Failure,
}

/// Why a subcommand could not run, already worded for the user: printed as
/// `error: <message>`, exit status 2 (as clap does for bad arguments).
type Error = String;

/// Exit status for an [`Error`].
const EXIT_ERROR: u8 = 2;

/// A sans-IO peer connection manager, from the command line.
#[derive(Debug, Parser)]
#[command(name = "connmgr", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run about twenty nodes on 127.0.0.1 for 15 seconds and watch them
    /// connect, lose peers and recover; replay one node's trace at the end.
    ///
    /// Each node keeps a few automatic outbound connections, bootstrapping
    /// from a shared seed list, plus two block-relay-only connections and a
    /// feeler now and then; some nodes are stopped cleanly and restarted,
    /// dialling their block-relay-only anchors first. A status table shows
    /// each node's outbound (block-relay-only and feelers among them),
    /// inbound, pending and retrying counts. Exit status 0 when the replay
    /// is identical.
    Demo(demo::Args),
    /// Print a commented default config file, or check one.
    Config(config_file::Args),
    /// Run one node on real sockets until Ctrl-C.
    ///
    /// Logs with `tracing` on standard error (`RUST_LOG`, default `info`),
    /// prints a status line periodically, and saves the peers file on
    /// shutdown.
    Node(Box<node::Args>),
    /// Re-run a recorded trace and check that this build decides the same.
    ///
    /// Prints "identical" with counts (exit status 0), or the first
    /// divergence: its line, the input, the expected and the actual actions
    /// (exit status 1). An unreadable trace is an error (exit status 2).
    Replay(replay::Args),
    /// Summarise a running node from its metrics endpoint
    /// (`connmgr node --metrics ADDR`).
    Status(remote_status::Args),
    /// Run the deterministic network simulator and report.
    ///
    /// Every input to every node is checked against the invariants; a
    /// violation prints the seed, the node, its last inputs and the command
    /// that reproduces it (exit status 1).
    Sim(Box<sim::Args>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Config(args) => config_file::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Node(args) => node::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Sim(args) => sim::run(args),
        Command::Status(args) => remote_status::run(args),
    };
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Failure) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}
