//! The cold rollup: warm rows to cold buckets, and warm rows written since the last rollup
//! for older buckets as partial cold rows.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rayon::prelude::*;

use super::CompactReport;
use super::encode::encode_by_day;
use crate::config::MetricKind;
use crate::core::Core;
use crate::error::Error;
use crate::series::SeriesKey;
use crate::tier::agg::{Increase, IncreaseScope};
use crate::tier::file::{FileInfo, Row, RowFilter, sort_and_merge};
use crate::tier::{Agg, FileEntry, Tier, bucket};

pub(super) fn roll_up_cold(core: &Core, now: i64, report: &mut CompactReport) -> Result<(), Error> {
    let guard = core.tiers.read();
    let manifest = &guard.manifest;
    let Some(warm_until) = manifest.warm_until else { return Ok(()) };
    let res = core.config.cold.resolution.as_nanos_i64();
    let from = manifest.cold_until.unwrap_or(i64::MIN);
    let to = bucket(warm_until, res).max(from);
    // Warm files written since the last rollup; only those with rows before `from` hold late
    // rows for cold.
    let unrolled = manifest.files(Tier::Warm).any(|f| f.flush > manifest.cold_flushes);
    if to == from && !unrolled {
        return Ok(());
    }
    // In the order they were written: partial rows of a bucket merge in that order.
    let mut inputs: Vec<&FileEntry> = manifest
        .files(Tier::Warm)
        .filter(|f| {
            (f.max_time >= from && f.min_time < to) || (f.flush > manifest.cold_flushes && f.min_time < from)
        })
        .collect();
    inputs.sort_by_key(|f| f.flush);
    let per_file: Vec<(Vec<Row>, Vec<Row>)> = inputs
        .par_iter()
        .map(|entry| {
            let rows = core.tiers.read_file(entry, &RowFilter::all())?;
            let rolled_before = entry.flush <= manifest.cold_flushes;
            let (mut due, mut late) = (Vec::new(), Vec::new());
            for r in rows {
                if r.time >= from && r.time < to {
                    due.push(r);
                } else if !rolled_before && r.time < from {
                    late.push(r);
                }
            }
            Ok((due, late))
        })
        .collect::<Result<_, Error>>()?;
    let (mut due, mut late): (Vec<Row>, Vec<Row>) = (Vec::new(), Vec::new());
    for (d, l) in per_file {
        due.extend(d);
        late.extend(l);
    }
    // Partial rows of a warm bucket merge first, at the warm resolution (a counter's bucket
    // row replaces the increase of its own warm bucket only); then warm buckets chain into
    // cold ones in time order.
    sort_and_merge(&mut due);
    sort_and_merge(&mut late);
    // Before settling: a late bucket row still replaces the increase of the rows before it.
    let bucket_rows = late_bucket_rows(core, manifest, &late, now, res)?;
    due.iter_mut().chain(late.iter_mut()).for_each(|r| r.agg.settle());
    let mut rows: Vec<Row> = due.into_iter().chain(late).collect();
    for r in &mut rows {
        r.time = bucket(r.time, res);
    }
    sort_and_merge(&mut rows);
    for row in &mut rows {
        if let Some(value) = bucket_rows.get(&(row.key.clone(), row.time)) {
            row.agg.increase = Some(Increase { value: *value, scope: IncreaseScope::Bucket });
        }
    }
    let warm_flushes = manifest.warm_flushes;
    let files = encode_by_day(vec![rows], &FileInfo { tier: Tier::Cold, resolution: res }, 0, warm_flushes)?;
    drop(guard);
    core.tiers.publish(&files, ["rollup-uploaded", "rollup-committed"], |next| {
        next.cold_until = Some(to);
        next.cold_flushes = warm_flushes;
    })?;
    report.cold_until = Some(to);
    report.cold_rows += files.iter().map(|(e, _)| e.rows).sum::<u64>();
    report.cold_files += files.len() as u64;
    Ok(())
}

/// The increase of every cold bucket that late warm rows of a counter fall in, from every
/// warm row of that bucket (the ones rolled up before and the late ones), when warm still
/// holds the whole bucket and its increase is exact: written as the partial cold row's
/// [`IncreaseScope::Bucket`] increase, it replaces what the cold rows before it said.
fn late_bucket_rows(
    core: &Core,
    manifest: &crate::tier::Manifest,
    late: &[Row],
    now: i64,
    res: i64,
) -> Result<BTreeMap<(Arc<SeriesKey>, i64), f64>, Error> {
    // Warm rows older than its retention may be gone (cold still has them).
    let horizon = now.saturating_sub(core.config.warm.retention.as_nanos_i64());
    let wanted: BTreeSet<(Arc<SeriesKey>, i64)> = late
        .iter()
        .filter(|r| r.agg.increase.is_some() && core.config.kind(&r.key.measurement) == MetricKind::Counter)
        .map(|r| (r.key.clone(), bucket(r.time, res)))
        .filter(|(_, b)| b.saturating_add(res) > horizon)
        .collect();
    let (Some(lo), Some(hi)) = (wanted.iter().map(|w| w.1).min(), wanted.iter().map(|w| w.1).max()) else {
        return Ok(BTreeMap::new());
    };
    let hi = hi.saturating_add(res);
    let mut old: Vec<&FileEntry> = manifest
        .files(Tier::Warm)
        .filter(|f| f.flush <= manifest.cold_flushes && f.max_time >= lo && f.min_time < hi)
        .collect();
    old.sort_by_key(|f| f.flush);
    let filter = RowFilter { from: lo, to: hi, ..RowFilter::all() };
    let per_file: Vec<Vec<Row>> =
        old.par_iter().map(|entry| core.tiers.read_file(entry, &filter)).collect::<Result<_, Error>>()?;
    let keep = |r: &Row| wanted.contains(&(r.key.clone(), bucket(r.time, res)));
    // Rolled-up rows first, late ones after: the order they were written in.
    let mut rows: Vec<Row> = per_file
        .into_iter()
        .flatten()
        .filter(|r| keep(r))
        .chain(late.iter().filter(|r| keep(r)).cloned())
        .collect();
    sort_and_merge(&mut rows);
    rows.iter_mut().for_each(|r| r.agg.settle());
    let mut whole: BTreeMap<(Arc<SeriesKey>, i64), Agg> = BTreeMap::new();
    for r in rows {
        whole
            .entry((r.key.clone(), bucket(r.time, res)))
            .and_modify(|agg| agg.merge(&r.agg))
            .or_insert(r.agg);
    }
    Ok(whole
        .into_iter()
        .filter_map(|(at, agg)| {
            let increase = agg.increase?;
            (increase.scope != IncreaseScope::Inexact).then_some((at, increase.value))
        })
        .collect())
}
