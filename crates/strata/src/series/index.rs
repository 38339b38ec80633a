//! The index: series keys interned to dense `u32` ids, held compactly (strings once in
//! `intern.rs`, each key a dozen bytes of ids in one arena, `compact.rs`), and the series of a
//! metric and of a metric on one host.
//!
//! Every table holds ids and finds its entries' text through the arenas, so a series costs its
//! share of a few flat vectors and hash tables of `u32`, not allocations of its own.
//! [`SeriesIndex::key`] builds the [`SeriesKey`] callers see when they ask for one.

#![deny(clippy::indexing_slicing, clippy::unwrap_used)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use hashbrown::HashTable;
use rustc_hash::FxHashMap;

use super::compact::{self, Compact};
use super::intern::{Full, Interner, hash};
use super::{KeyParts, LimitHit, SeriesId, SeriesKey, put_str};
use crate::decode::Malformed;

/// No series (an id without a key, the end of a host's list).
pub(super) const NONE: u32 = u32::MAX;

/// Interns series keys to dense ids and finds the series of a metric.
#[derive(Debug, Default)]
pub(crate) struct SeriesIndex {
    pub(super) strings: Interner,
    /// Every key's compact form with its length, one after another (`compact.rs`).
    pub(super) keys: Vec<u8>,
    /// Where each id's key starts in `keys`; `NONE` for an id without a key (retired, or
    /// skipped while replaying).
    pub(super) starts: Vec<u32>,
    /// Every id, hashed by its compact key.
    pub(super) ids: HashTable<u32>,
    /// The series of each measurement (by its string id), in the order they were put.
    pub(super) by_metric: FxHashMap<u32, Vec<SeriesId>>,
    /// The newest series of each (measurement, hostname) pair, hashed by the pair; older ones
    /// follow through `next_on_host`. A query for one node looks at its series only.
    pub(super) host_heads: HashTable<u32>,
    /// The series put before this one with the same measurement and hostname, or `NONE`.
    pub(super) next_on_host: Vec<u32>,
    /// Whether the record that defines a series has been applied, so later records may refer
    /// to its id alone. Until then every record that uses the id carries the definition too.
    /// Atomic so the applying thread marks them under the index's read lock.
    pub(super) logged: Vec<AtomicBool>,
    /// The raw-key cache (`raw.rs`): a 32-bit hash of a line's series text as written and the
    /// id it names, verified against the interned key on every hit.
    pub(super) raw: HashTable<(u32, u32)>,
    /// Ids below `starts.len()` without a key, lowest first: a new series takes the lowest, so
    /// the tables indexed by id stay dense (`retire.rs`).
    pub(super) free: BinaryHeap<Reverse<SeriesId>>,
    /// Bytes of `keys` that retired series left behind; past half of `keys`, the index is
    /// rebuilt from its live keys (`retire.rs`).
    pub(super) garbage: usize,
    /// How many times series retired: a reader that found ids before and reads hot after
    /// checks that each id still names its key (`read.rs`).
    pub(super) retirements: u64,
}

impl SeriesIndex {
    /// Series with a key.
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// How many times series retired since the index was made.
    pub(crate) fn retirements(&self) -> u64 {
        self.retirements
    }

    /// Whether `id` has a key.
    pub(crate) fn contains(&self, id: SeriesId) -> bool {
        self.stored(id).is_some()
    }

