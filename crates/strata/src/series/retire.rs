//! Retiring series: a series none of whose points is left in hot (a node retired, a job's
//! devices gone) leaves the index, and its id goes to the next new series.
//!
//! The compactor decides which series retire and logs the decision as a WAL record
//! (`compactor/retire.rs`); this file is what applying that record does to the index. A new
//! series takes the lowest free id, so tables indexed by id (here and hot's slots) stay dense
//! as long as series come and go; when retirements leave more than half of the ids below the
//! highest live one free, the same record moves the live series above into the lowest free
//! ids ([`SeriesIndex::moves_after`]). The arenas of keys and strings are rebuilt from the live
//! keys once retired keys take half of them. So over any churn the index holds what its live
//! series need, within a factor of two.

#![deny(clippy::indexing_slicing, clippy::unwrap_used)]

use std::cmp::Reverse;
use std::sync::atomic::Ordering;

use rustc_hash::FxHashSet;

use super::compact::Compact;
use super::index::{NONE, SeriesIndex, host_pair, pair_hash};
use super::intern::hash;
use super::{KeyParts, SeriesId};

impl SeriesIndex {
    /// Removes the series `ids` (those that have a key) from every table; their ids are free
    /// from now on. Returns how many were removed.
    pub(crate) fn retire(&mut self, ids: &[SeriesId]) -> usize {
        let hostname = self.strings.get("hostname");
        let mut gone: FxHashSet<SeriesId> = FxHashSet::default();
        let mut metrics: FxHashSet<u32> = FxHashSet::default();
        let mut pairs: FxHashSet<(u32, u32)> = FxHashSet::default();
        for &id in ids {
            let Some(body) = self.stored(id) else { continue };
            let (body_hash, len) = (hash(body), body.len());
            if let Some(key) = Compact::parse(body) {
                metrics.insert(key.measurement);
                if let Some(host) = hostname.and_then(|h| key.tag(h)) {
                    pairs.insert((key.measurement, host));
                }
            }
            if let Ok(entry) = self.ids.find_entry(body_hash, |&other| other == id) {
                entry.remove();
            }
            // The body and its length prefix.
            self.garbage += len + 1 + usize::from(len >= 0x80);
            gone.insert(id);
        }
        if gone.is_empty() {
            return 0;
        }
        // The host lists are walked while the retired keys are still readable.
        if let Some(hostname) = hostname {
            for &pair in &pairs {
                self.unlink_from_host(hostname, pair, &gone);
            }
        }
        for metric in metrics {
            if let Some(list) = self.by_metric.get_mut(&metric) {
                list.retain(|id| !gone.contains(id));
                if list.is_empty() {
                    self.by_metric.remove(&metric);
                }
            }
        }
        self.forget_raw(&gone);
        for &id in &gone {
            let slot = id as usize;
            if let Some(start) = self.starts.get_mut(slot) {
                *start = NONE;
            }
            if let Some(next) = self.next_on_host.get_mut(slot) {
                *next = NONE;
            }
            if let Some(flag) = self.logged.get(slot) {
                flag.store(false, Ordering::Release);
            }
            self.free.push(Reverse(id));
        }
        self.trim();
        if self.garbage * 2 >= self.keys.len() {
            self.rebuild();
        }
        self.retirements += 1;
        gone.len()
    }

    /// The moves that make the ids dense again once `retiring` has retired, when more than half
    /// of the ids below the highest live one would be free: each live series above the live
    /// count, highest first, to the lowest free id. Empty otherwise.
    pub(crate) fn moves_after(&self, retiring: &[SeriesId]) -> Vec<(SeriesId, SeriesId)> {
        let retiring: FxHashSet<SeriesId> =
            retiring.iter().copied().filter(|&id| self.contains(id)).collect();
        let live = self.len() - retiring.len();
        let is_live = |slot: usize| {
            self.starts.get(slot).is_some_and(|&s| s != NONE)
                && SeriesId::try_from(slot).is_ok_and(|id| !retiring.contains(&id))
        };
        let top = (0..self.starts.len()).rev().find(|&slot| is_live(slot)).map_or(0, |last| last + 1);
        if top <= 2 * live + 64 {
            return Vec::new();
        }
        let high = (live..top).rev().filter(|&slot| is_live(slot));
        let low = (0..live).filter(|&slot| !is_live(slot));
        high.zip(low)
            .filter_map(|(from, to)| Some((SeriesId::try_from(from).ok()?, SeriesId::try_from(to).ok()?)))
            .collect()
    }

