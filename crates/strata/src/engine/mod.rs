//! The engine, top floor: opens a data directory, wires the parts together, runs the
//! background checkpointer and compactor, and hands each call to the module that does it
//! (`ingest`, `read`, `query`, `checkpointer`, `compactor`, `stats`).
//!
//! Opening lives in `open.rs` (every open path, read-write and read-only, and the background
//! threads); the data directory's own files (lock, engine id, WAL and checkpoint storage) in
//! `data_dir.rs`.

mod data_dir;
mod open;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::thread::JoinHandle;

use arrow_array::RecordBatch;

use crate::ack_gate::AckGuard;
use crate::checkpointer;
use crate::compactor::{CompactReport, Compactor};
use crate::contents::TierContents;
use crate::core::Core;
use crate::error::Error;
use crate::query::{Query, QueryResult};
use crate::read::{Selector, SeriesPoints, TierSeries};
use crate::recovery::Recovery;
use crate::series::SeriesKey;
use crate::stats::Stats;
use crate::streams::StreamSequence;
use crate::tier::{Manifest, Tier};
use crate::write::{Point, Sequenced, WriteOptions, WriteReport};
use crate::{config::Config, contents, ingest, read, stats};

/// A strata engine over one data directory. Cheap to share: clone the `Arc` it lives in, or use
/// it by reference from many threads.
#[derive(Debug)]
pub struct Engine {
    core: Arc<Core>,
    compactor: Arc<Compactor>,
    threads: Vec<(mpsc::Sender<()>, JoinHandle<()>)>,
    recovery: Recovery,
}

pub(super) const WAL_DIR: &str = "wal";
pub(super) const CHECKPOINT_DIR: &str = "checkpoints";

impl Engine {
    /// Whether the engine was opened read-only ([`Engine::open_read_only`]).
    pub fn is_read_only(&self) -> bool {
        self.core.log.is_read_only()
    }

    /// What opening found: the checkpoint loaded, the records replayed, a torn tail cut.
    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    /// The configuration the engine runs with.
    pub fn config(&self) -> &Config {
        &self.core.config
    }

    /// The data directory's path.
    pub fn data_dir(&self) -> &Path {
        &self.core.config.data_dir
    }

    /// Writes line protocol. Valid lines are stored even when others are rejected; the report
    /// says how many points were stored and why each rejected line was refused. Returns once
    /// the accepted points are durable as `[wal] durability` says.
    ///
    /// # Errors
    /// [`Error::WriteTooLarge`] for a body over `limits.max_write_size` (nothing is stored);
    /// [`Error::Poisoned`] or [`Error::Wal`] when the log cannot be written (nothing of this
    /// write is acknowledged); [`Error::ApplyFailed`] when the write is durable but memory
    /// could not take it (it is replayed at the next open); [`Error::HotMemoryFull`] while hot
    /// memory is full and the compactor cannot evict (nothing is stored; retry later).
    pub fn write_lp(&self, body: &[u8], options: &WriteOptions) -> Result<WriteReport, Error> {
        self.core.log.check_writable("write")?;
        match ingest::write_lp(&self.core, body, options, None)? {
            Sequenced::Applied(report) => Ok(report),
            Sequenced::Duplicate { .. } => {
                Err(Error::Invariant("a write without a source was skipped".into()))
            }
        }
    }

    /// Writes one message of a stream exactly once: a message whose sequence is not past the
    /// stream's last applied one (a redelivery after a crash) is skipped, whole, and
    /// [`Sequenced::Duplicate`] says so. The stream and sequence are logged with the points in
    /// one record and kept by checkpoints, so this holds across crashes and after the points
    /// moved to the tiers. A stream's messages must be written in sequence order; a message
    /// with no valid line still records its sequence. NATS JetStream ingest acknowledges a
    /// message once this returns.
    ///
    /// # Errors
    /// As [`Engine::write_lp`]; on an error the sequence is not recorded (write it again).
    pub fn write_lp_sequenced(
        &self,
        body: &[u8],
        options: &WriteOptions,
        source: &StreamSequence,
    ) -> Result<Sequenced, Error> {
        self.core.log.check_writable("write")?;
        ingest::write_lp(&self.core, body, options, Some(source))
    }

