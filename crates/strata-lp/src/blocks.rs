//! Where the bytes that structure line protocol are, found 64 input bytes at a time.
//!
//! The input is read as blocks of 64 bytes (block `k` holds bytes `64k..64k + 64`, the last one
//! padded with zeros). One pass gives each block three bit masks: its newlines, its delimiters
//! and its bytes ≥ 0x80. The parser then finds a line's end, and each token's, by counting
//! trailing zeros instead of re-reading bytes, and it checks a line for UTF-8 only when the mask
//! says it holds a non-ASCII byte. Masks are computed [`WINDOW`] blocks at a time and cached;
//! the scans move forward, so each block of a short-lined input is classified once.
//!
//! On x86_64 the pass uses AVX2 when the CPU has it and SSE2 (part of the baseline) otherwise;
//! elsewhere a portable SWAR version computes the same masks. The tests check that all agree.

#![deny(clippy::indexing_slicing, clippy::unwrap_used)]

/// The delimiters a token scan stops at: the newline (so a scan never leaves its line) and the
/// bytes that end or escape a measurement, tag key, tag value or field key.
const DELIMITERS: [u8; 5] = [b'\n', b',', b' ', b'=', b'\\'];

const BLOCK: usize = 64;

/// Blocks classified at once: a dozen lines' worth, so the fixed cost of a pass is shared and
/// the block a window starts with (the current line's first) is seldom classified twice.
const WINDOW: usize = 16;
const WINDOW_BYTES: usize = WINDOW * BLOCK;

/// Bit `i` of each mask stands for byte `i` of a block.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Masks {
    newlines: u64,
    delimiters: u64,
    non_ascii: u64,
}

/// Cached masks over one input; see the module comment.
#[derive(Debug, Clone)]
pub(crate) struct Blocks<'a> {
    input: &'a [u8],
    /// The block that `masks[0]` describes; `masks[k]` describes block `first + k`.
    first: usize,
    masks: [Masks; WINDOW],
    /// Whether this CPU has AVX2 (detected once, in [`Blocks::new`]).
    avx2: bool,
}

impl<'a> Blocks<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Self {
        #[cfg(target_arch = "x86_64")]
        let avx2 = std::is_x86_feature_detected!("avx2");
        #[cfg(not(target_arch = "x86_64"))]
        let avx2 = false;
        // No block of an input that fits in memory is near `usize::MAX / 2`: nothing is cached.
        Blocks { input, first: usize::MAX / 2, masks: [Masks::default(); WINDOW], avx2 }
    }

    /// The masks of `block`, classifying the window from `anchor` (or, if that would not reach
    /// `block`, from `block`) when they are not cached.
    #[inline(always)]
    fn masks(&mut self, block: usize, anchor: usize) -> Masks {
        let mut k = block.wrapping_sub(self.first);
        if k >= WINDOW {
            let from = if block.wrapping_sub(anchor) < WINDOW { anchor } else { block };
            self.classify_window(from);
            k = block - from;
        }
        self.masks.get(k).copied().unwrap_or_default()
    }

    /// The index of the first `\n` at or after `from` (or the input's length), and whether all
    /// bytes from `from` up to it are ASCII.
    #[inline(always)]
    pub(crate) fn line_end(&mut self, from: usize) -> (usize, bool) {
        let anchor = from / BLOCK;
        let mut block = anchor;
        let mut after = !0u64 << (from % BLOCK);
        let mut non_ascii = 0;
        loop {
            let masks = self.masks(block, anchor);
            let newlines = masks.newlines & after;
            if newlines != 0 {
                let before = (1u64 << newlines.trailing_zeros()) - 1;
                non_ascii |= masks.non_ascii & after & before;
                return (block * BLOCK + newlines.trailing_zeros() as usize, non_ascii == 0);
            }
            non_ascii |= masks.non_ascii & after;
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
        let ahead = self.masks(block, block).delimiters >> (from % BLOCK);
        if ahead != 0 { from + ahead.trailing_zeros() as usize } else { self.delimiter_after(block + 1) }
    }

    /// The delimiter mask of `block` (bit `i` for byte `64 * block + i`), zero past the input.
    #[inline(always)]
    pub(crate) fn delimiters(&mut self, block: usize) -> u64 {
        self.masks(block, block).delimiters
    }

    pub(crate) fn input_len(&self) -> usize {
        self.input.len()
    }

    /// [`Self::delimiter`] from the start of `block` on.
    #[inline(never)]
    fn delimiter_after(&mut self, mut block: usize) -> usize {
        while block * BLOCK < self.input.len() {
            let delimiters = self.masks(block, block).delimiters;
            if delimiters != 0 {
                return block * BLOCK + delimiters.trailing_zeros() as usize;
            }
            block += 1;
        }
        self.input.len()
    }

    /// Classifies the [`WINDOW`] blocks from `first` on, zero-padded past the input's end (a
    /// zero byte is in no mask).
    #[inline(never)]
    fn classify_window(&mut self, first: usize) {
        let start = first * BLOCK;
        let avx2 = self.avx2;
        self.masks = match self.input.get(start..start + WINDOW_BYTES).and_then(|w| w.try_into().ok()) {
            Some(whole) => classify(whole, avx2),
            // The input's end: only the blocks it reaches, the last one padded.
            None => {
                let mut masks = [Masks::default(); WINDOW];
                let tail = self.input.get(start..).unwrap_or_default();
                for (m, bytes) in masks.iter_mut().zip(tail.chunks(BLOCK)) {
                    let mut padded = [0; BLOCK];
                    if let Some(head) = padded.get_mut(..bytes.len()) {
                        head.copy_from_slice(bytes);
                    }
                    *m = classify_block(&padded);
                }
                masks
            }
        };
        self.first = first;
    }
}

