//! Mixed networks in the simulator: a share of the nodes live on Tor or
//! I2P alone (an onion or I2P address, Core's `-onlynet` for that network,
//! a proxy to reach it), and every second IP node also reaches both
//! overlays through proxies, with a cap of two outbound connections on
//! each (so the per-network quotas and the one-per-network rule are at
//! work). The simulator carries no proxy: a dial routed through one reaches
//! the node at the name, and the node accepts it as its onion service's
//! target would, from 127.0.0.1 tagged with the network.

use std::net::SocketAddr;

use connmgr::{Host, Network, Networks, PeerAddr, Proxy, Rng};

/// The proxy every overlay-reaching node is configured with (never
/// connected to: the simulator stands in for it).
const PROXY: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::LOCALHOST,
    9050,
));

/// The most outbound connections a dual node keeps on each overlay.
const DUAL_OVERLAY_MAX: u32 = 2;

/// Gives `onion_percent` and `i2p_percent` of the nodes after the first
/// `keep` (the seed nodes, which stay on IP) an onion or I2P address.
pub fn assign(
    addrs: &mut [PeerAddr],
    keep: usize,
    onion_percent: u8,
    i2p_percent: u8,
    rng: &mut Rng,
) {
    if onion_percent == 0 && i2p_percent == 0 {
        return;
    }
    for (i, addr) in addrs.iter_mut().enumerate().skip(keep) {
        let roll = rng.below(100);
        let mut key = [0u8; 32];
        for chunk in key.chunks_mut(8) {
            chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
        }
        // Distinct keys whatever the draw: the index in the last bytes (the
        // first four bits are the network group, and stay random).
        key[24..].copy_from_slice(&(i as u64).to_be_bytes());
        *addr = if roll < u64::from(onion_percent) {
            PeerAddr::new(Host::Onion(key), addr.port())
        } else if roll < u64::from(onion_percent) + u64::from(i2p_percent) {
            PeerAddr::new(Host::I2p(key), 0)
        } else {
            continue;
        };
    }
}

/// The network policy of node `index` at `addr`, from the run's `base`:
/// an overlay node reaches only its overlay; with overlays in the run,
/// every second IP node reaches them too (at most two connections each).
pub fn networks(addr: PeerAddr, index: usize, overlays: bool, base: &Networks) -> Networks {
    let mut networks = base.clone();
    let via_proxy = |networks: &mut Networks, network| {
        networks.get_mut(network).proxy = Some(Proxy::new(PROXY));
        networks.get_mut(network).reachable = true;
    };
    match addr.network() {
        overlay @ (Network::Onion | Network::I2p) => {
            via_proxy(&mut networks, overlay);
            networks.only(&[overlay]);
        }
        _ if overlays && index % 2 == 1 => {
            for overlay in [Network::Onion, Network::I2p] {
                via_proxy(&mut networks, overlay);
                networks.get_mut(overlay).max_outbound = Some(DUAL_OVERLAY_MAX);
            }
        }
        _ => {}
    }
    networks
}

/// Where an inbound connection to `to` comes from: the dialer's own IP
/// address, or, to an onion or I2P node, its proxy's service at 127.0.0.1
/// (port `link`, so that connections differ) with the network named.
pub fn accepted_from(from: PeerAddr, to: PeerAddr, link: u64) -> (SocketAddr, Option<Network>) {
    match to.network() {
        overlay @ (Network::Onion | Network::I2p) => {
            let port = 1024 + (link % 60_000) as u16;
            (SocketAddr::from(([127, 0, 0, 1], port)), Some(overlay))
        }
        _ => (crate::node::socket(from), None),
    }
}
