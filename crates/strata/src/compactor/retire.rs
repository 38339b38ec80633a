//! Retirement, the last step of a pass: series none of whose points is left in hot leave the
//! index, so series that stop reporting (a node retired, a job's devices gone) do not keep
//! memory and checkpoint space for good. Their rows stay in the tiers, which carry whole keys;
//! a series that reports again is a new series, under a new id.
//!
//! The decision is logged as one WAL record (`payload.rs`, version 3) and applied at its turn
//! in log order, so a replay retires the same series at the same place: a later record may
//! hand a retired id to a new series. The record carries hot's `evicted_until`, which a replay
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
    // A first look without stopping writes: most passes find nothing.
    let candidates = {
        let index = core.read_index();
        core.hot.idle(index.ids())
    };
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
    let retire = Retirement { evicted_until: core.hot.evicted_until(), ids };
    let batch = Batch { retire: Some(retire), ..Batch::default() };
    let payload = batch.encode_defining(0, |_| {});
    let ids = batch.retire.as_ref().map(|r| r.ids.as_slice()).unwrap_or_default();
    let mut retired = 0;
    core.log.append_then_apply(&payload, || {
        retired = core.write_index().retire(ids);
        core.hot.forget(ids);
        Ok(())
    })?;
    drop(quiet);
    report.retired_series += retired as u64;
    crate::failpoint::failpoint("series-retired")
}
