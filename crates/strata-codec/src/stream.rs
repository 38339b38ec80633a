//! An appendable encoding for a window that is still filling: points go in one at a time, in
//! time order, at a few bits each, and the whole window decodes at once. It lives in memory
//! only (a sealed chunk is what the log, checkpoints and tiers see), so its layout may change
//! between builds.
//!
//! Layout: the first point raw (timestamp `i64` LE, value bits LE), then per point a
//! timestamp code and a value code, bits packed from the lowest bit of each byte.
//! - Timestamps: the step `t[i] - t[i-1]` in units of `10^unit` ns (the largest power of ten,
//!   up to 10^18, dividing every step); the code is of the step's change from the previous
//!   step (0 for the first), so a steady interval costs one bit.
//! - Values: at decimal scale `d` (the smallest at which every value of the window is exact,
//!   as in the sealed codec), the change of `round(v * 10^d)`; a window holding a value that
//!   is decimal at no scale (NaN, infinities, -0.0, long fractions) codes the change of the
//!   value's bits ordered as integers instead.
//! - A code for a signed change `x`, with `z` its zigzag: `0` for `z == 0`; `10` then `z` in
//!   the previous width; `11`, 6 bits of `L - 1`, then the `L - 1` bits of `z` below its top
//!   bit, where `L` is the bit length of `z`, which becomes the width.
//!
//! A point whose timestamp or value does not fit the window's unit or scale rebuilds the
//! window with finer ones (at most a few dozen times a window, as each only ever gets finer).

use crate::bits::{mask, word_at};
use crate::values::{POW10, decimal_at, min_scale, ordered};
use crate::varint::{unzigzag, zigzag};

/// The value coding of a window without a decimal scale.
const BITS: u8 = u8::MAX;
/// The largest timestamp unit, 10^18 ns.
const MAX_UNIT: u8 = 18;

/// Points of one window in time order, coded as they arrive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stream {
    bytes: Vec<u8>,
    /// Bits written; the last byte's bits above this are zero.
    bit_len: u64,
    len: u32,
    /// Timestamps step in multiples of `10^unit` ns.
    unit: u8,
    /// Decimal scale of the values, or [`BITS`].
    scale: u8,
    time_width: u8,
    value_width: u8,
    last_time: i64,
    /// The last step, in units.
    last_step: u64,
    /// The last value as coded: its integer at `scale`, or its ordered bits.
    last_value: i64,
    /// The coder's state before the newest point, so that a point arriving just behind the
    /// newest (two writers whose records were logged in the other order) is put in by
    /// rewinding one point, not by decoding the window. [`Before::NONE`] when unknown.
    before_last: Before,
}

/// What [`Stream::push_behind`] restores: the coder's state before the newest point (its time
/// follows from the newest point's step). Not an `Option`: its 8 bytes more would take every
/// open window's allocation to the next size class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Before {
    /// `u64::MAX`: no state kept (fewer than two points, or after a cut).
    bit_len: u64,
    last_step: u64,
    last_value: i64,
    time_width: u8,
    value_width: u8,
}

impl Before {
    const NONE: Before =
        Before { bit_len: u64::MAX, last_step: 0, last_value: 0, time_width: 0, value_width: 0 };
}

impl Default for Before {
    fn default() -> Before {
        Before::NONE
    }
}

/// [`Stream::push`] was given a timestamp at or before the stream's last one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotAfter {
    pub last: i64,
}

