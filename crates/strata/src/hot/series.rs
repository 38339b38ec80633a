//! One series in the hot store: its newest window inline, so an append touches one buffer, and
//! older windows as chunks.

use super::chunk::{Body, Chunk, decode, seal};
use super::open::OpenWindow;
use crate::decode::Malformed;

/// One series: its newest window inline (appends touch one buffer), older windows as chunks.
#[derive(Debug, Default)]
pub(super) struct SeriesHot {
    /// Start of the open window; meaningful only while `open` holds points.
    pub(super) open_window: i64,
    /// The open window's points, coded as they arrive.
    pub(super) open: OpenWindow,
    /// Windows before `open_window`, by start. Sealed, except while a write adds late points.
    pub(super) older: Vec<Chunk>,
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
                let chunk = self.older.pop().ok_or("newest window without a chunk")?;
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
            self.older.insert(
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

    pub(super) fn seal_older(&mut self) {
        for chunk in &mut self.older {
            if let Body::Open { times, values } = &chunk.body {
                chunk.body = Body::Sealed(seal(times, values));
            }
        }
    }
}
