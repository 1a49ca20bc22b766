//! Tor v3 onion names (Tor's `rend-spec-v3`): the service's 32-byte
//! ed25519 public key, a 2-byte checksum and a version byte, in base32:
//! 56 characters, then `.onion`.

use sha3::{Digest, Sha3_256};

use super::base32;

const VERSION: u8 = 3;

/// The two checksum bytes Tor puts after the key.
fn checksum(key: &[u8; 32]) -> [u8; 2] {
    let digest = Sha3_256::new()
        .chain_update(b".onion checksum")
        .chain_update(key)
        .chain_update([VERSION])
        .finalize();
    [digest[0], digest[1]]
}

/// The name (without `.onion`) of the service with public key `key`.
pub(crate) fn encode(key: &[u8; 32]) -> String {
    let mut raw = [0u8; 35];
    raw[..32].copy_from_slice(key);
    raw[32..34].copy_from_slice(&checksum(key));
    raw[34] = VERSION;
    base32::encode(&raw)
}

/// Why a name is not a Tor v3 name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OnionError {
    /// Not 56 base32 characters (a Tor v2 name has 16).
    Length(usize),
    NotBase32,
    Version(u8),
    Checksum,
}

/// The public key a name (without `.onion`) stands for.
pub(crate) fn decode(name: &str) -> Result<[u8; 32], OnionError> {
    if name.len() != 56 {
        return Err(OnionError::Length(name.len()));
    }
    let raw = base32::decode(name).ok_or(OnionError::NotBase32)?;
    let raw: [u8; 35] = raw.try_into().map_err(|_| OnionError::NotBase32)?;
    if raw[34] != VERSION {
        return Err(OnionError::Version(raw[34]));
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(&raw[..32]);
    if raw[32..34] != checksum(&key) {
        return Err(OnionError::Checksum);
    }
    Ok(key)
}
