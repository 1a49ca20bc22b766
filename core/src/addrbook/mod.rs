//! The address book (being written).
