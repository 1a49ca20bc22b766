//! The node's network flags, as Bitcoin Core names them: `--proxy` (IPv4,
//! IPv6 and Tor through one SOCKS5 proxy), `--onion-proxy` and
//! `--i2p-proxy` (one network's), `--onlynet` (automatic connections
//! only to these networks), `--cjdns-reachable`.

use std::net::SocketAddr;

use connmgr::{Config, Network, Proxy};

/// Network options of `connmgr node`.
#[derive(Debug, Default, clap::Args)]
pub struct NetworkArgs {
    /// Dial IPv4, IPv6 and Tor peers through this SOCKS5 proxy
    /// (`socks5://127.0.0.1:9050` for Tor); Tor becomes reachable.
    #[arg(long, value_name = "URL", value_parser = parse_proxy)]
    pub proxy: Option<SocketAddr>,
    /// Dial Tor peers through this SOCKS5 proxy (overrides `--proxy` for
    /// Tor); Tor becomes reachable.
    #[arg(long, value_name = "URL", value_parser = parse_proxy)]
    pub onion_proxy: Option<SocketAddr>,
    /// Dial I2P peers through this SOCKS5 proxy (an I2P router's SOCKS
    /// port); I2P becomes reachable.
    #[arg(long, value_name = "URL", value_parser = parse_proxy)]
    pub i2p_proxy: Option<SocketAddr>,
    /// Make automatic connections only to this network: ipv4, ipv6, onion,
    /// i2p or cjdns (repeatable). Manual `--connect` peers go anywhere.
    #[arg(long, value_name = "NET", value_parser = parse_network)]
    pub onlynet: Vec<Network>,
    /// This machine reaches CJDNS (fc00::/8) directly.
    #[arg(long)]
    pub cjdns_reachable: bool,
    /// Send every connection to a proxy with the same credentials (by
    /// default each gets its own, so that Tor gives it a circuit of its
    /// own; a proxy that checks credentials needs this off).
    #[arg(long)]
    pub no_proxy_isolation: bool,
}

impl NetworkArgs {
    /// Sets `config.networks` from the flags.
    pub fn apply(&self, config: &mut Config) {
        let networks = &mut config.networks;
        let proxy = |addr: SocketAddr| Proxy {
            addr,
            isolate: !self.no_proxy_isolation,
        };
        if let Some(addr) = self.proxy {
            for network in [Network::Ipv4, Network::Ipv6, Network::Onion] {
                networks.get_mut(network).proxy = Some(proxy(addr));
            }
            networks.onion.reachable = true;
        }
        if let Some(addr) = self.onion_proxy {
            networks.onion.proxy = Some(proxy(addr));
            networks.onion.reachable = true;
        }
        if let Some(addr) = self.i2p_proxy {
            networks.i2p.proxy = Some(proxy(addr));
            networks.i2p.reachable = true;
        }
        if self.cjdns_reachable {
            networks.cjdns.reachable = true;
        }
        if !self.onlynet.is_empty() {
            networks.only(&self.onlynet);
        }
    }
}

/// `socks5://HOST:PORT` or `HOST:PORT`, HOST an IP address.
pub fn parse_proxy(text: &str) -> Result<SocketAddr, String> {
    let addr = text.strip_prefix("socks5://").unwrap_or(text);
    if addr.contains("://") {
        return Err(format!(
            "{text:?}: only SOCKS5 proxies are supported; write socks5://127.0.0.1:9050"
        ));
    }
    addr.parse().map_err(|_| {
        format!(
            "{text:?} is not a proxy address; write socks5://IP:PORT, e.g. socks5://127.0.0.1:9050"
        )
    })
}

/// A network by Bitcoin Core's name for it.
pub fn parse_network(text: &str) -> Result<Network, String> {
    Network::ALL
        .into_iter()
        .find(|n| n.to_string() == text.to_ascii_lowercase())
        .ok_or_else(|| format!("{text:?} is not a network; use ipv4, ipv6, onion, i2p or cjdns"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_and_onlynet_set_reachability_and_routes_as_core_does() {
        let args = NetworkArgs {
            proxy: Some("127.0.0.1:9050".parse().unwrap()),
            onlynet: vec![Network::Onion],
            ..NetworkArgs::default()
        };
        let mut config = Config::default();
        args.apply(&mut config);
        config.validate().unwrap();
        assert!(config.networks.onion.reachable && !config.networks.ipv4.reachable);
        assert_eq!(
            config.networks.route(Network::Ipv4),
            connmgr::Route::Socks5(Proxy::new("127.0.0.1:9050".parse().unwrap()))
        );
        assert_eq!(config.networks.route(Network::I2p), connmgr::Route::Direct);
    }

    #[test]
    fn bad_flags_say_how_to_write_them() {
        assert_eq!(
            parse_proxy("socks5://127.0.0.1:9050"),
            Ok("127.0.0.1:9050".parse().unwrap())
        );
        assert!(parse_proxy("http://127.0.0.1:8080")
            .unwrap_err()
            .contains("only SOCKS5"));
        assert!(parse_proxy("localhost:9050")
            .unwrap_err()
            .contains("socks5://IP:PORT"));
        assert_eq!(parse_network("Onion"), Ok(Network::Onion));
        assert!(parse_network("tor")
            .unwrap_err()
            .contains("ipv4, ipv6, onion"));
    }
}