#[inline(always)]
fn classify(bytes: &[u8; WINDOW_BYTES], avx2: bool) -> [Masks; WINDOW] {
    #[cfg(target_arch = "x86_64")]
    if avx2 {
        #[expect(
            unsafe_code,
            reason = "measured: AVX2 saves about 68 instructions a line over SSE2 (docs/BENCHMARKS.md)"
        )]
        // SAFETY: `avx2` is true only when `is_x86_feature_detected!("avx2")` said this CPU has it.
        return unsafe { x86::classify_avx2(bytes) };
    }
    let _ = avx2;
    let mut masks = [Masks::default(); WINDOW];
    for (m, block) in masks.iter_mut().zip(bytes.chunks_exact(BLOCK)) {
        if let Ok(block) = block.try_into() {
            *m = classify_block(block);
        }
    }
    masks
}

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
use x86::classify_sse2 as classify_block;

#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
use swar::classify as classify_block;

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::{
        __m128i, __m256i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256, _mm256_set1_epi8,
    };

    use super::{BLOCK, DELIMITERS, Masks, WINDOW, WINDOW_BYTES};

    /// One block, sixteen bytes per compare.
    #[cfg(target_feature = "sse2")]
    #[inline(always)]
    pub(super) fn classify_sse2(block: &[u8; BLOCK]) -> Masks {
        let [d0, d1, d2, d3, d4] = DELIMITERS.map(|d| d as i8);
        let mut masks = Masks::default();
        for (k, lane) in block.chunks_exact(16).enumerate() {
            #[expect(unsafe_code, reason = "measured: delimiters found once per block (docs/BENCHMARKS.md)")]
            // SAFETY: SSE2 is enabled (the cfg above), so these intrinsics run on this CPU; the
            // load reads the 16 bytes of `lane`, a 16-byte slice.
            let (n, d, h) = unsafe {
                let v = _mm_loadu_si128(lane.as_ptr().cast::<__m128i>());
                let eq = |d| _mm_cmpeq_epi8(v, _mm_set1_epi8(d));
                let newline = eq(d0);
                let delimiter = _mm_or_si128(
                    _mm_or_si128(newline, eq(d1)),
                    _mm_or_si128(_mm_or_si128(eq(d2), eq(d3)), eq(d4)),
                );
                (_mm_movemask_epi8(newline), _mm_movemask_epi8(delimiter), _mm_movemask_epi8(v))
            };
            let at = 16 * k;
            masks.newlines |= u64::from(n as u16) << at;
            masks.delimiters |= u64::from(d as u16) << at;
            masks.non_ascii |= u64::from(h as u16) << at;
        }
        masks
    }

    /// A whole window, thirty-two bytes per compare.
    #[target_feature(enable = "avx2")]
    pub(super) fn classify_avx2(bytes: &[u8; WINDOW_BYTES]) -> [Masks; WINDOW] {
        let [d0, d1, d2, d3, d4] = DELIMITERS.map(|d| d as i8);
        let mut masks = [Masks::default(); WINDOW];
        for (m, block) in masks.iter_mut().zip(bytes.chunks_exact(BLOCK)) {
            for (k, lane) in block.chunks_exact(32).enumerate() {
                #[expect(unsafe_code, reason = "an unaligned load of 32 bytes")]
                // SAFETY: the load reads the 32 bytes of `lane`, a 32-byte slice.
                let v = unsafe { _mm256_loadu_si256(lane.as_ptr().cast::<__m256i>()) };
                let eq = |d| _mm256_cmpeq_epi8(v, _mm256_set1_epi8(d));
                let newline = eq(d0);
                let delimiter = _mm256_or_si256(
                    _mm256_or_si256(newline, eq(d1)),
                    _mm256_or_si256(_mm256_or_si256(eq(d2), eq(d3)), eq(d4)),
                );
                let at = 32 * k;
                m.newlines |= u64::from(_mm256_movemask_epi8(newline) as u32) << at;
                m.delimiters |= u64::from(_mm256_movemask_epi8(delimiter) as u32) << at;
                m.non_ascii |= u64::from(_mm256_movemask_epi8(v) as u32) << at;
            }
        }
        masks
    }
}