impl Stream {
    /// A window of `timestamps` (strictly increasing) and their `values`, with the coarsest
    /// unit and the smallest scale that hold them all.
    ///
    /// Timestamps that do not increase are skipped (debug builds assert).
    pub fn from_points(timestamps: &[i64], values: &[f64]) -> Stream {
        debug_assert!(timestamps.is_sorted(), "timestamps must increase");
        let mut stream = Stream::default();
        let (Some(&first), Some(_)) = (timestamps.first(), values.first()) else { return stream };
        let mut unit = MAX_UNIT;
        let mut previous = first;
        for &t in timestamps.iter().skip(1) {
            unit = unit.min(unit_of((t as u64).wrapping_sub(previous as u64), unit));
            previous = t;
        }
        let scale = scale_of(values);
        stream.unit = unit;
        stream.scale = scale;
        stream.bytes.reserve_exact(16 + timestamps.len() / 2);
        for (&t, &v) in timestamps.iter().zip(values) {
            if stream.len > 0 && t <= stream.last_time {
                continue;
            }
            stream.append(t, v);
        }
        stream
    }

    /// Points in the window.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The timestamp of the newest point.
    pub fn last_time(&self) -> Option<i64> {
        (self.len > 0).then_some(self.last_time)
    }

    /// Heap bytes held (the allocation, not only what is used).
    pub fn heap_bytes(&self) -> usize {
        self.bytes.capacity()
    }

    /// Appends a point after the newest one.
    ///
    /// # Errors
    /// [`NotAfter`] when `t` is not after the newest timestamp; nothing changes.
    pub fn push(&mut self, t: i64, v: f64) -> Result<(), NotAfter> {
        if self.len == 0 {
            self.scale = scale_of(&[v]);
            self.unit = MAX_UNIT;
            self.append(t, v);
            return Ok(());
        }
        if t <= self.last_time {
            return Err(NotAfter { last: self.last_time });
        }
        let diff = (t as u64).wrapping_sub(self.last_time as u64);
        let unit = pow10(self.unit);
        // A steady interval needs no division.
        let step = if self.last_step.wrapping_mul(unit) == diff { self.last_step } else { diff / unit };
        let coded = if self.scale == BITS {
            Some(ordered(v.to_bits()))
        } else {
            decimal_at(v, scale_factor(self.scale))
        };
        match coded {
            Some(coded) if step.wrapping_mul(unit) == diff => self.append_coded(t, step, coded),
            _ => {
                // A finer unit or scale: rebuild the window with this point.
                let n = self.len() + 1;
                let (mut times, mut values) = (Vec::with_capacity(n), Vec::with_capacity(n));
                self.decode(&mut times, &mut values);
                times.push(t);
                values.push(v);
                *self = Stream::from_points(&times, &values);
            }
        }
        Ok(())
    }

    /// Puts in a point at or before the newest one but after the one before it: the newest
    /// point is taken off, this one appended, and the newest appended again after it (at the
    /// newest's time, this one replaces it). Returns the value replaced, if any. Costs two
    /// appends where [`Stream::split_off`] decodes the window.
    ///
    /// # Errors
    /// [`NotAfter`] with the time before the newest when `t` is not after it (or the stream
    /// holds fewer than two points); nothing changes.
    pub fn push_behind(&mut self, t: i64, v: f64) -> Result<Option<f64>, NotAfter> {
        let before = self.before_last;
        if before == Before::NONE || self.len < 2 {
            return Err(NotAfter { last: self.last_time });
        }
        let previous = self.last_time.wrapping_sub(self.last_step.wrapping_mul(pow10(self.unit)) as i64);
        if t <= previous || t > self.last_time {
            return Err(NotAfter { last: previous });
        }
        let (newest_t, newest_v) = (self.last_time, self.value_of(self.last_value));
        self.truncate_bits(before.bit_len);
        self.len -= 1;
        self.last_time = previous;
        self.last_step = before.last_step;
        self.last_value = before.last_value;
        (self.time_width, self.value_width) = (before.time_width, before.value_width);
        self.before_last = Before::NONE;
        // Both pushes follow the newest point kept: they cannot fail.
        let pushed = self.push(t, v);
        debug_assert!(pushed.is_ok());
        if t == newest_t {
            return Ok(Some(newest_v));
        }
        let pushed = self.push(newest_t, newest_v);
        debug_assert!(pushed.is_ok());
        Ok(None)
    }

