//! A tier file read one row group at a time, by byte ranges, for a merge: it holds one row
//! group's bytes and rows whatever the file's size.
//!
//! Every byte of the file is read once, in order (the footer first, kept until the end), and
//! its CRC32C is carried along: once the last row group is out, the checksum is compared with
//! the manifest's entry. Rows handed out before that check may come from a damaged file; a
//! merge commits nothing built from them before every input checked out. When a part does
//! not parse, the rest of the file is read and a checksum that differs is the error reported
//! (the damage, named as such), as for a file read whole.

use std::ops::Range;

use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReader;

use super::file::ranged::{FOOTER, RangedFile};
use super::file::{FileError, Row, RowFilter, group};
use super::manifest::FileEntry;
use super::state::TierState;
use crate::error::Error;

/// How much of a file's end is read at once to find its footer: strata's footers are far
/// smaller, so one read usually holds it. Also the size of the reads that check the rest of
/// a file that failed to parse.
const TAIL: u64 = 64 * 1024;

pub(crate) struct Cursor<'a> {
    bytes: Reader<'a>,
    file: RangedFile,
    next_group: usize,
    /// The row group being read, a batch at a time.
    group: Option<ParquetRecordBatchReader>,
}

/// Rows decoded at a time: with the row group's bytes, what a cursor holds.
const BATCH_ROWS: usize = 8 * 1024;

/// A file's bytes read in order, checksummed as they go.
struct Reader<'a> {
    tiers: &'a TierState,
    entry: FileEntry,
    /// The file's bytes from `tail_start` to its end (metadata and footer).
    tail: Bytes,
    tail_start: u64,
    /// Bytes checksummed so far, from the start.
    read: u64,
    crc: u32,
}

impl<'a> Cursor<'a> {
    /// Reads `entry`'s footer.
    ///
    /// # Errors
    /// Object store errors; a file that is not a readable tier file, named.
    pub(crate) fn open(tiers: &'a TierState, entry: &FileEntry) -> Result<Cursor<'a>, Error> {
        let len = entry.bytes;
        let tail_start = len.saturating_sub(TAIL);
        let tail = tiers.store.get_range(&entry.path, tail_start..len)?;
        let mut bytes = Reader { tiers, entry: entry.clone(), tail, tail_start, read: 0, crc: 0 };
        match bytes.parse() {
            Ok(file) => Ok(Cursor { bytes, file, next_group: 0, group: None }),
            Err(reason) => Err(bytes.explain(reason)),
        }
    }

    /// The next rows in file order (a batch of a row group); `None` after the last, once the
    /// file's checksum matched the manifest's entry.
    ///
    /// # Errors
    /// Object store errors; damage, named (a checksum that does not match included).
    pub(crate) fn next_rows(&mut self) -> Result<Option<Vec<Row>>, Error> {
        loop {
            if let Some(reader) = &mut self.group {
                match reader.next() {
                    Some(Ok(batch)) => {
                        let decoded = group::decode(std::iter::once(Ok(batch)));
                        let group = match decoded {
                            Ok(group) => group,
                            Err(reason) => return Err(self.bytes.explain(reason.into())),
                        };
                        let mut rows = Vec::with_capacity(BATCH_ROWS);
                        for (key, times, aggs) in group.select(&RowFilter::all()) {
                            rows.extend(times.iter().zip(aggs).map(|(&time, &agg)| Row {
                                key: key.clone(),
                                time,
                                agg,
                            }));
                        }
                        return Ok(Some(rows));
                    }
                    Some(Err(e)) => return Err(self.bytes.explain(format!("cannot read rows: {e}").into())),
                    None => self.group = None,
                }
            }
            let groups = self.file.row_groups();
            if self.next_group >= groups {
                if self.next_group == groups {
                    self.next_group += 1;
                    self.bytes.take(self.bytes.entry.bytes)?;
                    if let Some(mismatch) = self.bytes.mismatch() {
                        return Err(mismatch);
                    }
                }
                return Ok(None);
            }
            let index = self.next_group;
            self.next_group += 1;
            let reader = self.file.group_end(index).and_then(|end| {
                if end < self.bytes.read {
                    return Err(
                        format!("row group {index} ends at byte {end}, before the one before it").into()
                    );
                }
                let start = self.bytes.read;
                let window = self.bytes.take(end).map_err(|e| FileError::Damaged(e.to_string()))?;
                Ok(self.file.group_reader(index, window, start..end, BATCH_ROWS)?)
            });
            match reader {
                Ok(reader) => self.group = Some(reader),
                Err(reason) => return Err(self.bytes.explain(reason)),
            }
        }
    }
}

impl Cursor<'_> {
    /// The file's path in the store.
    pub(crate) fn path(&self) -> &str {
        &self.bytes.entry.path
    }
}

