//! How a log is opened.

use crate::Durability;

/// Settings of a [`Wal`](crate::Wal). `WalOptions::default()` gives the documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalOptions {
    /// When an append is acknowledged. Default: [`Durability::Sync`].
    pub durability: Durability,
    /// A segment is closed and the next started when the next record would take it past this
    /// many bytes (header included). A record larger than this goes alone into a segment of its
    /// own. Replay reads a segment into memory whole (and the next one's header), so this also bounds
    /// replay's memory.
    /// Default: 64 MiB.
    pub segment_size: u64,
    /// How many appends may wait for the log thread before `append` blocks (backpressure).
    /// Default: 256.
    pub queue_depth: usize,
    /// The log thread stops gathering a group once it holds this many bytes; a group always
    /// takes at least one record. Default: 4 MiB.
    pub group_bytes: usize,
    /// What replay does with damage to acknowledged records (see [`WalError::Corrupt`]).
    /// A torn tail left by a crash is cut whatever this says. Default: [`OnDamage::Refuse`].
    ///
    /// [`WalError::Corrupt`]: crate::WalError::Corrupt
    pub on_damage: OnDamage,
}

/// What replay does when records that were acknowledged are damaged or missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnDamage {
    /// Fail with [`WalError::Corrupt`](crate::WalError::Corrupt), naming the segment and
    /// offset; nothing is changed, so an operator can restore the segment and open again.
    #[default]
    Refuse,
    /// Open anyway: the log is cut at the first damage (the damaged segment truncated there,
    /// or removed when its header is damaged, and every later segment removed), so what
    /// replays is still a prefix of the log, and the loss is counted in
    /// [`ReplayReport::damage`](crate::ReplayReport::damage).
    Truncate,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            durability: Durability::Sync,
            segment_size: 64 << 20,
            queue_depth: 256,
            group_bytes: 4 << 20,
            on_damage: OnDamage::Refuse,
        }
    }
}
