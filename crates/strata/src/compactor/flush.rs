//! The warm flush: cut full warm buckets and late points from the hot store, downsample them,
//! and commit them as warm files with the cut's WAL position.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use rayon::prelude::*;
use strata_wal::Position;

use super::encode::encode_by_day;
use super::{CompactReport, State};
use crate::config::{Config, MetricKind};
use crate::core::Core;
use crate::cut_guard::{CutGuard, Pending};
use crate::error::Error;
use crate::hot::{Copied, HotStore, LatePoint};
use crate::series::{SeriesId, SeriesKey};
use crate::tier::agg::{Increase, IncreaseScope, of_sorted_as};
use crate::tier::file::{FileInfo, Row};
use crate::tier::{FileEntry, Tier, bucket, downsample};

/// What hot holds of the buckets of counters' late points, taken with the cut (see
/// [`late_rows`]): buckets from `from` on are held whole (their windows are not evicted); per
/// counter series with late points there, a copy of its points from its first such bucket to
/// the end of its last, decoded once.
#[derive(Default)]
struct HeldBuckets {
    from: i64,
    series: BTreeMap<SeriesId, (i64, i64, Copied)>,
}

/// A warm flush cut from hot and encoded, waiting to be committed. It carries its cut's guard,
/// pending: checkpoints record its late points until it is committed.
#[derive(Debug)]
pub(super) struct Flush {
    number: u64,
    to: i64,
    position: Position,
    files: Vec<(FileEntry, Bytes)>,
    rows: u64,
    _cut: CutGuard,
}

/// Cuts, encodes and commits the warm buckets due as of `now` and every late point.
pub(super) fn flush_warm(
    core: &Core,
    state: &mut State,
    now: i64,
    early: Option<i64>,
    late_points: u64,
    report: &mut CompactReport,
) -> Result<(), Error> {
    let config = &core.config;
    let res = config.warm.resolution.as_nanos_i64();
    let manifest = core.tiers.manifest();
    let from = manifest.warm_until.unwrap_or(i64::MIN);
    let mut to = bucket(now.saturating_sub(config.compactor.lateness.as_nanos_i64()), res).max(from);
    // Past hot.max_memory: flush the oldest window now, so it can be evicted below.
    if let Some(early) = early {
        to = to.max(bucket(early.saturating_add(res - 1), res));
    }
    if to == from && late_points == 0 {
        return Ok(());
    }
    let number = manifest.warm_flushes + 1;
    // The cut sits at one WAL position (the apply order is held) and no checkpoint runs
    // meanwhile (the gate). Only acknowledged gated messages are cut (`ack_gate.rs`).
    let quiet = core.acks.quiet(crate::ack_gate::QUIET_WAIT)?;
    let (guard, (cut, position, held)) = core.gate.cut(|| {
        let applied = core.log.hold();
        let cut = core.hot.cut(from, to);
        let held = held_buckets(core, &cut.late, res);
        (cut, applied.position(), held)
    })?;
    drop(quiet);
    if let Err(e) = crate::failpoint::failpoint("warm-cut") {
        state.stuck = Some(guard);
        return Err(e);
    }
    let keys = keys_of(core, cut.series.iter().map(|(id, _)| *id).chain(cut.late.iter().map(|p| p.0)));
    let late = cut.late.len() as u64;
    // Kept until the commit: a checkpoint taken while the flush waits records them.
    let pending = Pending { flush: number, late: cut.late.clone() };
    let encoded = downsample_cut(core, cut.series, &keys, from, to, res).and_then(|mut runs| {
        runs.extend(late_rows(&core.hot, &core.config, cut.late, &keys, held, res)?);
        encode_by_day(runs, &FileInfo { tier: Tier::Warm, resolution: res }, 0, number)
    });
    let files = match encoded {
        Ok(files) => files,
        Err(e) => {
            // The hot store has moved on from what it cut; only the WAL still holds it. Keep
            // the cut open for good, so no checkpoint lets that WAL go; reopening replays it.
            state.stuck = Some(guard);
            return Err(e);
        }
    };
    guard.encoded(pending);
    report.late_points += late;
    let flush =
        Flush { number, to, position, rows: files.iter().map(|(f, _)| f.rows).sum(), files, _cut: guard };
    commit(core, flush, &mut state.pending, report)
}

/// Uploads a flush's files and commits it; on failure keeps it in `pending` for the next pass.
pub(super) fn commit(
    core: &Core,
    flush: Flush,
    pending: &mut Option<Flush>,
    report: &mut CompactReport,
) -> Result<(), Error> {
    let committed = core.tiers.publish(&flush.files, ["warm-uploaded", "warm-committed"], |next| {
        next.warm_until = Some(flush.to);
        next.warm_flushes = flush.number;
        next.wal_cut = Some((flush.position.segment, flush.position.offset));
    });
    match committed {
        Ok(()) => {
            report.warm_until = Some(flush.to);
            report.warm_rows += flush.rows;
            report.warm_files += flush.files.len() as u64;
            Ok(())
        }
        Err(e) => {
            *pending = Some(flush);
            Err(e)
        }
    }
}

fn keys_of(core: &Core, ids: impl Iterator<Item = SeriesId>) -> BTreeMap<SeriesId, Arc<SeriesKey>> {
    let index = core.read_index();
    ids.filter_map(|id| Some((id, index.key(id)?))).collect()
}

