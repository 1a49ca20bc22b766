//! Crash-safe persistence of the address book (being written).
