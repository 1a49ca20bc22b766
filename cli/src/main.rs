//! The `connmgr` command (being written).
fn main() {}
