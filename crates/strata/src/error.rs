//! The engine's errors.

use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use crate::config::ConfigError;
use crate::units::ByteSize;

/// Everything that can go wrong in the engine, naming the input at fault.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("write-ahead log: {0}")]
    Wal(strata_wal::WalError),
    /// Acknowledged writes in the WAL are damaged or missing (never what a crash leaves): the
    /// segment and the byte offset where, and what is wrong. Nothing was changed.
    /// `wal.on_damage = "truncate"` opens anyway, cutting the log there and reporting the
    /// loss in [`Recovery::damage`](crate::Recovery::damage).
    #[error(
        "the WAL segment {} is damaged at byte offset {offset}: {reason}; acknowledged writes would be lost, so nothing was changed: restore the segment from a copy, or set wal.on_damage = \"truncate\" to open without them (the loss is reported)",
        segment.display()
    )]
    WalDamaged { segment: PathBuf, offset: u64, reason: strata_wal::Corruption },
    /// An I/O error on `path`. The message includes the OS error, which is therefore not also
    /// returned as `source()`: a report walking the chain would print it twice.
    #[error("cannot {op} {path}: {cause}")]
    Io { op: &'static str, path: PathBuf, cause: std::io::Error },
    /// A file the engine wrote does not decode: `path` names it (a WAL segment's reason names
    /// the offset of the record), `reason` says what is wrong.
    #[error("{path} is damaged: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    /// A file of a format version this build does not read: written by a newer strata, or by
    /// an older one whose version is no longer read (only WAL segments and checkpoints can
    /// be; every strata reads every older tier file and manifest). Nothing was changed.
    /// `format` is `"WAL segment"`, `"WAL record payload"`, `"checkpoint"`, `"manifest"` or
    /// `"tier file"`; the versions of each are listed in docs/FORMATS.md.
    #[error("{}", unsupported_version(path, format, *found, supported))]
    UnsupportedVersion { path: PathBuf, format: &'static str, found: u32, supported: RangeInclusive<u32> },
    #[error("the write is {size} bytes, more than limits.max_write_size = {max} bytes")]
    WriteTooLarge { size: u64, max: u64 },
    /// Backpressure: hot memory is past `hot.max_memory` and the compactor cannot evict (its
    /// last pass failed). Nothing of the write was stored; retry it later.
    #[error(
        "write refused: hot memory is about {estimate}, past hot.max_memory ({limit}), and the compactor cannot evict until a pass succeeds (its last error: {cause}); retry later"
    )]
    HotMemoryFull { estimate: ByteSize, limit: ByteSize, cause: String },
    #[error("the engine refuses writes since a write to the log failed ({cause}); reopen it")]
    Poisoned { cause: String },
    #[error("the data directory {path} is in use by another engine")]
    Locked { path: PathBuf },
    /// The engine was opened read-only ([`Engine::open_read_only`](crate::Engine::open_read_only))
    /// and refused `operation` (`"write"`, `"compact"`, `"checkpoint"`, ...), changing
    /// nothing. `path` is the data directory.
    #[error(
        "cannot {operation}: the engine on {} is open read-only; open it with Engine::open (no other engine holding it) to {operation}",
        path.display()
    )]
    ReadOnly { operation: &'static str, path: PathBuf },
    /// A read-only open found the data directory changing under it on each of `attempts`
    /// tries (another engine committed a manifest or took a checkpoint meanwhile), so it has
    /// no consistent view to offer; opening again later normally succeeds.
    #[error(
        "the data directory {} changed during each of {attempts} read-only opens (another engine is committing or checkpointing): try again",
        path.display()
    )]
    Unsettled { path: PathBuf, attempts: u32 },
    #[error("object store: cannot {op} {path}: {message}")]
    ObjectStore { op: &'static str, path: String, message: String },
    #[error(
        "manifest generation {generation} at {url} was committed by someone else: two engines write to one object_store prefix"
    )]
    ManifestConflict { url: String, generation: u64 },
    /// The tier store's live manifest was committed by another engine (another data
    /// directory): refused at open before anything in the store is touched, and at each commit.
    #[error(
        "the tier store {url} is owned by engine {owner}, and this engine is {engine}: another engine owns this prefix; point object_store.url elsewhere, or open the data directory whose ENGINE_ID is {owner}"
    )]
    NotOwner { url: String, owner: String, engine: String },
    #[error("the tiers at {url} were written with {key} = {found}, but the config says {configured}")]
    TierMismatch { url: String, key: &'static str, found: String, configured: String },
    #[error("a warm flush is cut but not yet encoded; no checkpoint until it is (the WAL keeps its data)")]
    FlushPending,
    /// A gated stream message (`Engine::write_lp_gated`) stayed unacknowledged for `waited`:
    /// the checkpoint or warm flush that waited for it is tried again later (the WAL keeps it).
    #[error(
        "message {sequence} of stream {stream:?} is written but its acknowledgement was not confirmed within {waited:?}; the checkpoint or flush waits (the WAL keeps its data)"
    )]
    AckPending { stream: String, sequence: u64, waited: std::time::Duration },
    /// A gated stream message was applied and then given up without an acknowledgement: its
    /// stream may give it to another node, so no checkpoint or flush may hold it. Reopen the
    /// engine (with the fences of the partitions it lost) to go on.
    #[error(
        "message {sequence} of stream {stream:?} was written but never acknowledged; no checkpoint or flush until the engine reopens and its fence decides"
    )]
    Unacknowledged { stream: String, sequence: u64 },
    #[error("invalid query: {0}")]
    Query(String),
    /// `increase` or `rate` asked of a metric that is not configured as a counter: its tier
    /// rows keep no increase.
    #[error(
        "invalid query: {aggregate} needs a counter, and metric {metric:?} is a gauge; set [metrics.{metric}] kind = \"counter\" (rows written before keep no increase)"
    )]
    NotACounter { metric: String, aggregate: &'static str },
    /// The caller's cancel flag was set while the query ran (see
    /// [`Engine::query_cancellable`](crate::Engine::query_cancellable)); nothing was answered.
    #[error("the query was cancelled before it finished")]
    Cancelled,
    /// A compressed chunk in memory does not decode: memory was damaged after the data was
    /// logged. The WAL and checkpoints still hold it; reopening rebuilds memory from them.
    #[error(
        "the in-memory chunk of series {series} does not decode ({reason}); reopen the engine to rebuild memory from the log"
    )]
    DamagedChunk { series: String, reason: String },
    /// A write was made durable in the log, but applying it to memory failed: it is replayed
    /// at the next open, and until then reads miss it and writes are refused.
    #[error(
        "the write is durable in the log, but memory could not take it: {cause}; reopen the engine, which replays it"
    )]
    ApplyFailed { cause: String },
    /// Parquet refused rows of a new tier file (nothing was uploaded).
    #[error("cannot encode the {tier} file of day {day}: {reason}")]
    Encode { tier: &'static str, day: String, reason: String },
    /// Something the engine holds true does not: a bug, reported instead of a panic.
    #[error("an engine invariant does not hold (a bug, please report it): {0}")]
    Invariant(String),
    /// Arrow refused the columns of a result batch.
    #[error("cannot build an Arrow batch: {0}")]
    Arrow(String),
    /// A failpoint a crash test configured to fail (only with the `failpoints` feature).
    #[cfg(feature = "failpoints")]
    #[error("failpoint {name} fired")]
    Failpoint { name: &'static str },
}

pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |cause| Error::Io { op, path, cause }
}

