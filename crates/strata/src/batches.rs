//! Raw points as Arrow record batches: one batch per series, every batch with the same schema.
//!
//! Columns: `metric` and `field`, one column per tag key found among the series (named as the
//! tag, null where a series lacks it), all dictionary-encoded UTF-8 since every row of a batch
//! shares them; then `time` (Timestamp(ns, UTC)) and `value` (Float64).

use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, DictionaryArray, Float64Array, Int32Array, RecordBatch, StringArray, TimestampNanosecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::engine::SeriesPoints;
use crate::error::Error;

/// The schema shared by the batches of `series`.
pub(crate) fn schema(series: &[SeriesPoints]) -> SchemaRef {
    let mut tags: Vec<&str> =
        series.iter().flat_map(|s| s.key.tags.iter().map(|(k, _)| k.as_str())).collect();
    tags.sort_unstable();
    tags.dedup();
    let key = |name: &str, nullable| {
        Field::new(name, DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)), nullable)
    };
    let mut fields = vec![key("metric", false), key("field", false)];
    fields.extend(tags.iter().map(|t| key(t, true)));
    fields.push(Field::new("time", DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())), false));
    fields.push(Field::new("value", DataType::Float64, false));
    Arc::new(Schema::new(fields))
}

/// One batch of `points` under `schema`.
pub(crate) fn batch(schema: &SchemaRef, points: &SeriesPoints) -> Result<RecordBatch, Error> {
    let rows = points.times.len();
    let constant = |value: Option<&str>| -> ArrayRef {
        let keys = match value {
            Some(_) => Int32Array::from(vec![0; rows]),
            None => Int32Array::new_null(rows),
        };
        let values = StringArray::from_iter_values(value);
        Arc::new(DictionaryArray::<Int32Type>::new(keys, Arc::new(values)))
    };
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        columns.push(match field.name().as_str() {
            "metric" => constant(Some(&points.key.measurement)),
            "field" => constant(Some(&points.key.field)),
            "time" => Arc::new(TimestampNanosecondArray::from(points.times.clone()).with_timezone("UTC")),
            "value" => Arc::new(Float64Array::from(points.values.clone())),
            tag => constant(points.key.tag(tag)),
        });
    }
    RecordBatch::try_new(schema.clone(), columns).map_err(|e| Error::Query(e.to_string()))
}