    /// The compact key of `id`.
    pub(super) fn compact(&self, id: SeriesId) -> Option<Compact<'_>> {
        Compact::parse(self.stored(id)?)
    }

    pub(super) fn stored(&self, id: SeriesId) -> Option<&[u8]> {
        stored(&self.keys, &self.starts, id)
    }

    /// The id of a key given as parts (in the index's order, see [`KeyParts`]).
    pub(crate) fn find(&self, parts: &KeyParts<'_>) -> Option<SeriesId> {
        let mut body = Vec::with_capacity(8 + 6 * parts.tags.len());
        let s = &self.strings;
        let mut tags = Vec::with_capacity(parts.tags.len());
        for (k, v) in parts.tags {
            tags.push((s.get(k)?, s.get(v)?));
        }
        compact::encode(&mut body, s.get(parts.measurement)?, s.get(parts.field)?, &tags);
        self.find_compact(&body)
    }

    fn find_compact(&self, body: &[u8]) -> Option<SeriesId> {
        self.ids.find(hash(body), |&id| self.stored(id) == Some(body)).copied()
    }

    pub(crate) fn get(&self, key: &SeriesKey) -> Option<SeriesId> {
        let tags: Vec<(&str, &str)> = key.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.find(&KeyParts { measurement: &key.measurement, field: &key.field, tags: &tags })
    }

    /// The key of `id`, built from the interned strings.
    pub(crate) fn key(&self, id: SeriesId) -> Option<Arc<SeriesKey>> {
        let key = self.compact(id)?;
        let s = &self.strings;
        Some(Arc::new(SeriesKey {
            measurement: s.text(key.measurement).to_owned(),
            field: s.text(key.field).to_owned(),
            tags: key.tags().map(|(k, v)| (s.text(k).to_owned(), s.text(v).to_owned())).collect(),
        }))
    }

    /// The measurement of `id`.
    pub(crate) fn measurement(&self, id: SeriesId) -> Option<&str> {
        self.compact(id).map(|key| self.strings.text(key.measurement))
    }

    /// Appends the key of `id` in its binary form (`SeriesKey::encode`); false, with nothing
    /// appended, for an id without a key.
    pub(crate) fn encode_key(&self, id: SeriesId, out: &mut Vec<u8>) -> bool {
        let Some(key) = self.compact(id) else { return false };
        let s = &self.strings;
        put_str(out, s.text(key.measurement));
        put_str(out, s.text(key.field));
        out.extend_from_slice(&u32::try_from(key.tags().count()).unwrap_or(u32::MAX).to_le_bytes());
        for (k, v) in key.tags() {
            put_str(out, s.text(k));
            put_str(out, s.text(v));
        }
        true
    }

    pub(crate) fn is_logged(&self, id: SeriesId) -> bool {
        self.logged.get(id as usize).is_some_and(|flag| flag.load(Ordering::Acquire))
    }

    pub(crate) fn mark_logged(&self, id: SeriesId) {
        if let Some(flag) = self.logged.get(id as usize) {
            flag.store(true, Ordering::Release);
        }
    }

    fn metric_len(&self, metric: &str) -> usize {
        self.strings.get(metric).and_then(|m| self.by_metric.get(&m)).map_or(0, Vec::len)
    }

    /// Whether `new` more series of `metric` fit within the limits.
    pub(crate) fn check_room(
        &self,
        metric: &str,
        new: u64,
        max_series: u64,
        max_per_metric: u64,
    ) -> Result<(), LimitHit> {
        if self.len() as u64 + new > max_series {
            return Err(LimitHit::Total { limit: max_series });
        }
        if self.metric_len(metric) as u64 + new > max_per_metric {
            return Err(LimitHit::PerMetric { metric: metric.to_owned(), limit: max_per_metric });
        }
        Ok(())
    }

    /// Creates a series, unless that would pass a limit.
    pub(crate) fn create(
        &mut self,
        parts: &KeyParts<'_>,
        max_series: u64,
        max_per_metric: u64,
    ) -> Result<SeriesId, LimitHit> {
        if let Some(id) = self.find(parts) {
            return Ok(id);
        }
        if self.len() as u64 >= max_series {
            return Err(LimitHit::Total { limit: max_series });
        }
        if self.metric_len(parts.measurement) as u64 >= max_per_metric {
            return Err(LimitHit::PerMetric { metric: parts.measurement.to_owned(), limit: max_per_metric });
        }
        let id = match self.free.peek() {
            Some(&Reverse(id)) => id,
            None => SeriesId::try_from(self.starts.len())
                .ok()
                .filter(|&id| id != NONE)
                .ok_or(LimitHit::Total { limit: u64::from(NONE) })?,
        };
        self.insert(id, parts).map_err(|Full| LimitHit::Full)?;
        if self.free.peek() == Some(&Reverse(id)) {
            self.free.pop();
        }
        Ok(id)
    }

    /// Puts a series under a known id (replay and checkpoint loading). Fails if the id is
    /// taken by another key.
    pub(crate) fn define(&mut self, id: SeriesId, key: &SeriesKey) -> Result<(), Malformed> {
        let existing = self.get(key);
        match self.key(id) {
            Some(_) if existing == Some(id) => return Ok(()),
            Some(other) => return Err(format!("series id {id} is both {other} and {key}").into()),
            None => {}
        }
        if let Some(other) = existing {
            return Err(format!("series {key} has two ids, {other} and {id}").into());
        }
        if id == NONE {
            return Err(format!("series {key} has the id {id}, which no series may have").into());
        }
        let tags: Vec<(&str, &str)> = key.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.insert(id, &KeyParts { measurement: &key.measurement, field: &key.field, tags: &tags })
            .map_err(|Full| Malformed(format!("series {key} does not fit in the index (4 GiB of keys)")))?;
        self.mark_logged(id);
        Ok(())
    }

    /// Puts `parts` under `id`, which has no key yet.
    pub(super) fn insert(&mut self, id: SeriesId, parts: &KeyParts<'_>) -> Result<(), Full> {
        let start = u32::try_from(self.keys.len()).map_err(|_| Full)?;
        let measurement = self.strings.intern(parts.measurement)?;
        let field = self.strings.intern(parts.field)?;
        let mut tags = Vec::with_capacity(parts.tags.len());
        for (k, v) in parts.tags {
            tags.push((self.strings.intern(k)?, self.strings.intern(v)?));
        }
        let mut body = Vec::with_capacity(8 + 6 * tags.len());
        compact::encode(&mut body, measurement, field, &tags);
        compact::push_with_len(&mut self.keys, &body);
        let slot = id as usize;
        if self.starts.len() <= slot {
            self.starts.resize(slot + 1, NONE);
            self.next_on_host.resize(slot + 1, NONE);
            self.logged.resize_with(slot + 1, AtomicBool::default);
        }
        if let Some(entry) = self.starts.get_mut(slot) {
            *entry = start;
        }
        let (keys, starts) = (&self.keys, &self.starts);
        self.ids.insert_unique(hash(&body), id, |&id| stored(keys, starts, id).map_or(0, hash));
        self.by_metric.entry(measurement).or_default().push(id);
        if let Some(hostname) = self.strings.get("hostname")
            && let Some(host) = Compact::parse(&body).and_then(|key| key.tag(hostname))
        {
            self.add_to_host(id, hostname, (measurement, host));
        }
        Ok(())
    }

    /// Puts `id` at the head of the list of its measurement and host.
    pub(super) fn add_to_host(&mut self, id: SeriesId, hostname: u32, pair: (u32, u32)) {
        let (keys, starts) = (&self.keys, &self.starts);
        let host_of = |id: u32| host_pair(keys, starts, hostname, id);
        let previous = match self.host_heads.find_mut(pair_hash(pair), |&head| host_of(head) == Some(pair)) {
            Some(head) => std::mem::replace(head, id),
            None => {
                self.host_heads
                    .insert_unique(pair_hash(pair), id, |&head| host_of(head).map_or(0, pair_hash));
                NONE
            }
        };
        if let Some(next) = self.next_on_host.get_mut(id as usize) {
            *next = previous;
        }
    }

    /// The series of `measurement` on `host`, in the order they were put.
    fn on_host(&self, measurement: u32, host: u32) -> Vec<SeriesId> {
        let Some(hostname) = self.strings.get("hostname") else { return Vec::new() };
        let pair = (measurement, host);
        let (keys, starts) = (&self.keys, &self.starts);
        let head = self
            .host_heads
            .find(pair_hash(pair), |&head| host_pair(keys, starts, hostname, head) == Some(pair));
        let mut out = Vec::new();
        let mut next = head.copied().unwrap_or(NONE);
        // Each series is in one list once, so the walk ends; the bound only guards a bug.
        while next != NONE && out.len() < self.len() {
            out.push(next);
            next = self.next_on_host.get(next as usize).copied().unwrap_or(NONE);
        }
        out.reverse();
        out
    }

    /// The series of `measurement` whose tags include every `(key, value)` of `tags` and whose
    /// field is `field` (any field when `None`).
    pub(crate) fn select(
        &self,
        measurement: &str,
        field: Option<&str>,
        tags: &[(String, String)],
    ) -> Vec<SeriesId> {
        let s = &self.strings;
        // A string the index does not hold names no series.
        let Some(measurement) = s.get(measurement) else { return Vec::new() };
        let field = match field {
            Some(f) => match s.get(f) {
                Some(id) => Some(id),
                None => return Vec::new(),
            },
            None => None,
        };
        let Some(wanted) = tags.iter().map(|(k, v)| Some((s.get(k)?, s.get(v)?))).collect::<Option<Vec<_>>>()
        else {
            return Vec::new();
        };
        let host = tags.iter().find(|(k, _)| k == "hostname").and_then(|(_, v)| s.get(v));
        let ids = match host {
            Some(host) => self.on_host(measurement, host),
            None => self.by_metric.get(&measurement).cloned().unwrap_or_default(),
        };
        ids.into_iter()
            .filter(|&id| {
                self.compact(id).is_some_and(|key| {
                    field.is_none_or(|f| key.field == f) && wanted.iter().all(|&(k, v)| key.tag(k) == Some(v))
                })
            })
            .collect()
    }

    /// Every series with a key, by id.
    pub(crate) fn ids(&self) -> impl Iterator<Item = SeriesId> + '_ {
        self.starts
            .iter()
            .enumerate()
            .filter(|&(_, &start)| start != NONE)
            .filter_map(|(id, _)| SeriesId::try_from(id).ok())
    }

    /// Every series with its key (built for each), by id.
    pub(crate) fn all(&self) -> impl Iterator<Item = (SeriesId, Arc<SeriesKey>)> + '_ {
        self.ids().filter_map(|id| Some((id, self.key(id)?)))
    }

    /// Heap bytes the index holds (its tables counted at their full allocation).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.strings.heap_bytes()
            + self.keys.capacity()
            + self.starts.capacity() * 4
            + self.next_on_host.capacity() * 4
            + self.logged.capacity()
            + self.ids.allocation_size()
            + self.host_heads.allocation_size()
            + self.raw.allocation_size()
            + self.by_metric.values().map(|v| v.capacity() * 4 + 48).sum::<usize>()
    }
}

