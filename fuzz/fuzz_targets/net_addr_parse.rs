#![no_main]
//! `cargo fuzz run -s none net_addr_parse`; the logic is `connmgr_fuzz::net_addr_parse`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| connmgr_fuzz::net_addr_parse(data));
