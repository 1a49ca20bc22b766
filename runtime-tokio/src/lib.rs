//! connmgr on tokio (being written).
