//! The compactor: one pass moves data down the tiers and applies retention, as of a time.
//!
//! A pass, in order:
//! 1. **Warm flush.** Every warm bucket that ended at least `compactor.lateness` ago and is not
//!    written yet, plus every late point, is cut from the hot store (under the apply order, so
//!    the cut sits at one WAL position), downsampled on the rayon pool, written as one Parquet
//!    file per day, and committed in the manifest with the cut's WAL position.
//! 2. **Cold rollup.** Every cold bucket whose warm buckets are all written is rolled up from
//!    warm rows; warm rows written since the last rollup for older buckets land as partial cold
//!    rows.
//! 3. **Merges.** Per tier and day, `compactor.merge_fanin` files of one level are merged into
//!    one file of the next level; partial rows of a bucket become one row.
//! 4. **Retention.** Files wholly past their tier's retention are dropped (warm files only once
//!    rolled up into cold); hot windows older than `hot.retention` whose warm rows are
//!    committed are evicted; past `hot.max_memory` the oldest hot windows are flushed and
//!    evicted early.
//!
//! **Invariant:** between a cut and its commit no checkpoint is taken: a checkpoint never
//! records a hot store whose late points went into a flush the manifest does not hold.
//! **Invariant:** a warm flush that fails is kept and retried as is; the hot store has already
//! moved on from what it cut.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use rayon::prelude::*;
use strata_wal::Position;

use crate::engine::Inner;
use crate::error::Error;
use crate::hot::{Copied, LatePoint};
use crate::series::{SeriesId, SeriesKey};
use crate::tier::file::{self, FileInfo, Row, RowFilter, Tier};
use crate::tier::manifest::FileEntry;
use crate::tier::{Agg, bucket, day};

/// What one compaction pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactReport {
    /// The time the pass ran as of (ns).
    pub now: i64,
    /// Warm buckets written up to here (ns), when a flush ran.
    pub warm_until: Option<i64>,
    pub warm_rows: u64,
    pub warm_files: u64,
    /// Late points (and backfill) written as partial warm rows.
    pub late_points: u64,
    pub cold_until: Option<i64>,
    pub cold_rows: u64,
    pub cold_files: u64,
    /// Files merged away, and the files the merges wrote.
    pub merged_files: u64,
    pub merge_outputs: u64,
    /// Files dropped from the manifest past retention.
    pub expired_files: u64,
    /// Files removed from the store (dropped earlier and no longer read).
    pub deleted_files: u64,
    /// Hot points evicted at `hot.retention`, and early because of `hot.max_memory`.
    pub evicted_points: u64,
    pub evicted_early: u64,
}

impl std::fmt::Display for CompactReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let time = |t: Option<i64>| t.map_or_else(|| "-".to_owned(), crate::engine::format_time);
        writeln!(f, "as of {}", crate::engine::format_time(self.now))?;
        writeln!(
            f,
            "warm: {} rows in {} files ({} late points); written up to {}",
            self.warm_rows,
            self.warm_files,
            self.late_points,
            time(self.warm_until)
        )?;
        writeln!(
            f,
            "cold: {} rows in {} files; rolled up to {}",
            self.cold_rows,
            self.cold_files,
            time(self.cold_until)
        )?;
        writeln!(f, "merges: {} files into {}", self.merged_files, self.merge_outputs)?;
        writeln!(f, "retention: {} files expired, {} files deleted", self.expired_files, self.deleted_files)?;
        write!(
            f,
            "hot: {} points evicted, {} of them early (hot.max_memory)",
            self.evicted_points, self.evicted_early
        )
    }
}

/// A warm flush cut from hot and encoded, waiting to be committed.
#[derive(Debug)]
pub(crate) struct Flush {
    number: u64,
    to: i64,
    position: Position,
    files: Vec<(FileEntry, Bytes)>,
    rows: u64,
}

