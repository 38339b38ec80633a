//! The hot store: every series' recent points at full resolution, in memory.
//!
//! Time is cut into fixed windows (`hot.chunk_duration`, aligned to the Unix epoch); a series
//! holds one chunk per window that has points. The chunk of a series' newest window is open:
//! plain sorted arrays that take appends and late points cheaply. Older chunks are sealed:
//! compressed bytes behind an `Arc`, so a reader copies a pointer, never the data, while it
//! holds a lock. A late point for a sealed window opens that chunk again; at the end of the
//! write it is sealed anew.
//!
//! Series are spread over shards, each behind its own mutex: the one applying thread and
//! readers contend only on the shard they both touch, and a reader holds it for no longer than
//! copying one open chunk.

#![deny(clippy::indexing_slicing, clippy::unwrap_used)]

use std::sync::{Arc, Mutex, MutexGuard};

use rustc_hash::FxHashMap;

use crate::payload::Batch;
use crate::series::SeriesId;

const SHARDS: usize = 64;

#[derive(Debug)]
pub(crate) struct HotStore {
    shards: Box<[Mutex<Shard>]>,
    /// Window length in nanoseconds.
    window: i64,
}

#[derive(Debug, Default)]
struct Shard {
    series: FxHashMap<SeriesId, Vec<Chunk>>,
}

/// One window of one series.
#[derive(Debug, Clone)]
pub(crate) struct Chunk {
    /// Start of the window, ns.
    pub(crate) window: i64,
    pub(crate) body: Body,
}

#[derive(Debug, Clone)]
pub(crate) enum Body {
    Open { times: Vec<i64>, values: Vec<f64> },
    Sealed(Sealed),
}

/// A compressed chunk.
#[derive(Debug, Clone)]
pub(crate) struct Sealed {
    pub(crate) bytes: Arc<[u8]>,
    pub(crate) points: u32,
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
}

impl HotStore {
    pub(crate) fn new(window: i64) -> HotStore {
        HotStore { shards: (0..SHARDS).map(|_| Mutex::default()).collect(), window: window.max(1) }
    }

