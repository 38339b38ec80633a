//! Opening what a previous run left: the newest checkpoint, then the WAL after it, with the
//! tiers' manifest saying which logged points are already in tier files.
//!
//! Records before the last warm flush's cut (`Manifest::wal_cut`) are in the tiers as far as
//! they are late: they are replayed as plain hot points (the hot store starts with no tier
//! state). From the cut on, points before `warm_until` are late again, as they were when
//! written.

use std::collections::BTreeMap;
use std::path::PathBuf;

use strata_wal::{Damage, OnDamage, Position, Storage, Truncation, Wal, WalOptions};

use crate::access::Access;
use crate::appliers::{self, Appliers};
use crate::checkpoint;
use crate::config::{Config, WalOnDamage};
use crate::decode::Malformed;
use crate::error::Error;
use crate::hot::HotStore;
use crate::log::Log;
use crate::payload::{self, Batch, PayloadError};
use crate::series::SeriesIndex;
use crate::streams::Streams;
use crate::tier::Manifest;

/// What opening the engine found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// The checkpoint loaded, if any.
    pub checkpoint: Option<PathBuf>,
    /// WAL records replayed after it.
    pub records: u64,
    /// Points in those records.
    pub points: u64,
    /// A torn tail of the WAL that a crash left and opening cut off (never acknowledged data).
    /// A read-only open reports it and leaves it in place (beside a live engine, it is what
    /// that engine had not finished writing when the segment was read).
    pub truncated: Option<Truncation>,
    /// Acknowledged WAL records lost to damage, cut off because `wal.on_damage = "truncate"`
    /// (by default such damage refuses the open with [`Error::WalDamaged`]). A read-only open
    /// reports it, replays up to it and changes nothing.
    pub damage: Option<Damage>,
    /// Records of a stream key at or past its fence (`Engine::open_fenced`) that were not
    /// applied: messages this engine wrote but never acknowledged, which another node took over.
    pub fenced: u64,
}

/// The engine's memory as rebuilt, and the log open for appending.
#[derive(Debug)]
pub(crate) struct Recovered {
    pub(crate) index: SeriesIndex,
    pub(crate) hot: HotStore,
    pub(crate) log: Log,
    pub(crate) recovery: Recovery,
    /// The last applied sequence per stream (`streams.rs`).
    pub(crate) streams: BTreeMap<String, u64>,
}

/// The error of a record that does not decode or apply, naming its segment and end.
fn corrupt_record(wal_dir: &std::path::Path, end: Position, reason: Malformed) -> Error {
    Error::Corrupt {
        path: wal_dir.join(strata_wal::segment_name(end.segment)),
        reason: format!("the record ending at offset {}: {reason}", end.offset),
    }
}

