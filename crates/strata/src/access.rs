//! Whether an engine may change its data directory.

/// How an engine holds its data directory: [`Access::ReadWrite`] owns it (the lock, the WAL,
/// checkpoints, the tiers); [`Access::ReadOnly`] only reads it, beside a live engine or on a
/// copy nobody may change, and writes nothing at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    ReadWrite,
    ReadOnly,
}
