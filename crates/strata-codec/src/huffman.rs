//! Length-limited canonical Huffman codes over at most 256 symbols (bucket numbers): building
//! them from counts, storing their lengths, and the lookup table that decodes them.
//!
//! A code is stored as its lengths: the first used symbol `lo`, `count - 1` (one byte each),
//! then, if `count > 1`, the lengths of symbols `lo..lo + count` in nibbles, low nibble first,
//! 0 for a symbol that does not occur. A single symbol (`count == 1`) has a code of length 0:
//! a column whose residuals all fall in one bucket spends no bits on codes. Codes are
//! canonical (ordered by length, then symbol) and their bits are written first bit lowest,
//! so a decoder indexes a table with the next [`MAX_CODE_LEN`] bits of the stream.

use crate::cursor::Cursor;
use crate::error::CodecError;

/// Longest code. Keeps the decode table at 1024 entries (4 KiB), cheap to fill for each
/// chunk; on the strata-gen workload a limit of 12 saves under 0.1 %.
pub(crate) const MAX_CODE_LEN: u32 = 10;

/// Entries in a decode table.
pub(crate) const TABLE_SIZE: usize = 1 << MAX_CODE_LEN;

const SECTION: &str = "code table";

/// Code lengths for symbols with the given counts: 0 for unused symbols, and for the only
/// symbol when just one is used.
pub(crate) fn lengths(counts: &[u64]) -> Vec<u8> {
    let mut lens = vec![0u8; counts.len()];
    let mut scaled: Vec<(u64, usize)> =
        counts.iter().enumerate().filter(|&(_, &c)| c > 0).map(|(s, &c)| (c, s)).collect();
    if scaled.len() < 2 {
        return lens;
    }
    loop {
        scaled.sort_unstable();
        let depths = tree_depths(scaled.iter().map(|&(c, _)| c));
        if depths.iter().all(|&d| u32::from(d) <= MAX_CODE_LEN) {
            for (&(_, symbol), depth) in scaled.iter().zip(depths) {
                if let Some(len) = lens.get_mut(symbol) {
                    *len = depth;
                }
            }
            return lens;
        }
        // Too deep: flatten the distribution and build again. Halving converges to equal
        // counts, whose tree is 8 deep for 256 symbols, so this ends.
        for (count, _) in &mut scaled {
            *count = (*count >> 1).max(1);
        }
    }
}

/// Leaf depths of a Huffman tree over `sorted` weights (ascending), in the same order. Uses
/// the two-queue method: leaves in order, and internal nodes, created in order of weight.
fn tree_depths(sorted: impl ExactSizeIterator<Item = u64>) -> Vec<u8> {
    let leaves = sorted.len();
    let mut weight: Vec<u64> = sorted.collect();
    let mut parent = vec![0usize; 2 * leaves - 1];
    let (mut next_leaf, mut next_inner) = (0, leaves);
    for node in leaves..2 * leaves - 1 {
        let mut pick = || {
            let leaf = weight.get(next_leaf).filter(|_| next_leaf < leaves);
            let inner = weight.get(next_inner).filter(|_| next_inner < node);
            match (leaf, inner) {
                (Some(l), Some(i)) if l <= i => {
                    next_leaf += 1;
                    (next_leaf - 1, *l)
                }
                (_, Some(i)) => {
                    next_inner += 1;
                    (next_inner - 1, *i)
                }
                (l, None) => {
                    next_leaf += 1;
                    (next_leaf - 1, l.copied().unwrap_or(0))
                }
            }
        };
        let (a, wa) = pick();
        let (b, wb) = pick();
        weight.push(wa.saturating_add(wb));
        for child in [a, b] {
            if let Some(p) = parent.get_mut(child) {
                *p = node;
            }
        }
    }
    // Parents come after their children, so walking down from the root sees a parent's
    // depth before its children need it.
    let mut depth = vec![0u8; 2 * leaves - 1];
    for node in (0..2 * leaves - 2).rev() {
        let up = parent.get(node).and_then(|&p| depth.get(p)).copied().unwrap_or(0);
        if let Some(d) = depth.get_mut(node) {
            *d = up.saturating_add(1);
        }
    }
    depth.truncate(leaves);
    depth
}

/// Canonical codes for `lens`, bit-reversed for a first-bit-lowest stream: `codes[s]` is
/// written in `lens[s]` bits. Lengths above [`MAX_CODE_LEN`] are treated as unused.
pub(crate) fn codes(lens: &[u8]) -> Vec<u64> {
    let mut codes = vec![0u64; lens.len()];
    let mut next = first_codes(lens);
    for (code, &len) in codes.iter_mut().zip(lens) {
        if let Some(slot) = next.get_mut(usize::from(len)).filter(|_| len > 0) {
            *code = reverse(*slot, u32::from(len));
            *slot += 1;
        }
    }
    codes
}

