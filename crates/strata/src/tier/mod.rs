//! The warm and cold tiers: downsampled rows in Parquet files on an object store, and the
//! manifest that says which files are live.
//!
//! - [`agg`]: the aggregate of a row, and how partial rows merge;
//! - `downsample`: a series' points in time order to one row per bucket;
//! - [`file`]: the Parquet schema and encoding;
//! - [`manifest`]: the atomic commit of live files and tier progress;
//! - [`store`]: object storage (local or S3) behind blocking calls;
//! - [`state`]: the engine's live view: the manifest, its readers, files waiting for deletion;
//! - `cache`: the bounded caches of queries (tier files, decoded row groups).

pub mod agg;
mod cache;
pub(crate) mod cursor;
mod downsample;
pub mod file;
pub mod manifest;
pub(crate) mod state;
pub mod store;

pub use agg::Agg;
pub use downsample::downsample;
pub use file::Row;
pub use manifest::{FileEntry, Manifest};
pub use store::Store;

/// The three tiers, finest first: hot (raw points in memory), warm (per-minute rows), cold
/// (per-hour rows). Warm and cold name their files' folders and metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Hot,
    Warm,
    Cold,
}

impl Tier {
    /// The bucket length of the tier in nanoseconds as `config` sets it; 0 for hot, which keeps
    /// raw points.
    pub fn resolution(self, config: &crate::config::Config) -> i64 {
        match self {
            Tier::Hot => 0,
            Tier::Warm => config.warm.resolution.as_nanos_i64(),
            Tier::Cold => config.cold.resolution.as_nanos_i64(),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Tier::Hot => "hot",
            Tier::Warm => "warm",
            Tier::Cold => "cold",
        }
    }
}

impl std::fmt::Display for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The start of the bucket of length `resolution` that holds `time`.
pub(crate) fn bucket(time: i64, resolution: i64) -> i64 {
    time.div_euclid(resolution).saturating_mul(resolution)
}

/// The UTC day of a time (ns) as `YYYY-MM-DD`: the Hive partition of a row.
pub(crate) fn day(time: i64) -> String {
    let days = time.div_euclid(86_400 * 1_000_000_000);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Gregorian calendar date of a day number counted from 1970-01-01 (days before it negative).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Shift to an era starting on 0000-03-01 so leap days fall at the end of each year.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // year of era, 0..399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of year from March 1st
    let mp = (5 * doy + 2) / 153; // month from March, 0..11
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_match_the_calendar() {
        const DAY: i64 = 86_400 * 1_000_000_000;
        assert_eq!(day(0), "1970-01-01");
        assert_eq!(day(-1), "1969-12-31");
        assert_eq!(day(1_763_769_600 * 1_000_000_000), "2025-11-22");
        assert_eq!(day(951_782_400 * 1_000_000_000), "2000-02-29");
        assert_eq!(day(951_782_400 * 1_000_000_000 + DAY), "2000-03-01");
        assert_eq!(day(4_107_456_000 * 1_000_000_000), "2100-02-28");
        assert_eq!(day(4_107_456_000 * 1_000_000_000 + DAY), "2100-03-01");
        assert_eq!(bucket(-1, 60), -60);
        assert_eq!(bucket(119, 60), 60);
    }
}
