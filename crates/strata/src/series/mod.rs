//! Series: what a point belongs to, and the index that interns series keys to compact ids.
//!
//! A series key is the measurement, the field key and the tag set sorted by key. Lines in
//! cc-metric-store's shape need no special case beyond two rules applied to every line: a
//! `host` tag is read as `hostname`, and a write's default cluster fills a missing `cluster` tag.
//!
//! `SeriesKey` is the form users see; the index holds keys compactly: `intern.rs` the strings,
//! once each; `compact.rs` a key as a few bytes of string ids; `index.rs` the id tables and
//! the per-metric and per-host lists; `raw.rs` the cache of lines' series as written;
//! `retire.rs` what retiring series does to the index; `table.rs` a checkpoint's series
//! table, kept encoded.

#![deny(clippy::indexing_slicing, clippy::unwrap_used)]

mod compact;
mod index;
mod intern;
mod raw;
mod retire;
mod table;

pub(crate) use index::SeriesIndex;
pub(crate) use raw::{raw_base, raw_hash};
pub(crate) use table::SeriesTable;

use crate::decode::{Malformed, get_str, get_u32};

/// The identity of a series.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesKey {
    /// The measurement: cc-metric-store's metric name.
    pub measurement: String,
    /// The field key (`value` for cc-metric-store lines).
    pub field: String,
    /// Tags sorted by key, keys unique.
    pub tags: Vec<(String, String)>,
}

/// A compact series id, dense from 0.
pub(crate) type SeriesId = u32;

impl SeriesKey {
    /// The value of a tag.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .ok()
            .and_then(|i| self.tags.get(i))
            .map(|(_, v)| v.as_str())
    }

    /// Builds a key from a line's parts: `host` is renamed `hostname`, `cluster` defaults to
    /// `default_cluster`. Fails when both `host` and `hostname` are present.
    #[cfg(test)]
    pub(crate) fn from_parts<'a>(
        measurement: &str,
        field: &str,
        tags: impl Iterator<Item = (&'a str, &'a str)>,
        default_cluster: Option<&'a str>,
    ) -> Result<SeriesKey, String> {
        let tags = canonical_tags(tags, default_cluster)?;
        Ok(SeriesKey {
            measurement: measurement.to_owned(),
            field: field.to_owned(),
            tags: tags.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
        })
    }

    /// Appends the binary form used in WAL records and checkpoints: u32 LE lengths before the
    /// measurement, the field, the tag count, then each tag key and value. The engine writes
    /// it from the index (`SeriesIndex::encode_key`); this form is for tests.
    #[cfg(test)]
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        put_str(out, &self.measurement);
        put_str(out, &self.field);
        out.extend_from_slice(&u32::try_from(self.tags.len()).unwrap_or(u32::MAX).to_le_bytes());
        for (k, v) in &self.tags {
            put_str(out, k);
            put_str(out, v);
        }
    }

    /// Reads the binary form from `input`, advancing it.
    pub(crate) fn decode(input: &mut &[u8]) -> Result<SeriesKey, Malformed> {
        let measurement = get_str(input)?;
        let field = get_str(input)?;
        let count = get_u32(input)? as usize;
        // Each tag needs at least 8 bytes; refuse counts the input cannot hold before allocating.
        if count > input.len() / 8 {
            return Err(format!("series key claims {count} tags in {} bytes", input.len()).into());
        }
        let mut tags = Vec::with_capacity(count);
        for _ in 0..count {
            tags.push((get_str(input)?, get_str(input)?));
        }
        if !tags.windows(2).all(|w| matches!(w, [a, b] if a.0 < b.0)) {
            return Err(format!("series key of {measurement:?} has unsorted or duplicate tags").into());
        }
        Ok(SeriesKey { measurement, field, tags })
    }
}

impl std::fmt::Display for SeriesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.measurement)?;
        for (k, v) in &self.tags {
            write!(f, ",{k}={v}")?;
        }
        write!(f, " {}", self.field)
    }
}

