//! Series: what a point belongs to, and the index that interns series keys to compact ids.
//!
//! A series key is the measurement, the field key and the tag set sorted by key. Lines in
//! cc-metric-store's shape need no special case beyond two rules applied to every line: a
//! `host` tag is read as `hostname`, and a write's default cluster fills a missing `cluster` tag.

#![deny(clippy::indexing_slicing, clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rustc_hash::FxHashMap;

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
    pub(crate) fn from_parts<'a>(
        measurement: &str,
        field: &str,
        tags: impl Iterator<Item = (&'a str, &'a str)>,
        default_cluster: Option<&str>,
    ) -> Result<SeriesKey, String> {
        let mut sorted: Vec<(String, String)> =
            tags.map(|(k, v)| (tag_name(k).to_owned(), v.to_owned())).collect();
        // Sorting first keeps the duplicate check linear after the sort, however many tags.
        sorted.sort();
        if let Some(pair) = sorted.windows(2).find(|w| matches!(w, [a, b] if a.0 == b.0)) {
            let k = pair.first().map_or("", |(k, _)| k.as_str());
            return Err(format!("tag \"{k}\" is given twice (\"host\" is read as \"hostname\")"));
        }
        if let Some(cluster) = default_cluster
            && let Err(at) = sorted.binary_search_by(|(k, _)| k.as_str().cmp("cluster"))
        {
            sorted.insert(at, ("cluster".to_owned(), cluster.to_owned()));
        }
        Ok(SeriesKey { measurement: measurement.to_owned(), field: field.to_owned(), tags: sorted })
    }

    /// Appends the binary form used in WAL records and checkpoints: u32 LE lengths before the
    /// measurement, the field, the tag count, then each tag key and value.
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

/// The tag a key names: `host` is read as `hostname` everywhere a tag is named (lines, points,
/// selectors), so cc-metric-collector's and Telegraf's spellings meet in one series.
pub(crate) fn tag_name(key: &str) -> &str {
    if key == "host" { "hostname" } else { key }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&u32::try_from(s.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// A series limit that a new series would pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LimitHit {
    Total { limit: u64 },
    PerMetric { metric: String, limit: u64 },
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
        }
    }
}

/// Interns series keys to dense ids and finds the series of a metric.
#[derive(Debug, Default)]
pub(crate) struct SeriesIndex {
    /// Keys by id. `None` marks an id whose creating write failed before it was logged.
    keys: Vec<Option<Arc<SeriesKey>>>,
    ids: FxHashMap<Arc<SeriesKey>, SeriesId>,
    by_metric: FxHashMap<String, Vec<SeriesId>>,
    /// The series of a metric on one host: a query for one node looks at its series only.
    by_host: FxHashMap<(String, String), Vec<SeriesId>>,
    /// Whether the record that defines a series has been applied, so later records may refer
    /// to its id alone. Until then every record that uses the id carries the definition too.
    /// Atomic so the applying thread marks them under the index's read lock.
    logged: Vec<AtomicBool>,
    /// Raw line text (default cluster, measurement and tags as written, field) to id: skips
    /// building a key for series seen before.
    raw: FxHashMap<Box<[u8]>, SeriesId>,
}

impl SeriesIndex {
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    pub(crate) fn get_raw(&self, raw: &[u8]) -> Option<SeriesId> {
        self.raw.get(raw).copied()
    }

    pub(crate) fn remember_raw(&mut self, raw: &[u8], id: SeriesId) {
        self.raw.insert(raw.into(), id);
    }

    pub(crate) fn get(&self, key: &SeriesKey) -> Option<SeriesId> {
        self.ids.get(key).copied()
    }

    pub(crate) fn key(&self, id: SeriesId) -> Option<&Arc<SeriesKey>> {
        self.keys.get(id as usize).and_then(Option::as_ref)
    }

    pub(crate) fn is_logged(&self, id: SeriesId) -> bool {
        self.logged.get(id as usize).is_some_and(|flag| flag.load(Ordering::Acquire))
    }

    pub(crate) fn mark_logged(&self, id: SeriesId) {
        if let Some(flag) = self.logged.get(id as usize) {
            flag.store(true, Ordering::Release);
        }
    }

    /// Whether `new` more series of `metric` fit within the limits.
    pub(crate) fn check_room(
        &self,
        metric: &str,
        new: u64,
        max_series: u64,
        max_per_metric: u64,
    ) -> Result<(), LimitHit> {
        if self.ids.len() as u64 + new > max_series {
            return Err(LimitHit::Total { limit: max_series });
        }
        if self.by_metric.get(metric).map_or(0, Vec::len) as u64 + new > max_per_metric {
            return Err(LimitHit::PerMetric { metric: metric.to_owned(), limit: max_per_metric });
        }
        Ok(())
    }

