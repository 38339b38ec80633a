//! Integer columns: a sequence of `i64` as differences of a chosen order, less their median,
//! zigzagged, bucketed (`symbol.rs`) and Huffman-coded (`huffman.rs`).
//!
//! Layout, `m` values (the count is known from the chunk header):
//!
//! | bytes | field |
//! |---|---|
//! | 1 | `order \| precision << 2`: order 0..=2 of differences, bucket precision 0..=2 |
//! | varint | bias, zigzagged: subtracted from every residual (the median) |
//! | varint × order | heads, zigzagged: `x[0]`, then for order 2 `x[1] - x[0]` |
//! | 2 + nibbles | the bucket code (`huffman.rs`) |
//! | varint × 2 | lengths in bytes of the two bit streams |
//! | bytes | the two bit streams: per residual its bucket's code, then its offset bits, first bit lowest; residuals alternate between the streams |
//!
//! Order 0 codes `x[i] - bias`, order 1 `x[i] - x[i-1] - bias`, order 2
//! `(x[i] - x[i-1]) - (x[i-1] - x[i-2]) - bias`; all arithmetic wraps, so every `i64`
//! sequence round-trips. The encoder computes the exact size of every order and precision and
//! keeps the smallest.

use crate::bits::{self, BitWriter, mask};
use crate::cursor::Cursor;
use crate::error::CodecError;
use crate::huffman::{self, TABLE_SIZE, Table};
use crate::symbol::{self, MAX_PRECISION};
use crate::varint::{self, unzigzag, zigzag};

const SECTION: &str = "integer column";

/// Highest order of differences tried.
const MAX_ORDER: usize = 2;

/// How a column is written; [`plan`] picks it, knowing its exact size.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    order: usize,
    precision: u32,
    bias: i64,
    heads: [i64; MAX_ORDER],
    /// Residuals per bucket, over both streams.
    counts: Vec<u64>,
    lens: Vec<u8>,
    /// Bytes the whole column takes.
    pub(crate) len: usize,
}

/// Residuals alternate between two bit streams so that a decoder follows two independent
/// chains of variable-length codes at once: one stream's next code position does not wait
/// for the other's table lookup.
const STREAMS: usize = 2;

/// Buffers reused between columns.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    residuals: Vec<i64>,
    sorted: Vec<i64>,
    streams: [Vec<u8>; STREAMS],
}

/// Finds the smallest way to write `xs`.
pub(crate) fn plan(xs: &[i64], scratch: &mut Scratch) -> Plan {
    let mut best: Option<Plan> = None;
    for order in 0..=MAX_ORDER.min(xs.len().saturating_sub(1)) {
        let heads = residuals(xs, order, &mut scratch.residuals);
        let bias = median(&scratch.residuals, &mut scratch.sorted);
        let mut fine = [[0u64; symbol::FINEST_BUCKETS]; STREAMS];
        for (i, &r) in scratch.residuals.iter().enumerate() {
            let (bucket, _) = symbol::bucket(zigzag(r.wrapping_sub(bias)), MAX_PRECISION);
            if let Some(c) = fine.get_mut(i & 1).and_then(|f| f.get_mut(bucket)) {
                *c += 1;
            }
        }
        for (p, map) in symbol::COARSER.iter().enumerate() {
            let p = p as u32;
            let buckets = symbol::bucket_count(p);
            let mut per_stream = [vec![0u64; buckets], vec![0u64; buckets]];
            for (coarse, fine) in per_stream.iter_mut().zip(&fine) {
                for (&to, &count) in map.iter().zip(fine) {
                    if let Some(c) = coarse.get_mut(usize::from(to)) {
                        *c += count;
                    }
                }
            }
            let [even, odd] = &per_stream;
            let counts: Vec<u64> = even.iter().zip(odd).map(|(a, b)| a + b).collect();
            let lens = huffman::lengths(&counts);
            let stream_bits = per_stream.each_ref().map(|counts| {
                let bits = |(b, (&c, &l)): (usize, (&u64, &u8))| {
                    c * u64::from(u32::from(l) + symbol::bucket_base(b, p).1)
                };
                counts.iter().zip(&lens).enumerate().map(bits).sum::<u64>()
            });
            let stream_bytes = stream_bits.map(|b| b.div_ceil(8));
            let len = 1
                + varint::len_u64(zigzag(bias))
                + heads.iter().take(order).map(|&h| varint::len_u64(zigzag(h))).sum::<usize>()
                + huffman::stored_len(&counts)
                + stream_bytes.iter().map(|&b| varint::len_u64(b) + b as usize).sum::<usize>();
            if best.as_ref().is_none_or(|b| len < b.len) {
                best = Some(Plan { order, precision: p, bias, heads, counts, lens, len });
            }
        }
    }
    // The loop runs at least once (order 0), so `best` is set; the fallback is never taken.
    best.unwrap_or_else(|| Plan {
        order: 0,
        precision: 0,
        bias: 0,
        heads: [0; MAX_ORDER],
        counts: Vec::new(),
        lens: Vec::new(),
        len: 0,
    })
}

