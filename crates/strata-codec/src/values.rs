//! The value column: decimal when the chunk's values are short decimals, raw bits otherwise.
//!
//! Layout, `n` values:
//!
//! | bytes | field |
//! |---|---|
//! | 1 | scheme: 0 decimal, 1 bits |
//! | *decimal:* 1 | scale `d`, 0..=18 |
//! | varint | exceptions `e`, at most `n` |
//! | (varint, 8) × e | position (gap after the previous exception's, or from 0), raw bits LE |
//! | column | `n` integers `i` (`column.rs`); value = `i as f64 / 10^d` |
//! | *bits:* column | `n` integers: the bits of each value, negatives' magnitude bits flipped so that the integers order as the values do |
//!
//! A value is decimal at scale `d` if `round(v * 10^d) as i64 as f64 / 10^d` gives back its
//! exact bits; IEEE division is correctly rounded, so a value parsed from text with at most
//! `d` decimals always is. Values that are not (-0.0, NaN, infinities, long fractions) are
//! exceptions: stored raw, and in the integer column replaced by the integer before them so
//! they cost no bits there. The encoder picks the scale that minimises about
//! `n * d * log2(10) + 72 * exceptions` bits, then keeps whichever of decimal or bits is smaller.

use crate::column::{self, Scratch as ColumnScratch};
use crate::cursor::Cursor;
use crate::error::CodecError;
use crate::huffman::Table;
use crate::varint;

const SECTION: &str = "values";
const DECIMAL: u8 = 0;
const BITS: u8 = 1;

/// Largest scale: 10^18 is the largest power of ten below 2^63.
const MAX_SCALE: usize = 18;

/// Exact powers of ten (every one up to 10^22 is a double).
pub(crate) const POW10: [f64; MAX_SCALE + 1] =
    [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18];

/// Buffers reused between chunks.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    ints: Vec<i64>,
    alt: Vec<i64>,
    exceptions: Vec<(usize, u64)>,
    column: ColumnScratch,
}

/// Appends the value column.
pub(crate) fn write(values: &[f64], scratch: &mut Scratch, out: &mut Vec<u8>) {
    let scale = choose_scale(values);
    let Scratch { ints, alt, exceptions, column } = scratch;
    let mut decimal = None;
    if let Some(scale) = scale {
        decimal_ints(values, scale, ints, exceptions);
        let plan = column::plan(ints, column);
        let mut len = 2 + varint::len_u64(exceptions.len() as u64) + plan.len;
        let mut prev = 0;
        for &(pos, _) in exceptions.iter() {
            len += varint::len_u64((pos - prev) as u64) + 8;
            prev = pos + 1;
        }
        decimal = Some((scale, plan, len));
    }
    // Raw bits only compete when some values are not decimal; otherwise the decimal integers
    // are never larger, and planning bits would double the encoder's work.
    let bits = match &decimal {
        Some(_) if exceptions.is_empty() => None,
        _ => {
            alt.clear();
            alt.extend(values.iter().map(|v| ordered(v.to_bits())));
            let plan = column::plan(alt, column);
            Some((1 + plan.len, plan))
        }
    };
    match (decimal, bits) {
        (Some((scale, plan, len)), bits) if bits.as_ref().is_none_or(|(bits_len, _)| len <= *bits_len) => {
            out.push(DECIMAL);
            out.push(scale as u8);
            varint::put_u64(out, exceptions.len() as u64);
            let mut prev = 0;
            for &(pos, bits) in exceptions.iter() {
                varint::put_u64(out, (pos - prev) as u64);
                out.extend_from_slice(&bits.to_le_bytes());
                prev = pos + 1;
            }
            column::write(ints, &plan, column, out);
        }
        (_, Some((_, plan))) => {
            out.push(BITS);
            column::write(alt, &plan, column, out);
        }
        // Unreachable: bits are planned whenever decimal is not.
        (_, None) => {}
    }
}

/// The scale minimising the estimated size, or `None` if no value is decimal at any scale.
fn choose_scale(values: &[f64]) -> Option<usize> {
    // per_scale[d]: values whose smallest scale is d; the rest are never decimal.
    let mut per_scale = [0u64; MAX_SCALE + 1];
    for &v in values {
        if let Some(slot) = min_scale(v).and_then(|d| per_scale.get_mut(d)) {
            *slot += 1;
        }
    }
    let decimal: u64 = per_scale.iter().sum();
    if decimal == 0 {
        return None;
    }
    let n = values.len() as f64;
    let mut covered = 0u64;
    let mut best = (f64::INFINITY, 0);
    for (d, &count) in per_scale.iter().enumerate() {
        covered += count;
        let exceptions = (values.len() as u64 - covered) as f64;
        let cost = n * d as f64 * std::f64::consts::LOG2_10 + exceptions * 72.0;
        if cost < best.0 {
            best = (cost, d);
        }
    }
    Some(best.1)
}

