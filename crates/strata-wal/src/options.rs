//! How a log is opened.

use crate::Durability;

/// Settings of a [`Wal`](crate::Wal). `WalOptions::default()` gives the documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalOptions {
    /// When an append is acknowledged. Default: [`Durability::Sync`].
    pub durability: Durability,
    /// A segment is closed and the next started when the next record would take it past this
    /// many bytes (header included). A record larger than this goes alone into a segment of its
    /// own. Replay reads a segment into memory whole, so this also bounds replay's memory.
    /// Default: 64 MiB.
    pub segment_size: u64,
    /// How many appends may wait for the log thread before `append` blocks (backpressure).
    /// Default: 256.
    pub queue_depth: usize,
    /// The log thread stops gathering a group once it holds this many bytes; a group always
    /// takes at least one record. Default: 4 MiB.
    pub group_bytes: usize,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            durability: Durability::Sync,
            segment_size: 64 << 20,
            queue_depth: 256,
            group_bytes: 4 << 20,
        }
    }
}