impl Inner {
    /// Runs one pass as of `now`. On error the pass stops; what it committed stays committed,
    /// and a cut warm flush is kept for the next pass.
    pub(crate) fn compact(&self, now: i64) -> Result<CompactReport, Error> {
        let _one_pass = self.compacting.lock().unwrap_or_else(|p| p.into_inner());
        let mut report = CompactReport { now, ..CompactReport::default() };
        // One look at the hot store per pass: its late points, and past hot.max_memory the end
        // of its oldest window, which the flush writes and the eviction drops early.
        let hot = self.hot.stats();
        let early = if hot.memory_bytes > self.config.hot.max_memory.0 {
            self.hot.oldest_window().map(|oldest| oldest.saturating_add(self.hot.window()))
        } else {
            None
        };
        self.retry_flush(&mut report)?;
        self.flush_warm(now, early, hot.late_points, &mut report)?;
        self.roll_up_cold(&mut report)?;
        self.merge(&mut report)?;
        self.expire(now, early, &mut report)?;
        report.deleted_files += self.tiers.delete_unread()?;
        Ok(report)
    }

    fn retry_flush(&self, report: &mut CompactReport) -> Result<(), Error> {
        let pending = self.inflight.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(flush) = pending {
            self.commit_flush(flush, report)?;
        }
        Ok(())
    }

    fn flush_warm(
        &self,
        now: i64,
        early: Option<i64>,
        late_points: u64,
        report: &mut CompactReport,
    ) -> Result<(), Error> {
        let config = &self.config;
        let res = config.warm.resolution.as_nanos_i64();
        let manifest = self.tiers.manifest();
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
        // Cut under the apply order and the checkpoint lock: the cut is at one WAL position,
        // and no checkpoint is taken between the cut and the commit.
        let (cut, position) = {
            let _no_checkpoint = self.checkpointing.lock().unwrap_or_else(|p| p.into_inner());
            let applied = self.order.lock().unwrap_or_else(|p| p.into_inner());
            self.flush_open.store(true, std::sync::atomic::Ordering::SeqCst);
            (self.hot.cut(from, to), applied.position)
        };
        let keys = self.keys_of(cut.series.iter().map(|(id, _)| *id).chain(cut.late.iter().map(|p| p.0)));
        let encoded = (|| {
            let mut rows = downsample(&self.hot, cut.series, &keys, from, to, res)?;
            rows.extend(late_rows(cut.late.clone(), &keys, res));
            encode_by_day(rows, &FileInfo { tier: Tier::Warm, resolution: res }, 0, number)
        })();
        // Encoding fails only on a damaged hot chunk; the flush stays open (no checkpoint
        // records the cut) and the engine's status shows the error.
        let files = encoded?;
        report.late_points += cut.late.len() as u64;
        let flush = Flush { number, to, position, rows: files.iter().map(|(f, _)| f.rows).sum(), files };
        self.commit_flush(flush, report)
    }

    /// Uploads a flush's files and commits it; on failure keeps it for the next pass.
    fn commit_flush(&self, flush: Flush, report: &mut CompactReport) -> Result<(), Error> {
        let attempt = || -> Result<(), Error> {
            for (entry, bytes) in &flush.files {
                self.tiers.store.put(&entry.path, bytes.clone())?;
            }
            let mut next = (*self.tiers.manifest()).clone();
            next.generation += 1;
            next.warm_until = Some(flush.to);
            next.warm_flushes = flush.number;
            next.wal_cut = Some((flush.position.segment, flush.position.offset));
            next.files.extend(flush.files.iter().map(|(entry, _)| entry.clone()));
            self.tiers.commit(next)
        };
        match attempt() {
            Ok(()) => {
                self.flush_open.store(false, std::sync::atomic::Ordering::SeqCst);
                report.warm_until = Some(flush.to);
                report.warm_rows += flush.rows;
                report.warm_files += flush.files.len() as u64;
                Ok(())
            }
            Err(e) => {
                *self.inflight.lock().unwrap_or_else(|p| p.into_inner()) = Some(flush);
                Err(e)
            }
        }
    }

    fn keys_of(&self, ids: impl Iterator<Item = SeriesId>) -> BTreeMap<SeriesId, Arc<SeriesKey>> {
        let index = self.read_index();
        ids.filter_map(|id| Some((id, index.key(id)?.clone()))).collect()
    }

