//! What the engine reports of itself: counters, the hot store's size, the tiers' contents and
//! the compactor's status.

use std::collections::BTreeMap;

use crate::compactor::TierStatus;
use crate::core::Core;
use crate::hot::HotStats;
use crate::tier::Tier;
use crate::write::RejectReason;
use strata_wal::SyncLatency;

/// Counters of what the engine has taken and refused, and what it holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub series: u64,
    /// Heap bytes the series index holds: interned strings, compact keys, and its tables at
    /// their full allocation (the hot store's per-series part is in `hot.memory_bytes`).
    pub index_bytes: u64,
    pub points_accepted: u64,
    /// Rejected lines per reason, since the engine was opened.
    pub rejected: Vec<(RejectReason, u64)>,
    /// Writes refused whole since the engine was opened, because hot memory was past
    /// `hot.max_memory` while the compactor could not evict ([`Error::HotMemoryFull`]).
    ///
    /// [`Error::HotMemoryFull`]: crate::Error::HotMemoryFull
    pub writes_refused: u64,
    /// Stream messages skipped since the engine was opened because their sequence was applied
    /// before (redeliveries; [`Engine::write_lp_sequenced`](crate::Engine::write_lp_sequenced)).
    pub stream_duplicates: u64,
    /// How long the WAL's syncs took since the engine was opened: each acknowledges a group
    /// of writes, so this is the floor of a durable write's latency.
    pub wal_syncs: SyncLatency,
    /// Object store calls that failed (an error or no answer within
    /// `object_store.timeout`) since the engine was opened, per operation (`put`, `get`,
    /// `delete`, `list`). The compactor retries; see `tiers.status` for whether it is failing now.
    pub object_store_errors: Vec<(&'static str, u64)>,
    pub hot: HotStats,
    pub tiers: TierStats,
}

/// What the tiers hold, from the live manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TierStats {
    pub warm: TierSummary,
    pub cold: TierSummary,
    /// Warm buckets are written up to here (ns).
    pub warm_until: Option<i64>,
    /// Cold buckets are rolled up to here (ns).
    pub cold_until: Option<i64>,
    /// Late points (replacing a tiered point with another value) whose tier rows keep the old value.
    pub conflicts: u64,
    /// Files dropped from the manifest and not deleted yet: a reader in this process holds
    /// them, or `object_store.snapshot_retention` keeps them for readers outside strata.
    pub files_waiting_for_readers: u64,
    pub status: TierStatus,
}

/// One tier's files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TierSummary {
    pub files: u64,
    pub rows: u64,
    pub points: u64,
    pub bytes: u64,
    /// Earliest and latest bucket start (ns).
    pub min_time: Option<i64>,
    pub max_time: Option<i64>,
    /// The most files any one day holds.
    pub max_files_per_day: u64,
}

/// The engine's stats now, with the compactor's `status`.
pub(crate) fn collect(core: &Core, status: TierStatus) -> Stats {
    Stats {
        series: core.read_index().len() as u64,
        index_bytes: core.read_index().heap_bytes() as u64,
        points_accepted: core.counters.accepted(),
        rejected: core.counters.rejected(),
        writes_refused: core.counters.refused_writes(),
        stream_duplicates: core.counters.duplicates(),
        wal_syncs: core.log.sync_latency(),
        object_store_errors: core.tiers.store.errors(),
        hot: core.hot.stats(),
        tiers: tier_stats(core, status),
    }
}

fn tier_stats(core: &Core, status: TierStatus) -> TierStats {
    let manifest = core.tiers.manifest();
    let summary = |tier: Tier| {
        let mut s = TierSummary::default();
        let mut per_day: BTreeMap<&str, u64> = BTreeMap::new();
        for f in manifest.files(tier) {
            s.files += 1;
            s.rows += f.rows;
            s.points += f.points;
            s.bytes += f.bytes;
            s.min_time = Some(s.min_time.map_or(f.min_time, |t| t.min(f.min_time)));
            s.max_time = Some(s.max_time.map_or(f.max_time, |t| t.max(f.max_time)));
            *per_day.entry(&f.day).or_default() += 1;
        }
        s.max_files_per_day = per_day.values().copied().max().unwrap_or(0);
        s
    };
    TierStats {
        warm: summary(Tier::Warm),
        cold: summary(Tier::Cold),
        warm_until: manifest.warm_until,
        cold_until: manifest.cold_until,
        conflicts: core.hot.conflicts(),
        files_waiting_for_readers: core.tiers.doomed() as u64,
        status,
    }
}
