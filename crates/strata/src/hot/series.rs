//! One series in the hot store: its newest window inline, so an append touches one buffer, and
//! older windows as chunks.

use super::chunk::{Body, Chunk, decode, seal};
use super::open::OpenWindow;
use crate::decode::Malformed;

/// One series: its newest window inline (appends touch one buffer), older windows as chunks.
/// 40 bytes, and no allocation for a series of one point: a million series that reported once
/// cost 40 MB here.
#[derive(Debug, Default)]
pub(super) struct SeriesHot {
    /// Start of the open window; meaningful only while `open` holds points.
    pub(super) open_window: i64,
    /// The open window's points, coded as they arrive.
    pub(super) open: OpenWindow,
    /// Windows before `open_window`, by start. Sealed, except while a write adds late points.
    pub(super) older: Older,
}

/// A series' older chunks: a pointer, null while there are none (most series between the
/// first two windows, and every series that stopped reporting once its chunks are evicted).
#[derive(Debug, Clone, Default)]
#[expect(clippy::box_collection, reason = "8 bytes in every series' slot instead of a Vec's 24")]
pub(super) struct Older(Option<Box<Vec<Chunk>>>);

impl Older {
    /// The chunks, to change.
    pub(super) fn vec(&mut self) -> &mut Vec<Chunk> {
        self.0.get_or_insert_default()
    }

    /// Replaces the chunks with `chunks` (in window order), keeping its allocation as it is.
    pub(super) fn set(&mut self, chunks: Vec<Chunk>) {
        self.0 = (!chunks.is_empty()).then(|| Box::new(chunks));
    }

    /// Lets the allocation go once no chunk is left.
    pub(super) fn tidy(&mut self) {
        if self.0.as_ref().is_some_and(|v| v.is_empty()) {
            self.0 = None;
        }
    }

    /// Heap bytes held by the list itself (not by sealed chunks' bytes).
    pub(super) fn heap_bytes(&self) -> usize {
        self.0.as_ref().map_or(0, |v| size_of::<Vec<Chunk>>() + v.capacity() * size_of::<Chunk>())
    }
}

impl std::ops::Deref for Older {
    type Target = [Chunk];

    fn deref(&self) -> &[Chunk] {
        self.0.as_deref().map(Vec::as_slice).unwrap_or_default()
    }
}

impl std::ops::DerefMut for Older {
    fn deref_mut(&mut self) -> &mut [Chunk] {
        self.0.as_deref_mut().map(Vec::as_mut_slice).unwrap_or_default()
    }
}

impl<'a> IntoIterator for &'a Older {
    type Item = &'a Chunk;
    type IntoIter = std::slice::Iter<'a, Chunk>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl SeriesHot {
    /// Start of the newest window the series has, if any.
    pub(super) fn newest(&self) -> Option<i64> {
        if self.open.is_empty() { self.older.last().map(|c| c.window) } else { Some(self.open_window) }
    }

    /// Inserts one point; returns whether an older window was changed (and needs sealing),
    /// and, with `replaced`, the value of a point at the same time that it replaced (without,
    /// the open window may answer `None` for a replaced point: finding it costs a decode).
    #[inline]
    pub(super) fn insert(
        &mut self,
        window: i64,
        t: i64,
        v: f64,
        replaced: bool,
    ) -> Result<(bool, Option<f64>), Malformed> {
        // The common case, checked without a division: a point in the open window.
        if !self.open.is_empty() && t >= self.open_window && t - self.open_window < window {
            return Ok((false, self.open.insert(t, v, replaced)));
        }
        let start = t.div_euclid(window).saturating_mul(window);
        match self.newest() {
            Some(newest) if start < newest => Ok((true, self.insert_older(start, t, v)?)),
            Some(newest) if start == newest => {
                // The newest window is the last older chunk (loaded from a checkpoint, or the
                // open window was just sealed): make it the open window again.
                let chunk = self.older.vec().pop().ok_or("newest window without a chunk")?;
                self.older.tidy();
                let (mut times, mut values) = (Vec::new(), Vec::new());
                match chunk.body {
                    Body::Sealed(sealed) => decode(&sealed.bytes, &mut times, &mut values)?,
                    Body::Open { times: ot, values: ov } => (times, values) = (ot, ov),
                }
                self.open = OpenWindow::from_points(&times, &values);
                self.open_window = start;
                Ok((false, self.open.insert(t, v, replaced)))
            }
            _ => {
                // A new window: the open one is complete, seal it.
                if !self.open.is_empty() {
                    let (mut times, mut values) = (Vec::new(), Vec::new());
                    self.open.decode(&mut times, &mut values);
                    self.older
                        .vec()
                        .push(Chunk { window: self.open_window, body: Body::Sealed(seal(&times, &values)) });
                }
                self.open = OpenWindow::default();
                self.open_window = start;
                Ok((false, self.open.insert(t, v, replaced)))
            }
        }
    }

    /// Inserts a late point into an older window, opening its chunk (or creating one).
    fn insert_older(&mut self, start: i64, t: i64, v: f64) -> Result<Option<f64>, Malformed> {
        let at = self.older.partition_point(|c| c.window < start);
        if self.older.get(at).is_none_or(|c| c.window != start) {
            self.older.vec().insert(
                at,
                Chunk { window: start, body: Body::Open { times: Vec::new(), values: Vec::new() } },
            );
        }
        let chunk = self.older.get_mut(at).ok_or("older chunk index out of range")?;
        if let Body::Sealed(sealed) = &chunk.body {
            let (mut times, mut values) = (Vec::new(), Vec::new());
            decode(&sealed.bytes, &mut times, &mut values)?;
            chunk.body = Body::Open { times, values };
        }
        if let Body::Open { times, values } = &mut chunk.body {
            match times.binary_search(&t) {
                Ok(i) => {
                    if let Some(slot) = values.get_mut(i) {
                        return Ok(Some(std::mem::replace(slot, v)));
                    }
                }
                Err(i) => {
                    times.insert(i, t);
                    values.insert(i, v);
                }
            }
        }
        Ok(None)
    }

    /// Seals the open window into the older chunks, as a checkpoint holds it: the same points,
    /// in the form a load puts back (the next point in that window opens it again).
    pub(super) fn seal_open(&mut self) {
        if self.open.is_empty() {
            return;
        }
        let (mut times, mut values) = (Vec::new(), Vec::new());
        self.open.decode(&mut times, &mut values);
        self.open = OpenWindow::default();
        self.older.vec().push(Chunk { window: self.open_window, body: Body::Sealed(seal(&times, &values)) });
    }

    pub(super) fn seal_older(&mut self) {
        for chunk in self.older.iter_mut() {
            if let Body::Open { times, values } = &chunk.body {
                chunk.body = Body::Sealed(seal(times, values));
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests may panic")]
mod tests {
    use super::*;

    /// What every series costs in its shard's vector, and a series of one point in all.
    #[test]
    fn a_series_of_one_point_takes_forty_bytes_and_no_allocation() {
        assert_eq!(size_of::<SeriesHot>(), 40);
        let mut series = SeriesHot::default();
        assert_eq!(series.insert(100, 7, 1.5, false).unwrap(), (false, None));
        assert_eq!((series.open.heap_bytes(), series.older.heap_bytes()), (0, 0));
        // A second window seals the first into the older list; evicting it lets the list go.
        series.insert(100, 150, 2.5, false).unwrap();
        assert_eq!(series.older.len(), 1);
        series.older.vec().clear();
        series.older.tidy();
        assert_eq!(series.older.heap_bytes(), 0);
    }
}
