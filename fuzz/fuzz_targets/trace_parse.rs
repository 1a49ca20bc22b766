#![no_main]
//! `cargo fuzz run -s none trace_parse`; the logic is `connmgr_fuzz::trace_parse`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| connmgr_fuzz::trace_parse(data));