impl From<strata_wal::WalError> for Error {
    /// A segment of an unsupported version becomes [`Error::UnsupportedVersion`], so callers
    /// match one variant whichever file is too new; damage becomes [`Error::WalDamaged`];
    /// every other log error stays [`Error::Wal`].
    fn from(error: strata_wal::WalError) -> Error {
        match error {
            strata_wal::WalError::UnsupportedVersion { segment, found, supported } => {
                Error::UnsupportedVersion { path: segment, format: "WAL segment", found, supported }
            }
            strata_wal::WalError::Corrupt { segment, offset, reason } => {
                Error::WalDamaged { segment, offset, reason }
            }
            other => Error::Wal(other),
        }
    }
}

/// What an operator reads for a file of a version this build does not read: the file, both
/// versions, and what to do.
fn unsupported_version(path: &Path, format: &str, found: u32, supported: &RangeInclusive<u32>) -> String {
    let (oldest, newest) = (supported.start(), supported.end());
    if found > *newest {
        format!(
            "{} is {format} format version {found}, written by a newer strata; this build reads \
             versions up to {newest}: upgrade strata",
            path.display()
        )
    } else {
        format!(
            "{} is {format} format version {found}; this build reads versions {oldest} to \
             {newest}: the version history in docs/FORMATS.md says how to upgrade it",
            path.display()
        )
    }
}
