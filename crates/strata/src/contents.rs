//! What one tier holds per metric and per tag key ([`Engine::contents`]): the figures behind
//! `strata inspect` and `strata demo`.
//!
//! Hot is counted from memory (no decoding); warm and cold by reading every live file of the
//! tier once, so the cost grows with the tier's size: a tool's call, not a hot path.
//!
//! [`Engine::contents`]: crate::Engine::contents

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rayon::prelude::*;

use crate::core::Core;
use crate::error::Error;
use crate::series::SeriesKey;
use crate::tier::file::RowFilter;
use crate::tier::{FileEntry, Tier};

/// What one tier holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TierContents {
    /// Distinct series in the tier (a series with rows in several files counts once).
    pub series: u64,
    /// Per metric (measurement), by name.
    pub metrics: Vec<MetricContents>,
    /// Per tag key, the most series first (then by name).
    pub tag_keys: Vec<TagKeyContents>,
}

/// One metric in one tier.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetricContents {
    pub metric: String,
    pub series: u64,
    /// Tier rows (each partial row of a bucket counts); hot: points.
    pub rows: u64,
    /// Points the rows summarize; hot: points in memory.
    pub points: u64,
    /// Hot: the estimate of the memory its points take (as `HotStats::memory_bytes` counts,
    /// without the store's own vectors). Warm and cold: each file's bytes shared out by rows,
    /// since a Parquet file holds many metrics; the shares add up to the files' bytes within
    /// rounding.
    pub bytes: u64,
}

/// One tag key in one tier.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TagKeyContents {
    pub key: String,
    /// Series that carry the key.
    pub series: u64,
    /// Distinct values of the key.
    pub values: u64,
}

/// Accumulates one metric's figures.
#[derive(Debug, Default, Clone, Copy)]
struct Sums {
    rows: u64,
    points: u64,
    bytes: u64,
}

/// One file's sums per metric, and its distinct series.
type FileCounts = (BTreeMap<String, Sums>, Vec<Arc<SeriesKey>>);

pub(crate) fn contents(core: &Core, tier: Tier) -> Result<TierContents, Error> {
    match tier {
        Tier::Hot => Ok(hot(core)),
        Tier::Warm | Tier::Cold => files(core, tier),
    }
}

fn hot(core: &Core) -> TierContents {
    let (sizes, index) = core.read_without_retirement(|| core.hot.series_sizes());
    let mut sums: BTreeMap<String, Sums> = BTreeMap::new();
    let mut keys: Vec<Arc<SeriesKey>> = Vec::with_capacity(sizes.len());
    for size in sizes {
        let Some(key) = index.key(size.id) else { continue };
        let s = sums.entry(key.measurement.clone()).or_default();
        s.rows += size.points;
        s.points += size.points;
        s.bytes += size.bytes;
        keys.push(key);
    }
    drop(index);
    assemble(sums, &keys)
}

/// Warm or cold: every live file read once (in parallel), its rows counted per metric.
fn files(core: &Core, tier: Tier) -> Result<TierContents, Error> {
    // The guard keeps the files listed while a live engine's pass would delete them.
    let guard = core.tiers.read();
    let entries: Vec<&FileEntry> = guard.manifest.files(tier).collect();
    let per_file: Vec<FileCounts> = entries
        .par_iter()
        .map(|entry| {
            let rows = core.tiers.read_file(entry, &RowFilter::all())?;
            let mut sums: BTreeMap<String, Sums> = BTreeMap::new();
            let mut keys: Vec<Arc<SeriesKey>> = Vec::new();
            for row in &rows {
                let s = sums.entry(row.key.measurement.clone()).or_default();
                s.rows += 1;
                s.points += row.agg.count;
                // A file's rows are sorted by series (one key per row group and series).
                if !keys.last().is_some_and(|k| Arc::ptr_eq(k, &row.key) || **k == *row.key) {
                    keys.push(row.key.clone());
                }
            }
            let total = rows.len().max(1) as u128;
            for s in sums.values_mut() {
                s.bytes =
                    u64::try_from(u128::from(entry.bytes) * u128::from(s.rows) / total).unwrap_or(u64::MAX);
            }
            Ok((sums, keys))
        })
        .collect::<Result<_, Error>>()?;
    drop(guard);
    let mut sums: BTreeMap<String, Sums> = BTreeMap::new();
    let mut keys: BTreeSet<Arc<SeriesKey>> = BTreeSet::new();
    for (file_sums, file_keys) in per_file {
        for (metric, s) in file_sums {
            let all = sums.entry(metric).or_default();
            all.rows += s.rows;
            all.points += s.points;
            all.bytes += s.bytes;
        }
        keys.extend(file_keys);
    }
    let keys: Vec<Arc<SeriesKey>> = keys.into_iter().collect();
    Ok(assemble(sums, &keys))
}

/// The figures from per-metric sums and the tier's distinct series keys.
fn assemble(sums: BTreeMap<String, Sums>, keys: &[Arc<SeriesKey>]) -> TierContents {
    let mut series_per_metric: BTreeMap<&str, u64> = BTreeMap::new();
    let mut tag_keys: BTreeMap<&str, (u64, BTreeSet<&str>)> = BTreeMap::new();
    for key in keys {
        *series_per_metric.entry(key.measurement.as_str()).or_default() += 1;
        for (k, v) in &key.tags {
            let entry = tag_keys.entry(k.as_str()).or_default();
            entry.0 += 1;
            entry.1.insert(v.as_str());
        }
    }
    let metrics = sums
        .into_iter()
        .map(|(metric, s)| MetricContents {
            series: series_per_metric.get(metric.as_str()).copied().unwrap_or(0),
            metric,
            rows: s.rows,
            points: s.points,
            bytes: s.bytes,
        })
        .collect();
    let mut tag_keys: Vec<TagKeyContents> = tag_keys
        .into_iter()
        .map(|(key, (series, values))| TagKeyContents {
            key: key.to_owned(),
            series,
            values: values.len() as u64,
        })
        .collect();
    tag_keys.sort_by(|a, b| b.series.cmp(&a.series).then_with(|| a.key.cmp(&b.key)));
    TierContents { series: keys.len() as u64, metrics, tag_keys }
}
