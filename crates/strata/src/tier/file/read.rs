//! Reading tier files: the rows a filter keeps, from whole bytes or from an open file whose
//! footer is parsed once (the query cache).

#![deny(clippy::indexing_slicing, clippy::unwrap_used)]

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int8Type, Int64Type, TimestampNanosecondType};
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use bytes::Bytes;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::file::metadata::KeyValue;

use super::{
    FileError, FileInfo, READABLE_SCHEMA_VERSIONS, Row, TAG_COLUMNS, decode_other_tags, encode_other_tags,
};
use crate::series::SeriesKey;
use crate::tier::agg::{Increase, IncreaseScope};
use crate::tier::{Agg, Tier};

/// Which rows a read keeps.
#[derive(Debug, Clone, Default)]
pub struct RowFilter<'a> {
    /// Only this metric, when set.
    pub metric: Option<&'a str>,
    /// Only buckets starting in `[from, to)`.
    pub from: i64,
    pub to: i64,
    /// Only series with this field, when set.
    pub field: Option<&'a str>,
    /// Tags that must be present with these values.
    pub tags: &'a [(String, String)],
}

impl RowFilter<'_> {
    /// Every row of a file.
    pub fn all() -> RowFilter<'static> {
        RowFilter { metric: None, from: i64::MIN, to: i64::MAX, field: None, tags: &[] }
    }

    fn keeps_key(&self, key: &SeriesKey) -> bool {
        self.metric.is_none_or(|m| key.measurement == m)
            && self.field.is_none_or(|f| key.field == f)
            && self.tags.iter().all(|(k, v)| key.tag(k) == Some(v.as_str()))
    }
}

/// Reads the rows of a tier file that `filter` keeps, in file order, checking its metadata.
///
/// # Errors
/// [`FileError::UnsupportedVersion`] for a file of a newer schema version, otherwise
/// [`FileError::Damaged`] saying what is wrong.
pub fn read(bytes: Bytes, filter: &RowFilter<'_>) -> Result<(FileInfo, Vec<Row>), FileError> {
    let file = OpenFile::new(bytes)?;
    let rows = file.read(filter)?;
    Ok((file.info, rows))
}

/// A tier file in memory with its parsed metadata: what queries cache, so a repeated query
/// neither fetches nor parses the footer again.
#[derive(Debug)]
pub struct OpenFile {
    bytes: Bytes,
    metadata: ArrowReaderMetadata,
    pub info: FileInfo,
}

impl OpenFile {
    /// Parses the footer and checks the file's strata metadata.
    ///
    /// # Errors
    /// As [`read`].
    pub fn new(bytes: Bytes) -> Result<OpenFile, FileError> {
        let metadata = ArrowReaderMetadata::load(&bytes, ArrowReaderOptions::new())
            .map_err(|e| format!("not Parquet: {e}"))?;
        let info = file_info(metadata.metadata().file_metadata().key_value_metadata())?;
        Ok(OpenFile { bytes, metadata, info })
    }

    /// Bytes held.
    pub fn size(&self) -> usize {
        self.bytes.len()
    }

    /// The rows `filter` keeps, decoding only the row groups whose statistics (metric,
    /// hostname, time) may hold some.
    pub fn read(&self, filter: &RowFilter<'_>) -> Result<Vec<Row>, String> {
        let groups = self.row_groups(filter);
        let mut rows = Vec::new();
        if groups.is_empty() {
            return Ok(rows);
        }
        let reader =
            ParquetRecordBatchReaderBuilder::new_with_metadata(self.bytes.clone(), self.metadata.clone())
                .with_row_groups(groups)
                .with_batch_size(64 * 1024)
                .build()
                .map_err(|e| format!("cannot read: {e}"))?;
        let mut last_key: Option<Arc<SeriesKey>> = None;
        for batch in reader {
            let batch = batch.map_err(|e| format!("cannot read rows: {e}"))?;
            read_batch(&batch, filter, &mut last_key, &mut rows)?;
        }
        Ok(rows)
    }

