#![no_main]
//! `cargo fuzz run -s none config_toml`; the logic is `connmgr_fuzz::config_toml`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| connmgr_fuzz::config_toml(data));
