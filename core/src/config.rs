//! Configuration, its two presets, and its validation.

use std::fmt;
use std::time::Duration;

use crate::{AddressBook, NetworkError, Networks, Seed, Subnet};

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
    /// Block-relay-only automatic connections to keep, on top of
    /// `target_outbound` ([`ConnKind::BlockRelay`](crate::ConnKind)).
    /// Bitcoin Core: 2. btcd has none.
    pub block_relay_outbound: u32,
    /// The mean time between feeler connections
    /// ([`ConnKind::Feeler`](crate::ConnKind)), drawn from an exponential
    /// distribution so their times cannot be predicted. Zero: none. They
    /// need Bitcoin Core's book inside (`address_book`) and
    /// `automatic_outbound`, and start only while the automatic targets are
    /// met. Bitcoin Core: 2 minutes.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_duration"))]
    pub feeler_interval: Duration,
    /// Whether the manager makes automatic outbound connections at all
    /// (btcd: "`GetNewAddress` is set"). Off is btcd's "connect mode":
    /// only `Connect` makes outbound connections.
    pub automatic_outbound: bool,
    /// The unit of the permanent-peer backoff: the n-th retry waits
    /// `n × retry_interval`, capped at `max_retry_interval`. btcd: 5 s.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_duration"))]
    pub retry_interval: Duration,
    /// The cap of the permanent-peer backoff. btcd: 5 min.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_duration"))]
    pub max_retry_interval: Duration,
    /// Consecutive failed dials or address lookups (of non-permanent
    /// requests, since the last successful dial) after which each replacement
    /// waits `throttle_interval`. btcd: 25.
    pub max_failed_attempts: u32,
    /// How long a throttled replacement waits. btcd: its retry duration, 5 s.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_duration"))]
    pub throttle_interval: Duration,
    /// How long a dial may take before the core cancels it and counts a
    /// failure. btcd's server: 30 s.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_duration"))]
    pub dial_timeout: Duration,
    /// Inbound connections admitted at once; more are closed on accept.
    /// btcd's server: 125 peers − 8 outbound = 117.
    pub max_inbound: u32,
    /// How long a permanent peer must stay connected before its backoff is
    /// forgiven. Zero forgives on every successful dial, as btcd does, which
    /// makes a flapping peer get redialled every `retry_interval` for ever.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_duration"))]
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
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_duration"))]
    pub accept_pause_initial: Duration,
    /// The cap of the accept-error pause.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_duration"))]
    pub accept_pause_max: Duration,
    /// How a permanent peer's retries are spaced.
    pub backoff: Backoff,
    /// Inbound connections admitted at once from one host (0: no limit): an
    /// IPv4 address, or an IPv6 /64 (one machine or customer is usually
    /// given a whole /64). Local and unroutable addresses are exempt.
    pub max_inbound_per_ip: u32,
    /// Inbound connections admitted at once from one network group (0: no
    /// limit). Local and unroutable groups are exempt.
    pub max_inbound_per_group: u32,
    /// New inbound connections per second admitted from one network group,
    /// as a token bucket (0: no limit); exempt groups are not limited.
    pub inbound_rate_per_group: u32,
    /// The token bucket's size: how many may arrive at once.
    pub inbound_burst_per_group: u32,
    /// When inbound is full, evict an existing inbound connection for a new
    /// one, by Bitcoin Core's rules (see [`eviction`](crate::eviction):
    /// peers are protected by secret network group, ping, novel
    /// transactions and blocks, uptime and network, weighing what the
    /// application reports with `Input::PeerFact`), instead of refusing
    /// the new one (btcd).
    pub evict_when_full: bool,
    /// Addresses exempt from every inbound limit, eviction and ban; their
    /// connections do not count toward `max_inbound`.
    pub allowlist: Vec<Subnet>,
    /// A peer whose misbehaviour score reaches this is banned (btcd's
    /// server: 100). 0: never ban automatically.
    pub ban_threshold: u32,
    /// How long an automatic ban lasts (btcd: 24 h).
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_duration"))]
    pub ban_duration: Duration,
    /// How long an established connection may go without its handshake
    /// (`Input::Handshaked`) before it is closed
    /// (`Reason::HandshakeTimeout`). Zero: no limit. btcd's connmgr: none
    /// (its server's negotiation timeout, 30 s, lives outside it).
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_duration"))]
    pub handshake_timeout: Duration,
    /// Which address book answers automatic address requests: one inside
    /// the manager (Bitcoin Core's by default, or btcd's), so that every
    /// choice is in the trace, or none (`External`: the application answers
    /// `RequestAddress`, as btcd's connmgr asks its `GetNewAddress`).
    pub address_book: AddressBook,
    /// Whether the book inside takes local and private addresses (for
    /// demos, tests and LANs). Off, as in btcd and Core: a public node has
    /// no use for 10.x or 127.x addresses gossiped by strangers.
    pub book_accepts_unroutable: bool,
    /// How often, while running, the runtime is asked (`Action::Persist`)
    /// to save what it persists (the address book), so that what was
    /// learned survives a crash. Zero: only at shutdown, by the runtime.
    /// btcd's connmgr: never (btcd's address manager saves every 10 min on
    /// its own).
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_duration"))]
    pub persist_interval: Duration,
    /// The secret every key and random choice derives from (see
    /// [`Seed`]). `None`, the default in both presets, means "draw one from
    /// the operating system": the builders of `connmgr-net` do so before
    /// they make the manager, and [`ConnManager::new`](crate::ConnManager::new)
    /// refuses `None`, since the core draws nothing itself. Set it only to
    /// reproduce a run (a trace header holds the one a run used).
    pub rng_seed: Option<Seed>,
    /// Which networks automatic connections go to, the proxy each is
    /// dialled through, and each one's share of the connections (see
    /// [`Networks`]). Both presets reach IPv4 and IPv6 directly and
    /// nothing else; the default keeps one full-relay connection per
    /// reachable network the book knows addresses of, btcd's does not.
    pub networks: Networks,
}