    /// Moves each live series `from` to the free id `to`, in every table: its key, its place
    /// in its metric's and its host's lists (order kept), its raw-key cache entries. The
    /// metric lists and the cache are walked once for all the moves, not once per move: a
    /// retirement may move hundreds of thousands of series while writes wait.
    pub(crate) fn move_series(&mut self, moves: &[(SeriesId, SeriesId)]) {
        let hostname = self.strings.get("hostname");
        let mut moved: rustc_hash::FxHashMap<SeriesId, SeriesId> = rustc_hash::FxHashMap::default();
        let mut metrics: FxHashSet<u32> = FxHashSet::default();
        for &(from, to) in moves {
            let Some(body) = self.stored(from) else { continue };
            if self.contains(to) {
                continue;
            }
            let key_hash = hash(body);
            let key = Compact::parse(body).map(|k| (k.measurement, hostname.and_then(|h| k.tag(h))));
            if let Some(entry) = self.ids.find_mut(key_hash, |&id| id == from) {
                *entry = to;
            }
            if let Some((measurement, host)) = key {
                metrics.insert(measurement);
                if let (Some(hostname), Some(host)) = (hostname, host) {
                    self.relink_on_host(hostname, (measurement, host), from, to);
                }
            }
            moved.insert(from, to);
            let (slot, old) = (to as usize, from as usize);
            if self.starts.len() <= slot {
                self.starts.resize(slot + 1, NONE);
                self.next_on_host.resize(slot + 1, NONE);
                self.logged.resize_with(slot + 1, Default::default);
            }
            let start = self.starts.get(old).copied().unwrap_or(NONE);
            let logged = self.is_logged(from);
            if let Some(s) = self.starts.get_mut(slot) {
                *s = start;
            }
            if let Some(s) = self.starts.get_mut(old) {
                *s = NONE;
            }
            if let Some(flag) = self.logged.get(slot) {
                flag.store(logged, Ordering::Release);
            }
            if let Some(flag) = self.logged.get(old) {
                flag.store(false, Ordering::Release);
            }
            self.free.push(Reverse(from));
        }
        for metric in metrics {
            if let Some(list) = self.by_metric.get_mut(&metric) {
                for id in list.iter_mut() {
                    if let Some(&to) = moved.get(id) {
                        *id = to;
                    }
                }
            }
        }
        for entry in self.raw.iter_mut() {
            if let Some(&to) = moved.get(&entry.1) {
                entry.1 = to;
            }
        }
        let taken: FxHashSet<SeriesId> = moved.values().copied().collect();
        self.free.retain(|Reverse(id)| !taken.contains(id));
        self.trim();
    }

    /// In the list of `pair`, `to` takes the place of `from` (still stored under `from`).
    fn relink_on_host(&mut self, hostname: u32, pair: (u32, u32), from: SeriesId, to: SeriesId) {
        let (keys, starts) = (&self.keys, &self.starts);
        let host_of = |id: u32| host_pair(keys, starts, hostname, id);
        let Some(head) = self.host_heads.find_mut(pair_hash(pair), |&head| host_of(head) == Some(pair))
        else {
            return;
        };
        if *head == from {
            *head = to;
        } else {
            let mut at = *head;
            let mut walked = 0usize;
            while at != NONE && walked < self.next_on_host.len() {
                let next = self.next_on_host.get(at as usize).copied().unwrap_or(NONE);
                if next == from {
                    if let Some(link) = self.next_on_host.get_mut(at as usize) {
                        *link = to;
                    }
                    break;
                }
                at = next;
                walked += 1;
            }
        }
        let after = self.next_on_host.get(from as usize).copied().unwrap_or(NONE);
        if self.next_on_host.len() <= to as usize {
            self.next_on_host.resize(to as usize + 1, NONE);
        }
        if let Some(link) = self.next_on_host.get_mut(to as usize) {
            *link = after;
        }
        if let Some(link) = self.next_on_host.get_mut(from as usize) {
            *link = NONE;
        }
    }

    /// Recomputes the free ids from the tables: after loading a checkpoint and replaying the
    /// WAL, every id below the highest one without a key.
    pub(crate) fn collect_free(&mut self) {
        self.trim();
        self.free = self.starts.iter().enumerate().filter(|&(_, &s)| s == NONE).filter_map(free_id).collect();
    }

    /// Removes the series of `gone` from the list of `pair`, keeping the others' order.
    fn unlink_from_host(&mut self, hostname: u32, pair: (u32, u32), gone: &FxHashSet<SeriesId>) {
        let (keys, starts) = (&self.keys, &self.starts);
        let host_of = |id: u32| host_pair(keys, starts, hostname, id);
        let Ok(head) = self.host_heads.find_entry(pair_hash(pair), |&head| host_of(head) == Some(pair))
        else {
            return;
        };
        // Newest first, as linked.
        let mut kept = Vec::new();
        let mut next = *head.get();
        let mut walked = 0usize;
        while next != NONE && walked < self.next_on_host.len() {
            if !gone.contains(&next) {
                kept.push(next);
            }
            next = self.next_on_host.get(next as usize).copied().unwrap_or(NONE);
            walked += 1;
        }
        match kept.first() {
            None => {
                head.remove();
            }
            Some(&first) => {
                *head.into_mut() = first;
                for (i, &id) in kept.iter().enumerate() {
                    let after = kept.get(i + 1).copied().unwrap_or(NONE);
                    if let Some(next) = self.next_on_host.get_mut(id as usize) {
                        *next = after;
                    }
                }
            }
        }
    }

