//! Replay's appliers: the records read from the WAL applied to the hot store by several
//! threads, each owning a share of its shards (shard index modulo the number of threads).
//!
//! The thread that reads and decodes the records applies the first share itself and hands each
//! record to the others through a bounded channel. Each thread applies every record it gets in
//! log order, and a series lives in one shard, so every series sees its points in log order:
//! memory ends as one thread applying everything would leave it. Everything a record's apply
//! depends on besides the shard (the tiers' bounds, whether a stream message applies) is
//! decided by the reader in log order and travels with the record.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::{Scope, ScopedJoinHandle};

use strata_wal::Position;

use crate::decode::Malformed;
use crate::hot::{HotStore, Part};
use crate::payload::Batch;

/// Records waiting per applier thread: bounds the memory replay holds ahead of the slowest.
const QUEUE: usize = 16;

/// A record for the appliers: its points, the tiers' bounds at it, and where it ends (for
/// errors).
struct Job {
    batch: Batch,
    bounds: (i64, i64),
    end: Position,
}

/// A failed apply: the record's end and what was wrong with it.
pub(crate) type Failed = (Position, Malformed);

type Worker<'scope> = (SyncSender<Arc<Job>>, ScopedJoinHandle<'scope, Result<(), Failed>>);

pub(crate) struct Appliers<'scope> {
    hot: &'scope HotStore,
    workers: Vec<Worker<'scope>>,
    of: usize,
}

/// How many threads apply: the machine's cores, at most 4 (more shares each of fewer series
/// gain little beside the reader).
pub(crate) fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4)
}

impl<'scope> Appliers<'scope> {
    /// Starts `threads - 1` applier threads in `scope`; the caller is the first.
    pub(crate) fn start<'env>(
        scope: &'scope Scope<'scope, 'env>,
        hot: &'scope HotStore,
        threads: usize,
    ) -> Self {
        let of = threads.max(1);
        let workers = (1..of)
            .map(|index| {
                let (tx, rx) = sync_channel::<Arc<Job>>(QUEUE);
                let handle = scope.spawn(move || apply_all(hot, &rx, Part { index, of }));
                (tx, handle)
            })
            .collect();
        Appliers { hot, workers, of }
    }

    /// Applies a record: the first share here, the others on their threads.
    ///
    /// # Errors
    /// The first failed apply of any thread (its record may be earlier than this one).
    pub(crate) fn apply(&mut self, batch: Batch, bounds: (i64, i64), end: Position) -> Result<(), Failed> {
        if self.workers.is_empty() {
            return self.hot.apply_part(&batch, bounds, Part::WHOLE).map_err(|e| (end, e));
        }
        let job = Arc::new(Job { batch, bounds, end });
        for (tx, _) in &self.workers {
            if tx.send(job.clone()).is_err() {
                // That thread stopped at a failed record: its error is the one to report.
                return self.finish().and(Err((end, Malformed("an applier thread stopped".into()))));
            }
        }
        self.hot.apply_part(&job.batch, job.bounds, Part { index: 0, of: self.of }).map_err(|e| (end, e))
    }

    /// Waits for every thread to apply what it was given.
    ///
    /// # Errors
    /// The first failed apply of any thread.
    pub(crate) fn finish(&mut self) -> Result<(), Failed> {
        let mut outcome = Ok(());
        for (tx, handle) in self.workers.drain(..) {
            drop(tx);
            let result = handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            if outcome.is_ok() {
                outcome = result;
            }
        }
        outcome
    }
}

fn apply_all(hot: &HotStore, jobs: &Receiver<Arc<Job>>, part: Part) -> Result<(), Failed> {
    for job in jobs {
        hot.apply_part(&job.batch, job.bounds, part).map_err(|e| (job.end, e))?;
    }
    Ok(())
}