/// Appends `xs` as `plan` says; `plan` must come from [`plan`] for the same `xs`.
pub(crate) fn write(xs: &[i64], plan: &Plan, scratch: &mut Scratch, out: &mut Vec<u8>) {
    let start = out.len();
    out.push((plan.order as u8) | ((plan.precision as u8) << 2));
    varint::put_i64(out, plan.bias);
    for &head in plan.heads.iter().take(plan.order) {
        varint::put_i64(out, head);
    }
    huffman::write_lengths(out, &plan.lens, &plan.counts);
    residuals(xs, plan.order, &mut scratch.residuals);
    let codes = huffman::codes(&plan.lens);
    let [even, odd] = &mut scratch.streams;
    even.clear();
    odd.clear();
    let mut streams = [BitWriter::new(even), BitWriter::new(odd)];
    for (i, &r) in scratch.residuals.iter().enumerate() {
        let z = zigzag(r.wrapping_sub(plan.bias));
        let (bucket, k) = symbol::bucket(z, plan.precision);
        let code = codes.get(bucket).copied().unwrap_or(0);
        let len = u32::from(plan.lens.get(bucket).copied().unwrap_or(0));
        let offset = z & mask(k);
        let [even, odd] = &mut streams;
        let bits = if i & 1 == 0 { even } else { odd };
        if len + k <= 56 {
            bits.write(code | (offset << len), len + k);
        } else {
            bits.write(code, len);
            bits.write_wide(offset, k);
        }
    }
    streams.into_iter().for_each(BitWriter::finish);
    for stream in &scratch.streams {
        varint::put_u64(out, stream.len() as u64);
    }
    for stream in &scratch.streams {
        out.extend_from_slice(stream);
    }
    debug_assert_eq!(out.len() - start, plan.len);
}

/// Fills `out` with the residuals of order `order` (before the bias) and returns the heads.
fn residuals(xs: &[i64], order: usize, out: &mut Vec<i64>) -> [i64; MAX_ORDER] {
    let mut heads = [0; MAX_ORDER];
    out.clear();
    out.extend_from_slice(xs);
    for head in heads.iter_mut().take(order) {
        *head = out.first().copied().unwrap_or(0);
        // In place: out[i] = out[i + 1] - out[i], dropping the last slot.
        let mut prev = *head;
        for slot in out.iter_mut().skip(1) {
            let x = *slot;
            *slot = x.wrapping_sub(prev);
            prev = x;
        }
        out.remove(0);
    }
    heads
}

/// The median of `xs`, 0 if empty.
fn median(xs: &[i64], sorted: &mut Vec<i64>) -> i64 {
    sorted.clear();
    sorted.extend_from_slice(xs);
    let mid = sorted.len() / 2;
    if mid >= sorted.len() {
        return 0;
    }
    *sorted.select_nth_unstable(mid).1
}

/// What a decode table entry holds for bucket `b` at precision `p`, but the code length.
fn table_entry(b: usize, p: u32) -> u32 {
    let (top, offset_bits) = symbol::bucket_base(b, p);
    (offset_bits << 8) | ((top as u32) << 16)
}

