//! Where the bytes that structure line protocol are, found 64 input bytes at a time.
//!
//! The input is read as blocks of 64 bytes (block `k` holds bytes `64k..64k + 64`, the last one
//! padded with zeros). One pass over a block gives a bit mask of its newlines and one of its
//! bytes ≥ 0x80; another gives a mask of its delimiters. The parser then finds a line's end, and
//! each token's, by counting trailing zeros instead of re-reading bytes, and it checks a line
//! for UTF-8 only when the mask says it holds a non-ASCII byte. Each mask is computed once per
//! block: the scans only move forward, so one cached block per mask suffices.
//!
//! On x86_64 a block takes sixteen SSE2 compares (part of the baseline, so no detection);
//! elsewhere a portable SWAR version computes the same masks, and the tests check that both agree.

#![deny(clippy::indexing_slicing, clippy::unwrap_used)]

/// The delimiters a token scan stops at: the newline (so a scan never leaves its line) and the
/// bytes that end or escape a measurement, tag key, tag value or field key.
const DELIMITERS: [u8; 5] = [b'\n', b',', b' ', b'=', b'\\'];

const BLOCK: usize = 64;

/// Cached masks over one input; see the module comment.
#[derive(Debug, Clone)]
pub(crate) struct Blocks<'a> {
    input: &'a [u8],
    /// The block whose newline and non-ASCII masks are cached (`usize::MAX`: none yet).
    line_block: usize,
    newlines: u64,
    non_ascii: u64,
    /// The block whose delimiter mask is cached.
    delim_block: usize,
    delims: u64,
}

impl<'a> Blocks<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Self {
        Blocks {
            input,
            line_block: usize::MAX,
            newlines: 0,
            non_ascii: 0,
            delim_block: usize::MAX,
            delims: 0,
        }
    }

    /// The index of the first `\n` at or after `from` (or the input's length), and whether all
    /// bytes from `from` up to it are ASCII.
    #[inline(always)]
    pub(crate) fn line_end(&mut self, from: usize) -> (usize, bool) {
        let mut block = from / BLOCK;
        let mut after = !0u64 << (from % BLOCK);
        let mut non_ascii = 0;
        loop {
            if block != self.line_block {
                (self.newlines, self.non_ascii) = line_masks(&self.block(block));
                self.line_block = block;
            }
            let newlines = self.newlines & after;
            if newlines != 0 {
                let before = (1u64 << newlines.trailing_zeros()) - 1;
                non_ascii |= self.non_ascii & after & before;
                return (block * BLOCK + newlines.trailing_zeros() as usize, non_ascii == 0);
            }
            non_ascii |= self.non_ascii & after;
            block += 1;
            after = !0;
            if block * BLOCK >= self.input.len() {
                return (self.input.len(), non_ascii == 0);
            }
        }
    }

    /// The index of the first delimiter (`\n`, `,`, space, `=` or `\`) at or after `from`, or
    /// the input's length.
    #[inline(always)]
    pub(crate) fn delimiter(&mut self, from: usize) -> usize {
        let block = from / BLOCK;
        if block != self.delim_block {
            self.delims = delimiter_mask(&self.block(block));
            self.delim_block = block;
        }
        let ahead = self.delims >> (from % BLOCK);
        if ahead != 0 { from + ahead.trailing_zeros() as usize } else { self.delimiter_after(block + 1) }
    }

    /// [`Self::delimiter`] from the start of `block` on.
    #[inline(never)]
    fn delimiter_after(&mut self, mut block: usize) -> usize {
        while block * BLOCK < self.input.len() {
            self.delims = delimiter_mask(&self.block(block));
            self.delim_block = block;
            if self.delims != 0 {
                return block * BLOCK + self.delims.trailing_zeros() as usize;
            }
            block += 1;
        }
        self.input.len()
    }

    /// The bytes of block `k`, zero-padded past the input's end (a zero byte is in no mask).
    #[inline(always)]
    fn block(&self, k: usize) -> [u8; BLOCK] {
        let start = k * BLOCK;
        match self.input.get(start..start + BLOCK) {
            Some(whole) => <[u8; BLOCK]>::try_from(whole).unwrap_or([0; BLOCK]),
            None => {
                let mut padded = [0; BLOCK];
                let tail = self.input.get(start..).unwrap_or_default();
                if let Some(head) = padded.get_mut(..tail.len()) {
                    head.copy_from_slice(tail);
                }
                padded
            }
        }
    }
}

/// Bit `i` set where `block[i]` is a newline, and where it is ≥ 0x80.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
fn line_masks(block: &[u8; BLOCK]) -> (u64, u64) {
    use std::arch::x86_64::{__m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8};
    let (mut newlines, mut non_ascii) = (0u64, 0u64);
    for (k, lane) in block.chunks_exact(16).enumerate() {
        #[expect(
            unsafe_code,
            reason = "measured: one pass finds lines and their ASCII-ness (docs/BENCHMARKS.md)"
        )]
        // SAFETY: SSE2 is enabled (the cfg above), so these intrinsics run on this CPU; the load
        // reads the 16 bytes of `lane`, a 16-byte slice.
        let (n, h) = unsafe {
            let v = _mm_loadu_si128(lane.as_ptr().cast::<__m128i>());
            (_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'\n' as i8))), _mm_movemask_epi8(v))
        };
        newlines |= u64::from(n as u16) << (16 * k);
        non_ascii |= u64::from(h as u16) << (16 * k);
    }
    (newlines, non_ascii)
}

