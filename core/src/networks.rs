//! Network policy: which networks the node reaches, through which proxy,
//! and how many connections each may take or must get.
//!
//! Bitcoin Core's `-onlynet`, `-proxy`/`-onion`/`-i2psam` and its rule of
//! one outbound connection per reachable network (bitcoin/bitcoin#27213),
//! as data the core decides with: the automatic connections draw only
//! addresses of reachable networks, prefer a network below its minimum,
//! skip one at its maximum, and every `Dial` says which [`Route`] to take,
//! so a runtime never decides how to reach a peer.

use std::fmt;
use std::net::SocketAddr;

use crate::Network;

/// How the node treats each network (a field per network, so that a config
/// file reads `[networks.onion]`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Networks {
    /// IPv4: reachable directly by default.
    pub ipv4: NetworkPolicy,
    /// IPv6: reachable directly by default.
    pub ipv6: NetworkPolicy,
    /// Tor: reachable only through a proxy (Tor's SOCKS port).
    pub onion: NetworkPolicy,
    /// I2P: reachable only through a proxy (the I2P router's SOCKS port).
    pub i2p: NetworkPolicy,
    /// CJDNS: an IPv6 overlay reached directly once its interface is up;
    /// off by default, as in Core (`-cjdnsreachable`).
    pub cjdns: NetworkPolicy,
    /// Bitcoin Core's rule (bitcoin/bitcoin#27213): every reachable network
    /// the book holds addresses of gets at least one automatic full-relay
    /// connection, so that no single network's view can eclipse the node.
    /// Only books inside the manager know what they hold; with an external
    /// book it has no effect.
    pub one_per_network: bool,
}

/// One network's policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct NetworkPolicy {
    /// Whether automatic outbound connections go to this network (Core's
    /// `-onlynet` makes the others unreachable). Manual connections go
    /// wherever they are asked to.
    pub reachable: bool,
    /// The SOCKS5 proxy to dial this network's peers through; `None` dials
    /// directly. Tor and I2P peers have no direct route.
    pub proxy: Option<Proxy>,
    /// Automatic full-relay connections this network should get: while it
    /// has fewer (pending or established), the next one is drawn from its
    /// addresses if the book holds any.
    pub min_outbound: u32,
    /// The most outbound connections this network may hold (every kind
    /// counts; only automatic ones are refused); `None`: no limit.
    pub max_outbound: Option<u32>,
    /// The most inbound connections from this network; `None`: no limit
    /// beyond `max_inbound`.
    pub max_inbound: Option<u32>,
}

/// A SOCKS5 proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Proxy {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Whether each connection gets credentials of its own, so that Tor
    /// builds it a circuit of its own (`IsolateSOCKSAuth`, on by default in
    /// Tor): peers then cannot be linked by a shared exit or circuit.
    #[cfg_attr(feature = "serde", serde(default = "yes"))]
    pub isolate: bool,
}

#[cfg(feature = "serde")]
fn yes() -> bool {
    true
}

impl Proxy {
    /// The proxy at `addr`, isolating every connection.
    pub const fn new(addr: SocketAddr) -> Proxy {
        Proxy {
            addr,
            isolate: true,
        }
    }
}

/// How a runtime reaches a peer, decided by the core for every `Dial`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Route {
    /// A TCP connection to the peer's own address (IP and CJDNS peers).
    #[default]
    Direct,
    /// Through this SOCKS5 proxy, which is given the peer's address (an
    /// onion or I2P name as a domain name: nothing is resolved locally).
    Socks5(Proxy),
}

impl Route {
    /// Whether the peer is dialled directly.
    pub fn is_direct(&self) -> bool {
        *self == Route::Direct
    }
}

impl Default for Networks {
    /// IPv4 and IPv6 reachable directly; Tor, I2P and CJDNS not (give Tor
    /// or I2P a proxy and make it reachable to use it); one connection per
    /// reachable network.
    fn default() -> Networks {
        let direct = NetworkPolicy {
            reachable: true,
            ..NetworkPolicy::default()
        };
        Networks {
            ipv4: direct.clone(),
            ipv6: direct,
            onion: NetworkPolicy::default(),
            i2p: NetworkPolicy::default(),
            cjdns: NetworkPolicy::default(),
            one_per_network: true,
        }
    }
}

