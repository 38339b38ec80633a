//! Rows to new tier files: one Parquet file per UTC day, with its manifest entry.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use rayon::prelude::*;

use crate::error::Error;
use crate::series::SeriesKey;
use crate::tier::file::{self, FileInfo, Row};
use crate::tier::{FileEntry, day};

const DAY: i64 = 86_400 * 1_000_000_000;

/// Groups runs of rows (each in file order, see [`file::sort_runs`]) by day, puts each day's
/// rows in file order and encodes one file per day of `level`, written by (or rolling up) warm
/// flush number `flush`.
pub(super) fn encode_by_day(
    runs: Vec<Vec<Row>>,
    info: &FileInfo,
    level: u32,
    flush: u64,
) -> Result<Vec<(FileEntry, Bytes)>, Error> {
    by_day(runs)
        .into_par_iter()
        .map(|(number, runs)| {
            let day = day(number.saturating_mul(DAY));
            let runs = file::sort_runs(runs);
            let bytes = file::write_runs(&runs, info).map_err(|reason| Error::Encode {
                tier: info.tier.name(),
                day: day.clone(),
                reason,
            })?;
            let held = Held::of(&runs);
            // Dropping a flush's rows is a reference count per row: spread it over the pool.
            runs.into_par_iter().for_each(drop);
            let entry = FileEntry {
                path: format!("{}/day={day}/{}.parquet", info.tier, unique_name(flush, level)),
                tier: info.tier,
                day,
                level,
                flush,
                rows: held.rows,
                points: held.points,
                bytes: bytes.len() as u64,
                min_time: held.min_time,
                max_time: held.max_time,
                series: held.series,
                // Of the bytes as uploaded: every later read checks them against it.
                crc32c: Some(crc32c::crc32c(&bytes)),
            };
            Ok((entry, bytes))
        })
        .collect()
}

/// What rows in file order hold, for their file's manifest entry; one pass over the rows.
struct Held {
    rows: u64,
    points: u64,
    series: u64,
    min_time: i64,
    max_time: i64,
}

impl Held {
    fn of(runs: &[Vec<Row>]) -> Held {
        let mut held = Held { rows: 0, points: 0, series: 0, min_time: i64::MAX, max_time: i64::MIN };
        let mut last: Option<&Arc<SeriesKey>> = None;
        for run in runs {
            for row in run {
                held.rows += 1;
                held.points += row.agg.count;
                // Rows are sorted by series first: the times' extremes are anywhere.
                held.min_time = held.min_time.min(row.time);
                held.max_time = held.max_time.max(row.time);
                if last.is_none_or(|key| !Arc::ptr_eq(key, &row.key) && **key != *row.key) {
                    held.series += 1;
                }
                last = Some(&row.key);
            }
        }
        if held.rows == 0 {
            (held.min_time, held.max_time) = (0, 0);
        }
        held
    }
}

/// Runs by the day of their rows. A run within one day (a warm flush's runs, but for one that
/// crosses midnight) is moved whole; one across days is split, each part still in order.
fn by_day(runs: Vec<Vec<Row>>) -> BTreeMap<i64, Vec<Vec<Row>>> {
    let mut days: BTreeMap<i64, Vec<Vec<Row>>> = BTreeMap::new();
    for run in runs {
        let Some(first) = run.first().map(|r| r.time.div_euclid(DAY)) else { continue };
        if run.iter().all(|r| r.time.div_euclid(DAY) == first) {
            days.entry(first).or_default().push(run);
            continue;
        }
        let mut parts: BTreeMap<i64, Vec<Row>> = BTreeMap::new();
        for row in run {
            parts.entry(row.time.div_euclid(DAY)).or_default().push(row);
        }
        for (number, part) in parts {
            days.entry(number).or_default().push(part);
        }
    }
    days
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

    #[test]
    fn held_counts_a_series_split_over_runs_once() {
        let key = |host: &str| {
            Arc::new(SeriesKey {
                measurement: "m".into(),
                field: "value".into(),
                tags: vec![("hostname".into(), host.into())],
            })
        };
        let (a, b) = (key("a"), key("b"));
        let row = |key: &Arc<SeriesKey>, time: i64| Row {
            key: key.clone(),
            time,
            agg: crate::tier::agg::Agg::point(time, 1.0),
        };
        // a's rows in two runs, the second with its own (equal) key.
        let runs =
            vec![vec![row(&a, 60), row(&a, 120)], vec![row(&key("a"), 180), row(&b, 0)], vec![row(&b, 240)]];
        let held = Held::of(&runs);
        assert_eq!((held.rows, held.points, held.series, held.min_time, held.max_time), (5, 5, 2, 0, 240));
        let none = Held::of(&[]);
        assert_eq!((none.rows, none.series, none.min_time, none.max_time), (0, 0, 0, 0));
    }

    #[test]
    fn a_run_across_midnight_is_split_by_day() {
        let key = Arc::new(SeriesKey { measurement: "m".into(), field: "value".into(), tags: Vec::new() });
        let minute = 60_000_000_000;
        let row = |time: i64| Row { key: key.clone(), time, agg: crate::tier::agg::Agg::point(time, 1.0) };
        let across: Vec<Row> = (-2..3).map(|m| row(DAY + m * minute)).collect();
        let within: Vec<Row> = (0..2).map(|m| row(3 * DAY + m * minute)).collect();
        let days = by_day(vec![across, Vec::new(), within.clone()]);
        let lengths: Vec<(i64, Vec<usize>)> =
            days.iter().map(|(day, runs)| (*day, runs.iter().map(Vec::len).collect())).collect();
        assert_eq!(lengths, vec![(0, vec![2]), (1, vec![3]), (3, vec![2])]);
        assert_eq!(days[&3][0], within);
    }
}