/// Bit `i` set where `block[i]` is one of [`DELIMITERS`].
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
fn delimiter_mask(block: &[u8; BLOCK]) -> u64 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    let [d0, d1, d2, d3, d4] = DELIMITERS.map(|d| d as i8);
    let mut mask = 0u64;
    for (k, lane) in block.chunks_exact(16).enumerate() {
        #[expect(unsafe_code, reason = "measured: delimiters found once per block (docs/BENCHMARKS.md)")]
        // SAFETY: SSE2 is enabled (the cfg above), so these intrinsics run on this CPU; the load
        // reads the 16 bytes of `lane`, a 16-byte slice.
        let m = unsafe {
            let v = _mm_loadu_si128(lane.as_ptr().cast::<__m128i>());
            let eq = |d| _mm_cmpeq_epi8(v, _mm_set1_epi8(d));
            _mm_movemask_epi8(_mm_or_si128(
                _mm_or_si128(_mm_or_si128(eq(d0), eq(d1)), _mm_or_si128(eq(d2), eq(d3))),
                eq(d4),
            ))
        };
        mask |= u64::from(m as u16) << (16 * k);
    }
    mask
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
use swar::{delimiter_mask, line_masks};

/// The same masks from 64-bit words, for targets without SSE2 (and to test the SSE2 version).
#[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
mod swar {
    use super::{BLOCK, DELIMITERS};

    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;

    /// The high bit of each byte of `word` that equals `byte` (exact: no borrow between bytes,
    /// since adding 0x7F to a byte of at most 0x7F never carries out of it).
    fn equal(word: u64, byte: u8) -> u64 {
        let x = word ^ (LO * u64::from(byte));
        !(((x & !HI) + !HI) | x) & HI
    }

    /// Moves the high bit of byte `i` to bit `i`: each lands at bit `56 + i` of the product and
    /// no two partial products meet there.
    fn gather(high_bits: u64) -> u64 {
        ((high_bits >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56
    }

    fn words(block: &[u8; BLOCK]) -> impl Iterator<Item = (usize, u64)> + '_ {
        block
            .chunks_exact(8)
            .enumerate()
            .map(|(k, w)| (8 * k, u64::from_le_bytes(<[u8; 8]>::try_from(w).unwrap_or_default())))
    }

    pub(super) fn line_masks(block: &[u8; BLOCK]) -> (u64, u64) {
        words(block).fold((0, 0), |(newlines, non_ascii), (at, word)| {
            (newlines | gather(equal(word, b'\n')) << at, non_ascii | gather(word & HI) << at)
        })
    }

    pub(super) fn delimiter_mask(block: &[u8; BLOCK]) -> u64 {
        words(block).fold(0, |mask, (at, word)| {
            let hits = DELIMITERS.iter().fold(0, |hits, &d| hits | equal(word, d));
            mask | gather(hits) << at
        })
    }
}

#[cfg(test)]
#[expect(clippy::indexing_slicing, reason = "tests index inputs they built")]
mod tests {
    use super::*;

    fn expected(block: &[u8; BLOCK], f: impl Fn(u8) -> bool) -> u64 {
        block.iter().enumerate().fold(0, |m, (i, &b)| m | u64::from(f(b)) << i)
    }

    #[test]
    fn masks_match_a_byte_loop_on_every_byte_value() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for round in 0..2000 {
            let mut block = [0u8; BLOCK];
            for b in &mut block {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Half the rounds draw from the delimiters and their neighbours, to get dense masks.
                *b =
                    if round % 2 == 0 { x as u8 } else { b"\n\t,+ !=<>\\]\x80\xff\x7fa0"[(x % 16) as usize] };
            }
            let want_lines = (expected(&block, |b| b == b'\n'), expected(&block, |b| b >= 0x80));
            let want_delims = expected(&block, |b| DELIMITERS.contains(&b));
            assert_eq!(line_masks(&block), want_lines);
            assert_eq!(delimiter_mask(&block), want_delims);
            assert_eq!(swar::line_masks(&block), want_lines);
            assert_eq!(swar::delimiter_mask(&block), want_delims);
        }
        for v in 0..=255u8 {
            let block = [v; BLOCK];
            let all = |hit: bool| if hit { !0 } else { 0 };
            assert_eq!(swar::delimiter_mask(&block), all(DELIMITERS.contains(&v)), "{v}");
            assert_eq!(swar::line_masks(&block), (all(v == b'\n'), all(v >= 0x80)), "{v}");
            assert_eq!(delimiter_mask(&block), all(DELIMITERS.contains(&v)), "{v}");
        }
    }

    #[test]
    fn scans_agree_with_a_byte_loop_across_block_edges() {
        // Lengths around the block size, a delimiter or newline at every distance.
        for len in [0, 1, 63, 64, 65, 127, 128, 129, 200] {
            for at in 0..len {
                for &c in b"\n,=\\ \xc3a" {
                    let mut input = vec![b'x'; len];
                    input[at] = c;
                    let mut blocks = Blocks::new(&input);
                    for from in 0..=len {
                        let delim = input[from.min(len)..]
                            .iter()
                            .position(|b| DELIMITERS.contains(b))
                            .map_or(len, |p| from + p);
                        assert_eq!(blocks.delimiter(from), delim, "{len} {at} {c} {from}");
                        let end = input[from..].iter().position(|&b| b == b'\n').map_or(len, |p| from + p);
                        let ascii = input[from..end].is_ascii();
                        assert_eq!(blocks.line_end(from), (end, ascii), "{len} {at} {c} {from}");
                    }
                }
            }
        }
    }
}