    /// The value a point coded as `coded` decodes to (not the first point's: it is raw).
    fn value_of(&self, coded: i64) -> f64 {
        if self.scale == BITS {
            f64::from_bits(ordered(coded as u64) as u64)
        } else {
            coded as f64 / scale_factor(self.scale)
        }
    }

    /// Cuts the bits back to `bit_len`, clearing what follows in the last byte (`write` ORs
    /// into it).
    fn truncate_bits(&mut self, bit_len: u64) {
        let whole = usize::try_from(bit_len.div_ceil(8)).unwrap_or(usize::MAX);
        self.bytes.truncate(whole);
        let spare = (bit_len % 8) as u32;
        if spare > 0
            && let Some(last) = self.bytes.last_mut()
        {
            *last &= mask(spare) as u8;
        }
        self.bit_len = bit_len;
    }

    /// Appends every point, oldest first.
    pub fn decode(&self, timestamps: &mut Vec<i64>, values: &mut Vec<f64>) {
        timestamps.reserve(self.len());
        values.reserve(self.len());
        self.walk(|t, v, _| {
            timestamps.push(t);
            values.push(v);
        });
    }

    /// Removes the points at or after `from` and returns them in time order: the window's
    /// older points stay coded as they are, so putting a few late points in costs a decode of
    /// the window and a new coding of its tail only.
    pub fn split_off(&mut self, from: i64, timestamps: &mut Vec<i64>, values: &mut Vec<f64>) {
        if self.len == 0 || from > self.last_time {
            return;
        }
        // The coder's state after the last point kept, where the stream is cut, and after the
        // point before it.
        let (mut cut, mut before): (Option<Cut>, Option<Cut>) = (None, None);
        self.walk(|t, v, state| {
            if t >= from {
                timestamps.push(t);
                values.push(v);
            } else {
                before = cut.replace(state);
            }
        });
        let Some(cut) = cut else {
            // Every point goes: an empty window, which the next push sets up afresh.
            *self = Stream::default();
            return;
        };
        self.truncate_bits(cut.bit_len);
        self.before_last = before.map_or(Before::NONE, |b| Before {
            bit_len: b.bit_len,
            last_step: b.last_step,
            last_value: b.last_value,
            time_width: b.time_width,
            value_width: b.value_width,
        });
        self.len = cut.len;
        self.last_time = cut.last_time;
        self.last_step = cut.last_step;
        self.last_value = cut.last_value;
        self.time_width = cut.time_width;
        self.value_width = cut.value_width;
    }

    /// Calls `f` with every point, oldest first, and the coder's state after it.
    #[inline]
    fn walk(&self, mut f: impl FnMut(i64, f64, Cut)) {
        if self.len == 0 {
            return;
        }
        let mut reader = Reader { bytes: self.bytes.as_slice(), pos: 0 };
        let mut t = reader.read64() as i64;
        let first = f64::from_bits(reader.read64());
        let unit = pow10(self.unit);
        let p = scale_factor(self.scale);
        let mut value = self.coded(first);
        let (mut step, mut time_width, mut value_width) = (0u64, 0u8, 0u8);
        let mut v = first;
        for index in 1..=self.len {
            let state = Cut {
                bit_len: reader.pos,
                len: index,
                last_time: t,
                last_step: step,
                last_value: value,
                time_width,
                value_width,
            };
            f(t, v, state);
            if index == self.len {
                break;
            }
            step = step.wrapping_add(reader.code(&mut time_width) as u64);
            t = t.wrapping_add(step.wrapping_mul(unit) as i64);
            value = value.wrapping_add(reader.code(&mut value_width));
            v = if self.scale == BITS {
                f64::from_bits(ordered(value as u64) as u64)
            } else {
                value as f64 / p
            };
        }
    }

