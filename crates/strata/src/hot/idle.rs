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
    }
}
