//! The config's durations as people write them: `"5s"`, `"10m"`,
//! `"1h 30m"`, `"250ms"` (the `humantime` crate's forms), in a config file
//! and in a trace's header alike. An application's own config can use the
//! same form: `#[serde(with = "connmgr::serde_duration")]` on a
//! [`Duration`] field.
//!
//! Written exactly, down to the nanosecond (`"1m 30s 5ns"`), so that a
//! trace rebuilds the very config it ran with. Traces before version 7
//! wrote `{"secs": 5, "nanos": 0}`; that form is still read.

use std::fmt;
use std::time::Duration;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserializer, Serializer};

/// What a reader is told a duration looks like.
pub const EXPECTED: &str = "a duration such as \"5s\", \"10m\", \"1h 30m\" or \"250ms\"";

/// Writes `duration` exactly, as `"1m 30s"`.
pub fn serialize<S: Serializer>(duration: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_duration(*duration))
}

/// Reads [`EXPECTED`], or the `{"secs", "nanos"}` of older traces.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    d.deserialize_any(DurationVisitor)
}

/// Parses `text` as [`EXPECTED`] says, with an error that says what to
/// write instead.
pub fn parse(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("{text:?} is not a duration ({e}); write {EXPECTED}"))
}

struct DurationVisitor;

impl<'de> Visitor<'de> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(EXPECTED)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
        parse(text).map_err(E::custom)
    }

    /// The form of traces before version 7.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Duration, A::Error> {
        let (mut secs, mut nanos) = (None, None);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "secs" => secs = Some(map.next_value::<u64>()?),
                "nanos" => nanos = Some(map.next_value::<u32>()?),
                other => return Err(de::Error::unknown_field(other, &["secs", "nanos"])),
            }
        }
        let secs = secs.ok_or_else(|| de::Error::missing_field("secs"))?;
        let nanos = nanos.ok_or_else(|| de::Error::missing_field("nanos"))?;
        if nanos >= 1_000_000_000 {
            return Err(de::Error::custom("nanos must be below 1 000 000 000"));
        }
        Ok(Duration::new(secs, nanos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Holder(#[serde(with = "super")] Duration);

    #[test]
    fn a_duration_is_written_as_people_write_it_and_read_back_exactly() {
        for duration in [
            Duration::ZERO,
            Duration::from_secs(5),
            Duration::from_millis(1_500),
            Duration::new(3_723, 5),
            Duration::from_secs(86_400 * 400),
        ] {
            let json = serde_json::to_string(&Holder(duration)).unwrap();
            assert!(json.starts_with('"'), "{json}");
            let back: Holder = serde_json::from_str(&json).unwrap();
            assert_eq!(back.0, duration, "{json}");
        }
        assert_eq!(
            serde_json::to_string(&Holder(Duration::from_secs(90))).unwrap(),
            "\"1m 30s\""
        );
    }

    #[test]
    fn the_old_form_still_reads_and_a_bad_duration_says_what_to_write() {
        let old: Holder = serde_json::from_str(r#"{"secs":5,"nanos":7}"#).unwrap();
        assert_eq!(old.0, Duration::new(5, 7));
        let err = serde_json::from_str::<Holder>("\"5 parsecs\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"5 parsecs\" is not a duration"), "{err}");
        assert!(err.contains("\"10m\""), "{err}");
        let err = serde_json::from_str::<Holder>("5").unwrap_err().to_string();
        assert!(err.contains("a duration such as"), "{err}");
    }
}
