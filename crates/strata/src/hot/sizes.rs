//! Per series, what the hot store holds: points and an estimate of the bytes they take, counted
//! as `HotStore::stats` counts the whole store (an open window with points aside is decoded
//! to count them exactly).

use super::chunk::Body;
use super::{HotStore, SHARDS, lock};
use crate::series::SeriesId;

/// One series' points in memory and the bytes they take (the open window's coded bytes,
/// sealed bytes, and 16 bytes per point of room in plain vectors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SeriesSize {
    pub(crate) id: SeriesId,
    pub(crate) points: u64,
    pub(crate) bytes: u64,
}

impl HotStore {
    /// Every series with points in memory, with its points and bytes, by id. Takes each shard
    /// lock once; decodes only open windows holding out-of-order points aside.
    pub(crate) fn series_sizes(&self) -> Vec<SeriesSize> {
        let mut out = Vec::new();
        for (index, shard) in self.shards.iter().enumerate() {
            let shard = lock(shard);
            for (local, series) in shard.series.iter().enumerate() {
                if series.open.is_empty() && series.older.is_empty() {
                    continue;
                }
                let Ok(id) = SeriesId::try_from(local * SHARDS + index) else { continue };
                let mut size = SeriesSize {
                    id,
                    points: series.open.len() as u64,
                    bytes: series.open.heap_bytes() as u64,
                };
                for chunk in &series.older {
                    size.points += chunk.body.points();
                    size.bytes += match &chunk.body {
                        Body::Open { times, .. } => times.capacity() as u64 * 16,
                        Body::Sealed(s) => s.bytes.len() as u64,
                    };
                }
                out.push(size);
            }
        }
        out.sort_unstable_by_key(|s| s.id);
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests may panic")]
mod tests {
    use super::*;
    use crate::payload::Batch;

    #[test]
    fn sizes_per_series_add_up_to_the_store_s_stats() {
        let hot = HotStore::new(100);
        let mut batch = Batch::default();
        // Series 3 spans three windows (two sealed once the third opens); series 70 one; 5 none.
        for t in 0..250 {
            batch.push(3, t, t as f64 * 0.5);
        }
        for t in 0..10 {
            batch.push(70, t, 1.0);
        }
        hot.apply(&batch).unwrap();
        let sizes = hot.series_sizes();
        assert_eq!(sizes.iter().map(|s| s.id).collect::<Vec<_>>(), vec![3, 70]);
        assert_eq!((sizes[0].points, sizes[1].points), (250, 10));
        let stats = hot.stats();
        assert_eq!(sizes.iter().map(|s| s.points).sum::<u64>(), stats.open_points + stats.sealed_points);
        // The store's own vectors (shards, late lists) are the only bytes not in a series.
        let bytes: u64 = sizes.iter().map(|s| s.bytes).sum();
        assert!(bytes > 0 && bytes <= stats.memory_bytes, "{bytes} of {}", stats.memory_bytes);
        assert!(sizes[0].bytes < 250 * 16, "sealed windows are smaller than plain arrays");
    }
}
