//! The one Arrow shape of every result: raw reads ([`Engine::read_batches`]) and query results
//! ([`QueryResult::to_batches`]) alike, one record batch per series.
//!
//! Columns: `time` (Timestamp(ns, UTC)); the series key as the tier files store it: `metric`,
//! `field`, `cluster`, `hostname`, `type`, `type_id`, `stype`, `stype_id`, then `tags` (every
//! other tag, escaped as in tier files), all dictionary-encoded UTF-8 (every row of a batch
//! shares them; null where a series lacks the tag, and for a scope aggregate of many series);
//! then the value columns: `value` for raw points, one per aggregate for query results.
//!
//! [`Engine::read_batches`]: crate::Engine::read_batches
//! [`QueryResult::to_batches`]: crate::QueryResult::to_batches

use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, DictionaryArray, Int32Array, RecordBatch, StringArray, TimestampNanosecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::error::Error;
use crate::series::SeriesKey;
use crate::tier::file::{TAG_COLUMNS, other_tags_text};

/// The key columns after `time`, in order.
pub(crate) fn key_columns() -> impl Iterator<Item = &'static str> {
    ["metric", "field"].into_iter().chain(TAG_COLUMNS.iter().map(|(column, _)| *column)).chain(["tags"])
}

/// The schema of batches with these value columns (name, type, nullable).
pub(crate) fn schema(values: &[(&str, DataType, bool)]) -> SchemaRef {
    let text = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    let mut fields =
        vec![Field::new("time", DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())), false)];
    fields.extend(key_columns().map(|name| Field::new(name, text.clone(), true)));
    fields.extend(values.iter().map(|(name, kind, nullable)| Field::new(*name, kind.clone(), *nullable)));
    Arc::new(Schema::new(fields))
}

/// One series' batch: `times`, its key (`None` for a scope aggregate), the value columns.
pub(crate) fn batch(
    schema: &SchemaRef,
    key: Option<&SeriesKey>,
    times: &[i64],
    values: Vec<ArrayRef>,
) -> Result<RecordBatch, Error> {
    let rows = times.len();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    columns.push(Arc::new(TimestampNanosecondArray::from(times.to_vec()).with_timezone("UTC")));
    for name in key_columns() {
        let value: Option<String> = key.and_then(|k| match name {
            "metric" => Some(k.measurement.clone()),
            "field" => Some(k.field.clone()),
            "tags" => other_tags_text(k),
            column => TAG_COLUMNS
                .iter()
                .find(|(c, _)| *c == column)
                .and_then(|(_, tag)| k.tag(tag))
                .map(str::to_owned),
        });
        columns.push(constant(value.as_deref(), rows));
    }
    columns.extend(values);
    RecordBatch::try_new(schema.clone(), columns).map_err(|e| Error::Arrow(e.to_string()))
}

/// A dictionary column of one value (or nulls) on every row.
fn constant(value: Option<&str>, rows: usize) -> ArrayRef {
    let keys = match value {
        Some(_) => Int32Array::from(vec![0; rows]),
        None => Int32Array::new_null(rows),
    };
    let values = StringArray::from_iter_values(value);
    Arc::new(DictionaryArray::<Int32Type>::new(keys, Arc::new(values)))
}
