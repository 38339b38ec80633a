//! Tier file round trips, filters and foreign encodings.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests may panic")]

use arrow_array::Array as _;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use parquet::arrow::ArrowWriter;

use super::read::strings;
use super::*;

/// A minute in nanoseconds: bucket starts are whole microseconds (schema version 3).
const M: i64 = 60_000_000_000;

fn key(host: &str, extra: &[(&str, &str)]) -> Arc<SeriesKey> {
    let mut tags: Vec<(String, String)> = [("cluster", "fritz"), ("hostname", host), ("type", "node")]
        .iter()
        .chain(extra)
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    tags.sort();
    Arc::new(SeriesKey { measurement: "cpu_load".into(), field: "value".into(), tags })
}

#[test]
fn rows_round_trip_with_odd_tags() {
    let keys =
        [key("f0101", &[]), key("f0102", &[("rack", "r=1,\\b")]), key("..", &[("a/b", "..\\x"), ("z", "")])];
    let mut rows: Vec<Row> = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        for t in 0..3 {
            // Points at odd nanoseconds: `first_time` and `last_time` keep them.
            let mut agg = Agg::point(t * M + 1, i as f64 + 0.5);
            agg.push_sorted(t * M + 2, -1.25);
            rows.push(Row { key: k.clone(), time: t * M, agg });
        }
    }
    rows.reverse();
    sort_and_merge(&mut rows);
    let info = FileInfo { tier: Tier::Warm, resolution: M };
    let bytes = write(&rows, &info).unwrap();
    let (read_info, back) = read(bytes.clone(), &RowFilter::all()).unwrap();
    assert_eq!(read_info, info);
    assert_eq!(back, rows);
    let tags = [("hostname".to_owned(), "..".to_owned())];
    let filter = RowFilter { from: M, to: 2 * M, tags: &tags, ..RowFilter::all() };
    let (_, some) = read(bytes, &filter).unwrap();
    assert_eq!(some.len(), 1);
    assert_eq!(some[0].key.tag("a/b"), Some("..\\x"));
}

#[test]
fn a_series_across_row_groups_reads_whole_and_filters_skip_groups() {
    // 80,000 rows: f0102's rows run across the end of the first row group (65,536 rows).
    let keys = [key("f0101", &[("type-id", "1")]), key("f0102", &[("type-id", "2")])];
    let mut rows = Vec::new();
    for k in &keys {
        for t in 0..40_000i64 {
            rows.push(Row { key: k.clone(), time: t * M, agg: Agg::point(t * M + 1, t as f64) });
        }
    }
    sort_and_merge(&mut rows);
    let file = OpenFile::new(write(&rows, &FileInfo { tier: Tier::Warm, resolution: M }).unwrap()).unwrap();
    assert_eq!(file.read(&RowFilter::all()).unwrap(), rows);
    let (f0101, f0102) = (["f0101".to_owned()], ["f0102".to_owned()]);
    let (first, second) = ([("hostname", &f0101[..])], [("hostname", &f0102[..])]);
    assert_eq!(file.row_groups(&RowFilter { one_of: &first, ..RowFilter::all() }), [0]);
    assert_eq!(file.row_groups(&RowFilter { one_of: &second, ..RowFilter::all() }), [0, 1]);
    // Bounds inside a bucket: the microsecond statistics are compared in nanoseconds.
    let filter = RowFilter { from: M * 25_530 - 1, to: M * 25_540 - 1, one_of: &second, ..RowFilter::all() };
    let some = file.read(&filter).unwrap();
    assert_eq!(some.iter().map(|r| r.time / M).collect::<Vec<_>>(), (25_530..25_540).collect::<Vec<_>>());
    assert!(some.iter().all(|r| r.key == keys[1]));
    let ids = ["2".to_owned(), "7".to_owned()];
    let type_ids = [("type-id", &ids[..])];
    let filter = RowFilter { from: 0, to: 2 * M, one_of: &type_ids, ..RowFilter::all() };
    assert_eq!(file.read(&filter).unwrap(), rows[40_000..40_002]);
}

#[test]
fn key_columns_without_dictionary_pages_read_alike() {
    let keys = [key("f0101", &[("rack", "r1")]), key("f0102", &[])];
    let rows: Vec<Row> = keys
        .iter()
        .flat_map(|k| (0..3).map(move |t| Row { key: k.clone(), time: t * M, agg: Agg::point(t * M, 1.5) }))
        .collect();
    let plain = WriterProperties::builder().set_dictionary_enabled(false);
    let out = written_by_arrow(&rows, plain, &SCHEMA_VERSION.to_string(), "cold");
    let (info, back) = read(out, &RowFilter::all()).unwrap();
    assert_eq!(info, FileInfo { tier: Tier::Cold, resolution: M });
    assert_eq!(back, rows);
}