/// Copies, under the apply order, every bucket of a counter's late points that hot holds
/// whole (its window is not evicted): all its points, the late ones among them.
fn held_buckets(core: &Core, late: &[LatePoint], res: i64) -> HeldBuckets {
    let evicted_until = core.hot.evicted_until();
    let mut spans: BTreeMap<SeriesId, (i64, i64)> = BTreeMap::new();
    for p in late {
        let b = bucket(p.1, res);
        if b >= evicted_until {
            let span = spans.entry(p.0).or_insert((b, b));
            *span = (span.0.min(b), span.1.max(b));
        }
    }
    if spans.is_empty() {
        return HeldBuckets { from: evicted_until, series: BTreeMap::new() };
    }
    let index = core.read_index();
    let series = spans
        .into_iter()
        .filter(|(id, _)| index.measurement(*id).is_some_and(|m| core.config.kind(m) == MetricKind::Counter))
        .map(|(id, (lo, hi))| {
            let hi = hi.saturating_add(res);
            (id, (lo, hi, core.hot.copy(id, lo, hi)))
        })
        .collect();
    HeldBuckets { from: evicted_until, series }
}

/// Warm rows of every full bucket in `[from, to)` of the cut series, a run per series (in file
/// order: one series, bucket after bucket).
fn downsample_cut(
    core: &Core,
    series: Vec<(SeriesId, Copied)>,
    keys: &BTreeMap<SeriesId, Arc<SeriesKey>>,
    from: i64,
    to: i64,
    res: i64,
) -> Result<Vec<Vec<Row>>, Error> {
    series
        .into_par_iter()
        .map_init(
            || (Vec::new(), Vec::new()),
            |(times, values), (id, copied)| {
                times.clear();
                values.clear();
                let Some(key) = keys.get(&id) else { return Ok(Vec::new()) };
                core.hot
                    .decode_copied(copied, from, to, times, values)
                    .map_err(|reason| Error::DamagedChunk { series: key.to_string(), reason: reason.0 })?;
                Ok(downsample(key, core.config.kind(&key.measurement), times, values, res))
            },
        )
        .collect()
}

/// Partial rows of late points: per series and bucket, the latest value of each time; a run
/// per series.
///
/// A counter's late row for a bucket that hot holds whole (`held`) carries the increase of
/// every point of the bucket, as an [`IncreaseScope::Bucket`] increase: merged after the rows
/// written before it, it replaces their increase, so the bucket stays exact however the late
/// points interleave with the earlier ones. Past hot (backfill), a late row knows only its
/// own points' increase.
fn late_rows(
    hot: &HotStore,
    config: &Config,
    mut late: Vec<LatePoint>,
    keys: &BTreeMap<SeriesId, Arc<SeriesKey>>,
    mut held: HeldBuckets,
    res: i64,
) -> Result<Vec<Vec<Row>>, Error> {
    // Stable: of points at one time, the one that arrived last is kept.
    late.sort_by_key(|p| (p.0, p.1));
    let mut kept: Vec<LatePoint> = Vec::with_capacity(late.len());
    for p in late {
        match kept.last_mut() {
            Some(last) if last.0 == p.0 && last.1 == p.1 => *last = p,
            _ => kept.push(p),
        }
    }
    let mut runs = Vec::new();
    for chunk in kept.chunk_by(|a, b| a.0 == b.0) {
        let Some((id, key)) = chunk.first().and_then(|p| Some((p.0, keys.get(&p.0)?))) else { continue };
        let times: Vec<i64> = chunk.iter().map(|p| p.1).collect();
        let values: Vec<f64> = chunk.iter().map(|p| p.2).collect();
        let kind = config.kind(&key.measurement);
        // Every point hot holds of this counter's late buckets, decoded once.
        let (mut all_times, mut all_values) = (Vec::new(), Vec::new());
        if let Some((lo, hi, copied)) = held.series.remove(&id) {
            hot.decode_copied(copied, lo, hi, &mut all_times, &mut all_values)
                .map_err(|reason| Error::DamagedChunk { series: key.to_string(), reason: reason.0 })?;
        }
        let mut rows = downsample(key, kind, &times, &values, res);
        for row in &mut rows {
            if row.time >= held.from && !all_times.is_empty() {
                let end = row.time.saturating_add(res);
                let (a, b) =
                    (all_times.partition_point(|&t| t < row.time), all_times.partition_point(|&t| t < end));
                let whole = all_times
                    .get(a..b)
                    .zip(all_values.get(a..b))
                    .and_then(|(t, v)| of_sorted_as(kind, t, v))
                    .and_then(|agg| agg.increase);
                if let Some(whole) = whole {
                    row.agg.increase = Some(Increase { value: whole.value, scope: IncreaseScope::Bucket });
                }
            }
        }
        runs.push(rows);
    }
    Ok(runs)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests may panic")]
mod tests {
    use super::*;

    #[test]
    fn late_points_keep_the_last_value_of_a_time() {
        let key = Arc::new(SeriesKey { measurement: "m".into(), field: "value".into(), tags: Vec::new() });
        let keys: BTreeMap<SeriesId, Arc<SeriesKey>> = [(3, key)].into_iter().collect();
        let hot = HotStore::new(3600);
        let rows = late_rows(
            &hot,
            &Config::default(),
            vec![(3, 130, 1.0), (3, 10, 5.0), (3, 130, 2.0), (9, 1, 1.0)],
            &keys,
            HeldBuckets::default(),
            60,
        )
        .unwrap();
        let rows: Vec<Row> = rows.into_iter().flatten().collect();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].time, rows[0].agg.count, rows[0].agg.sum), (0, 1, 5.0));
        assert_eq!((rows[1].time, rows[1].agg.count, rows[1].agg.last), (120, 1, 2.0));
    }
}
