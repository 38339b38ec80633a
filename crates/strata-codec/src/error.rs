//! What can go wrong: bad input to [`encode`](crate::encode), and damaged or foreign bytes
//! given to [`decode`](crate::decode) or [`summary`](crate::summary), which name the byte
//! offset and the section of the chunk at fault.

/// An error of the chunk codec.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// `encode` was given columns of different lengths.
    #[error("a chunk needs one value per timestamp: got {timestamps} timestamps and {values} values")]
    LengthMismatch { timestamps: usize, values: usize },
    /// `encode` was given no points; a sealed chunk holds at least one.
    #[error("a chunk holds at least one point; got none")]
    Empty,
    /// `encode` was given more points than a chunk may hold.
    #[error("a chunk holds at most {max} points; got {points}")]
    TooManyPoints { points: u64, max: u64 },
    /// `encode` was given timestamps that do not strictly increase.
    #[error("timestamps must strictly increase: timestamp {index} ({timestamp} ns) follows {previous} ns")]
    NotIncreasing { index: usize, previous: i64, timestamp: i64 },
    /// The chunk was written by another version of the format.
    #[error("chunk format version {found}; this build reads version {}", crate::FORMAT_VERSION)]
    UnsupportedVersion { found: u8 },
    /// The bytes end before the chunk does.
    #[error("chunk is truncated: {section} needs more bytes than the {len} there are (at byte {offset})")]
    Truncated { section: &'static str, offset: usize, len: usize },
    /// The bytes are not a chunk this build wrote: a field holds an impossible value.
    #[error("chunk is corrupt at byte {offset}, in {section}: {reason}")]
    Corrupt { section: &'static str, offset: usize, reason: &'static str },
}

impl CodecError {
    pub(crate) fn corrupt(section: &'static str, offset: usize, reason: &'static str) -> CodecError {
        CodecError::Corrupt { section, offset, reason }
    }
}
