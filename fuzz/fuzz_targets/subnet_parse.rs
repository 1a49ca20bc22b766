#![no_main]
//! `cargo fuzz run -s none subnet_parse`; the logic is `connmgr_fuzz::subnet_parse`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| connmgr_fuzz::subnet_parse(data));
