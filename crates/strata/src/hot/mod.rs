//! The hot store: every series' recent points at full resolution, in memory.
//!
//! Time is cut into fixed windows (`hot.chunk_duration`, aligned to the Unix epoch); a series
//! holds one chunk per window that has points. The chunk of a series' newest window is open:
//! coded point by point as it fills (`open.rs`, about 2 bytes a point where plain pairs took
//! 16), with points that arrive out of order kept aside until a few dozen gather. Older chunks
//! are sealed:
//! compressed bytes behind an `Arc`, so a reader copies a pointer, never the data, while it
//! holds a lock. A late point for a sealed window opens that chunk again; at the end of the
//! write it is sealed anew.
//!
//! Series are spread over shards, each behind its own mutex: the one applying thread and
//! readers contend only on the shard they both touch, and a reader holds it for no longer than
//! copying one open window's coded bytes.

#![deny(clippy::indexing_slicing, clippy::unwrap_used)]

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

mod chunk;
mod copy;
mod idle;
mod open;
mod series;
mod sizes;

use crate::decode::Malformed;
use crate::payload::Batch;
use crate::series::SeriesId;

#[cfg(test)]
pub(crate) use chunk::encode;
use chunk::seal;
pub(crate) use chunk::{Body, Chunk, Sealed};
pub(crate) use copy::Copied;
use open::OpenWindow;
use series::SeriesHot;

const SHARDS: usize = 64;

#[derive(Debug)]
pub(crate) struct HotStore {
    shards: Box<[Mutex<Shard>]>,
    /// Window length in nanoseconds.
    window: i64,
    /// Warm buckets before this time are written to the tiers: a point before it is late and
    /// is also kept in its shard's `late` list until the next warm flush takes it.
    tiered_until: AtomicI64,
    /// Windows before this time have been evicted (their rows are in the tiers): a point
    /// before it goes to the `late` list only (backfill).
    evicted_until: AtomicI64,
    /// Late points that replaced, with a different value, a point already written to a tier.
    conflicts: AtomicU64,
}

/// The series whose id modulo `SHARDS` is this shard's index, densely by `id / SHARDS`: ids
/// are handed out in ascending order, so a write's points mostly walk this vector forwards.
#[derive(Debug, Default)]
struct Shard {
    series: Vec<SeriesHot>,
    /// Points for buckets already written to warm, in arrival order, for the next flush.
    late: Vec<LatePoint>,
}

/// A point that arrived after its warm bucket was written: series, time, value.
pub(crate) type LatePoint = (SeriesId, i64, f64);

/// What a warm flush takes from the hot store: copies of every series' data in the flushed
/// range, and the late points.
#[derive(Debug, Default)]
pub(crate) struct Cut {
    pub(crate) series: Vec<(SeriesId, Copied)>,
    pub(crate) late: Vec<LatePoint>,
}

/// What the hot store holds, for stats and benchmarks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HotStats {
    /// Series with at least one point in memory.
    pub series: u64,
    /// Points in open chunks.
    pub open_points: u64,
    /// Points in sealed chunks.
    pub sealed_points: u64,
    /// Bytes of sealed chunk data.
    pub sealed_bytes: u64,
    /// Points waiting for the next warm flush (late points and backfill).
    pub late_points: u64,
    /// An estimate of the memory all this takes, which `hot.max_memory` bounds.
    pub memory_bytes: u64,
}

/// Which shards an apply takes: those whose index modulo `of` is `index`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Part {
    pub(crate) index: usize,
    pub(crate) of: usize,
}

impl Part {
    pub(crate) const WHOLE: Part = Part { index: 0, of: 1 };
}

fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    // Every change to a series is a push, an insert or a replacement of a whole chunk, so a
    // panic elsewhere while the lock was held leaves nothing a reader would misread.
    shard.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl HotStore {
    pub(crate) fn new(window: i64) -> HotStore {
        HotStore {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            window: window.max(1),
            tiered_until: AtomicI64::new(i64::MIN),
            evicted_until: AtomicI64::new(i64::MIN),
            conflicts: AtomicU64::new(0),
        }
    }

    /// Where the tiers stand: warm buckets before `tiered_until` are written, windows before
    /// `evicted_until` are evicted. Set at open (from the manifest and checkpoint) and by
    /// warm flushes and eviction, while no write is being applied.
    pub(crate) fn set_tiered_until(&self, time: i64) {
        self.tiered_until.store(time, Ordering::SeqCst);
    }

    pub(crate) fn tiered_until(&self) -> i64 {
        self.tiered_until.load(Ordering::SeqCst)
    }

    pub(crate) fn set_evicted_until(&self, time: i64) {
        self.evicted_until.store(time, Ordering::SeqCst);
    }

    /// The start of what the hot store still holds: hot answers queries from here on.
    pub(crate) fn evicted_until(&self) -> i64 {
        self.evicted_until.load(Ordering::SeqCst)
    }

    pub(crate) fn conflicts(&self) -> u64 {
        self.conflicts.load(Ordering::Relaxed)
    }

    /// The window length (ns).
    pub(crate) fn window(&self) -> i64 {
        self.window
    }

    fn shard_of(&self, id: SeriesId) -> (&Mutex<Shard>, usize) {
        let (index, local) = (id as usize % SHARDS, id as usize / SHARDS);
        // `index < SHARDS == shards.len()`; the fallback is never taken.
        (self.shards.get(index).unwrap_or_else(|| unreachable_shard()), local)
    }

    /// Inserts a write's points. A point at the time of an existing point of the same series
    /// replaces it.
    pub(crate) fn apply(&self, batch: &Batch) -> Result<(), Malformed> {
        self.apply_part(batch, (self.tiered_until(), self.evicted_until()), Part::WHOLE)
    }

    /// [`HotStore::apply`] of the points of the shards in `part` only, with the tiers' bounds
    /// `(tiered_until, evicted_until)` as they stood at the batch's record: replay hands each
    /// record to several threads, each applying its own shards in log order.
    pub(crate) fn apply_part(&self, batch: &Batch, bounds: (i64, i64), part: Part) -> Result<(), Malformed> {
        let mut by_shard: Vec<Vec<u32>> = vec![Vec::new(); SHARDS];
        for (i, &id) in batch.ids.iter().enumerate() {
            let shard = id as usize % SHARDS;
            if shard % part.of == part.index
                && let Some(list) = by_shard.get_mut(shard)
            {
                list.push(u32::try_from(i).unwrap_or(u32::MAX));
            }
        }
        let mut touched: Vec<usize> = Vec::new();
        let (tiered_until, evicted_until) = bounds;
        for (shard, points) in self.shards.iter().zip(&by_shard) {
            if points.is_empty() {
                continue;
            }
            let mut shard = lock(shard);
            touched.clear();
            for &i in points {
                let i = i as usize;
                let (Some(&id), Some(&t), Some(&v)) =
                    (batch.ids.get(i), batch.times.get(i), batch.values.get(i))
                else {
                    continue;
                };
                if t < evicted_until {
                    // Backfill older than what hot keeps: for the tiers only.
                    shard.late.push((id, t, v));
                    continue;
                }
                let local = id as usize / SHARDS;
                grow(&mut shard.series, local);
                let Some(series) = shard.series.get_mut(local) else { continue };
                // The replaced value matters only to a late point (see `note_late`).
                let (older, replaced) = series.insert(self.window, t, v, t < tiered_until)?;
                if older {
                    touched.push(local);
                }
                if t < tiered_until {
                    self.note_late(&mut shard, (id, t, v), replaced);
                }
            }
            touched.sort_unstable();
            touched.dedup();
            for &local in &touched {
                if let Some(series) = shard.series.get_mut(local) {
                    series.seal_older();
                }
            }
        }
        Ok(())
    }

    /// Keeps a late point for the next warm flush. A point that replaced one of the same value
    /// changes nothing; one that replaced a point still waiting replaces it there too.
    fn note_late(&self, shard: &mut Shard, point: LatePoint, replaced: Option<f64>) {
        match replaced {
            None => shard.late.push(point),
            Some(old) if old.to_bits() == point.2.to_bits() => {}
            Some(_) => match shard.late.iter_mut().rev().find(|p| p.0 == point.0 && p.1 == point.1) {
                Some(waiting) => waiting.2 = point.2,
                // The old value is in a tier file already; the tier keeps it.
                None => {
                    self.conflicts.fetch_add(1, Ordering::Relaxed);
                }
            },
        }
    }

    /// Late points loaded from a checkpoint.
    pub(crate) fn load_late(&self, late: Vec<LatePoint>) {
        for point in late {
            if let Some(shard) = self.shards.get(point.0 as usize % SHARDS) {
                lock(shard).late.push(point);
            }
        }
    }

    /// Takes what a warm flush of `[from, to)` writes: every series' points in the range and
    /// every late point; then points before `to` count as late. The caller holds the
    /// engine's apply order, so no write is half applied.
    pub(crate) fn cut(&self, from: i64, to: i64) -> Cut {
        let mut cut = Cut::default();
        for (index, shard) in self.shards.iter().enumerate() {
            let mut shard = lock(shard);
            cut.late.append(&mut shard.late);
            for (local, series) in shard.series.iter().enumerate() {
                let Ok(id) = SeriesId::try_from(local * SHARDS + index) else { continue };
                let copied = self.copy_range(series, from, to);
                if !copied.is_empty() {
                    cut.series.push((id, copied));
                }
            }
        }
        self.set_tiered_until(to);
        cut
    }

    /// Drops every window that ends at or before `until` (rounded down to a window start),
    /// whose rows the tiers hold. Returns the points dropped.
    pub(crate) fn evict(&self, until: i64) -> u64 {
        let until = until.div_euclid(self.window).saturating_mul(self.window).max(self.evicted_until());
        let mut dropped = 0u64;
        for shard in self.shards.iter() {
            let mut shard = lock(shard);
            for series in &mut shard.series {
                let keep = series.older.partition_point(|c| c.window.saturating_add(self.window) <= until);
                if keep > 0 {
                    for chunk in series.older.vec().drain(..keep) {
                        dropped += chunk.body.points();
                    }
                    series.older.tidy();
                }
                if !series.open.is_empty() && series.open_window.saturating_add(self.window) <= until {
                    dropped += series.open.len() as u64;
                    series.open = OpenWindow::default();
                }
            }
        }
        self.set_evicted_until(until);
        dropped
    }

    /// Seals every open window in place (`SeriesHot::seal_open`), for a checkpoint at close:
    /// the checkpoint then shares every chunk instead of holding a sealed copy of each open
    /// window beside it, which at close was the process's peak. The points stay as they are.
    pub(crate) fn seal_open_windows(&self) {
        for shard in self.shards.iter() {
            let mut shard = lock(shard);
            for series in &mut shard.series {
                series.seal_older();
                series.seal_open();
            }
        }
    }

    /// The start of the oldest window any series holds.
    pub(crate) fn oldest_window(&self) -> Option<i64> {
        let mut oldest: Option<i64> = None;
        for shard in self.shards.iter() {
            let shard = lock(shard);
            for series in &shard.series {
                let first = series
                    .older
                    .first()
                    .map(|c| c.window)
                    .or((!series.open.is_empty()).then_some(series.open_window));
                if let Some(w) = first {
                    oldest = Some(oldest.map_or(w, |o| o.min(w)));
                }
            }
        }
        oldest
    }

    /// Every late point waiting for a flush, for a checkpoint.
    pub(crate) fn late_points(&self) -> Vec<LatePoint> {
        let mut out = Vec::new();
        for shard in self.shards.iter() {
            out.extend_from_slice(&lock(shard).late);
        }
        out
    }

    /// Puts a series' sealed chunks loaded from a checkpoint. The list is kept as it comes
    /// (a checkpoint sizes it exactly) when the series holds none yet.
    pub(crate) fn load(&self, id: SeriesId, chunks: Vec<Chunk>) {
        let (shard, local) = self.shard_of(id);
        let mut shard = lock(shard);
        grow(&mut shard.series, local);
        if let Some(series) = shard.series.get_mut(local) {
            if series.older.is_empty() && chunks.is_sorted_by_key(|c| c.window) {
                series.older.set(chunks);
                return;
            }
            for chunk in chunks {
                let at = series.older.partition_point(|c| c.window < chunk.window);
                series.older.vec().insert(at, chunk);
            }
        }
    }

    /// A copy of every series' chunks, each sealed, for a checkpoint. Sealed chunks are shared;
    /// open windows are copied under the lock and encoded after releasing it.
    pub(crate) fn snapshot(&self) -> Vec<(SeriesId, Vec<Chunk>)> {
        let mut out = Vec::new();
        for (index, shard) in self.shards.iter().enumerate() {
            let copied: Vec<SeriesCopy> = {
                let shard = lock(shard);
                shard
                    .series
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| !s.older.is_empty() || !s.open.is_empty())
                    .filter_map(|(local, s)| {
                        let id = SeriesId::try_from(local * SHARDS + index).ok()?;
                        Some((id, s.older.to_vec(), s.open_window, s.open.clone()))
                    })
                    .collect()
            };
            out.extend(copied.into_iter().map(|(id, older, open_window, open)| {
                // Exactly as long as it ends: a checkpoint holds one such list per series.
                let mut chunks = Vec::with_capacity(older.len() + usize::from(!open.is_empty()));
                chunks.extend(
                    older
                        .into_iter()
                        .map(|c| Chunk { window: c.window, body: Body::Sealed(c.body.sealed()) }),
                );
                if !open.is_empty() {
                    let (mut times, mut values) = (Vec::new(), Vec::new());
                    open.decode(&mut times, &mut values);
                    chunks.push(Chunk { window: open_window, body: Body::Sealed(seal(&times, &values)) });
                }
                (id, chunks)
            }));
        }
        out.sort_unstable_by_key(|(id, _)| *id);
        out
    }

    /// The time of each series' newest point in memory, by id; series without points are left
    /// out. Sealed chunks are decoded after the locks are released (only a series whose open
    /// window is empty, e.g. one loaded from a checkpoint and not written since, has one last).
    pub(crate) fn newest_points(&self) -> Vec<(SeriesId, i64)> {
        let mut out = Vec::new();
        let mut sealed = Vec::new();
        for (index, shard) in self.shards.iter().enumerate() {
            let shard = lock(shard);
            for (local, series) in shard.series.iter().enumerate() {
                let Ok(id) = SeriesId::try_from(local * SHARDS + index) else { continue };
                if let Some(t) = series.open.last_time() {
                    out.push((id, t));
                    continue;
                }
                match series.older.last().map(|c| &c.body) {
                    Some(Body::Open { times, .. }) => out.extend(times.last().map(|&t| (id, t))),
                    Some(Body::Sealed(s)) => sealed.push((id, s.bytes.clone())),
                    None => {}
                }
            }
        }
        let (mut times, mut values) = (Vec::new(), Vec::new());
        for (id, bytes) in sealed {
            times.clear();
            values.clear();
            // A chunk that does not decode is reported by reads; here it is only left out.
            if chunk::decode(&bytes, &mut times, &mut values).is_ok() {
                out.extend(times.last().map(|&t| (id, t)));
            }
        }
        out
    }

    pub(crate) fn stats(&self) -> HotStats {
        let mut stats = HotStats::default();
        let mut capacity = 0u64;
        for shard in self.shards.iter() {
            let shard = lock(shard);
            stats.late_points += shard.late.len() as u64;
            capacity += (shard.late.capacity() * size_of::<LatePoint>()) as u64
                + (shard.series.capacity() * size_of::<SeriesHot>()) as u64;
            for series in shard.series.iter().filter(|s| !s.older.is_empty() || !s.open.is_empty()) {
                stats.series += 1;
                stats.open_points += series.open.len() as u64;
                capacity += (series.open.heap_bytes() + series.older.heap_bytes()) as u64;
                for chunk in &series.older {
                    match &chunk.body {
                        Body::Open { times, .. } => {
                            stats.open_points += times.len() as u64;
                            capacity += times.capacity() as u64 * 16;
                        }
                        Body::Sealed(s) => {
                            stats.sealed_points += u64::from(s.points);
                            stats.sealed_bytes += s.bytes.len() as u64;
                        }
                    }
                }
            }
        }
        stats.memory_bytes = capacity + stats.sealed_bytes;
        stats
    }
}

