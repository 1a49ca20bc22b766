//! Trace record and replay (being written).