    fn roll_up_cold(&self, report: &mut CompactReport) -> Result<(), Error> {
        let guard = self.tiers.read();
        let manifest = &guard.manifest;
        let Some(warm_until) = manifest.warm_until else { return Ok(()) };
        let res = self.config.cold.resolution.as_nanos_i64();
        let from = manifest.cold_until.unwrap_or(i64::MIN);
        let to = bucket(warm_until, res).max(from);
        // Warm files written since the last rollup; only those with rows before `from` hold
        // late rows for cold.
        let unrolled = manifest.files(Tier::Warm).any(|f| f.flush > manifest.cold_flushes);
        if to == from && !unrolled {
            return Ok(());
        }
        let inputs: Vec<&FileEntry> = manifest
            .files(Tier::Warm)
            .filter(|f| {
                (f.max_time >= from && f.min_time < to)
                    || (f.flush > manifest.cold_flushes && f.min_time < from)
            })
            .collect();
        let per_file: Vec<Vec<Row>> = inputs
            .par_iter()
            .map(|entry| {
                let (_, rows) = self.read_file(entry, &RowFilter::all())?;
                let rolled_before = entry.flush <= manifest.cold_flushes;
                Ok(rows
                    .into_iter()
                    .filter(|r| (r.time >= from && r.time < to) || (!rolled_before && r.time < from))
                    .map(|mut r| {
                        r.time = bucket(r.time, res);
                        r
                    })
                    .collect())
            })
            .collect::<Result<_, Error>>()?;
        let rows: Vec<Row> = per_file.into_iter().flatten().collect();
        let info = FileInfo { tier: Tier::Cold, resolution: res };
        let files = encode_by_day(rows, &info, 0, manifest.warm_flushes)?;
        for (entry, bytes) in &files {
            self.tiers.store.put(&entry.path, bytes.clone())?;
        }
        let mut next = (**manifest).clone();
        next.generation += 1;
        next.cold_until = Some(to);
        next.cold_flushes = manifest.warm_flushes;
        next.files.extend(files.iter().map(|(e, _)| e.clone()));
        drop(guard);
        self.tiers.commit(next)?;
        report.cold_until = Some(to);
        report.cold_rows += files.iter().map(|(e, _)| e.rows).sum::<u64>();
        report.cold_files += files.len() as u64;
        Ok(())
    }

    pub(crate) fn read_file(
        &self,
        entry: &FileEntry,
        filter: &RowFilter<'_>,
    ) -> Result<(FileInfo, Vec<Row>), Error> {
        let bytes = self.tiers.store.get(&entry.path)?;
        file::read(bytes, filter).map_err(|reason| self.tiers.damaged(entry, reason))
    }

    /// Merges `merge_fanin` files of one tier, day and level into one of the next level.
    fn merge(&self, report: &mut CompactReport) -> Result<(), Error> {
        let fanin = self.config.compactor.merge_fanin as usize;
        loop {
            let guard = self.tiers.read();
            let manifest = &guard.manifest;
            let mut groups: BTreeMap<(Tier, &str, u32), Vec<&FileEntry>> = BTreeMap::new();
            for f in &manifest.files {
                // Warm files join a merge only once rolled up, so a merged file is never rolled twice.
                if f.tier == Tier::Warm && f.flush > manifest.cold_flushes {
                    continue;
                }
                groups.entry((f.tier, f.day.as_str(), f.level)).or_default().push(f);
            }
            let Some(((tier, _, level), inputs)) = groups.into_iter().find(|(_, files)| files.len() >= fanin)
            else {
                return Ok(());
            };
            let res = match tier {
                Tier::Warm => self.config.warm.resolution.as_nanos_i64(),
                Tier::Cold => self.config.cold.resolution.as_nanos_i64(),
            };
            let per_file: Vec<Vec<Row>> = inputs
                .par_iter()
                .map(|entry| self.read_file(entry, &RowFilter::all()).map(|(_, rows)| rows))
                .collect::<Result<_, Error>>()?;
            let rows: Vec<Row> = per_file.into_iter().flatten().collect();
            let flush = inputs.iter().map(|f| f.flush).max().unwrap_or_default();
            let files = encode_by_day(rows, &FileInfo { tier, resolution: res }, level + 1, flush)?;
            for (entry, bytes) in &files {
                self.tiers.store.put(&entry.path, bytes.clone())?;
            }
            let gone: Vec<&str> = inputs.iter().map(|f| f.path.as_str()).collect();
            let mut next = (**manifest).clone();
            next.generation += 1;
            next.files.retain(|f| !gone.contains(&f.path.as_str()));
            next.files.extend(files.iter().map(|(e, _)| e.clone()));
            report.merged_files += gone.len() as u64;
            report.merge_outputs += files.len() as u64;
            drop(guard);
            self.tiers.commit(next)?;
        }
    }