fn stored<'a>(keys: &'a [u8], starts: &[u32], id: SeriesId) -> Option<&'a [u8]> {
    let start = *starts.get(id as usize)?;
    if start == NONE {
        return None;
    }
    compact::stored_at(keys, start)
}

/// The (measurement, hostname value) of `id`, if it has a hostname.
pub(super) fn host_pair(keys: &[u8], starts: &[u32], hostname: u32, id: SeriesId) -> Option<(u32, u32)> {
    let key = Compact::parse(stored(keys, starts, id)?)?;
    Some((key.measurement, key.tag(hostname)?))
}

pub(super) fn pair_hash((measurement, host): (u32, u32)) -> u64 {
    hash(&(u64::from(measurement) << 32 | u64::from(host)).to_le_bytes())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests may panic")]
mod tests {
    use super::*;

    fn parts<'a>(measurement: &'a str, tags: &'a [(&'a str, &'a str)]) -> KeyParts<'a> {
        KeyParts { measurement, field: "value", tags }
    }

    #[test]
    fn limits_name_the_metric() {
        let mut index = SeriesIndex::default();
        let (a, b, c) = ([("hostname", "a")], [("hostname", "b")], [("hostname", "c")]);
        assert_eq!(index.create(&parts("cpu", &a), 10, 2), Ok(0));
        assert_eq!(index.create(&parts("cpu", &a), 10, 2), Ok(0));
        assert_eq!(index.create(&parts("cpu", &b), 10, 2), Ok(1));
        let hit = index.create(&parts("cpu", &c), 10, 2).unwrap_err();
        assert_eq!(hit.to_string(), "metric \"cpu\" has limits.max_series_per_metric = 2 series already");
        assert_eq!(index.create(&parts("mem", &[]), 2, 5).unwrap_err(), LimitHit::Total { limit: 2 });
    }

    #[test]
    fn keys_come_back_whole_and_select_finds_them() {
        let mut index = SeriesIndex::default();
        let tags =
            |host: &'static str, cpu: &'static str| vec![("cpu", cpu), ("hostname", host), ("type", "core")];
        let mut made = Vec::new();
        for (host, cpu) in [("a", "0"), ("b", "0"), ("a", "1"), ("a", "0")] {
            let t = tags(host, cpu);
            made.push(index.create(&parts("load", &t), 100, 100).unwrap());
        }
        assert_eq!(made, vec![0, 1, 2, 0]);
        let other = index.create(&parts("mem", &[("hostname", "a")]), 100, 100).unwrap();
        assert_eq!(index.len(), 4);
        let key = index.key(2).unwrap();
        assert_eq!(key.to_string(), "load,cpu=1,hostname=a,type=core value");
        assert_eq!(index.get(&key), Some(2));
        assert_eq!(index.measurement(other), Some("mem"));
        let sel = |m: &str, f: Option<&str>, t: &[(&str, &str)]| {
            let t: Vec<(String, String)> = t.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
            index.select(m, f, &t)
        };
        assert_eq!(sel("load", None, &[]), vec![0, 1, 2]);
        assert_eq!(sel("load", None, &[("hostname", "a")]), vec![0, 2]);
        assert_eq!(sel("load", Some("value"), &[("hostname", "a"), ("cpu", "1")]), vec![2]);
        assert_eq!(sel("load", Some("other"), &[]), Vec::<u32>::new());
        assert_eq!(sel("load", None, &[("hostname", "z")]), Vec::<u32>::new());
        assert_eq!(sel("mem", None, &[("hostname", "a")]), vec![other]);
        let mut bytes = Vec::new();
        assert!(index.encode_key(2, &mut bytes));
        assert_eq!(SeriesKey::decode(&mut bytes.as_slice()).unwrap(), *key);
        assert!(!index.encode_key(9, &mut bytes));
    }

    #[test]
    fn define_refuses_a_second_key_for_an_id_and_a_second_id_for_a_key() {
        let mut index = SeriesIndex::default();
        let key = |h: &str| SeriesKey::from_parts("m", "value", [("hostname", h)].into_iter(), None).unwrap();
        index.define(5, &key("a")).unwrap();
        index.define(5, &key("a")).unwrap();
        assert!(index.is_logged(5) && !index.is_logged(0));
        assert_eq!(index.key(0), None);
        assert_eq!(index.ids().collect::<Vec<_>>(), vec![5]);
        assert!(index.define(5, &key("b")).unwrap_err().0.contains("is both"));
        assert!(index.define(6, &key("a")).unwrap_err().0.contains("two ids"));
        // A created series takes the next id after the defined ones.
        let b = [("hostname", "b")];
        assert_eq!(index.create(&parts("m", &b), 100, 100), Ok(6));
    }
}