    fn row_groups(&self, filter: &RowFilter<'_>) -> Vec<usize> {
        let md = self.metadata.metadata();
        let schema = md.file_metadata().schema_descr();
        let index = |name: &str| schema.columns().iter().position(|c| c.name() == name);
        let host = filter.tags.iter().find(|(k, _)| k == "hostname").map(|(_, v)| v.as_str());
        let (metric_col, host_col, time_col) = (index("metric"), index("hostname"), index("time"));
        (0..md.num_row_groups())
            .filter(|&i| {
                let group = md.row_group(i);
                let stats = |col: Option<usize>| {
                    col.and_then(|c| group.columns().get(c)).and_then(|c| c.statistics())
                };
                let text_may_hold = |col: Option<usize>, value: Option<&str>| {
                    let (Some(value), Some(stats)) = (value, stats(col)) else { return true };
                    let v = value.as_bytes();
                    stats.min_bytes_opt().is_none_or(|min| min <= v)
                        && stats.max_bytes_opt().is_none_or(|max| v <= max)
                };
                let time_may_hold = match stats(time_col) {
                    Some(parquet::file::statistics::Statistics::Int64(t)) => {
                        t.min_opt().is_none_or(|&min| min < filter.to)
                            && t.max_opt().is_none_or(|&max| max >= filter.from)
                    }
                    _ => true,
                };
                time_may_hold && text_may_hold(metric_col, filter.metric) && text_may_hold(host_col, host)
            })
            .collect()
    }
}

