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
    /// The whole process's resident memory, now and at its peak, where the system reports it
    /// (Linux: `VmRSS` and `VmHWM` of `/proc/self/status`): what an operator sees, the binary
    /// and every buffer of the process included, not only the engine's.
    pub resident: Option<Resident>,
}

/// Resident memory of the process, bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resident {
    pub bytes: u64,
    pub peak_bytes: u64,
}

impl Stats {
    /// Resident bytes of the process per point in hot, now (issue 12's measure of hot memory).
    pub fn resident_per_point(&self) -> Option<f64> {
        let points = self.hot.open_points + self.hot.sealed_points;
        self.resident.filter(|_| points > 0).map(|r| r.bytes as f64 / points as f64)
    }

    /// Resident bytes of the process per series in the index, now.
    pub fn resident_per_series(&self) -> Option<f64> {
        self.resident.filter(|_| self.series > 0).map(|r| r.bytes as f64 / self.series as f64)
    }
}

/// The process's resident memory from `/proc/self/status`; `None` where it is not there.
fn resident() -> Option<Resident> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<u64> {
        let rest = status.lines().find_map(|l| l.strip_prefix(name))?;
        let kib: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
        kib.checked_mul(1024)
    };
    Some(Resident { bytes: field("VmRSS:")?, peak_bytes: field("VmHWM:")? })
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
        resident: resident(),
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

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests may panic")]
mod tests {
    use super::*;

    #[test]
    fn resident_memory_is_read_and_divided_by_points_and_series() {
        #[cfg(target_os = "linux")]
        {
            let now = resident().unwrap();
            assert!(now.bytes > 0 && now.peak_bytes >= now.bytes, "{now:?}");
        }
        let mut stats = Stats {
            series: 4,
            resident: Some(Resident { bytes: 1000, peak_bytes: 2000 }),
            ..Stats::default()
        };
        assert_eq!(stats.resident_per_point(), None, "no point in hot");
        stats.hot.open_points = 150;
        stats.hot.sealed_points = 50;
        assert_eq!(stats.resident_per_point(), Some(5.0));
        assert_eq!(stats.resident_per_series(), Some(250.0));
        stats.resident = None;
        assert_eq!((stats.resident_per_point(), stats.resident_per_series()), (None, None));
    }
}
