//! When an `append` is acknowledged, and so what survives a crash.

use std::time::Duration;

/// When [`Wal::append`](crate::Wal::append) returns, relative to the disk.
///
/// Whatever the variant, an acknowledged record is never *torn*: replay yields whole records,
/// in the order they were acknowledged, and after a crash what remains is a prefix of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Acknowledged after the group holding the record was written and `fdatasync`ed (and the
    /// directory synced, when the record opened a new segment).
    ///
    /// - Process crash: every acknowledged record survives.
    /// - Power loss: every acknowledged record survives.
    ///
    /// Concurrent appends share one sync (group commit), so the cost is one sync per group,
    /// not per record.
    #[default]
    Sync,
    /// Acknowledged once the record is written to the OS (`write(2)`); the log thread
    /// `fdatasync`s at least every interval while there is unsynced data.
    ///
    /// - Process crash: every acknowledged record survives (the OS holds it).
    /// - Power loss: the records of about the last interval can be lost, as a suffix.
    Interval(Duration),
    /// Acknowledged once written to the OS; synced only when a segment is full, at
    /// [`Wal::sync`](crate::Wal::sync) and at close.
    ///
    /// - Process crash: every acknowledged record survives.
    /// - Power loss: everything written since the last sync can be lost (up to a segment), as
    ///   a suffix.
    None,
}