    /// Shortens the tables indexed by id to the highest live id, and lets slack go.
    fn trim(&mut self) {
        let live = self.starts.iter().rposition(|&s| s != NONE).map_or(0, |last| last + 1);
        if live == self.starts.len() {
            return;
        }
        self.starts.truncate(live);
        self.next_on_host.truncate(live);
        self.logged.truncate(live);
        self.free.retain(|&Reverse(id)| (id as usize) < live);
        if self.starts.capacity() > 2 * live + 64 {
            self.starts.shrink_to_fit();
            self.next_on_host.shrink_to_fit();
            self.logged.shrink_to_fit();
        }
    }

    /// The same series under the same ids in fresh arenas and tables: what retired keys
    /// left in the arenas goes. The raw-key cache (hashes and ids) carries over.
    fn rebuild(&mut self) {
        let mut fresh = SeriesIndex::default();
        let s = &self.strings;
        for id in self.ids() {
            let Some(key) = self.compact(id) else { continue };
            let tags: Vec<(&str, &str)> = key.tags().map(|(k, v)| (s.text(k), s.text(v))).collect();
            let parts =
                KeyParts { measurement: s.text(key.measurement), field: s.text(key.field), tags: &tags };
            // Every key fitted the old arenas, which held more than the new ones will.
            if fresh.insert(id, &parts).is_err() {
                return;
            }
            if self.is_logged(id) {
                fresh.mark_logged(id);
            }
        }
        fresh.raw = std::mem::take(&mut self.raw);
        fresh.retirements = self.retirements;
        fresh.collect_free();
        *self = fresh;
    }
}

fn free_id((slot, _): (usize, &u32)) -> Option<Reverse<SeriesId>> {
    SeriesId::try_from(slot).ok().map(Reverse)
}

