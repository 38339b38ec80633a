//! Taking a checkpoint: copy memory under the apply order, write it durably, then let the WAL
//! segments it covers go.
//!
//! **Invariant:** a WAL segment is removed only after a durable checkpoint covers it. No
//! checkpoint is taken between a warm flush's cut and its encoding; one taken while the flush
//! waits for its commit records the flush's late points (`cut_guard.rs`).

use std::path::PathBuf;

use crate::checkpoint::{self, Snapshot};
use crate::core::Core;
use crate::error::Error;
use crate::failpoint::failpoint;

/// Writes a checkpoint of `core` now and removes the WAL segments it covers.
pub(crate) fn checkpoint(core: &Core) -> Result<PathBuf, Error> {
    let permit = core.gate.checkpoint()?;
    // Hold the apply order while copying: the copy then holds exactly the records before
    // `position`. Sealed chunks are shared, so this is quick.
    let snapshot = {
        let applied = core.log.hold();
        let index = core.read_index();
        let series =
            index.all().filter(|(id, _)| index.is_logged(*id)).map(|(id, k)| (id, k.clone())).collect();
        Snapshot {
            position: applied.position(),
            series,
            chunks: core.hot.snapshot(),
            evicted_until: core.hot.evicted_until(),
            late: core.hot.late_points(),
            pending: permit.pending().map(|p| (*p).clone()),
            streams: core.streams.snapshot(),
        }
    };
    let path = checkpoint::write(core.checkpoints.as_ref(), &snapshot)?;
    failpoint("checkpoint-written")?;
    core.log.remove_segments_before(snapshot.position)?;
    failpoint("wal-segments-removed")?;
    Ok(path)
}
