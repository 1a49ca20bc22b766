//! connmgr on mio (being written).