    fn shard(&self, id: SeriesId) -> MutexGuard<'_, Shard> {
        let index = id as usize % SHARDS;
        // A panic while holding a shard lock cannot leave a chunk half-changed in a way readers
        // would misread (every change is a push, an insert or a replacement), so go on.
        match self.shards.get(index) {
            Some(shard) => shard.lock().unwrap_or_else(|poisoned| poisoned.into_inner()),
            None => unreachable_shard(),
        }
    }

    /// Inserts a write's points. A point at the time of an existing point of the same series
    /// replaces it.
    pub(crate) fn apply(&self, batch: &Batch) -> Result<(), String> {
        let mut by_shard: Vec<Vec<usize>> = vec![Vec::new(); SHARDS];
        for (i, &id) in batch.ids.iter().enumerate() {
            if let Some(list) = by_shard.get_mut(id as usize % SHARDS) {
                list.push(i);
            }
        }
        let mut touched: Vec<SeriesId> = Vec::new();
        for (index, points) in by_shard.iter().enumerate() {
            if points.is_empty() {
                continue;
            }
            let Some(shard) = self.shards.get(index) else { continue };
            let mut shard = shard.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            touched.clear();
            for &i in points {
                let (Some(&id), Some(&t), Some(&v)) =
                    (batch.ids.get(i), batch.times.get(i), batch.values.get(i))
                else {
                    continue;
                };
                let chunks = shard.series.entry(id).or_default();
                if insert(chunks, self.window, t, v)? {
                    touched.push(id);
                }
            }
            touched.sort_unstable();
            touched.dedup();
            for id in &touched {
                if let Some(chunks) = shard.series.get_mut(id) {
                    seal_all_but_newest(chunks);
                }
            }
        }
        Ok(())
    }

    /// Puts a sealed chunk loaded from a checkpoint.
    pub(crate) fn load(&self, id: SeriesId, chunk: Chunk) {
        let mut shard = self.shard(id);
        let chunks = shard.series.entry(id).or_default();
        let at = chunks.partition_point(|c| c.window < chunk.window);
        chunks.insert(at, chunk);
    }

    /// Appends the points of `id` in `[from, to)` in time order.
    pub(crate) fn read(
        &self,
        id: SeriesId,
        from: i64,
        to: i64,
        times: &mut Vec<i64>,
        values: &mut Vec<f64>,
    ) -> Result<(), String> {
        // Copy what is needed under the lock (open data, or a pointer to sealed bytes) and
        // decode after releasing it.
        let mut parts: Vec<Body> = Vec::new();
        {
            let shard = self.shard(id);
            let Some(chunks) = shard.series.get(&id) else { return Ok(()) };
            for chunk in chunks {
                if chunk.window >= to || chunk.window.saturating_add(self.window) <= from {
                    continue;
                }
                parts.push(match &chunk.body {
                    Body::Open { times, values } => {
                        let (a, b) =
                            (times.partition_point(|&t| t < from), times.partition_point(|&t| t < to));
                        Body::Open {
                            times: times.get(a..b).unwrap_or_default().to_vec(),
                            values: values.get(a..b).unwrap_or_default().to_vec(),
                        }
                    }
                    Body::Sealed(sealed) => Body::Sealed(sealed.clone()),
                });
            }
        }
        let (mut t, mut v) = (Vec::new(), Vec::new());
        for part in parts {
            match part {
                Body::Open { times: pt, values: pv } => {
                    times.extend(pt);
                    values.extend(pv);
                }
                Body::Sealed(sealed) => {
                    t.clear();
                    v.clear();
                    decode(&sealed.bytes, &mut t, &mut v)?;
                    let (a, b) = (t.partition_point(|&x| x < from), t.partition_point(|&x| x < to));
                    times.extend_from_slice(t.get(a..b).unwrap_or_default());
                    values.extend_from_slice(v.get(a..b).unwrap_or_default());
                }
            }
        }
        Ok(())
    }

    /// A copy of every series' chunks, each sealed, for a checkpoint. Sealed chunks are shared,
    /// open ones encoded outside the shard lock.
    pub(crate) fn snapshot(&self) -> Vec<(SeriesId, Vec<Chunk>)> {
        let mut out = Vec::new();
        for shard in self.shards.iter() {
            let copied: Vec<(SeriesId, Vec<Chunk>)> = {
                let shard = shard.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                shard.series.iter().map(|(&id, chunks)| (id, chunks.clone())).collect()
            };
            out.extend(copied.into_iter().map(|(id, chunks)| {
                (
                    id,
                    chunks
                        .into_iter()
                        .map(|c| Chunk { window: c.window, body: Body::Sealed(c.body.sealed()) })
                        .collect(),
                )
            }));
        }
        out.sort_unstable_by_key(|(id, _)| *id);
        out
    }

    pub(crate) fn stats(&self) -> HotStats {
        let mut stats = HotStats::default();
        for shard in self.shards.iter() {
            let shard = shard.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            for chunks in shard.series.values() {
                stats.series += 1;
                for chunk in chunks {
                    match &chunk.body {
                        Body::Open { times, .. } => stats.open_points += times.len() as u64,
                        Body::Sealed(s) => {
                            stats.sealed_points += u64::from(s.points);
                            stats.sealed_bytes += s.bytes.len() as u64;
                        }
                    }
                }
            }
        }
        stats
    }
}

#[cold]
fn unreachable_shard() -> ! {
    unreachable!("a series id modulo SHARDS always names a shard")
}

impl Body {
    fn sealed(&self) -> Sealed {
        match self {
            Body::Sealed(sealed) => sealed.clone(),
            Body::Open { times, values } => seal(times, values),
        }
    }
}

/// Inserts one point; returns whether a chunk other than the newest was opened or created.
fn insert(chunks: &mut Vec<Chunk>, window: i64, t: i64, v: f64) -> Result<bool, String> {
    let start = t.div_euclid(window).saturating_mul(window);
    let newest = chunks.last().map(|c| c.window);
    let at = match newest {
        Some(w) if w == start => chunks.len() - 1,
        Some(w) if w < start => {
            chunks.push(Chunk { window: start, body: Body::Open { times: Vec::new(), values: Vec::new() } });
            // The previous newest chunk is complete now.
            if let Some(previous) = chunks.len().checked_sub(2).and_then(|i| chunks.get_mut(i))
                && let Body::Open { times, values } = &previous.body
            {
                previous.body = Body::Sealed(seal(times, values));
            }
            chunks.len() - 1
        }
        None => {
            chunks.push(Chunk { window: start, body: Body::Open { times: Vec::new(), values: Vec::new() } });
            0
        }
        Some(_) => {
            let at = chunks.partition_point(|c| c.window < start);
            if chunks.get(at).is_none_or(|c| c.window != start) {
                chunks.insert(
                    at,
                    Chunk { window: start, body: Body::Open { times: Vec::new(), values: Vec::new() } },
                );
            }
            at
        }
    };
    let newest_index = chunks.len() - 1;
    let chunk = chunks.get_mut(at).ok_or("chunk index out of range")?;
    if let Body::Sealed(sealed) = &chunk.body {
        let (mut times, mut values) = (Vec::new(), Vec::new());
        decode(&sealed.bytes, &mut times, &mut values)?;
        chunk.body = Body::Open { times, values };
    }
    if let Body::Open { times, values } = &mut chunk.body {
        match times.last() {
            Some(&last) if last >= t => match times.binary_search(&t) {
                Ok(i) => {
                    if let Some(slot) = values.get_mut(i) {
                        *slot = v;
                    }
                }
                Err(i) => {
                    times.insert(i, t);
                    values.insert(i, v);
                }
            },
            _ => {
                times.push(t);
                values.push(v);
            }
        }
    }
    Ok(at != newest_index)
}

