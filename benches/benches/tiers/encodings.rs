//! The value columns of tier files in three encodings: the same rows read back from the
//! engine's files and rewritten with `file.rs`'s writer properties, changing only how `sum`,
//! `min`, `max`, `first` and `last` are encoded.

use std::fs::File;
use std::time::Instant;

use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use strata::Tier;

use crate::Sizes;

const VALUES: [&str; 5] = ["sum", "min", "max", "first", "last"];

#[derive(Debug, Clone, Copy)]
enum Values {
    /// `file.rs`'s choice.
    ByteStreamSplit,
    Plain,
    /// Dictionary pages, falling back to plain past the dictionary's size limit.
    Dictionary,
}

pub(crate) fn run(sets: &[Sizes]) {
    println!();
    println!("## Encodings of the value columns (sum, min, max, first, last), zstd 3 over each");
    println!();
    println!(
        "| file | rows | as written | byte-stream split | plain | dictionary | value columns: split / plain / dictionary | encode ms: split / plain / dictionary |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for set in sets {
        for tier in [Tier::Warm, Tier::Cold] {
            // The tier's largest file.
            let Some((_, rows, path)) = set.files.iter().filter(|f| f.0 == tier).max_by_key(|f| f.1) else {
                continue;
            };
            let written = std::fs::metadata(path).expect("a tier file").len();
            let variants =
                [Values::ByteStreamSplit, Values::Plain, Values::Dictionary].map(|v| rewrite(path, v));
            let total = |i: usize| variants.get(i).map_or(0, |v| v.0);
            let values = |i: usize| variants.get(i).map_or(0, |v| v.1);
            let ms = |i: usize| variants.get(i).map_or(0.0, |v| v.2 * 1e3);
            println!(
                "| {}, {tier} | {rows} | {written} B | {} B ({:.2} B/row) | {} B ({:.2}) | {} B ({:.2}) | {:.2} / {:.2} / {:.2} B/row | {:.0} / {:.0} / {:.0} |",
                set.workload,
                total(0),
                total(0) as f64 / *rows as f64,
                total(1),
                total(1) as f64 / *rows as f64,
                total(2),
                total(2) as f64 / *rows as f64,
                values(0) as f64 / *rows as f64,
                values(1) as f64 / *rows as f64,
                values(2) as f64 / *rows as f64,
                ms(0),
                ms(1),
                ms(2),
            );
        }
    }
}

/// The file rewritten with `values`: its size, the value columns' compressed bytes, and the
/// seconds the write took.
fn rewrite(path: &std::path::Path, values: Values) -> (u64, u64, f64) {
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(path).expect("open a tier file"))
        .expect("a Parquet file")
        .with_batch_size(64 * 1024)
        .build()
        .expect("a reader");
    let batches: Vec<_> = reader.collect::<Result<_, _>>().expect("read the rows");
    let schema = batches.first().expect("rows").schema();
    let mut out = Vec::new();
    let started = Instant::now();
    let mut writer = ArrowWriter::try_new(&mut out, schema, Some(properties(values))).expect("a writer");
    for batch in &batches {
        writer.write(batch).expect("write");
    }
    let metadata = writer.close().expect("close");
    let secs = started.elapsed().as_secs_f64();
    let value_bytes: i64 = metadata
        .row_groups()
        .iter()
        .flat_map(|g| g.columns())
        .filter(|c| VALUES.contains(&c.column_path().string().as_str()))
        .map(|c| c.compressed_size())
        .sum();
    (out.len() as u64, value_bytes as u64, secs)
}

/// `strata::tier::file`'s writer properties (without its key-value metadata), the value
/// columns encoded as `values` says.
fn properties(values: Values) -> WriterProperties {
    let zstd = Compression::ZSTD(ZstdLevel::try_new(3).expect("zstd level 3"));
    let sorting =
        (0..10).map(|column_idx| SortingColumn { column_idx, descending: false, nulls_first: true });
    let mut props = WriterProperties::builder()
        .set_compression(zstd)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(256 * 1024))
        .set_data_page_row_count_limit(8 * 1024)
        .set_sorting_columns(Some(sorting.collect()));
    for name in ["time", "first_time", "last_time", "count"] {
        let path = ColumnPath::from(name);
        props = props
            .set_column_dictionary_enabled(path.clone(), false)
            .set_column_encoding(path, Encoding::DELTA_BINARY_PACKED);
    }
    for name in VALUES {
        let path = ColumnPath::from(name);
        props = match values {
            Values::ByteStreamSplit => props
                .set_column_dictionary_enabled(path.clone(), false)
                .set_column_encoding(path, Encoding::BYTE_STREAM_SPLIT),
            Values::Plain => props
                .set_column_dictionary_enabled(path.clone(), false)
                .set_column_encoding(path, Encoding::PLAIN),
            Values::Dictionary => props.set_column_dictionary_enabled(path, true),
        };
    }
    props.build()
}
