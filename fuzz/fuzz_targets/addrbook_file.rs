#![no_main]
//! `cargo fuzz run -s none addrbook_file`; the logic is `connmgr_fuzz::addrbook_file`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| connmgr_fuzz::addrbook_file(data));
