//! Tier files: downsampled rows as Parquet that DuckDB, Spark, Trino or pyarrow read without
//! strata. The schema, encodings and sort order are specified in `docs/FORMATS.md`.
//!
//! **Invariant:** a tier file is never changed after it is written; merges write new files.
//! **Invariant:** rows are sorted by series key columns in schema order, then time, and a file
//! holds at most one row per (series, bucket).

#![deny(clippy::indexing_slicing, clippy::unwrap_used)]

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::sync::Arc;

use arrow_array::{
    ArrayRef, Float64Array, Int8Array, Int64Array, RecordBatch, TimestampMicrosecondArray,
    TimestampNanosecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use bytes::Bytes;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

mod encode;
pub(crate) mod group;
pub(crate) mod ranged;
mod read;
mod sort;
mod writer;

pub(crate) use group::{Group, merge_rows};
pub use read::{OpenFile, RowFilter, read};
pub use sort::{sort_and_merge, sort_runs};
pub(crate) use writer::FileWriter;

use super::Tier;
use super::agg::Agg;
use crate::series::SeriesKey;

/// The schema version this build writes, in every file's `strata.schema_version` key.
/// Version 2 added `increase` and `increase_scope` (counters). Version 3 stores `time` in
/// microseconds, which Spark, Delta and Iceberg read (bucket starts are whole microseconds, so
/// nothing is lost); `first_time` and `last_time`, times of points, keep nanoseconds.
pub const SCHEMA_VERSION: u32 = 3;

/// The first schema version whose `time` column is in microseconds; before it, nanoseconds.
pub(crate) const MICROS_SINCE: u32 = 3;

/// Nanoseconds per unit of the `time` column of a file of schema version `version`.
pub(crate) fn time_scale(version: u32) -> i64 {
    if version >= MICROS_SINCE { 1_000 } else { 1 }
}

/// The schema versions this build reads: every one up to its own. A tier file stays readable
/// by every later strata, forever (docs/FORMATS.md); only a newer file is refused.
pub const READABLE_SCHEMA_VERSIONS: std::ops::RangeInclusive<u32> = 1..=SCHEMA_VERSION;

/// Why a tier file cannot be read.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    /// Not Parquet, not a strata tier file, or rows that break the schema.
    #[error("{0}")]
    Damaged(String),
    /// A tier file of a schema version this build does not read: written by a newer strata.
    #[error(
        "schema version {found}, written by a newer strata; this build reads versions up to {}: upgrade strata",
        supported.end()
    )]
    UnsupportedVersion { found: u32, supported: std::ops::RangeInclusive<u32> },
}

impl From<String> for FileError {
    fn from(reason: String) -> FileError {
        FileError::Damaged(reason)
    }
}

impl From<&str> for FileError {
    fn from(reason: &str) -> FileError {
        FileError::Damaged(reason.to_owned())
    }
}

/// Tags stored in their own columns, in sort order after `metric` and `field`: (column, tag).
/// cc-metric-store's `type-id` and `stype-id` tags get SQL-friendly column names. Every other
/// tag goes to the `tags` column.
pub const TAG_COLUMNS: [(&str, &str); 6] = [
    ("cluster", "cluster"),
    ("hostname", "hostname"),
    ("type", "type"),
    ("type_id", "type-id"),
    ("stype", "stype"),
    ("stype_id", "stype-id"),
];

fn is_column_tag(tag: &str) -> bool {
    TAG_COLUMNS.iter().any(|(_, t)| *t == tag)
}

/// One downsampled row: a series, the start of its bucket (ns), and the bucket's aggregate.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub key: Arc<SeriesKey>,
    pub time: i64,
    pub agg: Agg,
}

/// The Arrow schema of tier files.
pub fn schema() -> SchemaRef {
    // (v3) The bucket start in microseconds: the unit every outside reader takes.
    let bucket = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let time = || DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()));
    let mut fields =
        vec![Field::new("metric", DataType::Utf8, false), Field::new("field", DataType::Utf8, false)];
    fields.extend(TAG_COLUMNS.iter().map(|(name, _)| Field::new(*name, DataType::Utf8, true)));
    fields.extend([
        Field::new("tags", DataType::Utf8, true),
        Field::new("time", bucket, false),
        Field::new("count", DataType::Int64, false),
        Field::new("sum", DataType::Float64, false),
        Field::new("sum_lo", DataType::Float64, false),
        Field::new("min", DataType::Float64, false),
        Field::new("max", DataType::Float64, false),
        Field::new("first", DataType::Float64, false),
        Field::new("first_time", time(), false),
        Field::new("last", DataType::Float64, false),
        Field::new("last_time", time(), false),
        // (v2) A counter's reset-corrected increase and what it covers; null for a gauge.
        Field::new("increase", DataType::Float64, true),
        Field::new("increase_scope", DataType::Int8, true),
    ]);
    Arc::new(Schema::new(fields))
}