    /// Writes a point that fits the unit and scale, after the newest.
    fn append(&mut self, t: i64, v: f64) {
        if self.len == 0 {
            self.bytes.clear();
            self.bit_len = 0;
            self.write_wide(t as u64, 64);
            self.write_wide(v.to_bits(), 64);
            self.last_step = 0;
            (self.time_width, self.value_width) = (0, 0);
            self.last_value = self.coded(v);
            self.last_time = t;
            self.len = 1;
            self.before_last = Before::NONE;
        } else {
            let step = (t as u64).wrapping_sub(self.last_time as u64) / pow10(self.unit);
            self.append_coded(t, step, self.coded(v));
        }
    }

    /// Writes a point after the newest: `step` in units since it, `coded` its value as coded.
    #[inline]
    fn append_coded(&mut self, t: i64, step: u64, coded: i64) {
        self.before_last = Before {
            bit_len: self.bit_len,
            last_step: self.last_step,
            last_value: self.last_value,
            time_width: self.time_width,
            value_width: self.value_width,
        };
        let dod = step.wrapping_sub(self.last_step) as i64;
        let change = coded.wrapping_sub(self.last_value);
        // A steady step (a single 0 bit) and a short value code go out in one write.
        match short_code(zigzag(change), self.value_width, 55) {
            Some((bits, n, width)) if dod == 0 => {
                self.write(bits << 1, n + 1);
                self.value_width = width;
            }
            _ => {
                let mut width = self.time_width;
                self.write_code(dod, &mut width);
                self.time_width = width;
                let mut width = self.value_width;
                self.write_code(change, &mut width);
                self.value_width = width;
            }
        }
        self.last_step = step;
        self.last_value = coded;
        self.last_time = t;
        self.len += 1;
    }

    /// `v` as the window codes it: its integer at the scale, or its ordered bits.
    fn coded(&self, v: f64) -> i64 {
        if self.scale == BITS {
            ordered(v.to_bits())
        } else {
            decimal_at(v, scale_factor(self.scale)).unwrap_or(0)
        }
    }

    #[inline]
    fn write_code(&mut self, x: i64, width: &mut u8) {
        let z = zigzag(x);
        if let Some((bits, n, new_width)) = short_code(z, *width, 56) {
            self.write(bits, n);
            *width = new_width;
            return;
        }
        // Codes longer than one write: same layout, in parts.
        let len = 64 - z.leading_zeros();
        let w = u32::from(*width);
        if same_width(len, w) {
            self.write(0b01, 2);
            self.write_wide(z, w);
        } else {
            self.write(0b11 | u64::from(len - 1) << 2, 8);
            self.write_wide(z & mask(len - 1), len - 1);
            *width = len as u8;
        }
    }

    /// Appends the low `n` bits of `bits` (`n <= 64`, the other bits zero).
    fn write_wide(&mut self, bits: u64, n: u32) {
        if n <= 56 {
            self.write(bits, n);
        } else {
            self.write(bits & mask(32), 32);
            self.write(bits >> 32, n - 32);
        }
    }

    /// Appends the low `n` bits of `bits` (`n <= 56`, the other bits zero).
    #[inline]
    fn write(&mut self, bits: u64, n: u32) {
        debug_assert!(n <= 56 && bits >> n == 0);
        let offset = (self.bit_len % 8) as u32;
        let word = (bits << offset).to_le_bytes();
        let bytes = (offset + n).div_ceil(8) as usize;
        let (first, rest) = word.split_at(1);
        let new = if offset > 0 {
            if let (Some(last), Some(&low)) = (self.bytes.last_mut(), first.first()) {
                *last |= low;
            }
            rest.get(..bytes.saturating_sub(1)).unwrap_or_default()
        } else {
            word.get(..bytes).unwrap_or_default()
        };
        if self.bytes.len() + new.len() > self.bytes.capacity() {
            // Grow by an eighth: an open window's bytes stay within 12.5% of its data (a
            // quarter left 1.5 MB unused over 7 M points, at the peak of a `strata write`).
            self.bytes.reserve_exact(self.bytes.len() / 8 + 16);
        }
        self.bytes.extend_from_slice(new);
        self.bit_len += u64::from(n);
    }
}

