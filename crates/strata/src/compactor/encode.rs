//! Rows to new tier files: one Parquet file per UTC day, with its manifest entry.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use rayon::prelude::*;

use crate::error::Error;
use crate::tier::file::{self, FileInfo, Row};
use crate::tier::{FileEntry, day};

const DAY: i64 = 86_400 * 1_000_000_000;

/// Sorts rows, groups them by day and encodes one file per day of `level`, written by (or
/// rolling up) warm flush number `flush`.
pub(super) fn encode_by_day(
    rows: Vec<Row>,
    info: &FileInfo,
    level: u32,
    flush: u64,
) -> Result<Vec<(FileEntry, Bytes)>, Error> {
    let mut by_day: BTreeMap<i64, Vec<Row>> = BTreeMap::new();
    for row in rows {
        by_day.entry(row.time.div_euclid(DAY)).or_default().push(row);
    }
    by_day
        .into_par_iter()
        .map(|(number, mut rows)| {
            let day = day(number.saturating_mul(DAY));
            file::sort_and_merge(&mut rows);
            let bytes = file::write(&rows, info).map_err(|reason| Error::Encode {
                tier: info.tier.name(),
                day: day.clone(),
                reason,
            })?;
            let entry = FileEntry {
                path: format!("{}/day={day}/{}.parquet", info.tier, unique_name(flush, level)),
                tier: info.tier,
                day,
                level,
                flush,
                rows: rows.len() as u64,
                points: rows.iter().map(|r| r.agg.count).sum(),
                bytes: bytes.len() as u64,
                // Rows are sorted by series first: the times' extremes are anywhere.
                min_time: rows.iter().map(|r| r.time).min().unwrap_or(0),
                max_time: rows.iter().map(|r| r.time).max().unwrap_or(0),
                series: rows.chunk_by(|a, b| Arc::ptr_eq(&a.key, &b.key) || a.key == b.key).count() as u64,
                // Of the bytes as uploaded: every later read checks them against it.
                crc32c: Some(crc32c::crc32c(&bytes)),
            };
            Ok((entry, bytes))
        })
        .collect()
}

/// A file name no other file of this store has: the flush and level, then random bits (two
/// engines writing one bucket by mistake must not overwrite each other's files).
pub(super) fn unique_name(flush: u64, level: u32) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos(),
    );
    h.write_u32(std::process::id());
    format!("{flush:012}-L{level}-{:016x}", h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_start_with_flush_and_level() {
        assert!(unique_name(7, 1).starts_with("000000000007-L1-"));
        assert_ne!(unique_name(7, 1), unique_name(7, 1));
    }
}