impl Networks {
    /// The policy of `network`.
    pub fn get(&self, network: Network) -> &NetworkPolicy {
        match network {
            Network::Ipv4 => &self.ipv4,
            Network::Ipv6 => &self.ipv6,
            Network::Onion => &self.onion,
            Network::I2p => &self.i2p,
            Network::Cjdns => &self.cjdns,
        }
    }

    /// The policy of `network`, to change it.
    pub fn get_mut(&mut self, network: Network) -> &mut NetworkPolicy {
        match network {
            Network::Ipv4 => &mut self.ipv4,
            Network::Ipv6 => &mut self.ipv6,
            Network::Onion => &mut self.onion,
            Network::I2p => &mut self.i2p,
            Network::Cjdns => &mut self.cjdns,
        }
    }

    /// Whether automatic connections go to `network`.
    pub fn reachable(&self, network: Network) -> bool {
        self.get(network).reachable
    }

    /// How to dial a peer on `network`.
    pub fn route(&self, network: Network) -> Route {
        self.get(network).proxy.map_or(Route::Direct, Route::Socks5)
    }

    /// Makes only `networks` reachable, as Core's `-onlynet` does.
    pub fn only(&mut self, networks: &[Network]) {
        for network in Network::ALL {
            self.get_mut(network).reachable = networks.contains(&network);
        }
    }

    /// Whether an automatic connection may go to `network`, which holds
    /// `held` outbound connections: reachable and below its maximum.
    pub(crate) fn takes_outbound(&self, network: Network, held: u32) -> bool {
        let policy = self.get(network);
        policy.reachable && policy.max_outbound.is_none_or(|max| held < max)
    }

    /// The fewest automatic full-relay connections `network` should hold:
    /// its `min_outbound`, and 1 under `one_per_network` if reachable.
    pub(crate) fn minimum(&self, network: Network) -> u32 {
        let policy = self.get(network);
        let one = u32::from(self.one_per_network && policy.reachable);
        policy.min_outbound.max(one)
    }

    /// Why these settings cannot work, if they cannot.
    pub(crate) fn check(&self) -> Result<(), NetworkError> {
        for network in Network::ALL {
            let policy = self.get(network);
            let needs_proxy = matches!(network, Network::Onion | Network::I2p);
            if needs_proxy && policy.reachable && policy.proxy.is_none() {
                return Err(NetworkError::NoRoute { network });
            }
            if let Some(max) = policy.max_outbound {
                if policy.min_outbound > max {
                    return Err(NetworkError::MinAboveMax { network });
                }
            }
        }
        if Network::ALL.iter().all(|&n| !self.reachable(n)) {
            return Err(NetworkError::NoneReachable);
        }
        Ok(())
    }
}

/// Why a [`Networks`] setting was refused (inside
/// [`ConfigError::Networks`](crate::ConfigError::Networks)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NetworkError {
    /// Tor or I2P is reachable but has no proxy to reach it through.
    NoRoute {
        /// The network.
        network: Network,
    },
    /// `min_outbound` is above `max_outbound`.
    MinAboveMax {
        /// The network.
        network: Network,
    },
    /// No network is reachable: no automatic connection could be made.
    NoneReachable,
}

impl fmt::Display for NetworkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetworkError::NoRoute { network } => write!(
                f,
                "config field `networks.{network}.reachable` is on but `networks.{network}.proxy` \
                 is not set: {network} peers are reached only through a SOCKS5 proxy (Tor's is \
                 usually 127.0.0.1:9050); set the proxy or leave the network unreachable"
            ),
            NetworkError::MinAboveMax { network } => write!(
                f,
                "config field `networks.{network}.min_outbound` is above \
                 `networks.{network}.max_outbound`; lower the minimum or raise the maximum"
            ),
            NetworkError::NoneReachable => f.write_str(
                "config field `networks`: no network is reachable, so no automatic connection \
                 can be made; make at least one reachable (IPv4 and IPv6 are by default)",
            ),
        }
    }
}
