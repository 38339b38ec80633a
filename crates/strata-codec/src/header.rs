//! The chunk header: version, point count, first timestamp and span. Everything
//! [`summary`](crate::summary) needs is here, so it reads a chunk's time range without
//! decoding it.

use crate::cursor::Cursor;
use crate::error::CodecError;
use crate::varint;

/// Version of the chunk format this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;

/// Most points a chunk may hold. Bounds what a decoder allocates for a damaged or hostile
/// header: at most 16 MiB of timestamps and values.
pub const MAX_POINTS: usize = 1 << 20;

const SECTION: &str = "header";

/// What a chunk's header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChunkSummary {
    /// Points in the chunk, `1..=MAX_POINTS`.
    pub points: usize,
    /// The first timestamp (ns), the smallest.
    pub min_timestamp: i64,
    /// The last timestamp (ns), the largest.
    pub max_timestamp: i64,
}

impl ChunkSummary {
    /// The unsigned distance from the first to the last timestamp.
    pub(crate) fn span(&self) -> u64 {
        (self.max_timestamp as u64).wrapping_sub(self.min_timestamp as u64)
    }
}

pub(crate) fn write(summary: &ChunkSummary, out: &mut Vec<u8>) {
    out.push(FORMAT_VERSION);
    varint::put_u64(out, summary.points as u64);
    out.extend_from_slice(&summary.min_timestamp.to_le_bytes());
    varint::put_u64(out, summary.span());
}

pub(crate) fn read(cur: &mut Cursor<'_>) -> Result<ChunkSummary, CodecError> {
    let version = cur.u8(SECTION)?;
    if version != FORMAT_VERSION {
        return Err(CodecError::UnsupportedVersion { found: version });
    }
    let points = cur.varint_at_most(MAX_POINTS as u64, SECTION, "point count is 0 or above the maximum")?;
    if points == 0 {
        return Err(cur.corrupt(SECTION, "point count is 0 or above the maximum"));
    }
    let min_timestamp = cur.i64_le(SECTION)?;
    let span = cur.varint(SECTION)?;
    let max_timestamp = i64::try_from(i128::from(min_timestamp) + i128::from(span))
        .map_err(|_| cur.corrupt(SECTION, "last timestamp overflows i64"))?;
    // Strictly increasing timestamps are at least 1 ns apart; a single point spans nothing.
    if span < (points - 1) as u64 || (points == 1 && span != 0) {
        return Err(cur.corrupt(SECTION, "span too short for the point count"));
    }
    Ok(ChunkSummary { points, min_timestamp, max_timestamp })
}