    /// Like [`Engine::write_lp_sequenced`], holding an [`AckGuard`] for an applied message
    /// until the caller calls [`AckGuard::acknowledged`] once its source confirmed the
    /// acknowledgement. Checkpoints and warm flushes wait for open guards (and hold new writes
    /// back meanwhile), so only acknowledged messages leave the WAL and a fence at a later
    /// open ([`Engine::open_fenced`]) can drop the others. A duplicate or a failed write holds
    /// no guard open. A guard dropped unacknowledged stops checkpoints and flushes until the
    /// engine reopens ([`Error::Unacknowledged`]): the caller keeps acknowledging, or exits.
    ///
    /// # Errors
    /// As [`Engine::write_lp_sequenced`].
    pub fn write_lp_gated(
        &self,
        body: &[u8],
        options: &WriteOptions,
        source: &StreamSequence,
    ) -> Result<(Sequenced, AckGuard), Error> {
        self.core.log.check_writable("write")?;
        ingest::write_lp_gated(&self.core, body, options, source)
    }

    /// The last sequence of `stream` whose message is stored: a stream consumer resumes after it.
    pub fn stream_sequence(&self, stream: &str) -> Option<u64> {
        self.core.streams.applied(stream)
    }

    /// Writes points an application already holds. Each point is checked as a line would be;
    /// `Rejection::line` is the 1-based index of the point.
    ///
    /// # Errors
    /// As [`Engine::write_lp`].
    pub fn write(&self, points: &[Point<'_>]) -> Result<WriteReport, Error> {
        self.core.log.check_writable("write")?;
        ingest::write(&self.core, points)
    }

    /// The raw points of every series matching `selector` with a time in `[from, to)` (ns), per
    /// series in time order. Series without points in the range are left out.
    ///
    /// # Errors
    /// [`Error::DamagedChunk`] if a chunk in memory cannot be decoded.
    pub fn read(&self, selector: &Selector, from: i64, to: i64) -> Result<Vec<SeriesPoints>, Error> {
        read::read(&self.core, selector, from, to, &AtomicBool::new(false))
    }

    /// Like [`Engine::read`], as Arrow record batches: one per series, in the one output schema
    /// of strata (`time`, the series key columns, `value`). Empty when nothing matches.
    ///
    /// # Errors
    /// As [`Engine::read`].
    pub fn read_batches(&self, selector: &Selector, from: i64, to: i64) -> Result<Vec<RecordBatch>, Error> {
        read::read_batches(&self.core, selector, from, to)
    }

    /// The downsampled rows of `tier` (warm or cold) for every series matching `selector`,
    /// buckets starting in `[from, to)`, partial rows of a bucket merged. Series without rows
    /// are left out.
    ///
    /// # Errors
    /// Object store errors, a damaged tier file (named), or [`Error::Query`] for the hot tier.
    pub fn read_tier(
        &self,
        tier: Tier,
        selector: &Selector,
        from: i64,
        to: i64,
    ) -> Result<Vec<TierSeries>, Error> {
        read::read_tier(&self.core, tier, selector, from, to, &AtomicBool::new(false))
    }

    /// Answers `query` from whichever tiers hold its range: hot, warm and cold stitched by the
    /// planner.
    ///
    /// # Errors
    /// [`Error::Query`] for an empty range, a zero resolution or no aggregate; object store
    /// errors and damaged files, named.
    pub fn query(&self, query: &Query) -> Result<QueryResult, Error> {
        crate::query::run(&self.core, query, &AtomicBool::new(false))
    }

    /// [`Engine::query`] that stops soon after `cancel` is set (a deadline passed, the client
    /// went away): it is looked at before each series read from memory and each tier file
    /// fetched, so even one selector over many files stops within one file's read.
    ///
    /// # Errors
    /// [`Error::Cancelled`] once `cancel` is seen set; otherwise as [`Engine::query`].
    pub fn query_cancellable(&self, query: &Query, cancel: &AtomicBool) -> Result<QueryResult, Error> {
        crate::query::run(&self.core, query, cancel)
    }

    /// Writes a checkpoint now and removes the WAL segments it covers.
    ///
    /// # Errors
    /// I/O errors naming the path, or [`Error::FlushPending`] while a warm flush is cut but not
    /// encoded yet; the engine goes on, its data still in the WAL. A flush waiting for its
    /// commit (an object store outage) does not stop checkpoints: they record its late points.
    pub fn checkpoint(&self) -> Result<PathBuf, Error> {
        self.core.log.check_writable("checkpoint")?;
        checkpointer::checkpoint(&self.core)
    }

    /// Runs one compaction pass now, as of the engine's clock.
    ///
    /// # Errors
    /// Object store and I/O errors; what the pass committed before stays committed, and a
    /// warm flush that could not be committed is retried by the next pass.
    pub fn compact(&self) -> Result<CompactReport, Error> {
        self.compact_at(self.core.now())
    }

    /// Runs one compaction pass as of `now` (ns): `strata compact --now`, backfills, tests.
    ///
    /// # Errors
    /// As [`Engine::compact`].
    pub fn compact_at(&self, now: i64) -> Result<CompactReport, Error> {
        self.core.log.check_writable("compact")?;
        self.compactor.run(&self.core, now)
    }

    /// Counters and sizes.
    pub fn stats(&self) -> Stats {
        stats::collect(&self.core, self.compactor.status())
    }

    /// What `tier` holds per metric (series, rows, points, bytes) and per tag key (series,
    /// distinct values). Hot is counted from memory; warm and cold read every live file of the
    /// tier once, so this costs a pass over the tier: for tools, not for a hot path.
    ///
    /// # Errors
    /// Object store errors and damaged tier files, named.
    pub fn contents(&self, tier: Tier) -> Result<TierContents, Error> {
        contents::contents(&self.core, tier)
    }

    /// Every series the engine knows, with the time (ns) of its newest point in memory, if it
    /// has one: series per metric, and per-host ingest lag (`strata serve`'s `/metrics`).
    /// Walks every series: for telemetry, not for a hot path.
    pub fn series_newest(&self) -> Vec<(Arc<SeriesKey>, Option<i64>)> {
        let (newest, index) = self.core.read_without_retirement(|| {
            self.core.hot.newest_points().into_iter().collect::<rustc_hash::FxHashMap<_, _>>()
        });
        index.all().map(|(id, key)| (key, newest.get(&id).copied())).collect()
    }

    /// Where the hot store's data starts: every point from here on is in hot.
    pub fn hot_start(&self) -> i64 {
        self.core.hot.evicted_until()
    }

    /// The engine's clock, now (ns).
    pub fn now(&self) -> i64 {
        self.core.now()
    }

    /// The live manifest: files per tier and how far each tier is written.
    pub fn manifest(&self) -> Arc<Manifest> {
        self.core.tiers.manifest()
    }

    /// Stops the background threads, writes a final checkpoint so the next open replays
    /// nothing, and closes the WAL. A read-only engine has none of these, and only lets go
    /// of its memory.
    ///
    /// # Errors
    /// I/O errors of the final checkpoint or of closing the WAL.
    pub fn close(mut self) -> Result<(), Error> {
        self.stop_threads();
        if self.core.log.is_read_only() {
            return Ok(());
        }
        // A cut that could not be encoded keeps the WAL that holds it: the next open replays it.
        // So does a gated message given up unacknowledged: the next open's fence decides.
        if !self.core.log.is_poisoned() && !self.core.gate.is_cutting() && !self.core.acks.is_abandoned() {
            // No write can come any more (the engine is ours, its threads stopped): sealing in
            // place spares the checkpoint a copy of every open window.
            self.core.hot.seal_open_windows();
            checkpointer::checkpoint(&self.core)?;
        }
        self.core.log.sync()
    }

    fn stop_threads(&mut self) {
        for (stop, handle) in self.threads.drain(..) {
            drop(stop);
            let _ = handle.join();
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop_threads();
    }
}
