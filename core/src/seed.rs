//! The manager's secret: one [`Seed`], and the [`Keys`] derived from it.

use std::fmt;

use sha2::{Digest, Sha256};

/// 32 random bytes from which every key and random choice of a manager and
/// its address book derive.
///
/// Two of the manager's choices must be unpredictable to an attacker: where
/// an address lands in the address book (or it can aim its addresses at
/// chosen buckets and crowd out the honest ones), and which inbound peers
/// eviction protects (or it can make sure its own are kept). Backoff jitter
/// is random too. All of it comes from one seed:
///
/// - a node draws the seed from the operating system's entropy when it
///   starts (the builders of `connmgr-net` do, when
///   [`Config::rng_seed`](crate::Config::rng_seed) is `None`); the core
///   itself never draws anything, so it stays a pure function of its inputs;
/// - the seed is written into the trace header (it is part of the config),
///   so a replay makes the same choices; it is never logged: its `Debug`
///   shows nothing of it;
/// - [`Seed::keys`] is the one place every sub-key is derived, by every
///   runtime, the simulator and the command line alike. Each sub-key is
///   SHA-256 of a label and the seed, so knowing one (say, from a leaked
///   book file) tells nothing of the others.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Seed([u8; 32]);

/// The sub-keys of a [`Seed`], each for one use.
#[derive(Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Keys {
    /// The address book's random choices, and btcd's book's placement key.
    pub book: u64,
    /// Bitcoin Core's book's 256-bit placement key (Core's `nKey`).
    pub addrman: [u8; 32],
    /// The keyed hash of network groups that decides which groups inbound
    /// eviction protects.
    pub eviction: u64,
    /// The manager's random generator (backoff jitter).
    pub jitter: u64,
    /// The keyed hash that picks which peers an address is relayed to.
    pub relay: u64,
}

impl Seed {
    /// A seed of these bytes. Draw them from the operating system
    /// (`connmgr_net::os_seed`); fixed bytes make the keys predictable.
    pub const fn from_bytes(bytes: [u8; 32]) -> Seed {
        Seed(bytes)
    }

    /// A seed expanded from a number: deterministic, for tests, simulations
    /// and benchmarks. A node on a real network must not use it: anybody
    /// can try every small number.
    pub fn from_u64(n: u64) -> Seed {
        let digest = Sha256::new()
            .chain_update(b"connmgr seed from u64")
            .chain_update(n.to_le_bytes())
            .finalize();
        Seed(digest.into())
    }

    /// The seed's bytes (to save it, or to print it where an operator asked
    /// for it).
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Every sub-key, derived independently from `SHA-256(label ‖ seed)`:
    /// the digest itself for 256-bit keys, its first 8 bytes
    /// (little-endian) for the others.
    pub fn keys(&self) -> Keys {
        Keys {
            book: self.sub_key(b"connmgr book key"),
            addrman: self.digest(b"connmgr addrman key"),
            eviction: self.sub_key(b"connmgr eviction key"),
            jitter: self.sub_key(b"connmgr jitter"),
            relay: self.sub_key(b"connmgr relay key"),
        }
    }

    fn sub_key(&self, label: &[u8]) -> u64 {
        let digest = self.digest(label);
        let mut first = [0; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_le_bytes(first)
    }

    fn digest(&self, label: &[u8]) -> [u8; 32] {
        Sha256::new()
            .chain_update(label)
            .chain_update(self.0)
            .finalize()
            .into()
    }

    /// The seed as 64 lowercase hexadecimal digits (its form in traces and
    /// config files).
    pub fn to_hex(&self) -> String {
        use fmt::Write;
        let mut out = String::with_capacity(64);
        for byte in self.0 {
            let _ = write!(out, "{byte:02x}");
        }
        out
    }

    /// Reads the form [`to_hex`](Seed::to_hex) writes (either case).
    pub fn from_hex(text: &str) -> Result<Seed, SeedError> {
        let digits = text.as_bytes();
        if digits.len() != 64 {
            return Err(SeedError::Length {
                found: digits.len(),
            });
        }
        let mut bytes = [0; 32];
        for (i, pair) in digits.chunks_exact(2).enumerate() {
            let hi = hex_digit(pair[0]).ok_or(SeedError::Digit { at: 2 * i })?;
            let lo = hex_digit(pair[1]).ok_or(SeedError::Digit { at: 2 * i + 1 })?;
            bytes[i] = hi << 4 | lo;
        }
        Ok(Seed(bytes))
    }
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Never shows the seed: a `Debug` of a config ends up in logs.
impl fmt::Debug for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Seed(<secret>)")
    }
}

/// Never shows the keys, for the same reason as [`Seed`]'s.
impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Keys(<secret>)")
    }
}

/// Why a text is not a [`Seed`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SeedError {
    /// Not 64 characters long.
    Length {
        /// How many there are.
        found: usize,
    },
    /// A character that is not a hexadecimal digit.
    Digit {
        /// Its position, from 0.
        at: usize,
    },
}

impl fmt::Display for SeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeedError::Length { found } => write!(
                f,
                "a seed is 64 hexadecimal digits (32 bytes); this one has {found} characters"
            ),
            SeedError::Digit { at } => write!(
                f,
                "a seed is 64 hexadecimal digits; character {at} is not one"
            ),
        }
    }
}

impl std::error::Error for SeedError {}

#[cfg(feature = "serde")]
impl serde::Serialize for Seed {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Seed {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Seed, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Seed::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_keys_differ_from_each_other_and_between_seeds() {
        let a = Seed::from_u64(1).keys();
        let b = Seed::from_u64(2).keys();
        assert_ne!(a.book, a.eviction);
        assert_ne!(a.book, a.jitter);
        assert_ne!(a.eviction, a.jitter);
        assert_ne!(a.book, b.book);
        assert_ne!(a.eviction, b.eviction);
        assert_ne!(a.jitter, b.jitter);
        assert_ne!(a.addrman, b.addrman);
        assert_ne!(a.addrman[..8], a.book.to_le_bytes());
    }

    #[test]
    fn keys_are_a_function_of_the_seed() {
        // Pinned: a trace replays only if the derivation never changes.
        let keys = Seed::from_bytes([0; 32]).keys();
        assert_eq!(keys.book, Seed::from_bytes([0; 32]).keys().book);
        let expected = {
            let d = Sha256::new()
                .chain_update(b"connmgr book key")
                .chain_update([0u8; 32])
                .finalize();
            u64::from_le_bytes(d[..8].try_into().unwrap())
        };
        assert_eq!(keys.book, expected);
    }

    #[test]
    fn debug_shows_nothing_of_the_secret() {
        let seed = Seed::from_bytes([0xab; 32]);
        let text = format!("{seed:?} {:?}", seed.keys());
        assert!(!text.contains("ab"), "{text}");
        assert!(!text.contains(&seed.keys().book.to_string()), "{text}");
    }

    #[test]
    fn hex_round_trips_and_bad_text_is_named() {
        let seed = Seed::from_u64(7);
        assert_eq!(Seed::from_hex(&seed.to_hex()), Ok(seed));
        assert_eq!(
            Seed::from_hex(&seed.to_hex().to_uppercase()),
            Ok(seed),
            "either case"
        );
        assert_eq!(Seed::from_hex("ab"), Err(SeedError::Length { found: 2 }));
        let mut bad = seed.to_hex();
        bad.replace_range(5..6, "g");
        assert_eq!(Seed::from_hex(&bad), Err(SeedError::Digit { at: 5 }));
        assert!(SeedError::Digit { at: 5 }
            .to_string()
            .contains("character 5"));
    }
}
