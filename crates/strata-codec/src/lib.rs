//! Compression of sealed chunks: the timestamps (ns) and `f64` values of one series over a
//! time range, lossless for every bit pattern.
//!
//! Timestamps at a steady interval cost one byte per chunk; values with few decimals, as
//! metrics mostly have, are coded as integers at the chunk's decimal scale (the idea of ALP,
//! SIGMOD 2024), their differences entropy-coded with a per-chunk Huffman code over
//! logarithmic buckets. Values that are not short decimals fall back to their raw bits, still
//! difference-coded.
//!
//! ```
//! let timestamps: Vec<i64> = (0..360).map(|i| 1_763_769_600_000_000_000 + i * 10_000_000_000).collect();
//! let values: Vec<f64> = (0..360).map(|i| f64::from(470 + i % 7) / 10.0).collect();
//!
//! let mut chunk = Vec::new();
//! strata_codec::encode(&timestamps, &values, &mut chunk)?;
//! assert!(chunk.len() < 360); // under a byte a point
//!
//! let summary = strata_codec::summary(&chunk)?;
//! assert_eq!((summary.points, summary.max_timestamp), (360, timestamps[359]));
//!
//! let (mut ts, mut vs) = (Vec::new(), Vec::new());
//! strata_codec::decode(&chunk, &mut ts, &mut vs)?;
//! assert_eq!(ts, timestamps);
//! assert!(vs.iter().zip(&values).all(|(a, b)| a.to_bits() == b.to_bits()));
//! # Ok::<(), strata_codec::CodecError>(())
//! ```
//!
//! # Format, version 1
//!
//! A chunk is one byte string; integers are little-endian, varints are unsigned LEB128 (7
//! bits a byte, low first), zigzagged where signed (`0, -1, 1, -2` → `0, 1, 2, 3`).
//!
//! | bytes | field |
//! |---|---|
//! | 1 | format version, 1 |
//! | varint | points `n`, `1..=2^20` |
//! | 8 | first timestamp, `i64` LE |
//! | varint | span: last timestamp minus first, `u64` |
//! | ... | timestamp column |
//! | ... | value column |
//!
//! Nothing follows the value column. The header alone gives [`summary`].
//!
//! **Timestamp column.** One scheme byte, then:
//! - 0, regular: nothing; `t[i] = first + i * span / (n - 1)`.
//! - 1, runs: varint `r`, then `r` × (varint length, varint step): runs of equal steps.
//! - 2, column: the `n - 1` steps `t[i] - t[i-1]` as an integer column.
//!
//! **Value column.** One scheme byte, then:
//! - 0, decimal: scale `d` (1 byte, 0..=18); varint exception count `e`; `e` × (varint gap
//!   from the previous exception's position + 1 (or from 0), 8 bytes of raw `f64` bits LE);
//!   an integer column of `n` integers `i`, each value being `i as f64 / 10^d` except at the
//!   exceptions (whose integer repeats the previous one).
//! - 1, bits: an integer column of the values' bits as `i64`, negative values with their 63
//!   low bits flipped (so that the integers order like the floats).
//!
//! **Integer column** (`m` values, `m` known from the context):
//!
//! | bytes | field |
//! |---|---|
//! | 1 | `order \| precision << 2`, each 0..=2, high nibble 0 |
//! | varint | bias, zigzagged |
//! | varint × order | heads, zigzagged: `x[0]`; for order 2 also `x[1] - x[0]` |
//! | 1 | `lo`: first bucket with a code |
//! | 1 | `count - 1`: buckets `lo..lo + count` have code lengths |
//! | ⌈count/2⌉ if count > 1 | code lengths, 4 bits each, low nibble first; 0 = bucket unused |
//! | varint | `len0`: bytes of bit stream 0 (the residuals at even indices) |
//! | varint | `len1`: bytes of bit stream 1 (the residuals at odd indices) |
//! | `len0` + `len1` | bit stream 0, then bit stream 1 |
//!
//! The residuals are the differences of the given order (order 0: `x[i]`; 1: `x[i] - x[i-1]`
//! for `i >= 1`; 2: `(x[i] - x[i-1]) - (x[i-1] - x[i-2])` for `i >= 2`), minus the bias, in
//! wrapping `i64` arithmetic, zigzagged to `z`. Each `z` is in a bucket: with precision `p`,
//! `z < 2^(p+1)` is bucket `z` with no offset bits; otherwise, with `L` the bit length of
//! `z` and `k = L - 1 - p`, the bucket is `(L - p) << p | (z >> k) & (2^p - 1)` and the
//! offset is the low `k` bits of `z`. Residual `j` (counting from 0 after the heads) goes to
//! stream `j % 2`, as its bucket's canonical Huffman code (codes ordered by length then
//! bucket, assigned counting up from 0, written first bit lowest) followed by its `k`
//! offset bits, least significant first. Codes are at most 10 bits and complete (Kraft sum
//! exactly 1); a single bucket (`count == 1`) has an empty code. Bits are packed into bytes
//! from the lowest bit; each stream's last byte is zero-padded.
//!
//! # Version history
//!
//! - 1: the first version.

#![deny(clippy::indexing_slicing, clippy::unwrap_used)]

mod bits;
mod column;
mod cursor;
mod decoder;
mod encoder;
mod error;
mod header;
mod huffman;
mod stream;
mod symbol;
mod timestamps;
mod values;
mod varint;

pub use decoder::Decoder;
pub use encoder::Encoder;
pub use error::CodecError;
pub use header::{ChunkSummary, FORMAT_VERSION, MAX_POINTS};
pub use stream::{NotAfter, Stream};

/// Encodes one chunk, appending it to `out`: timestamps strictly increasing (ns), values any
/// `f64` bit patterns, one per timestamp.
///
/// # Errors
/// [`CodecError::LengthMismatch`], [`CodecError::Empty`], [`CodecError::TooManyPoints`]
/// (more than [`MAX_POINTS`]) or [`CodecError::NotIncreasing`]; `out` is then unchanged.
pub fn encode(timestamps: &[i64], values: &[f64], out: &mut Vec<u8>) -> Result<(), CodecError> {
    Encoder::new().encode(timestamps, values, out)
}

/// Decodes a chunk, appending its points to `timestamps` and `values`. Damaged input is an
/// error, never a panic, and never makes it allocate for more than [`MAX_POINTS`] points.
///
/// # Errors
/// See [`Decoder::decode`].
pub fn decode(
    bytes: &[u8],
    timestamps: &mut Vec<i64>,
    values: &mut Vec<f64>,
) -> Result<ChunkSummary, CodecError> {
    Decoder::new().decode(bytes, timestamps, values)
}

/// The number of points and the first and last timestamp of a chunk, read from its header
/// without decoding the rest.
///
/// # Errors
/// [`CodecError::UnsupportedVersion`], [`CodecError::Truncated`] or [`CodecError::Corrupt`]
/// if the header is not one this build writes.
pub fn summary(bytes: &[u8]) -> Result<ChunkSummary, CodecError> {
    header::read(&mut cursor::Cursor::new(bytes))
}
