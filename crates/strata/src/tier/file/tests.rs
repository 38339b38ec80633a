//! Tier file round trips, filters and foreign encodings.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests may panic")]

use arrow_array::Array as _;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::read::strings;
use super::*;

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
            let mut agg = Agg::point(t * 60 + 1, i as f64 + 0.5);
            agg.push_sorted(t * 60 + 2, -1.25);
            rows.push(Row { key: k.clone(), time: t * 60, agg });
        }
    }
    rows.reverse();
    sort_and_merge(&mut rows);
    let info = FileInfo { tier: Tier::Warm, resolution: 60 };
    let bytes = write(&rows, &info).unwrap();
    let (read_info, back) = read(bytes.clone(), &RowFilter::all()).unwrap();
    assert_eq!(read_info, info);
    assert_eq!(back, rows);
    let tags = [("hostname".to_owned(), "..".to_owned())];
    let filter = RowFilter { from: 60, to: 120, tags: &tags, ..RowFilter::all() };
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
            rows.push(Row { key: k.clone(), time: t * 60, agg: Agg::point(t * 60 + 1, t as f64) });
        }
    }
    sort_and_merge(&mut rows);
    let file = OpenFile::new(write(&rows, &FileInfo { tier: Tier::Warm, resolution: 60 }).unwrap()).unwrap();
    assert_eq!(file.read(&RowFilter::all()).unwrap(), rows);
    let (f0101, f0102) = (["f0101".to_owned()], ["f0102".to_owned()]);
    let (first, second) = ([("hostname", &f0101[..])], [("hostname", &f0102[..])]);
    assert_eq!(file.row_groups(&RowFilter { one_of: &first, ..RowFilter::all() }), [0]);
    assert_eq!(file.row_groups(&RowFilter { one_of: &second, ..RowFilter::all() }), [0, 1]);
    let filter = RowFilter { from: 60 * 25_530, to: 60 * 25_540, one_of: &second, ..RowFilter::all() };
    let some = file.read(&filter).unwrap();
    assert_eq!(some.iter().map(|r| r.time / 60).collect::<Vec<_>>(), (25_530..25_540).collect::<Vec<_>>());
    assert!(some.iter().all(|r| r.key == keys[1]));
    let ids = ["2".to_owned(), "7".to_owned()];
    let type_ids = [("type-id", &ids[..])];
    let filter = RowFilter { from: 0, to: 120, one_of: &type_ids, ..RowFilter::all() };
    assert_eq!(file.read(&filter).unwrap(), rows[40_000..40_002]);
}

#[test]
fn key_columns_without_dictionary_pages_read_alike() {
    let keys = [key("f0101", &[("rack", "r1")]), key("f0102", &[])];
    let rows: Vec<Row> = keys
        .iter()
        .flat_map(|k| (0..3).map(move |t| Row { key: k.clone(), time: t * 60, agg: Agg::point(t * 60, 1.5) }))
        .collect();
    let props = WriterProperties::builder()
        .set_dictionary_enabled(false)
        .set_key_value_metadata(Some(vec![
            KeyValue::new("strata.schema_version".to_owned(), SCHEMA_VERSION.to_string()),
            KeyValue::new("strata.tier".to_owned(), "cold".to_owned()),
            KeyValue::new("strata.resolution_ns".to_owned(), "60".to_owned()),
        ]))
        .build();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, schema(), Some(props)).unwrap();
    writer.write(&to_batch(&schema(), &rows).unwrap()).unwrap();
    writer.close().unwrap();
    let (info, back) = read(Bytes::from(out), &RowFilter::all()).unwrap();
    assert_eq!(info, FileInfo { tier: Tier::Cold, resolution: 60 });
    assert_eq!(back, rows);
}

#[test]
fn cc_metric_store_type_ids_get_their_columns() {
    let k = key("f0101", &[("type-id", "3"), ("stype-id", "7")]);
    let rows = vec![Row { key: k.clone(), time: 0, agg: Agg::point(1, 2.0) }];
    let bytes = write(&rows, &FileInfo { tier: Tier::Warm, resolution: 60 }).unwrap();
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