/// Orders series keys as tier files sort them: metric, field, the tag columns (absent first),
/// then the other tags.
pub fn cmp_keys(a: &SeriesKey, b: &SeriesKey) -> Ordering {
    if std::ptr::eq(a, b) {
        return Ordering::Equal;
    }
    a.measurement
        .cmp(&b.measurement)
        .then_with(|| a.field.cmp(&b.field))
        .then_with(|| {
            TAG_COLUMNS
                .iter()
                .map(|(_, t)| a.tag(t).cmp(&b.tag(t)))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        })
        .then_with(|| other_tags(a).cmp(other_tags(b)))
}

fn other_tags(key: &SeriesKey) -> impl Iterator<Item = &(String, String)> {
    key.tags.iter().filter(|(k, _)| !is_column_tag(k))
}

/// What a file's metadata says of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    pub tier: Tier,
    /// Bucket length in nanoseconds.
    pub resolution: i64,
}

/// Encodes rows (sorted and merged, see [`sort_and_merge`]) as a Parquet file, its column
/// chunks in parallel on the rayon pool (`encode.rs`).
pub fn write(rows: &[Row], info: &FileInfo) -> Result<Bytes, String> {
    write_runs(std::slice::from_ref(&rows), info)
}

/// Encodes runs of rows that, concatenated, are in file order (see [`sort_runs`]) as a
/// Parquet file, like [`write`].
pub fn write_runs<R: AsRef<[Row]> + Sync>(runs: &[R], info: &FileInfo) -> Result<Bytes, String> {
    let rows: Vec<&Row> = runs.iter().flat_map(|run| run.as_ref()).collect();
    let out = encode::encode(Vec::with_capacity(rows.len() * 16 + 4096), &rows, info)?;
    Ok(Bytes::from(out))
}

/// Rows per row group: big enough for good compression, small enough that a query for a few
/// series skips most of a file by statistics.
const ROW_GROUP_ROWS: usize = 64 * 1024;
/// Rows per data page: the page index then narrows a one-host query to a few pages.
const PAGE_ROWS: usize = 8 * 1024;

pub(super) fn properties(info: &FileInfo) -> WriterProperties {
    let zstd = Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default());
    let mut props = WriterProperties::builder()
        .set_compression(zstd)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_data_page_row_count_limit(PAGE_ROWS)
        .set_sorting_columns(Some(sorting_columns()))
        .set_key_value_metadata(Some(vec![
            KeyValue::new("strata.schema_version".to_owned(), SCHEMA_VERSION.to_string()),
            KeyValue::new("strata.tier".to_owned(), info.tier.name().to_owned()),
            KeyValue::new("strata.resolution_ns".to_owned(), info.resolution.to_string()),
        ]));
    // Times and counts: deltas of sorted or regular integers, no dictionary.
    for name in ["time", "first_time", "last_time", "count"] {
        let path = ColumnPath::from(name);
        props = props
            .set_column_dictionary_enabled(path.clone(), false)
            .set_column_encoding(path, Encoding::DELTA_BINARY_PACKED);
    }
    // Values keep Parquet's default, a dictionary that falls back to plain when it grows: on
    // `strata gen` data it beat byte-stream split by 1.7x for warm files (13.6 against 23.0
    // bytes per row; docs/BENCHMARKS.md, "Tiers"). Metric values repeat within a bucket row.
    props.build()
}

fn sorting_columns() -> Vec<SortingColumn> {
    // metric, field, the tag columns, tags, time: the first 10 columns in schema order.
    (0..10).map(|column_idx| SortingColumn { column_idx, descending: false, nulls_first: true }).collect()
}