#[test]
fn cc_metric_store_type_ids_get_their_columns() {
    let k = key("f0101", &[("type-id", "3"), ("stype-id", "7")]);
    let rows = vec![Row { key: k.clone(), time: 0, agg: Agg::point(1, 2.0) }];
    let bytes = write(&rows, &FileInfo { tier: Tier::Warm, resolution: M }).unwrap();
    let batch = ParquetRecordBatchReaderBuilder::try_new(bytes.clone())
        .unwrap()
        .build()
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let column = |name: &str| strings(&batch, name).unwrap().value(0).to_owned();
    assert_eq!((column("type_id"), column("stype_id")), ("3".to_owned(), "7".to_owned()));
    assert!(strings(&batch, "tags").unwrap().is_null(0));
    assert_eq!(read(bytes, &RowFilter::all()).unwrap().1, rows);
}

#[test]
fn partial_rows_of_one_bucket_merge() {
    let k = key("f0101", &[]);
    let mut rows = vec![
        Row { key: k.clone(), time: 0, agg: Agg::point(5, 2.0) },
        Row { key: k.clone(), time: 0, agg: Agg::point(1, 7.0) },
    ];
    sort_and_merge(&mut rows);
    assert_eq!(rows.len(), 1);
    let a = rows[0].agg;
    assert_eq!((a.count, a.sum, a.min, a.max, a.first, a.last), (2, 9.0, 2.0, 7.0, 7.0, 2.0));
}

#[test]
fn foreign_files_are_refused_by_name() {
    let err = read(Bytes::from_static(b"not parquet at all"), &RowFilter::all()).unwrap_err();
    assert!(matches!(&err, FileError::Damaged(reason) if reason.starts_with("not Parquet")), "{err}");
}

#[test]
fn bucket_starts_are_stored_in_microseconds_and_point_times_in_nanoseconds() {
    let rows = vec![Row { key: key("f0101", &[]), time: 7 * M, agg: Agg::point(7 * M + 1, 2.0) }];
    let bytes = write(&rows, &FileInfo { tier: Tier::Warm, resolution: M }).unwrap();
    let batch =
        ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap().build().unwrap().next().unwrap().unwrap();
    let time = batch.column_by_name("time").unwrap();
    assert_eq!(time.data_type(), &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())));
    assert_eq!(time.as_any().downcast_ref::<TimestampMicrosecondArray>().unwrap().value(0), 7 * M / 1_000);
    let first = batch.column_by_name("first_time").unwrap();
    assert_eq!(first.as_any().downcast_ref::<TimestampNanosecondArray>().unwrap().value(0), 7 * M + 1);
}

#[test]
fn a_bucket_start_that_is_not_whole_microseconds_is_refused() {
    let rows = vec![Row { key: key("f0101", &[]), time: 60, agg: Agg::point(60, 2.0) }];
    let err = write(&rows, &FileInfo { tier: Tier::Warm, resolution: 60 }).unwrap_err();
    assert_eq!(err, "bucket start 60 ns is not a whole number of microseconds");
}

/// A file whose `time` column is not in the unit its version says is damaged, not misread.
#[test]
fn a_time_unit_that_contradicts_the_version_is_refused() {
    let rows = vec![Row { key: key("f0101", &[]), time: M, agg: Agg::point(M, 2.0) }];
    let out = written_by_arrow(&rows, WriterProperties::builder(), "2", "warm");
    let err = read(out, &RowFilter::all()).unwrap_err();
    assert_eq!(
        err,
        FileError::Damaged(
            "column \"time\" is Timestamp(µs, \"UTC\"); schema version 2 stores Timestamp(ns, \"UTC\")"
                .into()
        )
    );
}

/// `rows` as `ArrowWriter` writes them with `props` and strata's metadata naming `version` and
/// `tier` (a file the engine's own writer would not make).
fn written_by_arrow(
    rows: &[Row],
    props: parquet::file::properties::WriterPropertiesBuilder,
    version: &str,
    tier: &str,
) -> Bytes {
    let props = props
        .set_key_value_metadata(Some(vec![
            KeyValue::new("strata.schema_version".to_owned(), version.to_owned()),
            KeyValue::new("strata.tier".to_owned(), tier.to_owned()),
            KeyValue::new("strata.resolution_ns".to_owned(), M.to_string()),
        ]))
        .build();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, schema(), Some(props)).unwrap();
    writer.write(&to_batch(&schema(), rows).unwrap()).unwrap();
    writer.close().unwrap();
    Bytes::from(out)
}
