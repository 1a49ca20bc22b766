#![no_main]
//! `cargo fuzz run -s none addrbook`; the logic is `connmgr_fuzz::addrbook`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| connmgr_fuzz::addrbook(data));
