//! The node configs a simulation compares, by name: what `--preset` takes.

use connmgr::{AddressBook, Config};

/// Every preset's name, the default first.
pub const PRESETS: [&str; 3] = ["default", "btcd", "bitcoind-0.9.3"];

/// The config a preset names:
/// - `default`: [`Config::default`], Bitcoin Core's hardening;
/// - `btcd`: [`Config::btcd`], btcd's exact behaviour (the simulated
///   application keeps its book);
/// - `bitcoind-0.9.3`: the node Heilman et al. eclipsed in 2015: btcd's
///   single kind of connection (8 outbound, 117 inbound, one outbound per
///   network group) with bitcoind 0.9.3's address book inside.
pub fn preset(name: &str) -> Option<Config> {
    match name {
        "default" => Some(Config::default()),
        "btcd" => Some(Config::btcd()),
        "bitcoind-0.9.3" => Some(Config {
            address_book: AddressBook::Bitcoind093,
            max_outbound_per_group: 1,
            ..Config::btcd()
        }),
        _ => None,
    }
}

/// The name of the preset `config` is (its seed aside), if any.
pub fn preset_name(config: &Config) -> Option<&'static str> {
    PRESETS.into_iter().find(|name| {
        preset(name).is_some_and(|p| {
            Config {
                rng_seed: config.rng_seed,
                ..p
            } == *config
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_is_valid_and_named_back() {
        for name in PRESETS {
            let config = preset(name).unwrap();
            config.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(preset_name(&config), Some(name));
        }
        assert_eq!(preset("bitcoind"), None);
    }
}
