//! `config_toml`: arbitrary text read as a config file's `[manager]` table
//! (`connmgr::Config` through `toml`), as `connmgr node --config` reads it.

use connmgr::Config;

/// Arbitrary text as TOML into a [`Config`]: never a panic, whatever the
/// text; a config that reads also validates or says why not, naming a
/// field; and one that reads writes back as TOML that reads as the same
/// config (durations included, to the nanosecond), so a file the command
/// writes is one it reads.
pub fn config_toml(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(config) = toml::from_str::<Config>(&text) else {
        return;
    };
    if let Err(error) = config.validate() {
        assert!(
            !error.field().is_empty(),
            "config_toml: {error} names no field"
        );
        assert!(!error.to_string().is_empty());
    }
    let written = toml::to_string(&config)
        .unwrap_or_else(|e| panic!("config_toml: {config:?} does not write as TOML: {e}"));
    let back: Config = toml::from_str(&written)
        .unwrap_or_else(|e| panic!("config_toml: what it wrote does not read: {e}\n{written}"));
    assert_eq!(back, config, "config_toml: read back otherwise:\n{written}");
}