/// The same masks from 64-bit words, for targets without SSE2 (and to test the others).
#[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
mod swar {
    use super::{BLOCK, DELIMITERS, Masks};

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

    pub(super) fn classify(block: &[u8; BLOCK]) -> Masks {
        let mut masks = Masks::default();
        for (k, w) in block.chunks_exact(8).enumerate() {
            let word = u64::from_le_bytes(<[u8; 8]>::try_from(w).unwrap_or_default());
            let delimiters = DELIMITERS.iter().fold(0, |hits, &d| hits | equal(word, d));
            masks.newlines |= gather(equal(word, b'\n')) << (8 * k);
            masks.delimiters |= gather(delimiters) << (8 * k);
            masks.non_ascii |= gather(word & HI) << (8 * k);
        }
        masks
    }
}

#[cfg(test)]
#[expect(clippy::indexing_slicing, reason = "tests index inputs they built")]
mod tests {
    use super::*;

    fn expected(block: &[u8], f: impl Fn(u8) -> bool) -> u64 {
        block.iter().enumerate().fold(0, |m, (i, &b)| m | u64::from(f(b)) << i)
    }

    fn byte_loop(block: &[u8]) -> Masks {
        Masks {
            newlines: expected(block, |b| b == b'\n'),
            delimiters: expected(block, |b| DELIMITERS.contains(&b)),
            non_ascii: expected(block, |b| b >= 0x80),
        }
    }

    /// Every implementation this CPU can run, on one window.
    fn all_ways(bytes: &[u8; WINDOW_BYTES]) -> Vec<[Masks; WINDOW]> {
        let blockwise = |f: fn(&[u8; BLOCK]) -> Masks| {
            let mut masks = [Masks::default(); WINDOW];
            for (m, block) in masks.iter_mut().zip(bytes.chunks_exact(BLOCK)) {
                *m = f(block.try_into().unwrap_or(&[0; BLOCK]));
            }
            masks
        };
        let mut ways = vec![blockwise(swar::classify), classify(bytes, false)];
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            ways.push(classify(bytes, true));
        }
        ways
    }

    #[test]
    fn masks_match_a_byte_loop_on_every_byte_value() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for round in 0..1000 {
            let mut bytes = [0u8; WINDOW_BYTES];
            for b in &mut bytes {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Half the rounds draw from the delimiters and their neighbours, to get dense masks.
                *b =
                    if round % 2 == 0 { x as u8 } else { b"\n\t,+ !=<>\\]\x80\xff\x7fa0"[(x % 16) as usize] };
            }
            let want: Vec<Masks> = bytes.chunks_exact(BLOCK).map(byte_loop).collect();
            for got in all_ways(&bytes) {
                assert_eq!(got.to_vec(), want);
            }
        }
        for v in 0..=255u8 {
            let want = byte_loop(&[v; BLOCK]);
            for got in all_ways(&[v; WINDOW_BYTES]) {
                assert_eq!(got, [want; WINDOW], "{v}");
            }
        }
    }

    #[test]
    fn scans_agree_with_a_byte_loop_across_block_and_window_edges() {
        // Lengths around the block and window sizes, a delimiter or newline at every distance.
        for len in [0, 1, 63, 64, 65, 127, 128, 200, 255, 256, 257, 300, 520] {
            for at in (0..len).step_by(if len > 200 { 3 } else { 1 }) {
                for &c in b"\n,=\\ \xc3a" {
                    let mut input = vec![b'x'; len];
                    input[at] = c;
                    let mut blocks = Blocks::new(&input);
                    for from in 0..=len {
                        let delim = input[from..]
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
