//! connmgr on smol (being written).
