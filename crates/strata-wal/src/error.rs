//! What can go wrong: each error names the file at fault, and for damage the byte offset.

use std::io;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

/// An error of the write-ahead log.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    /// The storage failed. `op` says what the log was doing, e.g. "syncing".
    #[error("WAL I/O error {op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Acknowledged records are damaged or missing: a bad record in any segment but the newest,
    /// or in the newest before the point a later record says was durably synced; a damaged
    /// header of a segment that holds records; a segment missing from the log, or one that lost
    /// or gained bytes after the next one began; or a header that passes its checksum but is
    /// wrong. No crash leaves any of these. Nothing is skipped or truncated: an operator
    /// decides ([`WalOptions::on_damage`](crate::WalOptions::on_damage)).
    #[error("WAL segment {} is corrupt at byte offset {offset}: {reason}", segment.display())]
    Corrupt { segment: PathBuf, offset: u64, reason: Corruption },
    /// A whole segment of a format version this build does not read: written by a newer
    /// strata (upgrade), or by an older one whose version is no longer read (docs/FORMATS.md
    /// says how to move such a log forward). Nothing is read or changed.
    #[error("{}", unsupported_version(segment, *found, supported))]
    UnsupportedVersion { segment: PathBuf, found: u32, supported: RangeInclusive<u32> },
    /// An `append` larger than [`MAX_RECORD_SIZE`](crate::MAX_RECORD_SIZE).
    #[error("a WAL record holds at most {max} bytes; this payload has {size}")]
    RecordTooLarge { size: usize, max: usize },
    /// An earlier write or sync failed, so what the OS holds of the log is unknown: the log
    /// refuses every write until it is reopened, which replays what is really on disk.
    #[error(
        "a write to the WAL failed ({cause}); it refuses writes until reopened, which keeps every acknowledged record"
    )]
    Poisoned { cause: String },
    /// The log-writer thread is gone (it panicked).
    #[error("the WAL's log-writer thread has stopped")]
    WriterGone,
}

/// What is wrong with the bytes of a segment.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Corruption {
    #[error("the segment header is torn: the file has {len} of its 28 bytes")]
    TornHeader { len: usize },
    #[error("the file does not start with the magic \"STRATWAL\" but {found:02x?}")]
    BadMagic { found: [u8; 8] },
    #[error("header checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    HeaderChecksum { stored: u32, computed: u32 },
    #[error("the reserved header field is {found:#x}, not 0")]
    Reserved { found: u32 },
    #[error("the header names segment {found}, the file name segment {expected}")]
    SeqMismatch { expected: u64, found: u64 },
    #[error("a record header is torn: {available} of its {of} bytes are there")]
    TornRecordHeader { available: usize, of: usize },
    #[error("a record claims {len} bytes, above the maximum record size of {max}")]
    RecordTooLarge { len: u64, max: usize },
    #[error("a record of {len} bytes is torn: {available} bytes follow its header")]
    TornRecord { len: u64, available: usize },
    #[error("record checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    RecordChecksum { stored: u32, computed: u32 },
    /// The header names a segment before this one that is not there, and no checkpoint covers
    /// it: its records are lost.
    #[error(
        "segment {} ({len} bytes), which this segment's header names as the one before it, is missing, and no checkpoint covers it",
        crate::segment::name(*seq)
    )]
    MissingSegment { seq: u64, len: u64 },
    /// The header names another segment before this one than the one that is there.
    #[error("the header names segment {named} as the one before it, but segment {found} is there")]
    Predecessor { named: u64, found: u64 },
    /// A segment's length differs from the one the next segment's header recorded when it was
    /// created: bytes were lost from (or added to) its end afterwards.
    #[error(
        "the segment holds {len} bytes, but segment {next}'s header says it held {sealed} when that one began"
    )]
    SealedLength { len: u64, sealed: u64, next: u64 },
}

/// What an operator reads for a segment of a version this build does not read: the file, both
/// versions, and what to do.
fn unsupported_version(segment: &Path, found: u32, supported: &RangeInclusive<u32>) -> String {
    let (oldest, newest) = (supported.start(), supported.end());
    if found > *newest {
        format!(
            "WAL segment {} is format version {found}, written by a newer strata; this build \
             reads versions up to {newest}: upgrade strata",
            segment.display()
        )
    } else {
        format!(
            "WAL segment {} is format version {found}; this build reads versions {oldest} to \
             {newest}: the version history in docs/FORMATS.md says how to upgrade it",
            segment.display()
        )
    }
}
