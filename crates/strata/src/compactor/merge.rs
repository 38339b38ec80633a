//! Leveled merges: per tier and day, `compactor.merge_fanin` files of one level become files of
//! the next; partial rows of a bucket become one row.
//!
//! A merge streams: each input is read one row group at a time by byte range (`tier/cursor.rs`,
//! its checksum checked once it is read whole), the inputs are merged series by series (all
//! inputs are sorted by series, then time), and the output goes out a row group at a time into
//! a file that is cut, at a series boundary, once it passes half of `compactor.merge_memory`,
//! uploaded, and followed by the next. The files are committed together, after every input
//! checked out. So a merge of a day of any size holds one row group per input and at most half
//! the bound of encoded output.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;

use super::CompactReport;
use super::encode::unique_name;
use crate::core::Core;
use crate::error::Error;
use crate::series::SeriesKey;
use crate::tier::cursor::Cursor;
use crate::tier::file::{FileInfo, FileWriter, Row, cmp_keys, merge_rows};
use crate::tier::{Agg, FileEntry, Tier};

pub(super) fn merge(core: &Core, report: &mut CompactReport) -> Result<(), Error> {
    let fanin = core.config.compactor.merge_fanin as usize;
    loop {
        let guard = core.tiers.read();
        let manifest = &guard.manifest;
        // Per tier, day and level, the runs: the files one flush or one merge wrote (a merge
        // cut into several files writes one run, its files in key order, listed in the
        // manifest in that order). `fanin` runs of a level merge into one run of the next.
        let mut groups: BTreeMap<(Tier, &str, u32), BTreeMap<u64, Vec<&FileEntry>>> = BTreeMap::new();
        for f in &manifest.files {
            // Warm files join a merge only once rolled up, so a merged file is never rolled twice.
            if f.tier == Tier::Warm && f.flush > manifest.cold_flushes {
                continue;
            }
            groups.entry((f.tier, f.day.as_str(), f.level)).or_default().entry(f.flush).or_default().push(f);
        }
        let Some(((tier, day, level), runs)) = groups.into_iter().find(|(_, runs)| runs.len() >= fanin)
        else {
            return Ok(());
        };
        // In the order they were written (runs by flush): partial rows of a bucket merge in
        // that order (a counter's bucket row replaces the increase of the rows before it).
        let runs: Vec<Vec<&FileEntry>> = runs.into_values().collect();
        let info = FileInfo { tier, resolution: tier.resolution(&core.config) };
        let flush = runs.iter().flatten().map(|f| f.flush).max().unwrap_or_default();
        let target = Target { info, day: day.to_owned(), level: level + 1, flush };
        let cut_at = core.config.compactor.merge_memory.0 / 2;
        let files = merge_files(core, &runs, &target, cut_at)?;
        let gone: Vec<String> = runs.iter().flatten().map(|f| f.path.clone()).collect();
        drop(guard);
        core.tiers.publish_uploaded(&files, "merge-committed", |next| {
            next.files.retain(|f| !gone.contains(&f.path));
        })?;
        report.merged_files += gone.len() as u64;
        report.merge_outputs += files.len() as u64;
    }
}

/// What a merge writes: files of `level` for `day`, carrying the inputs' newest `flush`.
struct Target {
    info: FileInfo,
    day: String,
    level: u32,
    flush: u64,
}

/// One input run: its files in key order, read one after the other through a cursor, and the
/// rest of the row group it is in.
struct Input<'a> {
    core: &'a Core,
    files: std::slice::Iter<'a, &'a FileEntry>,
    cursor: Option<Cursor<'a>>,
    rows: std::vec::IntoIter<Row>,
    head: Option<Row>,
}

