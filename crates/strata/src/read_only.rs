//! Opening a data directory read-only: beside a live engine that holds it, or on a copy
//! nobody may change (a read-only mount, `chmod -R a-w`, a backup).
//!
//! Nothing here writes: the WAL and checkpoints are read through
//! [`ReadOnlyStorage`](strata_wal::ReadOnlyStorage), which refuses every change, the WAL's
//! replay reports a torn tail instead of cutting it, no leftover is removed, and the tier
//! store is only listed and read.
//!
//! **Invariant:** the view is consistent as of one moment of the writer: the manifest, the
//! checkpoint and the WAL were read while the same manifest generation was live and no
//! checkpoint replaced the one loaded in a way that broke the replay. A writer commits a
//! manifest before it checkpoints past it, and deletes WAL segments only after the checkpoint
//! covering them; so each open loads the manifest first, then the checkpoint and the WAL,
//! and tries again when the manifest's generation changed meanwhile, or when the replay failed
//! (or met damage) while the checkpoint directory changed (the segments it needed were
//! removed under it). What the writer had not finished writing to its newest segment is a
//! torn tail here, and left out.

use std::path::Path;
use std::time::Duration;

use strata_wal::Storage;

use crate::access::Access;
use crate::config::Config;
use crate::error::{Error, io};
use crate::recovery::{Recovered, recover};
use crate::tier::manifest;
use crate::tier::state::TierState;

/// Tries before a data directory that keeps changing is refused with [`Error::Unsettled`].
const ATTEMPTS: u32 = 10;

/// Loads the tiers' manifest (with `open_tiers`), then the newest checkpoint in `checkpoints`
/// and the WAL in `wal` after it, all read-only, until the three make one consistent view.
pub(crate) fn open(
    config: &Config,
    wal: &(impl Storage + Clone),
    checkpoints: &dyn Storage,
    open_tiers: impl Fn() -> Result<TierState, Error>,
) -> Result<(TierState, Recovered), Error> {
    for attempt in 0..ATTEMPTS {
        // A writer's commits and checkpoints come in bursts (one compaction pass commits up
        // to four times): wait a little longer before each new try.
        std::thread::sleep(Duration::from_millis(u64::from(attempt) * 10));
        let listed = checkpoint_names(checkpoints)?;
        let tiers = open_tiers()?;
        let generation = tiers.manifest().generation;
        let recovered = recover(config, checkpoints, wal.clone(), &tiers.manifest(), Access::ReadOnly);
        let committed = manifest::load(&tiers.store)?.map_or(0, |m| m.generation);
        if committed != generation {
            continue;
        }
        let failed = recovered.as_ref().map_or(true, |r| r.recovery.damage.is_some());
        if failed && checkpoint_names(checkpoints)? != listed {
            continue;
        }
        return recovered.map(|recovered| (tiers, recovered));
    }
    Err(Error::Unsettled { path: config.data_dir.clone(), attempts: ATTEMPTS })
}

/// The names in the checkpoint directory, sorted: a checkpoint written (or removed) between
/// two listings changes them.
fn checkpoint_names(checkpoints: &dyn Storage) -> Result<Vec<String>, Error> {
    let mut names = checkpoints.list().map_err(io("list", checkpoints.path("")))?;
    names.sort_unstable();
    Ok(names)
}

/// Refuses a data directory that is not there: a read-only open creates nothing, and an
/// empty view of a mistyped path would answer every query with nothing.
pub(crate) fn check_data_dir(dir: &Path) -> Result<(), Error> {
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(io("open the data directory", dir)(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            "not a directory",
        ))),
        Err(e) => Err(io("open the data directory", dir)(e)),
    }
}
