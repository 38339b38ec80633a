//! Where a line's elements end: the delimiter scans of one line, over the input's block masks
//! ([`Blocks`]) for measurements, keys and tag values, and eight bytes at a time for the rare
//! rest (string bodies, values and timestamps off the fast paths).

#![deny(clippy::indexing_slicing, clippy::unwrap_used)]

use crate::blocks::Blocks;

/// The delimiter scans of one line: positions relative to the line, which starts at `offset`
/// of the input and is `len` bytes long (its `\r\n` excluded).
pub(crate) struct Tokens<'b, 'a> {
    pub(crate) blocks: &'b mut Blocks<'a>,
    pub(crate) offset: usize,
    pub(crate) len: usize,
}

impl Tokens<'_, '_> {
    /// Index of the first `,`, space, `=` or `\\` at or after `i`, or the line's length.
    #[inline(always)]
    pub(crate) fn delimiter(&mut self, i: usize) -> usize {
        (self.blocks.delimiter(self.offset + i) - self.offset).min(self.len)
    }

    /// Like [`Self::delimiter`], stepping over backslash escapes (and over `=` when
    /// `equals_ends` is false); also says whether an escape was seen.
    #[inline(always)]
    pub(crate) fn token(&mut self, b: &[u8], mut i: usize, equals_ends: bool) -> (usize, bool) {
        let mut escaped = false;
        loop {
            i = self.delimiter(i);
            match b.get(i) {
                Some(b'\\') => {
                    escaped = true;
                    i = (i + 2).min(self.len);
                }
                Some(b'=') if !equals_ends => i += 1,
                _ => return (i, escaped),
            }
        }
    }
}

/// The delimiters of a line one after another, each found once: a cursor over the block masks.
pub(crate) struct DelimiterBits {
    /// The block being read, and its delimiters not yet returned.
    block: usize,
    bits: u64,
}

impl DelimiterBits {
    /// A cursor at byte `i` of the line.
    #[inline(always)]
    pub(crate) fn new(tokens: &mut Tokens<'_, '_>, i: usize) -> Self {
        let at = tokens.offset + i;
        let block = at / 64;
        DelimiterBits { block, bits: tokens.blocks.delimiters(block) & (!0 << (at % 64)) }
    }

    /// The next delimiter's index in the line, or the line's length.
    #[inline(always)]
    pub(crate) fn next(&mut self, tokens: &mut Tokens<'_, '_>) -> usize {
        while self.bits == 0 {
            self.block += 1;
            if self.block * 64 >= tokens.blocks.input_len() {
                return tokens.len;
            }
            self.bits = tokens.blocks.delimiters(self.block);
        }
        let at = self.block * 64 + self.bits.trailing_zeros() as usize;
        self.bits &= self.bits - 1;
        (at - tokens.offset).min(tokens.len)
    }
}

// Measurements, keys and tag values end at delimiters found in the block masks ([`Tokens`]).
// String bodies, and values and timestamps off the fast paths, are rare and scanned here
// instead, 8 bytes at a time (SWAR): `x ^ broadcast(needle)` has a zero byte where the needle is,
// and `(v - 0x01..) & !v & 0x80..` flags zero bytes. A borrow can flag a byte above a true zero
// byte, never one below it, so the lowest flag is always the first match.
pub(crate) const VALUE_STOPS: [u8; 2] = [b',', b' '];
pub(crate) const STRING_STOPS: [u8; 2] = [b'"', b'\\'];
pub(crate) const SPACE_STOPS: [u8; 1] = [b' '];

pub(crate) const LO: u64 = 0x0101_0101_0101_0101;
pub(crate) const HI: u64 = 0x8080_8080_8080_8080;

/// Index of the first byte at or after `i` that is one of `stops`, or `b.len()`.
#[inline(always)]
pub(crate) fn scan<const N: usize>(b: &[u8], mut i: usize, stops: [u8; N]) -> usize {
    while let Some(chunk) = b.get(i..i + 8) {
        let word = u64::from_le_bytes(<[u8; 8]>::try_from(chunk).unwrap_or_default());
        let mut hits = 0;
        for stop in stops {
            let x = word ^ (LO * u64::from(stop));
            hits |= x.wrapping_sub(LO) & !x & HI;
        }
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(c) = b.get(i) {
        if stops.contains(c) {
            return i;
        }
        i += 1;
    }
    b.len()
}

/// Like [`scan`], stepping over backslash escapes; `stops` must contain `\\`. Also says whether
/// an escape was seen.
#[inline(always)]
pub(crate) fn scan_escaped<const N: usize>(b: &[u8], mut i: usize, stops: [u8; N]) -> (usize, bool) {
    let mut escaped = false;
    loop {
        i = scan(b, i, stops);
        if b.get(i) == Some(&b'\\') {
            escaped = true;
            i = (i + 2).min(b.len());
        } else {
            return (i, escaped);
        }
    }
}

/// `text[from..to]`; callers only pass positions of ASCII bytes or the end, which are always
/// character boundaries.
#[inline(always)]
pub(crate) fn slice(text: &str, from: usize, to: usize) -> &str {
    debug_assert!(from <= to && to <= text.len() && text.is_char_boundary(from) && text.is_char_boundary(to));
    #[expect(unsafe_code, reason = "measured: the checks cost a tenth of the parse (docs/BENCHMARKS.md)")]
    // SAFETY: every caller passes `from <= to <= text.len()` found by scanning `text` for ASCII
    // delimiters (or its end), and an ASCII byte never sits inside a multi-byte UTF-8 sequence.
    unsafe {
        text.get_unchecked(from..to)
    }
}