    fn expire(&self, now: i64, early: Option<i64>, report: &mut CompactReport) -> Result<(), Error> {
        let config = &self.config;
        let manifest = self.tiers.manifest();
        let (warm_res, cold_res) =
            (config.warm.resolution.as_nanos_i64(), config.cold.resolution.as_nanos_i64());
        let warm_horizon = now.saturating_sub(config.warm.retention.as_nanos_i64());
        let cold_horizon = now.saturating_sub(config.cold.retention.as_nanos_i64());
        let cold_until = manifest.cold_until.unwrap_or(i64::MIN);
        let expired = |f: &FileEntry| match f.tier {
            Tier::Warm => {
                let end = f.max_time.saturating_add(warm_res);
                end <= warm_horizon && f.flush <= manifest.cold_flushes && end <= cold_until
            }
            Tier::Cold => f.max_time.saturating_add(cold_res) <= cold_horizon,
        };
        let count = manifest.files.iter().filter(|f| expired(f)).count();
        if count > 0 {
            let mut next = (*manifest).clone();
            next.generation += 1;
            next.files.retain(|f| !expired(f));
            self.tiers.commit(next)?;
            report.expired_files += count as u64;
        }
        // Hot: evict what is older than hot.retention, or what max_memory forced out, once
        // its warm rows are committed.
        let warm_until = self.tiers.manifest().warm_until.unwrap_or(i64::MIN);
        let horizon = now.saturating_sub(config.hot.retention.as_nanos_i64());
        let mut until = horizon.min(warm_until);
        if let Some(early) = early {
            until = until.max(early.min(warm_until));
        }
        if until > self.hot.evicted_until() {
            let _order = self.order.lock().unwrap_or_else(|p| p.into_inner());
            let dropped = self.hot.evict(until);
            report.evicted_points += dropped;
            if until > horizon {
                report.evicted_early += dropped;
            }
        }
        Ok(())
    }
}

/// Warm rows of every full bucket in `[from, to)` of the cut series.
fn downsample(
    hot: &crate::hot::HotStore,
    series: Vec<(SeriesId, Copied)>,
    keys: &BTreeMap<SeriesId, Arc<SeriesKey>>,
    from: i64,
    to: i64,
    res: i64,
) -> Result<Vec<Row>, Error> {
    let per_series: Vec<Vec<Row>> = series
        .into_par_iter()
        .map_init(
            || (Vec::new(), Vec::new()),
            |(times, values), (id, copied)| {
                times.clear();
                values.clear();
                hot.decode_copied(copied, from, to, times, values)
                    .map_err(|reason| Error::Corrupt { path: "hot store".into(), reason })?;
                let Some(key) = keys.get(&id) else { return Ok(Vec::new()) };
                Ok(rows_of_sorted(key, times, values, res))
            },
        )
        .collect::<Result<_, Error>>()?;
    Ok(per_series.into_iter().flatten().collect())
}

/// Rows of one series' points in time order: one per bucket of `res` nanoseconds with points.
/// The compactor's inner loop; public for benchmarks.
pub fn rows_of_sorted(key: &Arc<SeriesKey>, times: &[i64], values: &[f64], res: i64) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut current: Option<(i64, Agg)> = None;
    for (&t, &v) in times.iter().zip(values) {
        let b = bucket(t, res);
        match &mut current {
            Some((start, agg)) if *start == b => agg.push_sorted(t, v),
            _ => {
                if let Some((time, agg)) = current.take() {
                    rows.push(Row { key: key.clone(), time, agg });
                }
                current = Some((b, Agg::point(t, v)));
            }
        }
    }
    if let Some((time, agg)) = current {
        rows.push(Row { key: key.clone(), time, agg });
    }
    rows
}

