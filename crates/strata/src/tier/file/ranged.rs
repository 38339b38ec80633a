//! A tier file read by byte ranges: its footer first, then one row group at a time, decoded a
//! batch of rows at a time, so that reading a file of any size holds one row group's bytes and
//! one batch of rows (what a merge needs).

#![deny(clippy::indexing_slicing, clippy::unwrap_used)]

use std::ops::Range;

use bytes::{Buf as _, Bytes};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder,
};
use parquet::errors::ParquetError;
use parquet::file::metadata::ParquetMetaDataReader;
use parquet::file::reader::{ChunkReader, Length};

use super::read::tier_metadata;
use super::{FileError, FileInfo};

/// Bytes at the end of a Parquet file after its metadata: the metadata's length, `PAR1`.
pub(crate) const FOOTER: u64 = 8;

/// A tier file's parsed footer, for reading its row groups by range.
#[derive(Debug)]
pub(crate) struct RangedFile {
    metadata: ArrowReaderMetadata,
    pub(crate) info: FileInfo,
    len: u64,
}

impl RangedFile {
    /// The length of the metadata, from the file's last [`FOOTER`] bytes.
    pub(crate) fn metadata_len(footer: &[u8]) -> Result<u64, FileError> {
        match footer {
            [a, b, c, d, b'P', b'A', b'R', b'1'] => Ok(u64::from(u32::from_le_bytes([*a, *b, *c, *d]))),
            _ => Err("not Parquet: no PAR1 at its end".into()),
        }
    }

    /// Parses `metadata` (the bytes before the footer) of a file of `len` bytes.
    pub(crate) fn new(metadata: &[u8], len: u64) -> Result<RangedFile, FileError> {
        let parsed =
            ParquetMetaDataReader::decode_metadata(metadata).map_err(|e| format!("not Parquet: {e}"))?;
        let plain = ArrowReaderMetadata::try_new(parsed.into(), ArrowReaderOptions::new())
            .map_err(|e| format!("not a tier file: {e}"))?;
        let (metadata, info, _) = tier_metadata(&plain)?;
        Ok(RangedFile { metadata, info, len })
    }

    pub(crate) fn row_groups(&self) -> usize {
        self.metadata.metadata().num_row_groups()
    }

    /// Where row group `index` ends in the file: it starts where the one before ended (or
    /// after the leading `PAR1`), as strata writes them.
    pub(crate) fn group_end(&self, index: usize) -> Result<u64, FileError> {
        let group = self
            .metadata
            .metadata()
            .row_groups()
            .get(index)
            .ok_or_else(|| format!("no row group {index}"))?;
        let end = group
            .columns()
            .iter()
            .map(|c| c.byte_range())
            .map(|(start, len)| start.saturating_add(len))
            .max();
        end.filter(|&e| e <= self.len)
            .ok_or_else(|| format!("row group {index} lies outside the file").into())
    }

    /// Reads row group `index` from `window`, the file's bytes `at` (which hold the group), a
    /// batch of at most `batch` rows at a time.
    pub(crate) fn group_reader(
        &self,
        index: usize,
        window: Bytes,
        at: Range<u64>,
        batch: usize,
    ) -> Result<ParquetRecordBatchReader, String> {
        let chunk = Window { bytes: window, start: at.start, file_len: self.len };
        ParquetRecordBatchReaderBuilder::new_with_metadata(chunk, self.metadata.clone())
            .with_row_groups(vec![index])
            .with_batch_size(batch.max(1))
            .build()
            .map_err(|e| format!("cannot read: {e}"))
    }
}

/// Some bytes of a file, served to the Parquet reader at their offsets in the file.
struct Window {
    bytes: Bytes,
    start: u64,
    file_len: u64,
}

impl Window {
    fn slice(&self, start: u64, length: usize) -> Result<Bytes, ParquetError> {
        let from = start.checked_sub(self.start).and_then(|f| usize::try_from(f).ok());
        match from.and_then(|f| Some(f..f.checked_add(length)?)) {
            Some(range) if range.end <= self.bytes.len() => Ok(self.bytes.slice(range)),
            _ => Err(ParquetError::General(format!(
                "bytes {start}+{length} lie outside the row group's range read from {}",
                self.start
            ))),
        }
    }
}

impl Length for Window {
    fn len(&self) -> u64 {
        self.file_len
    }
}

impl ChunkReader for Window {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> Result<Self::T, ParquetError> {
        let end = self.start.saturating_add(self.bytes.len() as u64);
        let length = usize::try_from(end.saturating_sub(start)).unwrap_or(0);
        Ok(self.slice(start, length)?.reader())
    }

    fn get_bytes(&self, start: u64, length: usize) -> Result<Bytes, ParquetError> {
        self.slice(start, length)
    }
}
