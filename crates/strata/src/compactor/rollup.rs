//! The cold rollup: warm rows to cold buckets, and warm rows written since the last rollup
//! for older buckets as partial cold rows.

use rayon::prelude::*;

use super::CompactReport;
use super::encode::encode_by_day;
use crate::core::Core;
use crate::error::Error;
use crate::tier::file::{FileInfo, Row, RowFilter};
use crate::tier::{FileEntry, Tier, bucket};

pub(super) fn roll_up_cold(core: &Core, report: &mut CompactReport) -> Result<(), Error> {
    let guard = core.tiers.read();
    let manifest = &guard.manifest;
    let Some(warm_until) = manifest.warm_until else { return Ok(()) };
    let res = core.config.cold.resolution.as_nanos_i64();
    let from = manifest.cold_until.unwrap_or(i64::MIN);
    let to = bucket(warm_until, res).max(from);
    // Warm files written since the last rollup; only those with rows before `from` hold late
    // rows for cold.
    let unrolled = manifest.files(Tier::Warm).any(|f| f.flush > manifest.cold_flushes);
    if to == from && !unrolled {
        return Ok(());
    }
    let inputs: Vec<&FileEntry> = manifest
        .files(Tier::Warm)
        .filter(|f| {
            (f.max_time >= from && f.min_time < to) || (f.flush > manifest.cold_flushes && f.min_time < from)
        })
        .collect();
    let per_file: Vec<Vec<Row>> = inputs
        .par_iter()
        .map(|entry| {
            let rows = core.tiers.read_file(entry, &RowFilter::all())?;
            let rolled_before = entry.flush <= manifest.cold_flushes;
            Ok(rows
                .into_iter()
                .filter(|r| (r.time >= from && r.time < to) || (!rolled_before && r.time < from))
                .map(|mut r| {
                    r.time = bucket(r.time, res);
                    r
                })
                .collect())
        })
        .collect::<Result<_, Error>>()?;
    let rows: Vec<Row> = per_file.into_iter().flatten().collect();
    let warm_flushes = manifest.warm_flushes;
    let files = encode_by_day(rows, &FileInfo { tier: Tier::Cold, resolution: res }, 0, warm_flushes)?;
    drop(guard);
    core.tiers.publish(&files, ["rollup-uploaded", "rollup-committed"], |next| {
        next.cold_until = Some(to);
        next.cold_flushes = warm_flushes;
    })?;
    report.cold_until = Some(to);
    report.cold_rows += files.iter().map(|(e, _)| e.rows).sum::<u64>();
    report.cold_files += files.len() as u64;
    Ok(())
}
