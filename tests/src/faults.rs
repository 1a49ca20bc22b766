//! What can go wrong in a simulated network, and how often.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Rates and probabilities of every fault the simulator injects.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultProfile {
    /// Its name, as given to `--faults`.
    pub name: &'static str,
    /// One-way latency, uniform in this range (milliseconds).
    pub latency_ms: (u64, u64),
    /// Probability that a dial is refused.
    pub refuse: f64,
    /// Probability that a dial is never answered (the core's timeout fires).
    pub blackhole: f64,
    /// Resets per established connection per minute.
    pub resets_per_conn_minute: f64,
    /// Crashes per node per hour; a crashed node restarts after `restart_after`.
    pub crashes_per_node_hour: f64,
    /// How long a crashed node stays down.
    pub restart_after: Duration,
    /// Accept errors per node per minute.
    pub accept_errors_per_node_minute: f64,
    /// A partition splits the network in two this often, for `partition_for`.
    pub partition_every: Option<Duration>,
    /// How long a partition lasts.
    pub partition_for: Duration,
    /// Share of nodes that start with an empty address book and get the seed
    /// list later.
    pub empty_books: f64,
    /// Whether every node restarts at once, half-way through the run, and
    /// how it goes down.
    pub everybody_restarts: Option<Shutdown>,
}

impl FaultProfile {
    /// No faults: latency only.
    pub fn none() -> FaultProfile {
        FaultProfile {
            name: "none",
            latency_ms: (5, 80),
            refuse: 0.0,
            blackhole: 0.0,
            resets_per_conn_minute: 0.0,
            crashes_per_node_hour: 0.0,
            restart_after: Duration::from_secs(30),
            accept_errors_per_node_minute: 0.0,
            partition_every: None,
            partition_for: Duration::ZERO,
            empty_books: 0.0,
            everybody_restarts: None,
        }
    }

    /// Some of everything, at rates a busy real network sees.
    pub fn mixed() -> FaultProfile {
        FaultProfile {
            name: "mixed",
            refuse: 0.1,
            blackhole: 0.05,
            resets_per_conn_minute: 0.05,
            crashes_per_node_hour: 2.0,
            accept_errors_per_node_minute: 0.2,
            partition_every: Some(Duration::from_secs(240)),
            partition_for: Duration::from_secs(40),
            empty_books: 0.1,
            ..FaultProfile::none()
        }
    }

    /// Everything, often: a network under attack or falling apart.
    pub fn harsh() -> FaultProfile {
        FaultProfile {
            name: "harsh",
            latency_ms: (5, 400),
            refuse: 0.4,
            blackhole: 0.2,
            resets_per_conn_minute: 0.5,
            crashes_per_node_hour: 12.0,
            accept_errors_per_node_minute: 2.0,
            partition_every: Some(Duration::from_secs(90)),
            partition_for: Duration::from_secs(30),
            empty_books: 0.3,
            ..FaultProfile::none()
        }
    }

    /// Every node restarts at the same moment, half-way through.
    pub fn restart_storm() -> FaultProfile {
        FaultProfile {
            name: "restart-storm",
            everybody_restarts: Some(Shutdown::Crash),
            ..FaultProfile::none()
        }
    }

    /// Every node stops cleanly half-way through (saving its anchors) and
    /// starts again.
    pub fn clean_restart() -> FaultProfile {
        FaultProfile {
            name: "clean-restart",
            everybody_restarts: Some(Shutdown::Clean),
            ..FaultProfile::none()
        }
    }

    /// The profiles `--faults` knows.
    pub const NAMES: [&'static str; 5] =
        ["none", "mixed", "harsh", "restart-storm", "clean-restart"];
}

impl FromStr for FaultProfile {
    type Err = UnknownProfile;

    fn from_str(name: &str) -> Result<FaultProfile, UnknownProfile> {
        match name {
            "none" => Ok(FaultProfile::none()),
            "mixed" => Ok(FaultProfile::mixed()),
            "harsh" => Ok(FaultProfile::harsh()),
            "restart-storm" => Ok(FaultProfile::restart_storm()),
            "clean-restart" => Ok(FaultProfile::clean_restart()),
            _ => Err(UnknownProfile(name.to_owned())),
        }
    }
}

/// How a node goes down before it restarts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shutdown {
    /// The process dies: nothing is saved beyond the last save, and the
    /// anchors file (deleted when last read) is not written.
    Crash,
    /// `Stop`: the manager reports its anchors, which are saved and dialled
    /// first on the next start.
    Clean,
}

/// A fault profile name that does not exist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownProfile(pub String);

impl fmt::Display for UnknownProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown fault profile {:?}; choose one of {}",
            self.0,
            FaultProfile::NAMES.join(", ")
        )
    }
}

impl std::error::Error for UnknownProfile {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_name_parses_and_others_are_refused_with_the_list() {
        for name in FaultProfile::NAMES {
            assert_eq!(name.parse::<FaultProfile>().unwrap().name, name);
        }
        let err = "chaos".parse::<FaultProfile>().unwrap_err().to_string();
        assert!(err.contains("chaos") && err.contains("mixed"), "{err}");
    }
}