/// Loads the newest checkpoint in `checkpoints` and replays the WAL in `storage` after it.
/// Read-write, the WAL's torn tail (or damage `wal.on_damage` lets go) is cut and the log
/// opened for appending; read-only, nothing is changed and the log refuses appends.
pub(crate) fn recover(
    config: &Config,
    checkpoints: &dyn Storage,
    storage: impl Storage,
    manifest: &Manifest,
    access: Access,
    fences: &BTreeMap<String, u64>,
) -> Result<Recovered, Error> {
    let wal_dir = storage.path("");
    let cut = manifest.wal_cut.map(|(segment, offset)| Position { segment, offset });
    let warm_until = manifest.warm_until.unwrap_or(i64::MIN);
    let hot = HotStore::new(config.hot.chunk_duration.as_nanos_i64());
    let mut recovery = Recovery::default();
    let mut index = SeriesIndex::default();
    let mut from = Position::START;
    let mut evicted_until = i64::MIN;
    let mut streams = Streams::default();
    // The series are defined as the table is decoded, not held as a table beside the index.
    let loaded = checkpoint::load_newest(checkpoints, access, &mut |id, key| index.define(id, key))?;
    if let Some((path, snapshot)) = loaded {
        for (id, chunks) in snapshot.chunks {
            hot.load(id, chunks);
        }
        from = snapshot.position;
        evicted_until = snapshot.evicted_until;
        streams = Streams::new(snapshot.streams);
        // Late points the checkpoint holds went into the last committed flush unless the
        // checkpoint is newer than that flush's cut. At equal positions the checkpoint may
        // have been taken just before the cut (nothing written in between): its late points
        // are then in the flush. Taken just after the cut, it holds no late points (the cut
        // took them all and no record came after), so skipping them loses nothing.
        if cut.is_none_or(|cut| snapshot.position > cut) {
            hot.load_late(snapshot.late);
        }
        // A flush that was cut but waited for its commit when the checkpoint was taken: its
        // late points are in no WAL record after the checkpoint. Unless the manifest holds
        // that flush, they are late points still.
        if let Some(pending) = snapshot.pending
            && manifest.warm_flushes < pending.flush
        {
            hot.load_late(pending.late);
        }
        recovery.checkpoint = Some(path);
    }
    let before_cut = |position: Position| cut.is_some_and(|cut| position <= cut);
    // Records before the cut are applied as plain hot points, from it on with the tiers'
    // bounds (a point before them is late again, as it was when written).
    let mut caught_up = !before_cut(from);

    let options = WalOptions {
        durability: config.wal_durability(),
        segment_size: config.wal.segment_size.0,
        on_damage: match config.wal.on_damage {
            WalOnDamage::Refuse => OnDamage::Refuse,
            WalOnDamage::Truncate => OnDamage::Truncate,
        },
        ..WalOptions::default()
    };
    let mut replay = Wal::open(storage, options, from)?;
    let mut position = from;
    // The reader decodes each record and decides in log order what does not depend on a
    // shard (series definitions, stream sequences, the tiers' bounds); appliers, one per
    // share of hot's shards, insert the points (`appliers.rs`).
    std::thread::scope(|scope| -> Result<(), Error> {
        let mut appliers = Appliers::start(scope, &hot, appliers::threads());
        let replayed = (|| -> Result<(), Error> {
            while let Some((end, payload)) = replay.next_record()? {
                let corrupt = |reason: Malformed| corrupt_record(&wal_dir, end, reason);
                let batch = Batch::decode(payload).map_err(|e| match e {
                    PayloadError::Malformed(reason) => corrupt(reason),
                    PayloadError::Version(found) => Error::UnsupportedVersion {
                        path: wal_dir.join(strata_wal::segment_name(end.segment)),
                        format: "WAL record payload",
                        found,
                        supported: payload::READABLE_VERSIONS,
                    },
                })?;
                // A retirement comes before any later record's definitions, which may reuse its
                // ids; it evicted up to where hot stood then (`compactor/retire.rs`).
                if let Some(retire) = &batch.retire {
                    index.retire(&retire.ids);
                    evicted_until = evicted_until.max(retire.evicted_until);
                    if !retire.moves.is_empty() {
                        // A move spans shards of different appliers: all records before it are
                        // applied first, then the appliers start again.
                        appliers.finish().map_err(|(end, e)| corrupt_record(&wal_dir, end, e))?;
                        index.move_series(&retire.moves);
                        hot.move_series(&retire.moves);
                        appliers = Appliers::start(scope, &hot, appliers::threads());
                    }
                }
                for (id, key) in &batch.definitions {
                    index.define(*id, key).map_err(corrupt)?;
                }
                if !caught_up && !before_cut(end) {
                    caught_up = true;
                }
                recovery.records += 1;
                recovery.points += batch.len() as u64;
                position = end;
                // A message another node took over at or before its sequence was never
                // acknowledged here (`ack_gate.rs`): it is that node's now, and not applied (nor
                // recorded as applied).
                let fenced = batch.source.as_ref().is_some_and(|source| {
                    fences.get(&source.stream).is_some_and(|&fence| source.sequence >= fence)
                });
                if fenced {
                    recovery.fenced += 1;
                // A stream message applied before (a redelivery) is skipped, as it was live.
                } else if batch.source.as_ref().is_none_or(|source| streams.admit(source)) {
                    let bounds = if caught_up { (warm_until, evicted_until) } else { (i64::MIN, i64::MIN) };
                    appliers
                        .apply(batch, bounds, end)
                        .map_err(|(end, e)| corrupt_record(&wal_dir, end, e))?;
                }
            }
            Ok(())
        })();
        let finished = appliers.finish().map_err(|(end, e)| corrupt_record(&wal_dir, end, e));
        replayed.and(finished)
    })?;
    let (log, report) = match access {
        Access::ReadWrite => {
            let (wal, report) = replay.finish()?;
            (Log::new(wal, position), report)
        }
        Access::ReadOnly => (Log::read_only(config.data_dir.clone(), position), replay.finish_read_only()?),
    };
    recovery.truncated = report.truncated;
    recovery.damage = report.damage;
    hot.set_tiered_until(warm_until);
    // Replay before the cut may have put back windows that were evicted, also those of
    // series that retired (a retired id a later series took holds them until here).
    hot.set_evicted_until(evicted_until);
    hot.evict(evicted_until);
    index.collect_free();
    Ok(Recovered { index, hot, log, recovery, streams: streams.snapshot() })
}