/// Partial rows of late points: per series and bucket, the latest value of each time.
fn late_rows(mut late: Vec<LatePoint>, keys: &BTreeMap<SeriesId, Arc<SeriesKey>>, res: i64) -> Vec<Row> {
    // Stable: of points at one time, the one that arrived last is kept.
    late.sort_by_key(|p| (p.0, p.1));
    let mut kept: Vec<LatePoint> = Vec::with_capacity(late.len());
    for p in late {
        match kept.last_mut() {
            Some(last) if last.0 == p.0 && last.1 == p.1 => *last = p,
            _ => kept.push(p),
        }
    }
    let mut rows = Vec::new();
    for chunk in kept.chunk_by(|a, b| a.0 == b.0) {
        let Some(key) = chunk.first().and_then(|p| keys.get(&p.0)) else { continue };
        let times: Vec<i64> = chunk.iter().map(|p| p.1).collect();
        let values: Vec<f64> = chunk.iter().map(|p| p.2).collect();
        rows.extend(rows_of_sorted(key, &times, &values, res));
    }
    rows
}

/// Sorts rows, groups them by day and encodes one file per day.
fn encode_by_day(
    rows: Vec<Row>,
    info: &FileInfo,
    level: u32,
    flush: u64,
) -> Result<Vec<(FileEntry, Bytes)>, Error> {
    const DAY: i64 = 86_400 * 1_000_000_000;
    let mut by_day: BTreeMap<i64, Vec<Row>> = BTreeMap::new();
    for row in rows {
        by_day.entry(row.time.div_euclid(DAY)).or_default().push(row);
    }
    by_day
        .into_par_iter()
        .map(|(number, mut rows)| {
            let day = day(number.saturating_mul(DAY));
            file::sort_and_merge(&mut rows);
            let bytes = file::write(&rows, info).map_err(|reason| Error::Corrupt {
                path: format!("new {} file", info.tier).into(),
                reason,
            })?;
            let entry = FileEntry {
                path: format!("{}/day={day}/{}.parquet", info.tier, unique_name(flush, level)),
                tier: info.tier,
                day,
                level,
                flush,
                rows: rows.len() as u64,
                points: rows.iter().map(|r| r.agg.count).sum(),
                bytes: bytes.len() as u64,
                // Rows are sorted by series first: the times' extremes are anywhere.
                min_time: rows.iter().map(|r| r.time).min().unwrap_or(0),
                max_time: rows.iter().map(|r| r.time).max().unwrap_or(0),
                series: rows.chunk_by(|a, b| Arc::ptr_eq(&a.key, &b.key) || a.key == b.key).count() as u64,
            };
            Ok((entry, bytes))
        })
        .collect()
}

/// A file name no other file of this store has: the flush and level, then random bits (two
/// engines writing one bucket by mistake must not overwrite each other's files).
fn unique_name(flush: u64, level: u32) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos(),
    );
    h.write_u32(std::process::id());
    format!("{flush:012}-L{level}-{:016x}", h.finish())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests may panic")]
mod tests {
    use super::*;

    #[test]
    fn late_points_keep_the_last_value_of_a_time() {
        let key = Arc::new(SeriesKey { measurement: "m".into(), field: "value".into(), tags: Vec::new() });
        let keys: BTreeMap<SeriesId, Arc<SeriesKey>> = [(3, key)].into_iter().collect();
        let rows = late_rows(vec![(3, 130, 1.0), (3, 10, 5.0), (3, 130, 2.0), (9, 1, 1.0)], &keys, 60);
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].time, rows[0].agg.count, rows[0].agg.sum), (0, 1, 5.0));
        assert_eq!((rows[1].time, rows[1].agg.count, rows[1].agg.last), (120, 1, 2.0));
        assert!(unique_name(7, 1).starts_with("000000000007-L1-"));
    }
}