/// The first canonical code of each length: codes are assigned counting up, shorter codes
/// first, and within a length in symbol order (DEFLATE's construction).
fn first_codes(lens: &[u8]) -> [u64; MAX_CODE_LEN as usize + 1] {
    let mut per_len = [0u64; MAX_CODE_LEN as usize + 1];
    for &len in lens {
        if let Some(count) = per_len.get_mut(usize::from(len)).filter(|_| len > 0) {
            *count += 1;
        }
    }
    let mut next = [0u64; MAX_CODE_LEN as usize + 1];
    let mut code = 0u64;
    for len in 1..=MAX_CODE_LEN as usize {
        code = (code + per_len.get(len - 1).copied().unwrap_or(0)) << 1;
        if let Some(slot) = next.get_mut(len) {
            *slot = code;
        }
    }
    next
}

fn reverse(code: u64, len: u32) -> u64 {
    if len == 0 { 0 } else { code.reverse_bits() >> (64 - len) }
}

/// Bytes [`write_lengths`] takes.
pub(crate) fn stored_len(counts: &[u64]) -> usize {
    match used_range(counts) {
        Some((lo, hi)) if hi > lo => 2 + (hi - lo + 1).div_ceil(2),
        _ => 2,
    }
}

/// First and last symbol with a non-zero count.
fn used_range(counts: &[u64]) -> Option<(usize, usize)> {
    let lo = counts.iter().position(|&c| c > 0)?;
    let hi = counts.iter().rposition(|&c| c > 0)?;
    Some((lo, hi))
}

/// Appends the code: `lo`, `count - 1`, nibbles. With no symbol used at all (an empty column)
/// it stores the single symbol 0.
pub(crate) fn write_lengths(out: &mut Vec<u8>, lens: &[u8], counts: &[u64]) {
    let (lo, hi) = used_range(counts).unwrap_or((0, 0));
    out.push(lo as u8);
    out.push((hi - lo) as u8);
    if hi > lo {
        let used = lens.get(lo..=hi).unwrap_or_default();
        for pair in used.chunks(2) {
            let low = pair.first().copied().unwrap_or(0);
            let high = pair.get(1).copied().unwrap_or(0);
            out.push(low | (high << 4));
        }
    }
}

/// A decode table: entry `i` describes the code that the next [`MAX_CODE_LEN`] bits `i`
/// begin with, as `len | offset_bits << 8 | top << 16` (see [`crate::symbol::bucket_base`]).
pub(crate) type Table = [u32; TABLE_SIZE];

/// Reads a stored code for buckets below `symbols` and fills the first `2^max_len` entries
/// of `table`, each with what `entry(symbol)` says about the symbol's value. Returns the mask
/// of the index bits (`2^max_len - 1`).
///
/// Only complete codes are accepted (every bit string starts with some code), as Huffman's
/// are; so every table entry is filled, and any bits decode to some symbol.
pub(crate) fn read_table(
    cur: &mut Cursor<'_>,
    symbols: usize,
    table: &mut Table,
    entry: impl Fn(usize) -> u32,
) -> Result<u64, CodecError> {
    let lo = usize::from(cur.u8(SECTION)?);
    let count = usize::from(cur.u8(SECTION)?) + 1;
    if lo + count > symbols {
        return Err(cur.corrupt(SECTION, "symbol out of range for the column's precision"));
    }
    if count == 1 {
        if let Some(slot) = table.first_mut() {
            *slot = entry(lo);
        }
        return Ok(0);
    }
    // Lengths of buckets lo.., unpacked from nibbles.
    let packed = cur.take(count.div_ceil(2), SECTION)?;
    let mut lens = [0u8; 256];
    for (pair, byte) in lens.chunks_exact_mut(2).zip(packed) {
        if let [low, high] = pair {
            (*low, *high) = (byte & 0xf, byte >> 4);
        }
    }
    let lens = lens.get(..count).unwrap_or_default();
    let max_len = u32::from(lens.iter().copied().max().unwrap_or(0));
    if max_len > MAX_CODE_LEN {
        return Err(cur.corrupt(SECTION, "code longer than 10 bits"));
    }
    // Kraft sum in units of 2^-max_len: exactly 2^max_len for a complete code.
    let kraft: u64 = lens.iter().filter(|&&l| l > 0).map(|&l| 1u64 << (max_len - u32::from(l))).sum();
    if kraft != 1 << max_len || max_len == 0 {
        return Err(cur.corrupt(SECTION, "code lengths do not form a complete prefix code"));
    }
    let mut next = first_codes(lens);
    let size = 1usize << max_len;
    let slots = table.get_mut(..size).unwrap_or_default();
    for (symbol, &len) in (lo..).zip(lens) {
        let Some(code) = next.get_mut(usize::from(len)).filter(|_| len > 0) else {
            continue;
        };
        let value = entry(symbol) | u32::from(len);
        // Every index whose low `len` bits are the code.
        let first = reverse(*code, u32::from(len)) as usize;
        *code += 1;
        for slot in slots.iter_mut().skip(first).step_by(1 << len) {
            *slot = value;
        }
    }
    Ok(size as u64 - 1)
}
