//! [`Decoder`]: reads a chunk back, checking every field against the header.

use std::fmt;

use crate::cursor::Cursor;
use crate::error::CodecError;
use crate::header::{self, ChunkSummary};
use crate::huffman::{TABLE_SIZE, Table};
use crate::{timestamps, values};

/// Decodes chunks, keeping its code table and buffers between calls (building them costs
/// about as much as decoding a small chunk); [`decode`](crate::decode) is the same with a
/// fresh one.
pub struct Decoder {
    table: Box<Table>,
    steps: Vec<i64>,
    values: values::Scratch,
}

impl fmt::Debug for Decoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The table is 1024 numbers of scratch that say nothing about the decoder.
        f.debug_struct("Decoder").finish_non_exhaustive()
    }
}

impl Default for Decoder {
    fn default() -> Decoder {
        Decoder { table: Box::new([0; TABLE_SIZE]), steps: Vec::new(), values: values::Scratch::default() }
    }
}

impl Decoder {
    /// A decoder with empty buffers.
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Decodes the chunk `bytes` (exactly one chunk, as [`encode`](crate::encode) wrote it),
    /// appending its points to `timestamps` and `values`. Returns the chunk's summary.
    ///
    /// # Errors
    /// [`CodecError::UnsupportedVersion`] for another format version,
    /// [`CodecError::Truncated`] or [`CodecError::Corrupt`] for damaged bytes. The vectors
    /// are then as they were. Damage that still decodes to a well-formed chunk is not
    /// detected: the codec has no checksum, the file or log around it does.
    pub fn decode(
        &mut self,
        bytes: &[u8],
        timestamps: &mut Vec<i64>,
        values: &mut Vec<f64>,
    ) -> Result<ChunkSummary, CodecError> {
        let (ts_len, values_len) = (timestamps.len(), values.len());
        let result = self.decode_appending(bytes, timestamps, values);
        if result.is_err() {
            timestamps.truncate(ts_len);
            values.truncate(values_len);
        }
        result
    }

    fn decode_appending(
        &mut self,
        bytes: &[u8],
        ts: &mut Vec<i64>,
        vals: &mut Vec<f64>,
    ) -> Result<ChunkSummary, CodecError> {
        let mut cur = Cursor::new(bytes);
        let summary = header::read(&mut cur)?;
        let n = summary.points;
        ts.reserve(n);
        timestamps::read(
            &mut cur,
            n,
            summary.min_timestamp,
            summary.span(),
            &mut self.table,
            &mut self.steps,
            ts,
        )?;
        values::read(&mut cur, n, &mut self.table, &mut self.values, vals)?;
        if cur.remaining() != 0 {
            return Err(cur.corrupt("chunk end", "bytes after the end of the chunk"));
        }
        Ok(summary)
    }
}
