//! Configuration, its two presets, and its validation.

use std::fmt;
use std::time::Duration;

/// Everything the manager's policy depends on.
///
/// Build it from a preset and change fields:
///
/// ```
/// let mut config = connmgr::Config::default();
/// config.target_outbound = 4;
/// config.validate().unwrap();
/// ```
///
/// [`Config::btcd`] reproduces btcd's connmgr as observed;
/// [`Config::default`] is btcd's numbers plus the protections this crate adds
/// (see `docs/DECISIONS.md`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Config {
    /// Automatic outbound connections to keep (pending + established).
    /// Manual and permanent connections come on top. btcd: 8.
    pub target_outbound: u32,
    /// Whether the manager makes automatic outbound connections at all
    /// (btcd: "`GetNewAddress` is set"). Off is btcd's "connect mode":
    /// only `Connect` makes outbound connections.
    pub automatic_outbound: bool,
    /// The unit of the permanent-peer backoff: the n-th retry waits
    /// `n × retry_interval`, capped at `max_retry_interval`. btcd: 5 s.
    pub retry_interval: Duration,
    /// The cap of the permanent-peer backoff. btcd: 5 min.
    pub max_retry_interval: Duration,
    /// Consecutive failed dials or address lookups (of non-permanent
    /// requests, since the last successful dial) after which each replacement
    /// waits `throttle_interval`. btcd: 25.
    pub max_failed_attempts: u32,
    /// How long a throttled replacement waits. btcd: its retry duration, 5 s.
    pub throttle_interval: Duration,
    /// How long a dial may take before the core cancels it and counts a
    /// failure. btcd's server: 30 s.
    pub dial_timeout: Duration,
    /// Inbound connections admitted at once; more are closed on accept.
    /// btcd's server: 125 peers − 8 outbound = 117.
    pub max_inbound: u32,
    /// How long a permanent peer must stay connected before its backoff is
    /// forgiven. Zero forgives on every successful dial, as btcd does, which
    /// makes a flapping peer get redialled every `retry_interval` for ever.
    pub stable_after: Duration,
    /// At most this many outbound connections per network group
    /// ([`GroupKey`](crate::GroupKey)), counted from the moment an address is
    /// chosen. Local and unroutable groups are exempt. 0 means no limit.
    pub max_outbound_per_group: u32,
    /// How many times one automatic request asks for another address when the
    /// ones it gets fall in full groups, before it counts as an address failure.
    pub max_address_retries: u32,
    /// First pause of a listener after an accept error (EMFILE and friends);
    /// it doubles on every further error up to `accept_pause_max` and resets
    /// on a successful accept. Zero turns pausing off (btcd busy-loops).
    pub accept_pause_initial: Duration,
    /// The cap of the accept-error pause.
    pub accept_pause_max: Duration,
    /// Seed of every random choice the manager makes.
    pub rng_seed: u64,
}

impl Config {
    /// btcd's connmgr as observed: no group limit in the manager, backoff
    /// forgiven on every success, no accept-error pause.
    pub fn btcd() -> Config {
        Config {
            target_outbound: 8,
            automatic_outbound: true,
            retry_interval: Duration::from_secs(5),
            max_retry_interval: Duration::from_secs(5 * 60),
            max_failed_attempts: 25,
            throttle_interval: Duration::from_secs(5),
            dial_timeout: Duration::from_secs(30),
            max_inbound: 117,
            stable_after: Duration::ZERO,
            max_outbound_per_group: 0,
            max_address_retries: 0,
            accept_pause_initial: Duration::ZERO,
            accept_pause_max: Duration::ZERO,
            rng_seed: 0,
        }
    }

    /// Checks every field; [`ConnManager::new`](crate::ConnManager::new)
    /// calls this, so a bad config never reaches a running manager.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("retry_interval", self.retry_interval),
            ("throttle_interval", self.throttle_interval),
            ("dial_timeout", self.dial_timeout),
        ];
        for (field, value) in positive {
            if value.is_zero() {
                return Err(ConfigError::ZeroDuration { field });
            }
        }
        if self.automatic_outbound && self.target_outbound == 0 {
            return Err(ConfigError::ZeroTarget);
        }
        if self.max_failed_attempts == 0 {
            return Err(ConfigError::ZeroMaxFailedAttempts);
        }
        if self.max_retry_interval < self.retry_interval {
            return Err(ConfigError::CapBelowBase {
                cap: "max_retry_interval",
                base: "retry_interval",
            });
        }
        if self.accept_pause_max < self.accept_pause_initial {
            return Err(ConfigError::CapBelowBase {
                cap: "accept_pause_max",
                base: "accept_pause_initial",
            });
        }
        Ok(())
    }
}

