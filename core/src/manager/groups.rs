//! Outbound connections per network group.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use crate::group::GroupKey;

use super::ids::IdHasher;

/// How many outbound connections each group holds. Entries at zero are
/// removed, so the map is as large as the number of groups in use.
#[derive(Debug, Default)]
pub(crate) struct GroupCounts {
    counts: HashMap<GroupKey, u32, BuildHasherDefault<IdHasher>>,
}

impl GroupCounts {
    pub fn get(&self, group: &GroupKey) -> u32 {
        self.counts.get(group).copied().unwrap_or(0)
    }

    pub fn add(&mut self, group: GroupKey) {
        *self.counts.entry(group).or_insert(0) += 1;
    }

    pub fn release(&mut self, group: GroupKey) {
        if let Some(n) = self.counts.get_mut(&group) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.counts.remove(&group);
            }
        }
    }

    pub fn clear(&mut self) {
        self.counts.clear();
    }
}