fn seal_all_but_newest(chunks: &mut [Chunk]) {
    let Some((_, older)) = chunks.split_last_mut() else { return };
    for chunk in older {
        if let Body::Open { times, values } = &chunk.body {
            chunk.body = Body::Sealed(seal(times, values));
        }
    }
}

fn seal(times: &[i64], values: &[f64]) -> Sealed {
    let mut bytes = Vec::new();
    encode(times, values, &mut bytes);
    Sealed { bytes: bytes.into(), points: u32::try_from(times.len()).unwrap_or(u32::MAX) }
}

/// Sealed chunk bytes: a tag byte, then for `CODEC` a `strata-codec` chunk, for `RAW` (chunks
/// the codec does not take: more than `strata_codec::MAX_POINTS` points in one window) a u32
/// LE point count, the times as i64 LE and the value bits as u64 LE.
const CODEC: u8 = 0;
const RAW: u8 = 1;

pub(crate) fn encode(times: &[i64], values: &[f64], out: &mut Vec<u8>) {
    let start = out.len();
    out.push(CODEC);
    if strata_codec::encode(times, values, out).is_err() {
        out.truncate(start);
        out.push(RAW);
        out.extend_from_slice(&u32::try_from(times.len()).unwrap_or(u32::MAX).to_le_bytes());
        out.extend(times.iter().flat_map(|t| t.to_le_bytes()));
        out.extend(values.iter().flat_map(|v| v.to_bits().to_le_bytes()));
    }
}

pub(crate) fn decode(bytes: &[u8], times: &mut Vec<i64>, values: &mut Vec<f64>) -> Result<(), String> {
    match bytes.split_first() {
        Some((&CODEC, chunk)) => {
            strata_codec::decode(chunk, times, values).map(|_| ()).map_err(|e| e.to_string())
        }
        Some((&RAW, rest)) => {
            let (count, rest) = rest.split_first_chunk::<4>().ok_or("raw chunk shorter than its header")?;
            let n = u32::from_le_bytes(*count) as usize;
            if rest.len() != n * 16 {
                return Err(format!("raw chunk of {n} points has {} bytes of data", rest.len()));
            }
            let (t, v) = rest.split_at(n * 8);
            times.extend(t.chunks_exact(8).filter_map(|c| c.try_into().ok()).map(i64::from_le_bytes));
            values.extend(
                v.chunks_exact(8)
                    .filter_map(|c| c.try_into().ok())
                    .map(|b| f64::from_bits(u64::from_le_bytes(b))),
            );
            Ok(())
        }
        Some((tag, _)) => Err(format!("sealed chunk of unknown kind {tag}")),
        None => Err("empty sealed chunk".into()),
    }
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
    fn chunks_the_codec_refuses_are_kept_raw() {
        let n = strata_codec::MAX_POINTS + 1;
        let times: Vec<i64> = (0..n as i64).collect();
        let values: Vec<f64> = (0..n).map(|i| i as f64 / 4.0).collect();
        let mut bytes = Vec::new();
        encode(&times, &values, &mut bytes);
        assert_eq!(bytes[0], RAW);
        let (mut t, mut v) = (Vec::new(), Vec::new());
        decode(&bytes, &mut t, &mut v).unwrap();
        assert_eq!((t, v), (times, values));
        let mut small = Vec::new();
        encode(&[1, 2], &[0.5, -0.0], &mut small);
        assert_eq!(small[0], CODEC);
        assert!(decode(&small[..small.len() - 1], &mut Vec::new(), &mut Vec::new()).is_err());
    }

    #[test]
    fn negative_times_fall_in_their_own_window() {
        let hot = HotStore::new(100);
        hot.apply(&batch(&[(0, -1, 1.0), (0, 0, 2.0), (0, -101, 3.0)])).unwrap();
        assert_eq!(read_all(&hot, 0), vec![(-101, 3.0), (-1, 1.0), (0, 2.0)]);
    }
}
