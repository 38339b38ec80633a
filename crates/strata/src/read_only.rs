//! Opening a data directory read-only: beside a live engine that holds it, or on a copy
//! nobody may change (a read-only mount, `chmod -R a-w`, a backup).
//!
//! Nothing here writes: the WAL and checkpoints are read through
//! [`ReadOnlyStorage`](strata_wal::ReadOnlyStorage), which refuses every change, the WAL's
//! replay reports a torn tail instead of cutting it, no leftover is removed, and the tier
//! store is only listed and read.
//!
//! **Invariant:** the view is consistent as of one moment of the writer: the checkpoint and
//! the WAL were read while the manifest loaded was live, and no checkpoint replaced the one
//! loaded in a way that broke the replay. A writer commits a manifest before it checkpoints
//! past it, and deletes WAL segments only after the checkpoint covering them; so each try
//! loads the manifest first, then the checkpoint and the WAL, and another try follows when
//! the live manifest's generation changed meanwhile, or when the try failed (or the replay
//! met damage) while the checkpoint directory or the manifest changed (what it needed was
//! removed under it). What the writer had not finished writing to its newest segment is a
//! torn tail here, and left out.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use strata_wal::Storage;

use crate::access::Access;
use crate::config::Config;
use crate::error::{Error, io};
use crate::recovery::{Recovered, recover};
use crate::tier::Store;
use crate::tier::manifest;
use crate::tier::state::TierState;

/// Tries before a data directory that keeps changing is refused with [`Error::Unsettled`].
const ATTEMPTS: u32 = 10;

/// Loads the tiers' manifest (with `open_tiers`), then the newest checkpoint in `checkpoints`
/// and the WAL in `wal` after it, all read-only, until the three make one consistent view:
/// tried again whenever the live manifest in `store` or the checkpoint directory changed
/// during a try that needs them unchanged.
pub(crate) fn open(
    config: &Config,
    wal: &(impl Storage + Clone),
    checkpoints: &dyn Storage,
    store: &Store,
    open_tiers: impl Fn() -> Result<TierState, Error>,
) -> Result<(TierState, Recovered), Error> {
    for attempt in 0..ATTEMPTS {
        // A writer's commits and checkpoints come in bursts (one compaction pass commits up
        // to four times): wait a little longer before each new try.
        std::thread::sleep(Duration::from_millis(u64::from(attempt) * 10));
        let before = Marks::take(store, checkpoints)?;
        let outcome = open_tiers().and_then(|tiers| {
            let recovered = recover(
                config,
                checkpoints,
                wal.clone(),
                &tiers.manifest(),
                Access::ReadOnly,
                &BTreeMap::new(),
            )?;
            Ok((tiers, recovered))
        });
        let after = Marks::take(store, checkpoints)?;
        match outcome {
            // The checkpoint and the WAL were read while the manifest loaded was live.
            Ok((tiers, recovered)) if tiers.manifest().generation == after.generation => {
                // Damage may be segments a new checkpoint let go of under the replay.
                if recovered.recovery.damage.is_none() || before.checkpoints == after.checkpoints {
                    return Ok((tiers, recovered));
                }
            }
            Ok(_) => {}
            // A failure with nothing changed meanwhile is the directory's own.
            Err(e) if before == after => return Err(e),
            Err(_) => {}
        }
    }
    Err(Error::Unsettled { path: config.data_dir.clone(), attempts: ATTEMPTS })
}

/// What a live engine changes under a read-only open: the live manifest's generation and the
/// names in the checkpoint directory (a checkpoint written or removed changes them).
#[derive(Debug, PartialEq, Eq)]
struct Marks {
    generation: u64,
    checkpoints: Vec<String>,
}

impl Marks {
    fn take(store: &Store, checkpoints: &dyn Storage) -> Result<Marks, Error> {
        let generation = manifest::load(store)?.map_or(0, |m| m.generation);
        let mut names = checkpoints.list().map_err(io("list", checkpoints.path("")))?;
        names.sort_unstable();
        Ok(Marks { generation, checkpoints: names })
    }
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
