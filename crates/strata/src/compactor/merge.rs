//! Leveled merges: per tier and day, `compactor.merge_fanin` files of one level become one
//! file of the next; partial rows of a bucket become one row.

use std::collections::BTreeMap;

use rayon::prelude::*;

use super::CompactReport;
use super::encode::encode_by_day;
use crate::core::Core;
use crate::error::Error;
use crate::tier::file::{FileInfo, Row, RowFilter};
use crate::tier::{FileEntry, Tier};

pub(super) fn merge(core: &Core, report: &mut CompactReport) -> Result<(), Error> {
    let fanin = core.config.compactor.merge_fanin as usize;
    loop {
        let guard = core.tiers.read();
        let manifest = &guard.manifest;
        let mut groups: BTreeMap<(Tier, &str, u32), Vec<&FileEntry>> = BTreeMap::new();
        for f in &manifest.files {
            // Warm files join a merge only once rolled up, so a merged file is never rolled twice.
            if f.tier == Tier::Warm && f.flush > manifest.cold_flushes {
                continue;
            }
            groups.entry((f.tier, f.day.as_str(), f.level)).or_default().push(f);
        }
        let Some(((tier, _, level), mut inputs)) = groups.into_iter().find(|(_, files)| files.len() >= fanin)
        else {
            return Ok(());
        };
        // In the order they were written: partial rows of a bucket merge in that order (a
        // counter's bucket row replaces the increase of the rows before it).
        inputs.sort_by_key(|f| f.flush);
        let resolution = tier.resolution(&core.config);
        let per_file: Vec<Vec<Row>> = inputs
            .par_iter()
            .map(|entry| core.tiers.read_file(entry, &RowFilter::all()))
            .collect::<Result<_, Error>>()?;
        let rows: Vec<Row> = per_file.into_iter().flatten().collect();
        let flush = inputs.iter().map(|f| f.flush).max().unwrap_or_default();
        let files = encode_by_day(rows, &FileInfo { tier, resolution }, level + 1, flush)?;
        let gone: Vec<String> = inputs.iter().map(|f| f.path.clone()).collect();
        drop(guard);
        core.tiers.publish(&files, ["merge-uploaded", "merge-committed"], |next| {
            next.files.retain(|f| !gone.contains(&f.path));
        })?;
        report.merged_files += gone.len() as u64;
        report.merge_outputs += files.len() as u64;
    }
}
