//! Reads: which series a selector names, their raw points from the hot store, and a tier's
//! downsampled rows.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arrow_array::{ArrayRef, Float64Array, RecordBatch};
use arrow_schema::DataType;
use rayon::prelude::*;

use crate::core::Core;
use crate::error::Error;
use crate::series::{SeriesId, SeriesKey, tag_name};
use crate::tier::file::{Group, RowFilter, merge_rows};
use crate::tier::state::TierState;
use crate::tier::{Agg, Tier};

/// Which series a read or query takes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    /// The measurement (cc-metric-store's metric name).
    pub metric: String,
    /// The field; any field when `None`.
    pub field: Option<String>,
    /// Tags that must be present with these values. `host` is read as `hostname`, whichever
    /// way the selector was built.
    pub tags: Vec<(String, String)>,
}

impl Selector {
    /// All series of a metric.
    pub fn metric(metric: &str) -> Selector {
        Selector { metric: metric.to_owned(), ..Selector::default() }
    }

    /// Adds a tag equality.
    pub fn tag(mut self, key: &str, value: &str) -> Selector {
        self.tags.push((key.to_owned(), value.to_owned()));
        self
    }

    /// The tag equalities with tag names as series keys hold them.
    fn tags_as_stored(&self) -> Vec<(String, String)> {
        self.tags.iter().map(|(k, v)| (tag_name(k).to_owned(), v.clone())).collect()
    }
}

/// The raw points of one series.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesPoints {
    pub key: Arc<SeriesKey>,
    pub times: Vec<i64>,
    pub values: Vec<f64>,
}

/// Downsampled rows of one series from a tier, partial rows of a bucket merged.
#[derive(Debug, Clone, PartialEq)]
pub struct TierSeries {
    pub key: Arc<SeriesKey>,
    /// Bucket starts (ns), ascending.
    pub times: Vec<i64>,
    pub aggs: Vec<Agg>,
}

/// Raw points of every series `selector` matches in `[from, to)`, per series in time order,
/// series in key order; series without points in the range left out.
/// `cancel` is looked at before each series: once set, [`Error::Cancelled`].
pub(crate) fn read(
    core: &Core,
    selector: &Selector,
    from: i64,
    to: i64,
    cancel: &AtomicBool,
) -> Result<Vec<SeriesPoints>, Error> {
    let (out, _index) = core.read_without_retirement(|| read_once(core, selector, from, to, cancel));
    let mut out = out?;
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// [`read`] of the series as the index holds them now, unsorted.
fn read_once(
    core: &Core,
    selector: &Selector,
    from: i64,
    to: i64,
    cancel: &AtomicBool,
) -> Result<Vec<SeriesPoints>, Error> {
    let keys: Vec<(SeriesId, Arc<SeriesKey>)> = {
        let index = core.read_index();
        let tags = selector.tags_as_stored();
        index
            .select(&selector.metric, selector.field.as_deref(), &tags)
            .into_iter()
            .filter_map(|id| Some((id, index.key(id)?)))
            .collect()
    };
    let mut out = Vec::with_capacity(keys.len());
    for (id, key) in keys {
        check(cancel)?;
        let (mut times, mut values) = (Vec::new(), Vec::new());
        core.hot
            .read(id, from, to, &mut times, &mut values)
            .map_err(|reason| Error::DamagedChunk { series: key.to_string(), reason: reason.0 })?;
        if !times.is_empty() {
            out.push(SeriesPoints { key, times, values });
        }
    }
    Ok(out)
}

/// [`read`] as Arrow record batches (see the `arrow` module for the schema).
pub(crate) fn read_batches(
    core: &Core,
    selector: &Selector,
    from: i64,
    to: i64,
) -> Result<Vec<RecordBatch>, Error> {
    let schema = crate::arrow::schema(&[("value", DataType::Float64, false)]);
    read(core, selector, from, to, &AtomicBool::new(false))?
        .iter()
        .map(|s| {
            let values: ArrayRef = Arc::new(Float64Array::from(s.values.clone()));
            crate::arrow::batch(&schema, Some(&s.key), &s.times, vec![values])
        })
        .collect()
}

/// The rows of `tier` for every series `selector` matches, buckets starting in `[from, to)`,
/// partial rows of a bucket merged; series without rows left out. `cancel` is looked at before
/// each file is fetched: once set, [`Error::Cancelled`].
pub(crate) fn read_tier(
    core: &Core,
    tier: Tier,
    selector: &Selector,
    from: i64,
    to: i64,
    cancel: &AtomicBool,
) -> Result<Vec<TierSeries>, Error> {
    read_tier_where(&core.tiers, tier, selector, &[], from, to, cancel)
}

/// [`read_tier`] of the series that also have, for each `(tag, values)` of `one_of`, one of
/// those values of that tag (a query's hosts and type-ids). Like the selector, these skip row
/// groups by their statistics and are checked once per series in a row group, never per row.
pub(crate) fn read_tier_where(
    tiers: &TierState,
    tier: Tier,
    selector: &Selector,
    one_of: &[(&str, &[String])],
    from: i64,
    to: i64,
    cancel: &AtomicBool,
) -> Result<Vec<TierSeries>, Error> {
    if tier == Tier::Hot {
        return Err(Error::Query("the hot tier holds raw points: read them with Engine::read".into()));
    }
    let guard = tiers.read();
    let tags = selector.tags_as_stored();
    let filter = RowFilter {
        metric: Some(&selector.metric),
        from,
        to,
        field: selector.field.as_deref(),
        tags: &tags,
        one_of,
    };
    let mut files: Vec<_> =
        guard.manifest.files(tier).filter(|f| f.max_time >= from && f.min_time < to).collect();
    // In the order they were written: partial rows of a bucket merge in that order (a
    // counter's bucket row replaces the increase of the rows before it).
    files.sort_by_key(|f| f.flush);
    let per_file: Vec<Vec<Arc<Group>>> = files
        .par_iter()
        .map(|f| check(cancel).and_then(|()| tiers.read_groups(f, &filter)))
        .collect::<Result<_, Error>>()?;
    drop(guard);
    // Each series' rows, a slice per row group, in the order the files were written; series
    // in key order.
    let mut per_series: BTreeMap<&Arc<SeriesKey>, Vec<Part<'_>>> = BTreeMap::new();
    for group in per_file.iter().flatten() {
        for (key, times, aggs) in group.select(&filter) {
            per_series.entry(key).or_default().push((times, aggs));
        }
    }
    Ok(per_series
        .into_iter()
        .map(|(key, parts)| {
            let rows = parts.iter().map(|(t, _)| t.len()).sum();
            let (mut times, mut aggs) = (Vec::with_capacity(rows), Vec::with_capacity(rows));
            merge_rows(&parts, &mut times, &mut aggs);
            aggs.iter_mut().for_each(Agg::settle);
            TierSeries { key: key.clone(), times, aggs }
        })
        .collect())
}

/// A slice of one series' rows: bucket starts and their aggregates.
type Part<'a> = (&'a [i64], &'a [Agg]);

fn check(cancel: &AtomicBool) -> Result<(), Error> {
    if cancel.load(Ordering::Relaxed) { Err(Error::Cancelled) } else { Ok(()) }
}
