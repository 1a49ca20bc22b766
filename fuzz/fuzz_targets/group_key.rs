#![no_main]
//! `cargo fuzz run -s none group_key`; the logic is `connmgr_fuzz::group_key`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| connmgr_fuzz::group_key(data));
