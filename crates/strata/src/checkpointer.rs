//! Taking a checkpoint: copy memory under the apply order, write it durably, then let the WAL
//! segments it covers go.
//!
//! **Invariant:** a WAL segment is removed only after a durable checkpoint covers it. No
//! checkpoint is taken between a warm flush's cut and its encoding; one taken while the flush
//! waits for its commit records the flush's late points (`cut_guard.rs`).

use std::path::PathBuf;

use crate::ack_gate::QUIET_WAIT;
use crate::checkpoint::{self, Snapshot};
use crate::core::Core;
use crate::error::Error;
use crate::failpoint::failpoint;
use crate::series::{SeriesId, SeriesTable};

/// Writes a checkpoint of `core` now and removes the WAL segments it covers.
pub(crate) fn checkpoint(core: &Core) -> Result<PathBuf, Error> {
    // Only acknowledged gated messages go into a checkpoint (`ack_gate.rs`): the gate is held
    // quiet for the copy only; records logged after it are past the checkpoint's position.
    let quiet = core.acks.quiet(QUIET_WAIT)?;
    let permit = core.gate.checkpoint()?;
    let no_retirement = core.hold_retirements();
    // Hold the apply order while copying: the copy then holds exactly the records before
    // `position`. Sealed chunks are shared, so this is quick. Of the series table only the ids
    // are taken here: a key changes only when its series retires, which waits for
    // `no_retirement`, so its bytes are encoded after.
    let (mut snapshot, logged) = {
        let applied = core.log.hold();
        let logged: Vec<SeriesId> = {
            let index = core.read_index();
            index.ids().filter(|&id| index.is_logged(id)).collect()
        };
        let snapshot = Snapshot {
            position: applied.position(),
            series: SeriesTable::default(),
            chunks: core.hot.snapshot(),
            evicted_until: core.hot.evicted_until(),
            late: core.hot.late_points(),
            pending: permit.pending().map(|p| (*p).clone()),
            streams: core.streams.snapshot(),
        };
        (snapshot, logged)
    };
    drop(quiet);
    snapshot.series = {
        let index = core.read_index();
        SeriesTable::build(&logged, |id, out| index.encode_key(id, out))
    };
    drop(no_retirement);
    let path = checkpoint::write(core.checkpoints.as_ref(), &snapshot)?;
    failpoint("checkpoint-written")?;
    core.log.remove_segments_before(snapshot.position)?;
    failpoint("wal-segments-removed")?;
    Ok(path)
}