    /// Creates a series, unless that would pass a limit.
    pub(crate) fn create(
        &mut self,
        key: SeriesKey,
        max_series: u64,
        max_per_metric: u64,
    ) -> Result<SeriesId, LimitHit> {
        if let Some(id) = self.get(&key) {
            return Ok(id);
        }
        if self.ids.len() as u64 >= max_series {
            return Err(LimitHit::Total { limit: max_series });
        }
        let metric_count = self.by_metric.get(&key.measurement).map_or(0, Vec::len);
        if metric_count as u64 >= max_per_metric {
            return Err(LimitHit::PerMetric { metric: key.measurement.clone(), limit: max_per_metric });
        }
        let id = SeriesId::try_from(self.keys.len())
            .map_err(|_| LimitHit::Total { limit: u64::from(u32::MAX) })?;
        self.insert(id, Arc::new(key));
        Ok(id)
    }

    /// Puts a series under a known id (replay and checkpoint loading). Fails if the id is
    /// taken by another key.
    pub(crate) fn define(&mut self, id: SeriesId, key: Arc<SeriesKey>) -> Result<(), Malformed> {
        match self.key(id) {
            Some(existing) if **existing == *key => return Ok(()),
            Some(existing) => return Err(format!("series id {id} is both {existing} and {key}").into()),
            None => {}
        }
        if let Some(other) = self.get(&key) {
            return Err(format!("series {key} has two ids, {other} and {id}").into());
        }
        self.insert(id, key);
        self.mark_logged(id);
        Ok(())
    }

    fn insert(&mut self, id: SeriesId, key: Arc<SeriesKey>) {
        let slot = id as usize;
        if self.keys.len() <= slot {
            self.keys.resize(slot + 1, None);
            self.logged.resize_with(slot + 1, AtomicBool::default);
        }
        if let Some(entry) = self.keys.get_mut(slot) {
            *entry = Some(key.clone());
        }
        self.by_metric.entry(key.measurement.clone()).or_default().push(id);
        if let Some(host) = key.tag("hostname") {
            self.by_host.entry((key.measurement.clone(), host.to_owned())).or_default().push(id);
        }
        self.ids.insert(key, id);
    }

    /// The series of `measurement` whose tags include every `(key, value)` of `tags` and whose
    /// field is `field` (any field when `None`).
    pub(crate) fn select(
        &self,
        measurement: &str,
        field: Option<&str>,
        tags: &[(String, String)],
    ) -> Vec<SeriesId> {
        let host = tags.iter().find(|(k, _)| k == "hostname").map(|(_, v)| v);
        let ids = match host {
            Some(host) => self.by_host.get(&(measurement.to_owned(), host.clone())),
            None => self.by_metric.get(measurement),
        };
        let Some(ids) = ids else { return Vec::new() };
        ids.iter()
            .copied()
            .filter(|&id| {
                self.key(id).is_some_and(|key| {
                    field.is_none_or(|f| key.field == f)
                        && tags.iter().all(|(k, v)| key.tag(k) == Some(v.as_str()))
                })
            })
            .collect()
    }

    /// Every defined series, by id.
    pub(crate) fn all(&self) -> impl Iterator<Item = (SeriesId, &Arc<SeriesKey>)> {
        self.keys
            .iter()
            .enumerate()
            .filter_map(|(id, key)| Some((SeriesId::try_from(id).ok()?, key.as_ref()?)))
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

    #[test]
    fn limits_name_the_metric() {
        let mut index = SeriesIndex::default();
        let key =
            |h: &str| SeriesKey::from_parts("cpu", "value", [("hostname", h)].into_iter(), None).unwrap();
        assert_eq!(index.create(key("a"), 10, 2), Ok(0));
        assert_eq!(index.create(key("a"), 10, 2), Ok(0));
        assert_eq!(index.create(key("b"), 10, 2), Ok(1));
        let hit = index.create(key("c"), 10, 2).unwrap_err();
        assert_eq!(hit.to_string(), "metric \"cpu\" has limits.max_series_per_metric = 2 series already");
        let other = SeriesKey::from_parts("mem", "value", [].into_iter(), None).unwrap();
        assert_eq!(index.create(other, 2, 5).unwrap_err(), LimitHit::Total { limit: 2 });
    }
}
