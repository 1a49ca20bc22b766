//! `connmgr replay FILE`: re-run a trace, report "identical" or the first
//! divergence.
//!
//! All the work is [`connmgr::trace::replay`]; this module opens the file
//! and prints the report, so the simulator and tests that replay traces in
//! memory get the same verdict and the same wording.

use std::fs::File;
use std::io::{self, BufReader};
use std::path::PathBuf;

use connmgr::trace;

use crate::{Error, Outcome};

/// Arguments of `connmgr replay`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The trace: JSON Lines as written by `connmgr::trace` (a header line,
    /// then one line per input). `-` reads standard input.
    pub file: PathBuf,
}

/// Replays `args.file` and prints the report on standard output.
pub fn run(args: &Args) -> Result<Outcome, Error> {
    let stdin = args.file.as_os_str() == "-";
    let name = if stdin {
        "standard input".to_owned()
    } else {
        args.file.display().to_string()
    };
    let result = if stdin {
        trace::replay(io::stdin().lock())
    } else {
        let file = File::open(&args.file).map_err(|e| format!("cannot open {name}: {e}"))?;
        trace::replay(BufReader::new(file))
    };
    let report = result.map_err(|e| format!("{name}: {e}"))?;
    println!("{report}");
    Ok(if report.is_identical() {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}
