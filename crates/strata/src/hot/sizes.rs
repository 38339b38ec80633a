//! Per series, what the hot store holds: points and an estimate of the bytes they take, counted
//! as `HotStore::stats` counts the whole store.

use super::chunk::Body;
use super::{HotStore, SHARDS, lock};
use crate::series::SeriesId;

/// One series' points in memory and the bytes they take (sealed bytes, plus 16 bytes per
/// point of room in plain vectors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SeriesSize {
    pub(crate) id: SeriesId,
    pub(crate) points: u64,
    pub(crate) bytes: u64,
}

impl HotStore {
    /// Every series with points in memory, with its points and bytes, by id. Takes each shard
    /// lock once and decodes nothing.
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
                    bytes: series.open.capacity() as u64 * 16,
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
