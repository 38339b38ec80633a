//! The write-ahead log of strata: an acknowledged write is never lost.
//!
//! The engine encodes a batch of points into an opaque payload and calls [`Wal::append`],
//! which returns once the record is as durable as the [`Durability`] says, with its
//! [`Position`]. Many threads append through one `&Wal`; a single log thread writes their
//! records in groups and syncs once per group (group commit). On restart, [`Wal::open`]
//! replays every record after the engine's last checkpoint, cuts a torn tail left by a crash,
//! and opens the log for appending in a new segment. Once a checkpoint holds everything up to
//! a position, [`Wal::remove_segments_before`] deletes the segments it covers. A reader that
//! must change nothing (another process owns the log, or the files are read-only) replays
//! through [`FsStorage::read_only`] and ends with [`Replay::finish_read_only`], which reports a
//! torn tail or damage and leaves them in place.
//!
//! The log is a directory of segments (`segment.rs` documents the layout) holding checksummed
//! records (`record.rs`). All file I/O goes through the [`Storage`] trait: [`FsStorage`] for
//! a real directory, and with the `sim` feature `SimStorage`, which tests crash and fail.
//!
//! ```
//! use strata_wal::{FsStorage, Position, Wal, WalOptions};
//!
//! # let dir = std::env::temp_dir().join(format!("strata-wal-doctest-{}", std::process::id()));
//! # let _ = std::fs::remove_dir_all(&dir);
//! // First run: an empty directory, nothing to replay.
//! let (wal, _report) = Wal::open(FsStorage::new(&dir)?, WalOptions::default(), Position::START)?
//!     .finish()?;
//! let first = wal.append(b"batch 1")?;
//! let second = wal.append(b"batch 2")?;
//! assert!(first < second);
//! wal.close()?;
//!
//! // Restart: replay what follows the checkpoint, here the record after `first`.
//! let checkpoint = first;
//! let mut replay = Wal::open(FsStorage::new(&dir)?, WalOptions::default(), checkpoint)?;
//! let mut applied = Vec::new();
//! while let Some((position, payload)) = replay.next_record()? {
//!     applied.push((position, payload.to_vec()));
//! }
//! let (wal, report) = replay.finish()?;
//! assert_eq!(applied, vec![(second, b"batch 2".to_vec())]);
//! assert_eq!(report.records, 1);
//! assert_eq!(report.truncated, None);
//!
//! // Once a checkpoint holds everything up to `second`, its segment can go.
//! let third = wal.append(b"batch 3")?;
//! assert!(second < third);
//! assert_eq!(wal.remove_segments_before(second)?, 1);
//! wal.close()?;
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod durability;
mod error;
mod fs;
mod options;
mod position;
mod read_only;
mod record;
mod replay;
mod segment;
#[cfg(any(test, feature = "sim"))]
mod sim;
mod storage;
mod sync_latency;
mod wal;
mod writer;

pub use durability::Durability;
pub use error::{Corruption, WalError};
pub use fs::{FsStorage, create_dir_durably};
pub use options::{OnDamage, WalOptions};
pub use position::Position;
pub use read_only::ReadOnlyStorage;
pub use record::MAX_RECORD_SIZE;
pub use replay::{Damage, Replay, ReplayReport, Truncation};
pub use segment::{FORMAT_VERSION, READABLE_VERSIONS, name as segment_name};
#[cfg(any(test, feature = "sim"))]
pub use sim::{SimOp, SimStats, SimStorage};
pub use storage::{LogFile, Storage};
pub use sync_latency::{SYNC_BUCKETS, SyncLatency};
pub use wal::Wal;