impl<'a> Input<'a> {
    fn new(core: &'a Core, run: &'a [&'a FileEntry]) -> Result<Input<'a>, Error> {
        let mut input =
            Input { core, files: run.iter(), cursor: None, rows: Vec::new().into_iter(), head: None };
        input.advance()?;
        Ok(input)
    }

    /// Moves to the next row, reading the next row group (or file of the run) when this one is
    /// done. A run's files hold ascending keys: a file that starts before the last one ended
    /// is an error, not a silent misorder.
    fn advance(&mut self) -> Result<(), Error> {
        let previous = self.head.take();
        loop {
            if let Some(row) = self.rows.next() {
                if let Some(before) = &previous
                    && cmp_keys(&before.key, &row.key).then(before.time.cmp(&row.time)).is_ge()
                {
                    return Err(Error::Corrupt {
                        path: format!("{}/{}", self.core.tiers.store.url(), self.current_path()).into(),
                        reason: format!("its rows are out of order at {} {}", row.key, row.time),
                    });
                }
                self.head = Some(row);
                return Ok(());
            }
            let next_rows = match &mut self.cursor {
                Some(cursor) => cursor.next_rows()?,
                None => None,
            };
            match next_rows {
                Some(rows) => self.rows = rows.into_iter(),
                None => match self.files.next() {
                    Some(&entry) => self.cursor = Some(Cursor::open(&self.core.tiers, entry)?),
                    None => {
                        self.cursor = None;
                        return Ok(());
                    }
                },
            }
        }
    }

    fn current_path(&self) -> String {
        self.cursor.as_ref().map(|c| c.path().to_owned()).unwrap_or_default()
    }
}

/// Merges the `runs` (in flush order) into files uploaded as they are cut; returns their
/// entries.
fn merge_files<'a>(
    core: &'a Core,
    runs: &[Vec<&'a FileEntry>],
    target: &Target,
    cut_at: u64,
) -> Result<Vec<FileEntry>, Error> {
    let mut open = Vec::with_capacity(runs.len());
    for run in runs {
        open.push(Input::new(core, run)?);
    }
    let encode =
        |reason: String| Error::Encode { tier: target.info.tier.name(), day: target.day.clone(), reason };
    let mut done = Vec::new();
    let mut writer = FileWriter::new(&target.info).map_err(encode)?;
    let (mut times, mut aggs) = (Vec::new(), Vec::new());
    while let Some(key) = smallest_key(&open) {
        if writer.size() >= cut_at && writer.is_new_series(&key) {
            let full = std::mem::replace(&mut writer, FileWriter::new(&target.info).map_err(encode)?);
            done.push(upload(core, full, target)?);
        }
        // Every input's rows of this series, in flush order; rows of one bucket merge in it.
        let mut parts: Vec<(Vec<i64>, Vec<Agg>)> = Vec::with_capacity(open.len());
        for input in &mut open {
            let mut part = (Vec::new(), Vec::new());
            while let Some(row) = input.head.as_ref().filter(|r| same_key(&r.key, &key)) {
                part.0.push(row.time);
                part.1.push(row.agg);
                input.advance()?;
            }
            parts.push(part);
        }
        let slices: Vec<(&[i64], &[Agg])> = parts.iter().map(|(t, a)| (t.as_slice(), a.as_slice())).collect();
        times.clear();
        aggs.clear();
        merge_rows(&slices, &mut times, &mut aggs);
        for (&time, agg) in times.iter().zip(&aggs) {
            writer.push(Row { key: key.clone(), time, agg: *agg }).map_err(encode)?;
        }
    }
    // Every input is read whole, its checksum checked (by the cursor's last read).
    if writer.rows() > 0 {
        done.push(upload(core, writer, target)?);
    }
    Ok(done)
}

fn same_key(a: &Arc<SeriesKey>, b: &Arc<SeriesKey>) -> bool {
    Arc::ptr_eq(a, b) || a == b
}

/// The key of the first series in file order among the inputs' next rows.
fn smallest_key(inputs: &[Input<'_>]) -> Option<Arc<SeriesKey>> {
    let mut smallest: Option<&Arc<SeriesKey>> = None;
    for key in inputs.iter().filter_map(|i| i.head.as_ref().map(|r| &r.key)) {
        if smallest.is_none_or(|s| !Arc::ptr_eq(s, key) && cmp_keys(key, s).is_lt()) {
            smallest = Some(key);
        }
    }
    smallest.cloned()
}

/// Finishes a file and uploads it; its manifest entry.
fn upload(core: &Core, writer: FileWriter, target: &Target) -> Result<FileEntry, Error> {
    let (parts, written): (Vec<Bytes>, _) = writer.finish().map_err(|reason| Error::Encode {
        tier: target.info.tier.name(),
        day: target.day.clone(),
        reason,
    })?;
    let entry = FileEntry {
        path: format!(
            "{}/day={}/{}.parquet",
            target.info.tier,
            target.day,
            unique_name(target.flush, target.level)
        ),
        tier: target.info.tier,
        day: target.day.clone(),
        level: target.level,
        flush: target.flush,
        rows: written.rows,
        points: written.points,
        bytes: parts.iter().map(|p| p.len() as u64).sum(),
        min_time: if written.rows == 0 { 0 } else { written.min_time },
        max_time: if written.rows == 0 { 0 } else { written.max_time },
        series: written.series,
        crc32c: Some(parts.iter().fold(0, |crc, part| crc32c::crc32c_append(crc, part))),
    };
    core.tiers.upload(&entry, parts, "merge-uploaded")?;
    Ok(entry)
}
