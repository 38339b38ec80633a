//! A tier file written row by row: rows (in file order, merged) go out as a row group each
//! time one fills, so a writer holds one row group's rows and the encoded bytes so far.

use std::sync::Arc;

use bytes::Bytes;
use parquet::arrow::ArrowWriter;

use super::{FileInfo, ROW_GROUP_ROWS, Row, properties, schema, to_batch};
use crate::series::SeriesKey;

/// What a finished file holds, for its manifest entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Written {
    pub(crate) rows: u64,
    pub(crate) points: u64,
    pub(crate) series: u64,
    pub(crate) min_time: i64,
    pub(crate) max_time: i64,
}

pub(crate) struct FileWriter {
    writer: ArrowWriter<Vec<u8>>,
    schema: arrow_schema::SchemaRef,
    pending: Vec<Row>,
    last_key: Option<Arc<SeriesKey>>,
    written: Written,
}

impl FileWriter {
    pub(crate) fn new(info: &FileInfo) -> Result<FileWriter, String> {
        let schema = schema();
        let writer = ArrowWriter::try_new(Vec::new(), schema.clone(), Some(properties(info)))
            .map_err(|e| format!("cannot start a Parquet file: {e}"))?;
        let written = Written { rows: 0, points: 0, series: 0, min_time: i64::MAX, max_time: i64::MIN };
        Ok(FileWriter { writer, schema, pending: Vec::new(), last_key: None, written })
    }

    /// Adds a row after the last (file order: by series, then time, one row per bucket).
    pub(crate) fn push(&mut self, row: Row) -> Result<(), String> {
        let w = &mut self.written;
        w.rows += 1;
        w.points += row.agg.count;
        w.min_time = w.min_time.min(row.time);
        w.max_time = w.max_time.max(row.time);
        if self.last_key.as_ref().is_none_or(|k| !Arc::ptr_eq(k, &row.key) && **k != *row.key) {
            w.series += 1;
            self.last_key = Some(row.key.clone());
        }
        self.pending.push(row);
        if self.pending.len() >= ROW_GROUP_ROWS {
            self.write_pending()?;
        }
        Ok(())
    }

    /// Whether the next row is of another series than the last one pushed.
    pub(crate) fn is_new_series(&self, key: &Arc<SeriesKey>) -> bool {
        self.last_key.as_ref().is_none_or(|k| !Arc::ptr_eq(k, key) && **k != **key)
    }

    /// About the bytes the file takes so far (encoded, and rows not encoded yet at about the
    /// size they will encode to).
    pub(crate) fn size(&self) -> u64 {
        let encoded = self.writer.bytes_written() + self.writer.in_progress_size();
        (encoded + self.pending.len() * 16) as u64
    }

    pub(crate) fn rows(&self) -> u64 {
        self.written.rows
    }

    fn write_pending(&mut self) -> Result<(), String> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let batch = to_batch(&self.schema, &self.pending)?;
        self.pending.clear();
        self.writer.write(&batch).map_err(|e| format!("cannot write rows: {e}"))?;
        self.writer.flush().map_err(|e| format!("cannot write a row group: {e}"))
    }

    /// The file's bytes and what it holds.
    pub(crate) fn finish(mut self) -> Result<(Bytes, Written), String> {
        self.write_pending()?;
        let bytes = self.writer.into_inner().map_err(|e| format!("cannot finish a Parquet file: {e}"))?;
        Ok((Bytes::from(bytes), self.written))
    }
}
