//! Reading tier files: the rows a filter keeps, from whole bytes or from an open file whose
//! footer is parsed once (the query cache). Row groups are skipped by their statistics, then
//! decoded whole into [`Group`]s (key columns kept dictionary-coded, so a series' key is built
//! once per run of rows, not per row).

#![deny(clippy::indexing_slicing, clippy::unwrap_used)]

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use bytes::Bytes;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::file::metadata::KeyValue;

use super::group::{self, Group};
use super::{FileError, FileInfo, READABLE_SCHEMA_VERSIONS, Row, TAG_COLUMNS, time_scale};
use crate::series::SeriesKey;
use crate::tier::Tier;

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
    /// Tags that must be present with one of these values (a query's hosts, its type-ids).
    pub one_of: &'a [(&'a str, &'a [String])],
}

impl RowFilter<'_> {
    /// Every row of a file.
    pub fn all() -> RowFilter<'static> {
        RowFilter { metric: None, from: i64::MIN, to: i64::MAX, field: None, tags: &[], one_of: &[] }
    }

    pub(crate) fn keeps_key(&self, key: &SeriesKey) -> bool {
        self.metric.is_none_or(|m| key.measurement == m)
            && self.field.is_none_or(|f| key.field == f)
            && self.tags.iter().all(|(k, v)| key.tag(k) == Some(v.as_str()))
            && self.one_of.iter().all(|(k, values)| key.tag(k).is_some_and(|v| values.iter().any(|x| x == v)))
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
    /// Nanoseconds per unit of the `time` column (1 before schema version 3, then 1000): what
    /// a filter's bounds are scaled by to compare with the column's statistics.
    time_scale: i64,
}

/// The key columns: read as dictionaries, so runs of a series are found by comparing indices.
fn is_key_column(name: &str) -> bool {
    name == "metric" || name == "field" || name == "tags" || TAG_COLUMNS.iter().any(|(c, _)| *c == name)
}