/// The smallest scale at which `v` is decimal.
pub(crate) fn min_scale(v: f64) -> Option<usize> {
    if !v.is_finite() {
        return None;
    }
    POW10.iter().position(|&p| decimal_at(v, p).is_some())
}

/// `v`'s integer at scale `p = 10^d`, if it gives back `v` exactly.
#[inline]
pub(crate) fn decimal_at(v: f64, p: f64) -> Option<i64> {
    // `as` saturates, and a saturated integer fails the check.
    let i = round(v * p) as i64;
    ((i as f64 / p).to_bits() == v.to_bits()).then_some(i)
}

/// `x` rounded to a nearby integer (ties either way: the caller checks the result). Adding
/// and subtracting 1.5 * 2^52 rounds in the FPU, where `f64::round` is a libm call on
/// baseline x86-64.
#[inline]
fn round(x: f64) -> f64 {
    const MAGIC: f64 = 6_755_399_441_055_744.0;
    if x.abs() < 1e15 { (x + MAGIC) - MAGIC } else { x.round() }
}

/// Fills `ints` with the values' integers at `scale` and `exceptions` with the values that
/// are not decimal at it; an exception's integer repeats the one before it (or, at the
/// start, the first decimal one) so that it adds nothing to the differences.
fn decimal_ints(values: &[f64], scale: usize, ints: &mut Vec<i64>, exceptions: &mut Vec<(usize, u64)>) {
    let p = POW10.get(scale).copied().unwrap_or(1.0);
    ints.clear();
    exceptions.clear();
    let first = values.iter().find_map(|&v| decimal_at(v, p)).unwrap_or(0);
    let mut prev = first;
    for (pos, &v) in values.iter().enumerate() {
        match decimal_at(v, p) {
            Some(i) => prev = i,
            None => exceptions.push((pos, v.to_bits())),
        }
        ints.push(prev);
    }
}

/// Maps float bits to integers that order as the floats do (for non-NaN): negative floats
/// have their magnitude bits flipped. Its own inverse.
#[inline]
pub(crate) fn ordered(bits: u64) -> i64 {
    let b = bits as i64;
    b ^ (((b >> 63) as u64) >> 1) as i64
}

/// Reads a value column of `n` values, appending them to `out`.
pub(crate) fn read(
    cur: &mut Cursor<'_>,
    n: usize,
    table: &mut Table,
    scratch: &mut Scratch,
    out: &mut Vec<f64>,
) -> Result<(), CodecError> {
    let ints = &mut scratch.ints;
    ints.clear();
    match cur.u8(SECTION)? {
        DECIMAL => {
            let scale = usize::from(cur.u8(SECTION)?);
            let p = *POW10.get(scale).ok_or_else(|| cur.corrupt(SECTION, "decimal scale above 18"))?;
            // Each exception takes at least 9 bytes, which bounds the reservation below.
            let max = (n as u64).min(cur.remaining() as u64 / 9);
            let count = cur.varint_at_most(max, SECTION, "more exceptions than values or bytes")?;
            let exceptions = &mut scratch.exceptions;
            exceptions.clear();
            exceptions.reserve(count);
            let mut next = 0usize;
            for _ in 0..count {
                let gap =
                    cur.varint_at_most((n - next) as u64, SECTION, "exception position past the chunk")?;
                let pos = next + gap;
                if pos >= n {
                    return Err(cur.corrupt(SECTION, "exception position past the chunk"));
                }
                exceptions.push((pos, cur.u64_le(SECTION)?));
                next = pos + 1;
            }
            column::read(cur, n, table, ints)?;
            let start = out.len();
            out.extend(ints.iter().map(|&i| i as f64 / p));
            if let Some(decoded) = out.get_mut(start..) {
                for &(pos, bits) in exceptions.iter() {
                    if let Some(slot) = decoded.get_mut(pos) {
                        *slot = f64::from_bits(bits);
                    }
                }
            }
        }
        BITS => {
            column::read(cur, n, table, ints)?;
            out.extend(ints.iter().map(|&i| f64::from_bits(ordered(i as u64) as u64)));
        }
        _ => return Err(cur.corrupt(SECTION, "unknown value scheme")),
    }
    Ok(())
}
