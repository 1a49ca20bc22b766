//! connmgr core (work in progress)
pub mod group;
