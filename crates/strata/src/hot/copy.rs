//! Reads of the hot store: a series' data in a time range is copied under its shard's lock
//! (pointers to sealed chunks, the open window's coded bytes) and decoded after the lock is
//! released, so a reader holds a lock no longer than a copy takes.

use super::chunk::{Body, decode_with};
use super::open::OpenWindow;
use super::series::SeriesHot;
use super::{HotStore, lock};
use crate::decode::Malformed;
use crate::series::SeriesId;

/// One series' data in a time range, copied under the shard lock: pointers to sealed chunks,
/// copies of unsealed points and of the open window's coded bytes. Decoded after the lock is
/// released.
#[derive(Debug, Default)]
pub(crate) struct Copied {
    parts: Vec<(i64, Body)>,
    open: Option<OpenWindow>,
}

impl Copied {
    /// Whether the range held nothing.
    pub(super) fn is_empty(&self) -> bool {
        self.parts.is_empty() && self.open.is_none()
    }
}

impl HotStore {
    /// Appends the points of `id` in `[from, to)` in time order.
    pub(crate) fn read(
        &self,
        id: SeriesId,
        from: i64,
        to: i64,
        times: &mut Vec<i64>,
        values: &mut Vec<f64>,
    ) -> Result<(), Malformed> {
        // Copy what is needed under the lock (open points, or a pointer to sealed bytes) and
        // decode after releasing it.
        let copied = {
            let (shard, local) = self.shard_of(id);
            let shard = lock(shard);
            let Some(series) = shard.series.get(local) else { return Ok(()) };
            self.copy_range(series, from, to)
        };
        self.decode_copied(copied, from, to, times, values)
    }

    /// A copy of what `id` holds in `[from, to)`, to decode later with [`Self::decode_copied`].
    pub(crate) fn copy(&self, id: SeriesId, from: i64, to: i64) -> Copied {
        let (shard, local) = self.shard_of(id);
        let shard = lock(shard);
        match shard.series.get(local) {
            Some(series) => self.copy_range(series, from, to),
            None => Copied { parts: Vec::new(), open: None },
        }
    }

    pub(super) fn copy_range(&self, series: &SeriesHot, from: i64, to: i64) -> Copied {
        let mut parts: Vec<(i64, Body)> = Vec::new();
        {
            for chunk in &series.older {
                if chunk.window >= to || chunk.window.saturating_add(self.window) <= from {
                    continue;
                }
                let body = match &chunk.body {
                    Body::Open { times, values } => {
                        let (a, b) =
                            (times.partition_point(|&t| t < from), times.partition_point(|&t| t < to));
                        Body::Open {
                            times: times.get(a..b).unwrap_or_default().to_vec(),
                            values: values.get(a..b).unwrap_or_default().to_vec(),
                        }
                    }
                    Body::Sealed(sealed) => Body::Sealed(sealed.clone()),
                };
                parts.push((chunk.window, body));
            }
        }
        let overlaps = series.open_window < to && series.open_window.saturating_add(self.window) > from;
        let open = (!series.open.is_empty() && overlaps).then(|| series.open.clone());
        Copied { parts, open }
    }

    /// Appends the points of a copy that lie in `[from, to)`, in time order.
    pub(crate) fn decode_copied(
        &self,
        copied: Copied,
        from: i64,
        to: i64,
        times: &mut Vec<i64>,
        values: &mut Vec<f64>,
    ) -> Result<(), Malformed> {
        let Copied { parts, open } = copied;
        // Reserve the result once: growing it chunk by chunk copies it and faults in new pages.
        let upper: usize = open.as_ref().map_or(0, OpenWindow::len_bound)
            + parts
                .iter()
                .map(|(_, body)| match body {
                    Body::Open { times, .. } => times.len(),
                    Body::Sealed(sealed) => sealed.points as usize,
                })
                .sum::<usize>();
        times.reserve(upper);
        values.reserve(upper);
        let (mut t, mut v) = (Vec::new(), Vec::new());
        let mut decoder = strata_codec::Decoder::new();
        for (window, part) in parts {
            match part {
                Body::Open { times: pt, values: pv } => {
                    times.extend(pt);
                    values.extend(pv);
                }
                // A chunk wholly inside the range decodes straight into the result.
                Body::Sealed(sealed) if window >= from && window.saturating_add(self.window) <= to => {
                    decode_with(&mut decoder, &sealed.bytes, times, values)?;
                }
                Body::Sealed(sealed) => {
                    t.clear();
                    v.clear();
                    decode_with(&mut decoder, &sealed.bytes, &mut t, &mut v)?;
                    extend_in_range(&t, &v, from, to, times, values);
                }
            }
        }
        if let Some(open) = open {
            t.clear();
            v.clear();
            open.decode(&mut t, &mut v);
            extend_in_range(&t, &v, from, to, times, values);
        }
        Ok(())
    }
}

/// Appends the points of `t` and `v` (in time order) that lie in `[from, to)`.
fn extend_in_range(t: &[i64], v: &[f64], from: i64, to: i64, times: &mut Vec<i64>, values: &mut Vec<f64>) {
    let (a, b) = (t.partition_point(|&x| x < from), t.partition_point(|&x| x < to));
    times.extend_from_slice(t.get(a..b).unwrap_or_default());
    values.extend_from_slice(v.get(a..b).unwrap_or_default());
}
