#![no_main]
//! `cargo fuzz run -s none core_inputs`; the logic is `connmgr_fuzz::core_inputs`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| connmgr_fuzz::core_inputs(data));