impl Reader<'_> {
    /// The footer and metadata, from the tail (read again from further back if the metadata
    /// is longer than it).
    fn parse(&mut self) -> Result<RangedFile, FileError> {
        let len = self.entry.bytes;
        if len < 2 * FOOTER {
            return Err(format!("{len} bytes are too few for a Parquet file").into());
        }
        let footer = self.tail.get(self.tail.len().saturating_sub(FOOTER as usize)..).unwrap_or_default();
        let metadata_len = RangedFile::metadata_len(footer)?;
        let metadata_start = len
            .checked_sub(FOOTER + metadata_len)
            .filter(|&start| start >= 4)
            .ok_or_else(|| format!("its footer claims {metadata_len} bytes of metadata"))?;
        if metadata_start < self.tail_start {
            self.tail =
                self.read_range(metadata_start..len).map_err(|e| FileError::Damaged(e.to_string()))?;
            self.tail_start = metadata_start;
        }
        let at = |offset: u64| usize::try_from(offset - self.tail_start).unwrap_or(usize::MAX);
        let metadata = self.tail.get(at(metadata_start)..at(len - FOOTER)).unwrap_or_default();
        let file = RangedFile::new(metadata, len)?;
        if file.info.tier != self.entry.tier {
            let (says, listed) = (file.info.tier.name(), self.entry.tier.name());
            return Err(format!("it says it is a {says} file, the manifest lists it as {listed}").into());
        }
        Ok(file)
    }

    fn read_range(&self, range: Range<u64>) -> Result<Bytes, Error> {
        self.tiers.store.get_range(&self.entry.path, range)
    }

    /// The bytes from where reading stands to `end`, checksummed: from the tail where it
    /// holds them, else read.
    fn take(&mut self, end: u64) -> Result<Bytes, Error> {
        let (start, end) = (self.read, end.min(self.entry.bytes));
        let at = |offset: u64| usize::try_from(offset.saturating_sub(self.tail_start)).unwrap_or(usize::MAX);
        let bytes = if start >= self.tail_start {
            self.tail.slice(at(start).min(self.tail.len())..at(end).min(self.tail.len()))
        } else if end <= self.tail_start {
            self.read_range(start..end)?
        } else {
            let mut joined = self.read_range(start..self.tail_start)?.to_vec();
            joined.extend_from_slice(self.tail.get(..at(end)).unwrap_or_default());
            Bytes::from(joined)
        };
        self.crc = crc32c::crc32c_append(self.crc, &bytes);
        self.read = end.max(start);
        Ok(bytes)
    }

    /// Once the whole file is read: the error of a checksum that differs from the manifest's.
    fn mismatch(&self) -> Option<Error> {
        let expected = self.entry.crc32c?;
        (expected != self.crc).then(|| {
            let reason = format!("its CRC32C is {:08x}, the manifest says {expected:08x}", self.crc);
            self.tiers.damaged(&self.entry, FileError::from(reason))
        })
    }

    /// The error to report for a part that did not parse: the checksum mismatch, if the rest
    /// of the file shows one (the damage itself), else `reason`.
    fn explain(&mut self, reason: FileError) -> Error {
        let parse_error = |tiers: &TierState, entry: &FileEntry| tiers.damaged(entry, reason);
        while self.read < self.entry.bytes {
            let next = self.read.saturating_add(TAIL);
            if let Err(e) = self.take(next) {
                return e;
            }
        }
        self.mismatch().unwrap_or_else(|| parse_error(self.tiers, &self.entry))
    }
}