fn file_info(metadata: Option<&Vec<KeyValue>>) -> Result<FileInfo, FileError> {
    let get = |name: &str| {
        metadata
            .and_then(|kv| kv.iter().find(|e| e.key == name))
            .and_then(|e| e.value.clone())
            .ok_or_else(|| format!("no {name} in the file's metadata: not a strata tier file"))
    };
    let version = get("strata.schema_version")?;
    let found = version
        .parse::<u32>()
        .map_err(|_| format!("strata.schema_version {version:?} is not a version number"))?;
    // `read_batch` reads every version: version 1 lacks the increase columns (its rows know
    // no increase); a later change keeps a path for every older version, chosen by `found`.
    if found > *READABLE_SCHEMA_VERSIONS.end() {
        return Err(FileError::UnsupportedVersion { found, supported: READABLE_SCHEMA_VERSIONS });
    }
    if !READABLE_SCHEMA_VERSIONS.contains(&found) {
        return Err(format!("schema version {found}: no strata writes it").into());
    }
    let tier = match get("strata.tier")?.as_str() {
        "warm" => Tier::Warm,
        "cold" => Tier::Cold,
        other => return Err(format!("unknown tier {other:?}").into()),
    };
    let resolution = get("strata.resolution_ns")?
        .parse::<i64>()
        .ok()
        .filter(|r| *r > 0)
        .ok_or("strata.resolution_ns is not a positive integer")?;
    Ok(FileInfo { tier, resolution })
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef, String> {
    batch.column_by_name(name).ok_or_else(|| format!("no column {name:?}"))
}

pub(super) fn strings<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a StringArray, String> {
    column(batch, name)?.as_string_opt::<i32>().ok_or_else(|| format!("column {name:?} is not UTF-8"))
}

fn read_batch(
    batch: &RecordBatch,
    filter: &RowFilter<'_>,
    last_key: &mut Option<Arc<SeriesKey>>,
    rows: &mut Vec<Row>,
) -> Result<(), String> {
    let metric = strings(batch, "metric")?;
    let field = strings(batch, "field")?;
    let tag_columns: Vec<&StringArray> =
        TAG_COLUMNS.iter().map(|(name, _)| strings(batch, name)).collect::<Result<_, _>>()?;
    let other = strings(batch, "tags")?;
    let ints = |name: &str| -> Result<&[i64], String> {
        let array = column(batch, name)?;
        if array.null_count() > 0 {
            return Err(format!("column {name:?} has nulls"));
        }
        if let Some(t) = array.as_primitive_opt::<TimestampNanosecondType>() {
            return Ok(t.values());
        }
        array
            .as_primitive_opt::<Int64Type>()
            .map(|a| a.values().as_ref())
            .ok_or_else(|| format!("column {name:?} is not a 64-bit integer"))
    };
    let floats = |name: &str| -> Result<&[f64], String> {
        let array = column(batch, name)?;
        if array.null_count() > 0 {
            return Err(format!("column {name:?} has nulls"));
        }
        array
            .as_primitive_opt::<Float64Type>()
            .map(|a| a.values().as_ref())
            .ok_or_else(|| format!("column {name:?} is not a double"))
    };
    let (time, count, first_time, last_time) =
        (ints("time")?, ints("count")?, ints("first_time")?, ints("last_time")?);
    // (v2) A counter's increase; a version 1 file has neither column.
    let increase = match batch.column_by_name("increase") {
        None => None,
        Some(array) => {
            Some(array.as_primitive_opt::<Float64Type>().ok_or("column \"increase\" is not a double")?)
        }
    };
    let increase_scope = match batch.column_by_name("increase_scope") {
        None => None,
        Some(array) => Some(
            array
                .as_primitive_opt::<Int8Type>()
                .ok_or("column \"increase_scope\" is not an 8-bit integer")?,
        ),
    };
    let (sum, sum_lo, min, max, first, last) = (
        floats("sum")?,
        floats("sum_lo")?,
        floats("min")?,
        floats("max")?,
        floats("first")?,
        floats("last")?,
    );
    fn value(a: &StringArray, i: usize) -> Option<&str> {
        (!a.is_null(i)).then(|| a.value(i))
    }
    let mut last_other: Option<String> = last_key.as_ref().and_then(|k| encode_other_tags(k));
    // Cheap rejections on single columns before any key is compared or built.
    let host_filter = filter.tags.iter().find(|(k, _)| k == "hostname").map(|(_, v)| v.as_str());
    let host_column = TAG_COLUMNS.iter().position(|(c, _)| *c == "hostname").and_then(|i| tag_columns.get(i));
    for i in 0..batch.num_rows() {
        let t = time.get(i).copied().ok_or("short time column")?;
        if t < filter.from || t >= filter.to {
            continue;
        }
        if filter.metric.is_some_and(|m| value(metric, i) != Some(m)) {
            continue;
        }
        if let (Some(host), Some(column)) = (host_filter, host_column)
            && value(column, i) != Some(host)
        {
            continue;
        }
        let same = last_key.as_ref().is_some_and(|k| {
            value(metric, i) == Some(k.measurement.as_str())
                && value(field, i) == Some(k.field.as_str())
                && TAG_COLUMNS.iter().zip(&tag_columns).all(|((_, tag), col)| value(col, i) == k.tag(tag))
                && value(other, i) == last_other.as_deref()
        });
        if !same {
            let mut tags = Vec::new();
            for ((_, name), col) in TAG_COLUMNS.iter().zip(&tag_columns) {
                if let Some(v) = value(col, i) {
                    tags.push(((*name).to_owned(), v.to_owned()));
                }
            }
            if let Some(text) = value(other, i) {
                decode_other_tags(text, &mut tags)?;
            }
            tags.sort();
            if tags.windows(2).any(|w| matches!(w, [a, b] if a.0 == b.0)) {
                return Err(format!("row {i} names a tag twice"));
            }
            let key = SeriesKey {
                measurement: value(metric, i).ok_or("null metric")?.to_owned(),
                field: value(field, i).ok_or("null field")?.to_owned(),
                tags,
            };
            last_other = encode_other_tags(&key);
            *last_key = Some(Arc::new(key));
        }
        let Some(key) = last_key.as_ref() else { continue };
        if !filter.keeps_key(key) {
            continue;
        }
        let at = |column: &[f64]| column.get(i).copied().unwrap_or(f64::NAN);
        let increase = match (increase, increase_scope) {
            (Some(v), Some(s)) if i < v.len() && i < s.len() && v.is_valid(i) && s.is_valid(i) => {
                let scope = u8::try_from(s.value(i))
                    .ok()
                    .and_then(IncreaseScope::from_u8)
                    .ok_or_else(|| format!("row {i}: increase_scope {} is not 0, 1 or 2", s.value(i)))?;
                Some(Increase { value: v.value(i), scope })
            }
            (Some(v), Some(s)) if i < v.len() && i < s.len() && v.is_valid(i) != s.is_valid(i) => {
                return Err(format!("row {i}: increase and increase_scope are not both null or both set"));
            }
            _ => None,
        };
        let agg = Agg {
            count: count.get(i).and_then(|c| u64::try_from(*c).ok()).ok_or("negative count")?,
            sum: at(sum),
            sum_lo: at(sum_lo),
            min: at(min),
            max: at(max),
            first: at(first),
            first_time: first_time.get(i).copied().unwrap_or_default(),
            last: at(last),
            last_time: last_time.get(i).copied().unwrap_or_default(),
            increase,
        };
        rows.push(Row { key: key.clone(), time: t, agg });
    }
    Ok(())
}
