//! Positions in the log.

use std::fmt;

/// A place in the log: a byte offset within a segment.
///
/// `append` returns, and replay hands out, the position just *after* a record. That is what a
/// checkpoint stores to say "every record before this is applied": replaying from it yields the
/// records after it, and [`Wal::remove_segments_before`](crate::Wal::remove_segments_before)
/// may delete what lies wholly before it. Positions order like the records they follow: by
/// segment, then by offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Position {
    /// Sequence number of the segment (the first segment is 1).
    pub segment: u64,
    /// Byte offset within that segment's file.
    pub offset: u64,
}

impl Position {
    /// Before every record: replaying from here yields the whole log.
    pub const START: Position = Position { segment: 0, offset: 0 };
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.segment, self.offset)
    }
}
