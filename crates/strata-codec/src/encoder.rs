//! [`Encoder`]: checks a chunk's columns and writes the header, timestamps and values.

use crate::error::CodecError;
use crate::header::{self, ChunkSummary, MAX_POINTS};
use crate::{timestamps, values};

/// Encodes chunks, keeping its buffers between calls; [`encode`](crate::encode) is the same
/// with a fresh one.
#[derive(Debug, Default)]
pub struct Encoder {
    timestamps: timestamps::Scratch,
    values: values::Scratch,
}

impl Encoder {
    /// An encoder with empty buffers.
    pub fn new() -> Encoder {
        Encoder::default()
    }

    /// Appends one chunk to `out`.
    ///
    /// # Errors
    /// [`CodecError::LengthMismatch`], [`CodecError::Empty`], [`CodecError::TooManyPoints`]
    /// or [`CodecError::NotIncreasing`] for columns that cannot form a chunk; `out` is then
    /// unchanged.
    pub fn encode(
        &mut self,
        timestamps: &[i64],
        values: &[f64],
        out: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        let summary = check(timestamps, values)?;
        header::write(&summary, out);
        timestamps::write(timestamps, &mut self.timestamps, out);
        values::write(values, &mut self.values, out);
        Ok(())
    }
}

fn check(timestamps: &[i64], values: &[f64]) -> Result<ChunkSummary, CodecError> {
    if timestamps.len() != values.len() {
        return Err(CodecError::LengthMismatch { timestamps: timestamps.len(), values: values.len() });
    }
    if timestamps.len() > MAX_POINTS {
        return Err(CodecError::TooManyPoints { points: timestamps.len() as u64, max: MAX_POINTS as u64 });
    }
    let (Some(&min_timestamp), Some(&max_timestamp)) = (timestamps.first(), timestamps.last()) else {
        return Err(CodecError::Empty);
    };
    for (index, (&previous, &timestamp)) in timestamps.iter().zip(timestamps.iter().skip(1)).enumerate() {
        if timestamp <= previous {
            return Err(CodecError::NotIncreasing { index: index + 1, previous, timestamp });
        }
    }
    Ok(ChunkSummary { points: timestamps.len(), min_timestamp, max_timestamp })
}
