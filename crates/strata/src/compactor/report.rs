//! What one compaction pass did.

use crate::units::format_time;

/// What one compaction pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactReport {
    /// The time the pass ran as of (ns).
    pub now: i64,
    /// Warm buckets written up to here (ns), when a flush ran.
    pub warm_until: Option<i64>,
    pub warm_rows: u64,
    pub warm_files: u64,
    /// Late points (and backfill) written as partial warm rows.
    pub late_points: u64,
    pub cold_until: Option<i64>,
    pub cold_rows: u64,
    pub cold_files: u64,
    /// Files merged away, and the files the merges wrote.
    pub merged_files: u64,
    pub merge_outputs: u64,
    /// Files dropped from the manifest past retention.
    pub expired_files: u64,
    /// Files removed from the store (dropped earlier and no longer read).
    pub deleted_files: u64,
    /// Hot points evicted at `hot.retention`, and early because of `hot.max_memory`.
    pub evicted_points: u64,
    pub evicted_early: u64,
    /// Series that left the index, none of their points left in hot.
    pub retired_series: u64,
    /// Live series moved to a lower id after retirements, so tables indexed by id shrink.
    pub moved_series: u64,
}

impl std::fmt::Display for CompactReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let time = |t: Option<i64>| t.map_or_else(|| "-".to_owned(), format_time);
        writeln!(f, "as of {}", format_time(self.now))?;
        writeln!(
            f,
            "warm: {} rows in {} files ({} late points); written up to {}",
            self.warm_rows,
            self.warm_files,
            self.late_points,
            time(self.warm_until)
        )?;
        writeln!(
            f,
            "cold: {} rows in {} files; rolled up to {}",
            self.cold_rows,
            self.cold_files,
            time(self.cold_until)
        )?;
        writeln!(f, "merges: {} files into {}", self.merged_files, self.merge_outputs)?;
        writeln!(f, "retention: {} files expired, {} files deleted", self.expired_files, self.deleted_files)?;
        write!(
            f,
            "hot: {} points evicted, {} of them early (hot.max_memory); {} idle series retired",
            self.evicted_points, self.evicted_early, self.retired_series
        )
    }
}