/// A series as copied for a snapshot: id, older chunks, open window start and points.
type SeriesCopy = (SeriesId, Vec<Chunk>, i64, OpenWindow);

/// Makes `series` long enough to hold `local`, growing it by an eighth at least rather than
/// doubling: ids come in ascending order, so every shard's vector grows in small steps, and
/// doubling would leave up to half of 40 bytes a series unused.
fn grow(series: &mut Vec<SeriesHot>, local: usize) {
    if series.len() > local {
        return;
    }
    if series.capacity() <= local {
        series.reserve_exact((local + 1 - series.len()).max(series.len() / 8));
    }
    series.resize_with(local + 1, SeriesHot::default);
}

#[cold]
fn unreachable_shard() -> ! {
    unreachable!("a series id modulo SHARDS always names a shard")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests may panic")]
mod tests {
    use super::*;

    fn batch(points: &[(SeriesId, i64, f64)]) -> Batch {
        let mut b = Batch::default();
        for &(id, t, v) in points {
            b.push(id, t, v);
        }
        b
    }

    fn read_all(hot: &HotStore, id: SeriesId) -> Vec<(i64, f64)> {
        let (mut t, mut v) = (Vec::new(), Vec::new());
        hot.read(id, i64::MIN, i64::MAX, &mut t, &mut v).unwrap();
        t.into_iter().zip(v).collect()
    }

    #[test]
    fn out_of_order_late_and_duplicate_points() {
        let hot = HotStore::new(100);
        hot.apply(&batch(&[(1, 10, 1.0), (1, 30, 3.0), (1, 20, 2.0), (1, 250, 25.0)])).unwrap();
        // 250 opened window 200, so window 0 is sealed; a late point reopens and reseals it.
        hot.apply(&batch(&[(1, 15, 1.5), (1, 30, 3.5), (1, 150, 15.0)])).unwrap();
        assert_eq!(
            read_all(&hot, 1),
            vec![(10, 1.0), (15, 1.5), (20, 2.0), (30, 3.5), (150, 15.0), (250, 25.0)]
        );
        let stats = hot.stats();
        assert_eq!((stats.open_points, stats.sealed_points), (1, 5));
        let (mut t, mut v) = (Vec::new(), Vec::new());
        hot.read(1, 15, 150, &mut t, &mut v).unwrap();
        assert_eq!(t, vec![15, 20, 30]);
    }

    #[test]
    fn negative_times_fall_in_their_own_window() {
        let hot = HotStore::new(100);
        hot.apply(&batch(&[(0, -1, 1.0), (0, 0, 2.0), (0, -101, 3.0)])).unwrap();
        assert_eq!(read_all(&hot, 0), vec![(-101, 3.0), (-1, 1.0), (0, 2.0)]);
    }
}
