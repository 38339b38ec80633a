//! A tier file written row by row: rows (in file order, merged) are encoded a batch at a time,
//! so a writer holds a batch of rows, the row group being encoded and the file's bytes so far.

use std::sync::Arc;

use bytes::Bytes;
use parquet::arrow::ArrowWriter;

use super::{FileInfo, Row, properties, schema, to_batch};

/// Rows encoded at a time: the writer's rows wait at most this long as structs. The Parquet
/// writer gathers them into row groups of `ROW_GROUP_ROWS` (its properties) on its own.
const BATCH_ROWS: usize = 8 * 1024;
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

/// The file's bytes as they are written: chunks of at most [`CHUNK`] bytes, never copied to
/// grow (a `Vec` doubling as it grows would hold up to three times the file while it moves).
#[derive(Default)]
struct Chunks {
    done: Vec<Bytes>,
    current: Vec<u8>,
}

const CHUNK: usize = 1 << 20;

impl std::io::Write for Chunks {
    fn write(&mut self, mut buf: &[u8]) -> std::io::Result<usize> {
        let written = buf.len();
        while !buf.is_empty() {
            if self.current.len() == CHUNK {
                self.done.push(Bytes::from(std::mem::replace(&mut self.current, Vec::with_capacity(CHUNK))));
            }
            if self.current.capacity() == 0 {
                self.current.reserve_exact(CHUNK);
            }
            let room = CHUNK - self.current.len();
            let (now, rest) = buf.split_at(room.min(buf.len()));
            self.current.extend_from_slice(now);
            buf = rest;
        }
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub(crate) struct FileWriter {
    writer: ArrowWriter<Chunks>,
    schema: arrow_schema::SchemaRef,
    pending: Vec<Row>,
    last_key: Option<Arc<SeriesKey>>,
    written: Written,
}

impl FileWriter {
    pub(crate) fn new(info: &FileInfo) -> Result<FileWriter, String> {
        let schema = schema();
        let writer = ArrowWriter::try_new(Chunks::default(), schema.clone(), Some(properties(info)))
            .map_err(|e| format!("cannot start a Parquet file: {e}"))?;
        let written = Written { rows: 0, points: 0, series: 0, min_time: i64::MAX, max_time: i64::MIN };
        Ok(FileWriter { writer, schema, pending: Vec::new(), last_key: None, written })
    }

    /// Adds a row after the last (file order: by series, then time, one row per bucket).
    pub(crate) fn push(&mut self, row: Row) -> Result<(), String> {
        if self.is_new_series(&row.key) {
            self.written.series += 1;
            self.last_key = Some(row.key.clone());
        }
        let w = &mut self.written;
        w.rows += 1;
        w.points += row.agg.count;
        w.min_time = w.min_time.min(row.time);
        w.max_time = w.max_time.max(row.time);
        self.pending.push(row);
        if self.pending.len() >= BATCH_ROWS {
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
        self.writer.write(&batch).map_err(|e| format!("cannot write rows: {e}"))
    }

    /// The file's bytes, in chunks, and what it holds.
    pub(crate) fn finish(mut self) -> Result<(Vec<Bytes>, Written), String> {
        self.write_pending()?;
        let mut chunks =
            self.writer.into_inner().map_err(|e| format!("cannot finish a Parquet file: {e}"))?;
        if !chunks.current.is_empty() {
            chunks.done.push(Bytes::from(chunks.current));
        }
        Ok((chunks.done, self.written))
    }
}
