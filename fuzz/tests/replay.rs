//! `cargo test` inside fuzz/: the same replay of `seeds/` and `artifacts/`
//! as the main workspace's `tests/tests/fuzz_corpus.rs`, which this compiles.

#[path = "../../tests/tests/fuzz_corpus.rs"]
mod fuzz_corpus;