impl Default for Config {
    /// btcd's numbers plus: one outbound per network group, a permanent
    /// peer's backoff forgiven only after 60 s of uptime, and listeners
    /// paused 5 ms doubling to 1 s after accept errors.
    fn default() -> Config {
        Config {
            stable_after: Duration::from_secs(60),
            max_outbound_per_group: 1,
            max_address_retries: 8,
            accept_pause_initial: Duration::from_millis(5),
            accept_pause_max: Duration::from_secs(1),
            ..Config::btcd()
        }
    }
}

/// Why a [`Config`] was refused. Each message names the field and the fix.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A duration that must be positive is zero.
    ZeroDuration {
        /// The field's name.
        field: &'static str,
    },
    /// `target_outbound` is 0 while `automatic_outbound` is on.
    ZeroTarget,
    /// `max_failed_attempts` is 0, which would throttle before any failure.
    ZeroMaxFailedAttempts,
    /// A cap is smaller than the value it caps.
    CapBelowBase {
        /// The cap's field name.
        cap: &'static str,
        /// The capped field's name.
        base: &'static str,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::ZeroDuration { field } => write!(
                f,
                "config field `{field}` is zero; it must be a positive duration (btcd's defaults are in Config::btcd())"
            ),
            ConfigError::ZeroTarget => write!(
                f,
                "config field `target_outbound` is 0 while `automatic_outbound` is on; set a target of at least 1, or turn automatic_outbound off for connect mode"
            ),
            ConfigError::ZeroMaxFailedAttempts => write!(
                f,
                "config field `max_failed_attempts` is 0; it must be at least 1 (btcd: 25)"
            ),
            ConfigError::CapBelowBase { cap, base } => write!(
                f,
                "config field `{cap}` is smaller than `{base}`; a cap must be at least the value it caps"
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid_and_carry_btcd_numbers() {
        for config in [Config::btcd(), Config::default()] {
            config.validate().unwrap();
            assert_eq!(config.target_outbound, 8);
            assert_eq!(config.retry_interval, Duration::from_secs(5));
            assert_eq!(config.max_retry_interval, Duration::from_secs(300));
            assert_eq!(config.max_failed_attempts, 25);
            assert_eq!(config.dial_timeout, Duration::from_secs(30));
            assert_eq!(config.max_inbound, 117);
        }
        assert_eq!(Config::btcd().stable_after, Duration::ZERO);
        assert_eq!(Config::btcd().max_outbound_per_group, 0);
        assert_eq!(Config::default().max_outbound_per_group, 1);
    }

    #[test]
    fn zero_durations_are_rejected_by_name() {
        let c = Config {
            dial_timeout: Duration::ZERO,
            ..Config::default()
        };
        let err = c.validate().unwrap_err();
        assert_eq!(
            err,
            ConfigError::ZeroDuration {
                field: "dial_timeout"
            }
        );
        assert!(err.to_string().contains("`dial_timeout`"));
    }

    #[test]
    fn zero_target_is_rejected_only_with_automatic_outbound() {
        let mut c = Config {
            target_outbound: 0,
            ..Config::default()
        };
        assert_eq!(c.validate(), Err(ConfigError::ZeroTarget));
        c.automatic_outbound = false;
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn caps_below_their_base_are_rejected() {
        let c = Config {
            max_retry_interval: Duration::from_secs(1),
            ..Config::default()
        };
        assert!(matches!(
            c.validate(),
            Err(ConfigError::CapBelowBase {
                cap: "max_retry_interval",
                ..
            })
        ));
        let c = Config {
            accept_pause_max: Duration::from_millis(1),
            ..Config::default()
        };
        assert!(matches!(
            c.validate(),
            Err(ConfigError::CapBelowBase {
                cap: "accept_pause_max",
                ..
            })
        ));
        let c = Config {
            max_failed_attempts: 0,
            ..Config::default()
        };
        assert_eq!(c.validate(), Err(ConfigError::ZeroMaxFailedAttempts));
    }
}