/// How retries of a permanent peer are spaced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Backoff {
    /// btcd's: the n-th retry waits n × `retry_interval`, capped.
    #[default]
    Linear,
    /// "Full jitter": the n-th retry waits a uniformly random time between
    /// zero and `retry_interval × 2^(n−1)`, capped; spreads a crowd of
    /// clients that lost the same peer so they do not return in step.
    ExponentialJitter,
}

impl Config {
    /// btcd's connmgr as observed: no group limit in the manager, backoff
    /// forgiven on every success, no accept-error pause.
    pub fn btcd() -> Config {
        Config {
            target_outbound: 8,
            block_relay_outbound: 0,
            feeler_interval: Duration::ZERO,
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
            backoff: Backoff::Linear,
            max_inbound_per_ip: 0,
            max_inbound_per_group: 0,
            inbound_rate_per_group: 0,
            inbound_burst_per_group: 0,
            evict_when_full: false,
            allowlist: Vec::new(),
            ban_threshold: 0,
            ban_duration: Duration::from_secs(24 * 3600),
            handshake_timeout: Duration::ZERO,
            persist_interval: Duration::ZERO,
            address_book: AddressBook::External,
            book_accepts_unroutable: false,
            rng_seed: None,
            networks: Networks {
                one_per_network: false,
                ..Networks::default()
            },
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
        for (field, target) in [
            ("target_outbound", self.target_outbound),
            ("block_relay_outbound", self.block_relay_outbound),
        ] {
            if target > MAX_TARGET_OUTBOUND {
                return Err(ConfigError::TargetTooLarge { field, target });
            }
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
        if self.inbound_rate_per_group > 0 && self.inbound_burst_per_group == 0 {
            return Err(ConfigError::ZeroBurst);
        }
        if self.ban_threshold > 0 && self.ban_duration.is_zero() {
            return Err(ConfigError::ZeroDuration {
                field: "ban_duration",
            });
        }
        if self.accept_pause_max < self.accept_pause_initial {
            return Err(ConfigError::CapBelowBase {
                cap: "accept_pause_max",
                base: "accept_pause_initial",
            });
        }
        self.networks.check().map_err(ConfigError::Networks)
    }
}

impl Default for Config {
    /// btcd's numbers plus: one outbound per network group, a permanent
    /// peer's backoff forgiven only after 60 s of uptime, listeners paused
    /// 5 ms doubling to 1 s after accept errors, at most 2 inbound per IP
    /// and 10 per group, 5 new inbound per second per group (bursts of 10),
    /// eviction when full (with Bitcoin Core's protections), a
    /// 24 h ban at a misbehaviour score of 100, a 30 s handshake timeout
    /// (btcd's server's), the address book saved every 10 minutes (as
    /// btcd's address manager does), Bitcoin Core's address book inside the
    /// manager, Core's 2 block-relay-only connections, and a feeler every
    /// 2 minutes on average.
    fn default() -> Config {
        Config {
            stable_after: Duration::from_secs(60),
            max_outbound_per_group: 1,
            max_address_retries: 8,
            accept_pause_initial: Duration::from_millis(5),
            accept_pause_max: Duration::from_secs(1),
            max_inbound_per_ip: 2,
            max_inbound_per_group: 10,
            inbound_rate_per_group: 5,
            inbound_burst_per_group: 10,
            evict_when_full: true,
            ban_threshold: 100,
            handshake_timeout: Duration::from_secs(30),
            persist_interval: Duration::from_secs(10 * 60),
            address_book: AddressBook::Core,
            block_relay_outbound: 2,
            feeler_interval: Duration::from_secs(120),
            networks: Networks::default(),
            ..Config::btcd()
        }
    }
}

/// The largest `target_outbound` accepted: `Start` makes that many requests
/// at once, and a config read from an untrusted trace must not be able to
/// ask for billions. No node has a use for more outbound connections than
/// descriptors.
pub const MAX_TARGET_OUTBOUND: u32 = 65_536;

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
    /// An outbound target is above [`MAX_TARGET_OUTBOUND`].
    TargetTooLarge {
        /// The field's name.
        field: &'static str,
        /// The target given.
        target: u32,
    },
    /// `max_failed_attempts` is 0, which would throttle before any failure.
    ZeroMaxFailedAttempts,
    /// `inbound_rate_per_group` is set but `inbound_burst_per_group` is 0,
    /// which would refuse everything.
    ZeroBurst,
    /// A cap is smaller than the value it caps.
    CapBelowBase {
        /// The cap's field name.
        cap: &'static str,
        /// The capped field's name.
        base: &'static str,
    },
    /// `rng_seed` is `None` where a manager is made: the core draws no
    /// randomness itself.
    NoSeed,
    /// The network policy cannot work.
    Networks(NetworkError),
}

impl ConfigError {
    /// The field it is about, dotted as in a config file
    /// (`networks.onion.reachable`), so a caller can point at the line.
    pub fn field(&self) -> String {
        match self {
            ConfigError::ZeroDuration { field } | ConfigError::TargetTooLarge { field, .. } => {
                (*field).to_owned()
            }
            ConfigError::ZeroTarget => "target_outbound".to_owned(),
            ConfigError::ZeroMaxFailedAttempts => "max_failed_attempts".to_owned(),
            ConfigError::ZeroBurst => "inbound_burst_per_group".to_owned(),
            ConfigError::CapBelowBase { cap, .. } => (*cap).to_owned(),
            ConfigError::NoSeed => "rng_seed".to_owned(),
            ConfigError::Networks(NetworkError::NoRoute { network }) => {
                format!("networks.{network}.reachable")
            }
            ConfigError::Networks(NetworkError::MinAboveMax { network }) => {
                format!("networks.{network}.min_outbound")
            }
            ConfigError::Networks(NetworkError::NoneReachable) => "networks".to_owned(),
        }
    }
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
            ConfigError::TargetTooLarge { field, target } => write!(
                f,
                "config field `{field}` is {target}, above the maximum of {MAX_TARGET_OUTBOUND}; no node can hold that many connections"
            ),
            ConfigError::ZeroMaxFailedAttempts => write!(
                f,
                "config field `max_failed_attempts` is 0; it must be at least 1 (btcd: 25)"
            ),
            ConfigError::ZeroBurst => write!(
                f,
                "config field `inbound_burst_per_group` is 0 while `inbound_rate_per_group` is set; a burst of 0 refuses every inbound connection: set it to at least 1"
            ),
            ConfigError::CapBelowBase { cap, base } => write!(
                f,
                "config field `{cap}` is smaller than `{base}`; a cap must be at least the value it caps"
            ),
            ConfigError::NoSeed => write!(
                f,
                "config field `rng_seed` is not set; a manager needs its secret: draw one from the operating system (connmgr_net::os_seed, which the runtimes' builders call for you), or set a fixed one only to reproduce a run"
            ),
            ConfigError::Networks(e) => e.fmt(f),
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