/// A series key borrowed from a line or a point, its tags in the index's order: sorted by key,
/// unique, the default cluster filled in ([`canonical_tags`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyParts<'a> {
    pub(crate) measurement: &'a str,
    pub(crate) field: &'a str,
    pub(crate) tags: &'a [(&'a str, &'a str)],
}

/// A line's tags as a key holds them: `host` renamed `hostname`, sorted by key, and
/// `default_cluster` filling a missing `cluster`. Fails when a key is given twice.
pub(crate) fn canonical_tags<'a>(
    tags: impl Iterator<Item = (&'a str, &'a str)>,
    default_cluster: Option<&'a str>,
) -> Result<Vec<(&'a str, &'a str)>, String> {
    let mut sorted: Vec<(&str, &str)> = tags.map(|(k, v)| (tag_name(k), v)).collect();
    // Sorting first keeps the duplicate check linear after the sort, however many tags.
    sorted.sort_unstable();
    if let Some(pair) = sorted.windows(2).find(|w| matches!(w, [a, b] if a.0 == b.0)) {
        let k = pair.first().map_or("", |(k, _)| *k);
        return Err(format!("tag \"{k}\" is given twice (\"host\" is read as \"hostname\")"));
    }
    if let Some(cluster) = default_cluster
        && let Err(at) = sorted.binary_search_by(|(k, _)| (*k).cmp("cluster"))
    {
        sorted.insert(at, ("cluster", cluster));
    }
    Ok(sorted)
}

/// The tag a key names: `host` is read as `hostname` everywhere a tag is named (lines, points,
/// selectors), so cc-metric-collector's and Telegraf's spellings meet in one series.
pub(crate) fn tag_name(key: &str) -> &str {
    if key == "host" { "hostname" } else { key }
}

pub(super) fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&u32::try_from(s.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// A series limit that a new series would pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LimitHit {
    Total {
        limit: u64,
    },
    PerMetric {
        metric: String,
        limit: u64,
    },
    /// The index's arenas are full (4 GiB of keys or of strings).
    Full,
}

impl std::fmt::Display for LimitHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LimitHit::Total { limit } => {
                write!(f, "the engine holds limits.max_series = {limit} series already")
            }
            LimitHit::PerMetric { metric, limit } => {
                write!(f, "metric \"{metric}\" has limits.max_series_per_metric = {limit} series already")
            }
            LimitHit::Full => write!(f, "the series index is full (4 GiB of keys or of tag strings)"),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests may panic")]
mod tests {
    use super::*;

    #[test]
    fn cc_metric_store_mapping() {
        let key = SeriesKey::from_parts(
            "cpu_load",
            "value",
            [("host", "f0101"), ("type", "node")].into_iter(),
            Some("fritz"),
        )
        .unwrap();
        assert_eq!(key.tag("hostname"), Some("f0101"));
        assert_eq!(key.tag("cluster"), Some("fritz"));
        assert_eq!(key.tag("host"), None);
        let explicit =
            SeriesKey::from_parts("m", "value", [("cluster", "alex")].into_iter(), Some("fritz")).unwrap();
        assert_eq!(explicit.tag("cluster"), Some("alex"));
        let err = SeriesKey::from_parts("m", "v", [("host", "a"), ("hostname", "b")].into_iter(), None)
            .unwrap_err();
        assert!(err.contains("\"hostname\" is given twice"), "{err}");
    }

    #[test]
    fn key_encoding_round_trips_and_rejects_damage() {
        let key = SeriesKey::from_parts("m", "f", [("b", "2"), ("a", "1")].into_iter(), None).unwrap();
        let mut bytes = Vec::new();
        key.encode(&mut bytes);
        assert_eq!(SeriesKey::decode(&mut bytes.as_slice()).unwrap(), key);
        for cut in 0..bytes.len() {
            assert!(SeriesKey::decode(&mut bytes.get(..cut).unwrap()).is_err(), "cut at {cut}");
        }
    }
}