/// The file's own Arrow schema with its UTF-8 key columns read as `Dictionary(Int32, Utf8)`.
fn with_dictionary_keys(schema: &SchemaRef) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            if is_key_column(f.name()) && *f.data_type() == DataType::Utf8 {
                let dictionary = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
                Field::new(f.name(), dictionary, f.is_nullable()).with_metadata(f.metadata().clone())
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

impl OpenFile {
    /// Parses the footer and checks the file's strata metadata.
    ///
    /// # Errors
    /// As [`read`].
    pub fn new(bytes: Bytes) -> Result<OpenFile, FileError> {
        let plain = ArrowReaderMetadata::load(&bytes, ArrowReaderOptions::new())
            .map_err(|e| format!("not Parquet: {e}"))?;
        let (metadata, info, version) = tier_metadata(&plain)?;
        Ok(OpenFile { bytes, metadata, info, time_scale: time_scale(version) })
    }

    /// Bytes held.
    pub fn size(&self) -> usize {
        self.bytes.len()
    }

    /// The rows `filter` keeps, decoding only the row groups whose statistics may hold some.
    ///
    /// # Errors
    /// What is wrong with the file's rows.
    pub fn read(&self, filter: &RowFilter<'_>) -> Result<Vec<Row>, String> {
        let mut rows = Vec::new();
        for index in self.row_groups(filter) {
            let group = self.decode_group(index)?;
            for (key, times, aggs) in group.select(filter) {
                rows.extend(times.iter().zip(aggs).map(|(&time, &agg)| Row { key: key.clone(), time, agg }));
            }
        }
        Ok(rows)
    }

    /// Row group `index`, decoded whole.
    pub(crate) fn decode_group(&self, index: usize) -> Result<Group, String> {
        let rows = self
            .metadata
            .metadata()
            .row_groups()
            .get(index)
            .map(|g| g.num_rows())
            .ok_or_else(|| format!("no row group {index}"))?;
        // One batch per row group of strata's files; a bound for files from elsewhere.
        let batch_size = usize::try_from(rows).unwrap_or(1).clamp(1, 1 << 20);
        let reader =
            ParquetRecordBatchReaderBuilder::new_with_metadata(self.bytes.clone(), self.metadata.clone())
                .with_row_groups(vec![index])
                .with_batch_size(batch_size)
                .build()
                .map_err(|e| format!("cannot read: {e}"))?;
        group::decode(reader.map(|batch| batch.map_err(|e| format!("cannot read rows: {e}"))))
    }

    /// The row groups whose statistics say they may hold rows `filter` keeps: by time, metric,
    /// field and every tag with a column of its own that the filter names (one value, or one
    /// of several).
    pub(crate) fn row_groups(&self, filter: &RowFilter<'_>) -> Vec<usize> {
        let md = self.metadata.metadata();
        let schema = md.file_metadata().schema_descr();
        let index = |name: &str| schema.columns().iter().position(|c| c.name() == name);
        let tag_column = |tag: &str| TAG_COLUMNS.iter().find(|(_, t)| *t == tag).and_then(|(c, _)| index(c));
        let time_col = index("time");
        // (column, values it must hold one of)
        let mut wanted: Vec<(usize, Vec<&str>)> = Vec::new();
        for (col, value) in [(index("metric"), filter.metric), (index("field"), filter.field)] {
            if let (Some(col), Some(value)) = (col, value) {
                wanted.push((col, vec![value]));
            }
        }
        for (tag, value) in filter.tags {
            if let Some(col) = tag_column(tag) {
                wanted.push((col, vec![value.as_str()]));
            }
        }
        for (tag, values) in filter.one_of {
            if let Some(col) = tag_column(tag) {
                wanted.push((col, values.iter().map(String::as_str).collect()));
            }
        }
        (0..md.num_row_groups())
            .filter(|&i| {
                let group = md.row_group(i);
                let stats = |col: Option<usize>| {
                    col.and_then(|c| group.columns().get(c)).and_then(|c| c.statistics())
                };
                let may_hold_one_of = |col: usize, values: &[&str]| {
                    let Some(stats) = stats(Some(col)) else { return true };
                    values.iter().any(|value| {
                        let v = value.as_bytes();
                        stats.min_bytes_opt().is_none_or(|min| min <= v)
                            && stats.max_bytes_opt().is_none_or(|max| v <= max)
                    })
                };
                let time_may_hold = match stats(time_col) {
                    Some(parquet::file::statistics::Statistics::Int64(t)) => {
                        // In the column's unit; scaled up, so no bound is rounded.
                        let ns = |v: i64| v.saturating_mul(self.time_scale);
                        t.min_opt().is_none_or(|&min| ns(min) < filter.to)
                            && t.max_opt().is_none_or(|&max| ns(max) >= filter.from)
                    }
                    _ => true,
                };
                time_may_hold && wanted.iter().all(|(col, values)| may_hold_one_of(*col, values))
            })
            .collect()
    }
}

/// A Parquet file's metadata as a tier file is read: its strata metadata checked (tier,
/// resolution, schema version, the unit of `time`) and its key columns read as dictionaries.
pub(super) fn tier_metadata(
    plain: &ArrowReaderMetadata,
) -> Result<(ArrowReaderMetadata, FileInfo, u32), FileError> {
    let (info, version) = file_info(plain.metadata().file_metadata().key_value_metadata())?;
    check_time_unit(plain.schema(), version, time_scale(version))?;
    let options = ArrowReaderOptions::new().with_schema(with_dictionary_keys(plain.schema()));
    let metadata = ArrowReaderMetadata::try_new(plain.metadata().clone(), options)
        .map_err(|e| format!("cannot read the key columns: {e}"))?;
    Ok((metadata, info, version))
}

/// The `time` column must be in the unit its schema version says: a file that claims one
/// version and holds another's times would be read a thousand times off.
fn check_time_unit(schema: &SchemaRef, version: u32, scale: i64) -> Result<(), FileError> {
    let unit = if scale == 1 { TimeUnit::Nanosecond } else { TimeUnit::Microsecond };
    let field = schema.field_with_name("time").map_err(|_| "no column \"time\"")?;
    match field.data_type() {
        DataType::Timestamp(found, _) if *found == unit => Ok(()),
        other => {
            let want = DataType::Timestamp(unit, Some("UTC".into()));
            Err(format!("column \"time\" is {other}; schema version {version} stores {want}").into())
        }
    }
}

/// The file's tier and resolution, and its schema version.
fn file_info(metadata: Option<&Vec<KeyValue>>) -> Result<(FileInfo, u32), FileError> {
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
    // `group::decode` reads every version: version 1 lacks the increase columns (its rows know
    // no increase), versions 1 and 2 store `time` in nanoseconds; a later change keeps a path
    // for every older version, chosen by `found`.
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
    Ok((FileInfo { tier, resolution }, found))
}

/// A column as UTF-8 text, whichever way the reader hands it out (tests read files plainly).
#[cfg(test)]
pub(super) fn strings<'a>(
    batch: &'a arrow_array::RecordBatch,
    name: &str,
) -> Result<&'a arrow_array::StringArray, String> {
    use arrow_array::cast::AsArray;
    batch
        .column_by_name(name)
        .ok_or_else(|| format!("no column {name:?}"))?
        .as_string_opt::<i32>()
        .ok_or_else(|| format!("column {name:?} is not UTF-8"))
}
