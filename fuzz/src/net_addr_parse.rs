//! Target `net_addr_parse`: any text as a peer address (BIP155's networks),
//! and any bytes as a BIP155 host.

use connmgr::{Host, Network, PeerAddr};

/// Target `net_addr_parse`: the bytes (read as UTF-8, invalid sequences
/// replaced) through `PeerAddr::from_str` and `Host::from_str`, and, split
/// as a network id and a body, through `Host::from_bip155`. Never a panic;
/// an address prints as text that reads back as itself (CJDNS, which text
/// cannot tell from IPv6, only comes from BIP155); a host encodes to the
/// BIP155 bytes it came from (an IPv4-mapped IPv6 one as IPv4); an error
/// quotes the text; serde reads what `from_str` reads.
pub fn net_addr_parse(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let parsed = text.parse::<PeerAddr>();
    let via_serde = serde_json::from_value::<PeerAddr>(serde_json::Value::String(text.to_string()));
    assert_eq!(
        parsed.as_ref().ok(),
        via_serde.as_ref().ok(),
        "net_addr_parse: serde reads {text:?} otherwise"
    );
    match &parsed {
        Ok(addr) => {
            assert_ne!(
                addr.network(),
                Network::Cjdns,
                "net_addr_parse: CJDNS from text"
            );
            let shown = addr.to_string();
            assert_eq!(
                shown.parse::<PeerAddr>().as_ref(),
                Ok(addr),
                "net_addr_parse: {addr:?} does not read back from {shown:?}"
            );
            assert_eq!(addr.socket_addr().is_some(), addr.host().ip().is_some());
        }
        Err(e) => {
            let message = e.to_string();
            assert!(
                message.starts_with(&format!("{text:?}")),
                "net_addr_parse: the error does not quote {text:?}: {message}"
            );
        }
    }
    if let Ok(host) = text.parse::<Host>() {
        assert_eq!(host.to_string().parse::<Host>(), Ok(host));
    }
    if let Some((&network, body)) = data.split_first() {
        if let Ok(host) = Host::from_bip155(network, body) {
            let (id, bytes) = host.to_bip155();
            assert_eq!(
                (id, bytes.as_slice()),
                (network, body),
                "net_addr_parse: {host:?} encodes otherwise"
            );
            let shown = host.to_string();
            if host.network() != Network::Cjdns {
                assert_eq!(shown.parse::<Host>(), Ok(host), "{shown:?}");
            }
        }
    }
}