/// The free ids of an index, lowest first (tests).
#[cfg(test)]
pub(super) fn free_ids(index: &SeriesIndex) -> Vec<SeriesId> {
    let mut heap: std::collections::BinaryHeap<Reverse<SeriesId>> = index.free.clone();
    std::iter::from_fn(|| heap.pop().map(|Reverse(id)| id)).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests may panic")]
mod tests {
    use super::*;
    use crate::series::SeriesKey;

    fn create(index: &mut SeriesIndex, metric: &str, host: &str, cpu: &str) -> SeriesId {
        let tags = [("cpu", cpu), ("hostname", host)];
        index
            .create(&KeyParts { measurement: metric, field: "value", tags: &tags }, 1 << 20, 1 << 20)
            .unwrap()
    }

    fn select(index: &SeriesIndex, metric: &str, host: Option<&str>) -> Vec<SeriesId> {
        let tags: Vec<(String, String)> = host.map(|h| ("hostname".into(), h.into())).into_iter().collect();
        index.select(metric, None, &tags)
    }

    #[test]
    fn retired_series_leave_every_table_and_their_ids_are_reused_lowest_first() {
        let mut index = SeriesIndex::default();
        let ids: Vec<SeriesId> =
            (0..6).map(|i| create(&mut index, "load", ["a", "b"][i % 2], &i.to_string())).collect();
        let mem = create(&mut index, "mem", "a", "0");
        assert_eq!(ids, vec![0, 1, 2, 3, 4, 5]);
        index.remember_raw(7 << 40, 2);
        index.remember_raw(8 << 40, 3);
        index.mark_logged(2);
        // The head of host a's list (4), one in its middle (2), and one of host b (1).
        assert_eq!(index.retire(&[4, 2, 1, 99]), 3);
        assert_eq!(index.len(), 4);
        assert_eq!(select(&index, "load", None), vec![0, 3, 5]);
        assert_eq!(select(&index, "load", Some("a")), vec![0]);
        assert_eq!(select(&index, "load", Some("b")), vec![3, 5]);
        assert_eq!(select(&index, "mem", Some("a")), vec![mem]);
        assert_eq!((index.key(2), index.is_logged(2)), (None, false));
        assert!(index.raw.iter().all(|&(_, id)| id == 3), "{:?}", index.raw.iter().collect::<Vec<_>>());
        assert_eq!(free_ids(&index), vec![1, 2, 4]);
        // The same key again takes the lowest free id, and is a new series (not logged).
        assert_eq!(create(&mut index, "load", "a", "4"), 1);
        assert_eq!(create(&mut index, "load", "z", "9"), 2);
        assert!(!index.is_logged(1));
        assert_eq!(select(&index, "load", Some("a")), vec![0, 1]);
        assert_eq!(index.key(1).unwrap().to_string(), "load,cpu=4,hostname=a value");
    }

    #[test]
    fn retiring_everything_lets_the_tables_go() {
        let mut index = SeriesIndex::default();
        let ids: Vec<SeriesId> = (0..2000).map(|i| create(&mut index, "m", &format!("h{i}"), "0")).collect();
        let full = index.heap_bytes();
        index.retire(&ids);
        assert_eq!((index.len(), index.ids().count(), free_ids(&index).len()), (0, 0, 0));
        assert!(index.heap_bytes() < full / 10, "{} of {full} bytes left", index.heap_bytes());
        assert_eq!(create(&mut index, "m", "h7", "0"), 0);
        assert_eq!(select(&index, "m", Some("h7")), vec![0]);
    }

    /// Retiring most series below a few live ones moves those to the lowest ids, every table
    /// following: the tables indexed by id shrink to the live series.
    #[test]
    fn live_series_move_down_when_most_ids_are_free() {
        let mut index = SeriesIndex::default();
        let ids: Vec<SeriesId> =
            (0..300).map(|i| create(&mut index, "m", &format!("h{}", i % 3), &i.to_string())).collect();
        let (keep_a, keep_b) = (297, 299);
        index.mark_logged(keep_a);
        index.remember_raw(11 << 40, keep_b);
        let retiring: Vec<SeriesId> =
            ids.iter().copied().filter(|&id| id != keep_a && id != keep_b).collect();
        // Retiring a few leaves the ids dense enough: nothing moves.
        assert!(index.moves_after(&retiring[..10]).is_empty());
        let moves = index.moves_after(&retiring);
        assert_eq!(moves, vec![(299, 0), (297, 1)]);
        let (key_a, key_b) = (index.key(keep_a).unwrap(), index.key(keep_b).unwrap());
        index.retire(&retiring);
        index.move_series(&moves);
        assert_eq!((index.starts.len(), index.ids().collect::<Vec<_>>()), (2, vec![0, 1]));
        assert_eq!((index.get(&key_b), index.get(&key_a)), (Some(0), Some(1)));
        assert_eq!((index.is_logged(1), index.is_logged(0)), (true, false));
        assert_eq!(index.raw.iter().copied().collect::<Vec<_>>().len(), 1);
        assert!(index.raw.iter().all(|&(_, id)| id == 0));
        // h0 held 297 (297 % 3 == 0), h2 held 299.
        assert_eq!(select(&index, "m", Some("h0")), vec![1]);
        assert_eq!(select(&index, "m", Some("h2")), vec![0]);
        assert_eq!(select(&index, "m", None), vec![1, 0]);
        assert!(free_ids(&index).is_empty());
        assert_eq!(create(&mut index, "m", "h9", "9"), 2);
    }

    /// Past half of the key arena retired, the index is rebuilt: the same live series under
    /// the same ids, found by key, by host and through the raw-key cache.
    #[test]
    fn a_rebuild_keeps_every_live_series_under_its_id() {
        let mut index = SeriesIndex::default();
        let ids: Vec<SeriesId> =
            (0..100).map(|i| create(&mut index, "m", &format!("h{}", i % 10), &i.to_string())).collect();
        index.mark_logged(99);
        index.remember_raw(5 << 40, 99);
        let before = index.keys.len();
        // Every series but the last of each host: more than half the arena.
        let retired: Vec<SeriesId> =
            ids.iter().copied().filter(|id| id % 10 != 9 || *id < 90).filter(|id| id % 7 != 0).collect();
        index.retire(&retired);
        assert_eq!(index.garbage, 0, "rebuilt");
        assert!(index.keys.len() < before / 2);
        let live: Vec<SeriesId> = index.ids().collect();
        assert_eq!(live, ids.iter().copied().filter(|id| !retired.contains(id)).collect::<Vec<_>>());
        for &id in &live {
            let key: SeriesKey = (*index.key(id).unwrap()).clone();
            assert_eq!(index.get(&key), Some(id));
            assert_eq!(index.is_logged(id), id == 99);
            let host = key.tag("hostname").unwrap().to_owned();
            assert!(select(&index, "m", Some(&host)).contains(&id));
        }
        assert_eq!(index.raw.len(), 1);
        assert_eq!(free_ids(&index), (0..99).filter(|id| !live.contains(id)).collect::<Vec<_>>());
    }
}