/// A record batch of rows in file order (by value or by reference).
pub(super) fn to_batch<R: Borrow<Row>>(schema: &SchemaRef, rows: &[R]) -> Result<RecordBatch, String> {
    let rows: Vec<&Row> = rows.iter().map(Borrow::borrow).collect();
    // Key columns repeat one value per series: each value is looked up once per series (the
    // rows of a series come together), then appended to each of its rows as borrowed text.
    let series: Vec<(&SeriesKey, usize)> = rows
        .chunk_by(|a, b| Arc::ptr_eq(&a.key, &b.key))
        .filter_map(|run| Some((run.first()?.key.as_ref(), run.len())))
        .collect();
    let text = |f: &dyn Fn(&SeriesKey) -> Option<&str>| -> ArrayRef {
        let mut builder = arrow_array::builder::StringBuilder::with_capacity(rows.len(), rows.len() * 8);
        for &(key, n) in &series {
            let value = f(key);
            for _ in 0..n {
                builder.append_option(value);
            }
        }
        Arc::new(builder.finish())
    };
    let times = |f: &dyn Fn(&Row) -> i64| -> ArrayRef {
        Arc::new(TimestampNanosecondArray::from_iter_values(rows.iter().map(|r| f(r))).with_timezone("UTC"))
    };
    let floats = |f: &dyn Fn(&Agg) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| f(&r.agg))))
    };
    let mut columns: Vec<ArrayRef> =
        vec![text(&|k| Some(k.measurement.as_str())), text(&|k| Some(k.field.as_str()))];
    for (_, tag) in TAG_COLUMNS {
        columns.push(text(&|k| k.tag(tag)));
    }
    let mut other = arrow_array::builder::StringBuilder::with_capacity(rows.len(), 0);
    for &(key, n) in &series {
        let text = encode_other_tags(key);
        for _ in 0..n {
            other.append_option(text.as_deref());
        }
    }
    columns.push(Arc::new(other.finish()));
    columns.push(bucket_starts(&rows)?);
    columns.push(Arc::new(Int64Array::from_iter_values(
        rows.iter().map(|r| i64::try_from(r.agg.count).unwrap_or(i64::MAX)),
    )));
    columns.push(floats(&|a| a.sum));
    columns.push(floats(&|a| a.sum_lo));
    columns.push(floats(&|a| a.min));
    columns.push(floats(&|a| a.max));
    columns.push(floats(&|a| a.first));
    columns.push(times(&|r| r.agg.first_time));
    columns.push(floats(&|a| a.last));
    columns.push(times(&|r| r.agg.last_time));
    columns.push(Arc::new(rows.iter().map(|r| r.agg.increase.map(|i| i.value)).collect::<Float64Array>()));
    columns.push(Arc::new(
        rows.iter().map(|r| r.agg.increase.map(|i| i.scope as u8 as i8)).collect::<Int8Array>(),
    ));
    RecordBatch::try_new(schema.clone(), columns).map_err(|e| format!("cannot build a record batch: {e}"))
}

/// The `time` column: bucket starts in microseconds. A bucket start is a multiple of the
/// resolution, a whole number of microseconds (the config checks it); one that is not would
/// lose its nanoseconds, so it is refused rather than rounded.
fn bucket_starts(rows: &[&Row]) -> Result<ArrayRef, String> {
    let scale = time_scale(SCHEMA_VERSION);
    if let Some(row) = rows.iter().find(|r| r.time % scale != 0) {
        return Err(format!("bucket start {} ns is not a whole number of microseconds", row.time));
    }
    let micros = TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| r.time / scale));
    Ok(Arc::new(micros.with_timezone("UTC")))
}

/// The `tags` column's text for a key: its tags without a column of their own.
pub fn other_tags_text(key: &SeriesKey) -> Option<String> {
    encode_other_tags(key)
}

/// Tags without a column of their own, as `key=value` pairs joined by `,`; `\`, `,` and `=`
/// inside keys and values are escaped with `\`. `None` when there are none.
fn encode_other_tags(key: &SeriesKey) -> Option<String> {
    let mut out = String::new();
    for (k, v) in other_tags(key) {
        if !out.is_empty() {
            out.push(',');
        }
        escape_into(&mut out, k);
        out.push('=');
        escape_into(&mut out, v);
    }
    (!out.is_empty()).then_some(out)
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
}

fn decode_other_tags(text: &str, tags: &mut Vec<(String, String)>) -> Result<(), String> {
    let (mut key, mut current, mut escaped, mut in_value) = (String::new(), String::new(), false, false);
    let bad = || format!("tags column {text:?} is not key=value pairs");
    for c in text.chars() {
        match c {
            _ if escaped => {
                current.push(c);
                escaped = false;
            }
            '\\' => escaped = true,
            '=' if !in_value => {
                key = std::mem::take(&mut current);
                in_value = true;
            }
            ',' if in_value => {
                tags.push((std::mem::take(&mut key), std::mem::take(&mut current)));
                in_value = false;
            }
            '=' | ',' => return Err(bad()),
            _ => current.push(c),
        }
    }
    if !in_value || escaped {
        return Err(bad());
    }
    tags.push((key, current));
    Ok(())
}

#[cfg(test)]
mod tests;
