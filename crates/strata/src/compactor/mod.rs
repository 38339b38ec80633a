//! The compactor: one pass moves data down the tiers and applies retention, as of a time.
//!
//! A pass, in order:
//! 1. **Warm flush** (`flush.rs`). Every warm bucket that ended at least `compactor.lateness`
//!    ago and is not written yet, plus every late point, is cut from the hot store (under the
//!    apply order, so the cut sits at one WAL position), downsampled on the rayon pool,
//!    written as one Parquet file per day, and committed in the manifest with the cut's WAL
//!    position.
//! 2. **Cold rollup** (`rollup.rs`). Every cold bucket whose warm buckets are all written is
//!    rolled up from warm rows; warm rows written since the last rollup for older buckets land
//!    as partial cold rows.
//! 3. **Merges** (`merge.rs`). Per tier and day, `compactor.merge_fanin` files of one level are
//!    merged into one file of the next level; partial rows of a bucket become one row.
//! 4. **Retention** (`retention.rs`). Files wholly past their tier's retention are dropped
//!    (warm files only once rolled up into cold); hot windows older than `hot.retention` whose
//!    warm rows are committed are evicted; past `hot.max_memory` the oldest hot windows are
//!    flushed and evicted early.
//! 5. **Retirement** (`retire.rs`). Series none of whose points is left in hot leave the
//!    index, through a WAL record.
//!
//! Every step that changes the tiers commits through one function,
//! `TierState::publish` (upload the new files, then commit manifest generation + 1).
//!
//! **Invariant:** between a cut and its encoding no checkpoint is taken; a checkpoint taken
//! while the flush waits for its commit records the flush's late points with its number
//! (`cut_guard.rs`), so an object store outage never keeps the WAL from being trimmed.
//! **Invariant:** a warm flush that fails is kept and retried as is; the hot store has already
//! moved on from what it cut.

mod encode;
mod flush;
mod merge;
mod report;
mod retention;
mod retire;
mod rollup;

use std::sync::Mutex;
use std::time::Duration;

pub use report::CompactReport;

use crate::core::Core;
use crate::cut_guard::CutGuard;
use crate::error::Error;
use flush::Flush;

/// How the background compactor is doing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TierStatus {
    /// Passes that ended well, and that failed, since open.
    pub passes: u64,
    pub failures: u64,
    /// Failures in a row; the background pass backs off while this grows.
    pub failing_for: u64,
    /// The last failure's message, cleared by a good pass.
    pub last_error: Option<String>,
    /// Orphan files (uploaded, never committed) removed at open.
    pub orphans_removed: u64,
    /// Points evicted from hot, and early because of `hot.max_memory`.
    pub evicted_points: u64,
    pub evicted_early: u64,
    /// Series retired (none of their points left in hot) since open.
    pub retired_series: u64,
}

/// The compactor's own state: one pass at a time, a flush waiting for its retry, its status.
#[derive(Debug)]
pub(crate) struct Compactor {
    state: Mutex<State>,
    status: Mutex<TierStatus>,
}

#[derive(Debug, Default)]
struct State {
    /// A warm flush cut from hot whose commit failed, retried by the next pass.
    pending: Option<Flush>,
    /// A cut that could not be encoded (a damaged chunk in memory): held for good, so no
    /// checkpoint lets go of the WAL that still holds its points; reopening replays them.
    stuck: Option<CutGuard>,
}

impl Compactor {
    pub(crate) fn new(orphans_removed: u64) -> Compactor {
        Compactor {
            state: Mutex::default(),
            status: Mutex::new(TierStatus { orphans_removed, ..TierStatus::default() }),
        }
    }

    /// Runs one pass as of `now` (ns) and records it in the status. On error the pass stops;
    /// what it committed stays committed, and a cut warm flush is kept for the next pass.
    pub(crate) fn run(&self, core: &Core, now: i64) -> Result<CompactReport, Error> {
        let outcome = {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            pass(core, &mut state, now)
        };
        // What the pass allocated for a moment goes back to the system, not only to the heap.
        crate::release::release_free_memory();
        // Hot memory as the pass left it, for the write path's backpressure.
        let failing = outcome.as_ref().err().map(ToString::to_string);
        core.memory.measured(core.hot.stats().memory_bytes, core.counters.accepted(), failing);
        let mut status = self.status.lock().unwrap_or_else(|p| p.into_inner());
        match &outcome {
            Ok(report) => {
                status.passes += 1;
                status.failing_for = 0;
                status.last_error = None;
                status.evicted_points += report.evicted_points;
                status.evicted_early += report.evicted_early;
                status.retired_series += report.retired_series;
            }
            Err(e) => {
                status.failures += 1;
                status.failing_for += 1;
                status.last_error = Some(e.to_string());
            }
        }
        outcome
    }

    pub(crate) fn status(&self) -> TierStatus {
        self.status.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether the background pass is due, `waited` after the last one (checked every
    /// `every`): after `every`, doubled per failure in a row up to 32 intervals or an hour;
    /// but at every check while writes are refused for hot memory, so they resume soon after
    /// the object store is back.
    pub(crate) fn due(&self, core: &Core, waited: Duration, every: Duration) -> bool {
        let failing = self.status.lock().unwrap_or_else(|p| p.into_inner()).failing_for;
        let backoff = every.saturating_mul(1 << failing.min(5)).min(Duration::from_secs(3600).max(every));
        waited >= backoff || core.memory.refusing(core.counters.accepted(), core.config.hot.max_memory)
    }
}

fn pass(core: &Core, state: &mut State, now: i64) -> Result<CompactReport, Error> {
    let mut report = CompactReport { now, ..CompactReport::default() };
    // One look at the hot store per pass: its late points, and past hot.max_memory the end of
    // its oldest window, which the flush writes and the eviction drops early.
    let hot = core.hot.stats();
    let early = if hot.memory_bytes > core.config.hot.max_memory.0 {
        core.hot.oldest_window().map(|oldest| oldest.saturating_add(core.hot.window()))
    } else {
        None
    };
    if let Some(flush) = state.pending.take() {
        flush::commit(core, flush, &mut state.pending, &mut report)?;
    }
    if state.stuck.is_none() {
        flush::flush_warm(core, state, now, early, hot.late_points, &mut report)?;
    }
    rollup::roll_up_cold(core, now, &mut report)?;
    merge::merge(core, &mut report)?;
    retention::expire(core, now, early, &mut report)?;
    report.deleted_files += core.tiers.delete_unread()?;
    crate::failpoint::failpoint("files-deleted")?;
    if state.pending.is_none() && state.stuck.is_none() {
        retire::retire_idle(core, &mut report)?;
    }
    Ok(report)
}
