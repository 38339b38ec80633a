//! Series that hold nothing in hot: what retiring series (`compactor/retire.rs`) looks for,
//! and lets go of.

use super::{HotStore, SHARDS, lock};
use crate::series::SeriesId;

impl HotStore {
    /// Of `ids`, those with no point in hot: no window, sealed or open, and no late point
    /// waiting for a flush. In ascending order.
    pub(crate) fn idle(&self, ids: impl Iterator<Item = SeriesId>) -> Vec<SeriesId> {
        let mut by_shard: Vec<Vec<SeriesId>> = vec![Vec::new(); SHARDS];
        for id in ids {
            if let Some(list) = by_shard.get_mut(id as usize % SHARDS) {
                list.push(id);
            }
        }
        let mut idle = Vec::new();
        for (shard, ids) in self.shards.iter().zip(by_shard) {
            if ids.is_empty() {
                continue;
            }
            let shard = lock(shard);
            let waiting: rustc_hash::FxHashSet<SeriesId> = shard.late.iter().map(|p| p.0).collect();
            idle.extend(ids.into_iter().filter(|&id| {
                let empty = shard
                    .series
                    .get(id as usize / SHARDS)
                    .is_none_or(|s| s.older.is_empty() && s.open.is_empty());
                empty && !waiting.contains(&id)
            }));
        }
        idle.sort_unstable();
        idle
    }

    /// Moves each series' slot and late points from id `from` to id `to`, whose slot holds
    /// nothing live (what it holds is dropped: at replay, windows of a retired series that the
    /// retirement's eviction drops anyway).
    pub(crate) fn move_series(&self, moves: &[(SeriesId, SeriesId)]) {
        if moves.is_empty() {
            return;
        }
        for &(from, to) in moves {
            let (from_shard, from_local) = self.shard_of(from);
            let slot = lock(from_shard).series.get_mut(from_local).map(std::mem::take).unwrap_or_default();
            let (to_shard, to_local) = self.shard_of(to);
            let mut shard = lock(to_shard);
            if shard.series.len() <= to_local {
                shard.series.resize_with(to_local + 1, super::SeriesHot::default);
            }
            if let Some(target) = shard.series.get_mut(to_local) {
                *target = slot;
            }
        }
        // Late points follow their series: each shard's list walked once for all the moves.
        let moved: rustc_hash::FxHashMap<SeriesId, SeriesId> = moves.iter().copied().collect();
        let mut late = Vec::new();
        for shard in self.shards.iter() {
            lock(shard).late.retain(|p| match moved.get(&p.0) {
                Some(&to) => {
                    late.push((to, p.1, p.2));
                    false
                }
                None => true,
            });
        }
        for point in late {
            lock(self.shard_of(point.0).0).late.push(point);
        }
    }

    /// Lets go of whatever the slots of `ids` still hold (nothing but spare capacity, for
    /// idle series), and shortens each shard's table to its last slot in use.
    pub(crate) fn forget(&self, ids: &[SeriesId]) {
        for &id in ids {
            let (shard, local) = self.shard_of(id);
            if let Some(series) = lock(shard).series.get_mut(local) {
                *series = super::SeriesHot::default();
            }
        }
        for shard in self.shards.iter() {
            let mut shard = lock(shard);
            let used = shard.series.iter().rposition(|s| !s.older.is_empty() || !s.open.is_empty());
            let used = used.map_or(0, |last| last + 1);
            if used < shard.series.len() {
                shard.series.truncate(used);
                if shard.series.capacity() > 2 * used + 16 {
                    shard.series.shrink_to_fit();
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests may panic")]
mod tests {
    use super::*;
    use crate::payload::Batch;

    #[test]
    fn idle_series_hold_no_window_and_no_late_point() {
        let hot = HotStore::new(100);
        let mut batch = Batch::default();
        for id in 0..200u32 {
            batch.push(id, 1_000 + i64::from(id % 3) * 100, 1.0);
        }
        hot.apply(&batch).unwrap();
        assert!(hot.idle(0..200).is_empty());
        // Series 0, 3, 6, ... have their only window at 1000: evicting it leaves them idle.
        hot.set_tiered_until(1_100);
        hot.evict(1_100);
        let idle = hot.idle(0..200);
        assert_eq!(idle, (0..200).filter(|id| id % 3 == 0).collect::<Vec<_>>());
        // A late point keeps its series out until a flush takes it.
        let mut late = Batch::default();
        late.push(3, 1_050, 2.0);
        hot.apply(&late).unwrap();
        assert!(!hot.idle(0..200).contains(&3));
        hot.forget(&idle);
        assert_eq!(hot.stats().series, 133);
        assert!(hot.idle(200..300).len() == 100, "ids past every table are idle");
        // A move takes the slot and the late points along.
        let before = (read(&hot, 199), read(&hot, 3));
        hot.move_series(&[(199, 0), (3, 6)]);
        assert_eq!((read(&hot, 0), read(&hot, 6)), before);
        assert!(
            read(&hot, 199).is_empty() && hot.idle(0..200).contains(&3) && !hot.idle(0..200).contains(&6)
        );
        assert!(hot.late_points().iter().all(|p| p.0 == 6));
    }

    fn read(hot: &HotStore, id: SeriesId) -> Vec<(i64, f64)> {
        let (mut t, mut v) = (Vec::new(), Vec::new());
        hot.read(id, i64::MIN, i64::MAX, &mut t, &mut v).unwrap();
        t.into_iter().zip(v).collect()
    }
}
