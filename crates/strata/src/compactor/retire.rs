//! Retirement, the last step of a pass: series none of whose points is left in hot leave the
//! index, so series that stop reporting (a node retired, a job's devices gone) do not keep
//! memory and checkpoint space for good. Their rows stay in the tiers, which carry whole keys;
//! a series that reports again is a new series, under a new id.
//!
//! The decision is logged as one WAL record (`payload.rs`, version 3) and applied at its turn
//! in log order, so a replay retires the same series at the same place: a later record may
//! hand a retired id to a new series. When retirements leave most ids below the highest live
//! one free, the record also moves the live series above to the lowest free ids
//! (`series/retire.rs`), so tables indexed by id shrink with the live series. The record carries hot's `evicted_until`, which a replay
//! that put evicted windows back evicts again (`recovery.rs`).
//!
//! **Invariant:** no write holds an id of a retiring series. Writes hold `Core::writers`
//! shared from looking up their series until their record is applied; the retirement holds it
//! exclusively from checking that the series are idle until its record is applied.

use super::CompactReport;
use crate::core::Core;
use crate::error::Error;
use crate::payload::{Batch, Retirement};

/// Retires every series with nothing in hot. Runs only when no warm flush is cut and waiting:
/// a waiting flush's late points name series by id.
pub(super) fn retire_idle(core: &Core, report: &mut CompactReport) -> Result<(), Error> {
    // A first look without stopping writes: most passes find nothing. The ids are copied out
    // first, so no series creation waits while hot is scanned.
    let ids: Vec<_> = core.read_index().ids().collect();
    let candidates = core.hot.idle(ids.into_iter());
    if candidates.is_empty() {
        return Ok(());
    }
    // A checkpoint encodes its keys after its copy: none may retire in between.
    let _checkpoint = core.hold_retirements();
    let quiet = core.quiet_writers();
    let ids = {
        let index = core.read_index();
        core.hot.idle(candidates.into_iter().filter(|&id| index.contains(id)))
    };
    if ids.is_empty() {
        return Ok(());
    }
    let moves = core.read_index().moves_after(&ids);
    let retire = Retirement { evicted_until: core.hot.evicted_until(), ids, moves };
    let batch = Batch { retire: Some(retire), ..Batch::default() };
    let payload = batch.encode_defining(0, |_| {});
    let retire = batch.retire.unwrap_or_default();
    let mut retired = 0;
    core.log.append_then_apply(payload, || {
        let mut index = core.write_index();
        retired = index.retire(&retire.ids);
        core.hot.forget(&retire.ids);
        index.move_series(&retire.moves);
        core.hot.move_series(&retire.moves);
        core.hot.forget(&[]);
        Ok(())
    })?;
    drop(quiet);
    report.retired_series += retired as u64;
    report.moved_series += retire.moves.len() as u64;
    crate::failpoint::failpoint("series-retired")
}
