//! Heap estimates that depend only on what a structure holds.
//!
//! A hash map's capacity depends on where its randomly seeded hashes left
//! deleted entries, so two runs of one simulation would report different
//! figures. These estimates count what a map freshly built with the same
//! entries holds, which is the same in every run.

/// Bytes a `HashMap` of `len` entries of `entry` bytes each holds:
/// power-of-two buckets loaded to at most 7/8, each with its entry and one
/// control byte.
pub(crate) fn hash_map_bytes(len: usize, entry: usize) -> usize {
    let buckets = match len {
        0 => return 0,
        1..4 => 4,
        4..8 => 8,
        _ => (len.saturating_mul(8) / 7).next_power_of_two(),
    };
    buckets.saturating_mul(entry + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_map_is_counted_by_its_buckets() {
        assert_eq!(hash_map_bytes(0, 8), 0);
        assert_eq!(hash_map_bytes(1, 8), 4 * 9);
        assert_eq!(hash_map_bytes(7, 8), 8 * 9);
        assert_eq!(hash_map_bytes(100, 8), 128 * 9);
        assert_eq!(hash_map_bytes(112, 8), 128 * 9, "exactly 7/8 full");
        assert_eq!(hash_map_bytes(113, 8), 256 * 9);
    }
}