/// The code of zigzagged `z` at the previous `width` (see the module docs), as bits to write
/// and their number, with the width after it; `None` when it is longer than `max` bits.
#[inline]
fn short_code(z: u64, width: u8, max: u32) -> Option<(u64, u32, u8)> {
    if z == 0 {
        return Some((0, 1, width));
    }
    let len = 64 - z.leading_zeros();
    let w = u32::from(width);
    if same_width(len, w) {
        (2 + w <= max).then_some((0b01 | z << 2, 2 + w, width))
    } else {
        let head = 0b11 | u64::from(len - 1) << 2;
        (8 + len - 1 <= max).then(|| (head | (z & mask(len - 1)) << 8, 8 + len - 1, len as u8))
    }
}

/// Whether a change of bit length `len` is coded in the previous width `w`: it fits, and a new
/// width (8 bits more) would not save more than that.
#[inline]
fn same_width(len: u32, w: u32) -> bool {
    len <= w && w - len <= 8
}

/// The coder's state after one point, where [`Stream::split_off`] cuts.
struct Cut {
    bit_len: u64,
    len: u32,
    last_time: i64,
    last_step: u64,
    last_value: i64,
    time_width: u8,
    value_width: u8,
}

/// Reads codes back in the order [`Stream`] wrote them.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: u64,
}

impl Reader<'_> {
    fn read(&mut self, n: u32) -> u64 {
        let bits = word_at(self.bytes, self.pos) & mask(n);
        self.pos += u64::from(n);
        bits
    }

    fn read64(&mut self) -> u64 {
        let low = self.read(32);
        low | self.read(32) << 32
    }

    fn code(&mut self, width: &mut u8) -> i64 {
        if self.read(1) == 0 {
            return 0;
        }
        let z = if self.read(1) == 0 {
            let w = u32::from(*width);
            if w > 32 { self.read(32) | self.read(w - 32) << 32 } else { self.read(w) }
        } else {
            let len = self.read(6) as u32 + 1;
            let below = len - 1;
            let low = if below > 32 { self.read(32) | self.read(below - 32) << 32 } else { self.read(below) };
            *width = len as u8;
            low | 1u64.checked_shl(below).unwrap_or(0)
        };
        unzigzag(z)
    }
}

/// The largest unit exponent, at most `limit`, whose power of ten divides `step`.
fn unit_of(step: u64, limit: u8) -> u8 {
    (0..=limit).rev().find(|&e| step.is_multiple_of(pow10(e))).unwrap_or(0)
}

/// The smallest scale at which every value is decimal, or [`BITS`].
fn scale_of(values: &[f64]) -> u8 {
    let mut scale = 0usize;
    for &v in values {
        match min_scale(v) {
            Some(d) => scale = scale.max(d),
            None => return BITS,
        }
    }
    let p = POW10.get(scale).copied().unwrap_or(1.0);
    if values.iter().all(|&v| decimal_at(v, p).is_some()) { scale as u8 } else { BITS }
}

fn scale_factor(scale: u8) -> f64 {
    POW10.get(usize::from(scale)).copied().unwrap_or(1.0)
}

fn pow10(e: u8) -> u64 {
    const UNITS: [u64; MAX_UNIT as usize + 1] = [
        1,
        10,
        100,
        1_000,
        10_000,
        100_000,
        1_000_000,
        10_000_000,
        100_000_000,
        1_000_000_000,
        10_000_000_000,
        100_000_000_000,
        1_000_000_000_000,
        10_000_000_000_000,
        100_000_000_000_000,
        1_000_000_000_000_000,
        10_000_000_000_000_000,
        100_000_000_000_000_000,
        1_000_000_000_000_000_000,
    ];
    UNITS.get(usize::from(e)).copied().unwrap_or(1)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests may panic")]
#[path = "stream_tests.rs"]
mod tests;