/// Reads a column of `m` values, appending them to `out` (which it leaves as it was on error).
pub(crate) fn read(
    cur: &mut Cursor<'_>,
    m: usize,
    table: &mut Table,
    out: &mut Vec<i64>,
) -> Result<(), CodecError> {
    let kind = cur.u8(SECTION)?;
    let order = usize::from(kind & 3);
    let precision = u32::from((kind >> 2) & 3);
    if kind >> 4 != 0 || order > MAX_ORDER || precision > MAX_PRECISION {
        return Err(cur.corrupt(SECTION, "unknown column kind"));
    }
    if order > 0 && m <= order {
        return Err(cur.corrupt(SECTION, "difference order needs more values than the column has"));
    }
    let bias = cur.varint_i64(SECTION)?;
    let mut heads = (0i64, 0i64);
    if order >= 1 {
        heads.0 = cur.varint_i64(SECTION)?;
    }
    if order >= 2 {
        heads.1 = cur.varint_i64(SECTION)?;
    }
    let index_mask =
        huffman::read_table(cur, symbol::bucket_count(precision), table, |b| table_entry(b, precision))?;
    let even_len = cur.varint_at_most(cur.remaining() as u64, SECTION, "bit stream longer than the chunk")?;
    let odd_len = cur.varint_at_most(cur.remaining() as u64, SECTION, "bit stream longer than the chunk")?;
    let streams = cur.take(even_len.saturating_add(odd_len), SECTION)?;
    let start = out.len();
    out.resize(start + m, 0);
    let decoded = out.get_mut(start..).unwrap_or_default();
    let (heads_slots, residuals) = decoded.split_at_mut(order.min(m));
    if !decode_residuals(streams, even_len, table, index_mask, bias, residuals) {
        out.truncate(start);
        return Err(cur.corrupt(SECTION, "bit stream ends before its last value"));
    }
    // Integrate: a second pass over the residuals, which keeps the decoding loop short.
    match (heads_slots, residuals) {
        ([first], rest) => {
            let mut x = heads.0;
            *first = x;
            for slot in rest {
                x = x.wrapping_add(*slot);
                *slot = x;
            }
        }
        ([first, second], rest) => {
            let (mut x, mut d) = heads;
            *first = x;
            x = x.wrapping_add(d);
            *second = x;
            for slot in rest {
                d = d.wrapping_add(*slot);
                x = x.wrapping_add(d);
                *slot = x;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Decodes `dst.len()` residuals (unzigzagged, bias added), alternately from the even
/// stream, `streams[..even_len]`, and the odd one after it; false if a stream is too short.
///
/// Each stream's state is one bit position: a decoder with two streams needs few registers.
fn decode_residuals(
    streams: &[u8],
    even_len: usize,
    table: &Table,
    index_mask: u64,
    bias: i64,
    dst: &mut [i64],
) -> bool {
    let (mut even, mut odd) = (0u64, even_len as u64 * 8);
    let mut pairs = dst.chunks_exact_mut(2);
    for pair in &mut pairs {
        if let [a, b] = pair {
            *a = unzigzag(next_residual(streams, &mut even, table, index_mask)).wrapping_add(bias);
            *b = unzigzag(next_residual(streams, &mut odd, table, index_mask)).wrapping_add(bias);
        }
    }
    if let [last] = pairs.into_remainder() {
        *last = unzigzag(next_residual(streams, &mut even, table, index_mask)).wrapping_add(bias);
    }
    even <= even_len as u64 * 8 && odd <= streams.len() as u64 * 8
}

/// Decodes one zigzagged residual at bit `pos` of `stream` and moves `pos` past it: the
/// bucket's code from the table, then the offset bits.
#[inline(always)]
fn next_residual(stream: &[u8], pos: &mut u64, table: &Table, index_mask: u64) -> u64 {
    let word = bits::word_at(stream, *pos);
    #[expect(clippy::indexing_slicing, reason = "the index is masked to the table's fixed size")]
    let entry = table[(word & index_mask) as usize & (TABLE_SIZE - 1)];
    let code_len = entry & 0xff;
    let offset_bits = (entry >> 8) & 0xff;
    let top = u64::from(entry >> 16);
    // A word holds at least 57 bits and a code at most 10; wider offsets (values near 2^63)
    // are read in two halves.
    let offset = if offset_bits <= 47 {
        (word >> code_len) & ((1u64 << offset_bits) - 1)
    } else {
        let at = *pos + u64::from(code_len);
        let low = bits::word_at(stream, at) & 0xffff_ffff;
        let high = bits::word_at(stream, at + 32) & ((1u64 << (offset_bits - 32)) - 1);
        low | (high << 32)
    };
    *pos += u64::from(code_len + offset_bits);
    (top << offset_bits) | offset
}
