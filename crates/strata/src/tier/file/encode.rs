//! A whole tier file encoded on the rayon pool: each row group's batch is built, and each of
//! its column chunks encoded, as a task of its own; the chunks are then spliced into the file in
//! order on the calling thread.
//!
//! The bytes are the ones [`ArrowWriter`] writes for the same rows and properties (the same
//! pages, encodings, statistics, page index and key-value metadata, the Arrow schema among
//! them): the row groups are cut at the same rows and each chunk goes through the same column
//! writer. Only which thread encodes a chunk changes. A warm flush writes one file per day, and
//! a day of a site is one file, so without this a second core idles through the largest step of
//! the flush (docs/BENCHMARKS.md, "Parallel encode").

use std::io::Write;

use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{ArrowColumnChunk, ArrowRowGroupWriterFactory, compute_leaves};
use parquet::errors::ParquetError;
use rayon::prelude::*;

use super::{FileInfo, ROW_GROUP_ROWS, Row, properties, schema, to_batch};

/// Encodes rows (sorted and merged) as a Parquet file into `out`, and returns `out`.
pub(super) fn encode<W: Write + Send>(out: W, rows: &[&Row], info: &FileInfo) -> Result<W, String> {
    let schema = schema();
    // The writer is made for its properties and metadata only (it adds the Arrow schema to the
    // key-value metadata as it does when it writes itself): no rows go through it.
    let writer = ArrowWriter::try_new(out, schema.clone(), Some(properties(info)))
        .map_err(failed("start a Parquet file"))?;
    let (mut file, factory) = writer.into_serialized_writer().map_err(failed("start a Parquet file"))?;
    let groups: Vec<Vec<ArrowColumnChunk>> = rows
        .par_chunks(ROW_GROUP_ROWS)
        .enumerate()
        .map(|(index, rows)| encode_group(&factory, &schema, index, rows))
        .collect::<Result<_, String>>()?;
    for chunks in groups {
        let mut group = file.next_row_group().map_err(failed("start a row group"))?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut group).map_err(failed("append a column chunk"))?;
        }
        group.close().map_err(failed("finish a row group"))?;
    }
    file.into_inner().map_err(failed("finish a Parquet file"))
}

/// The column chunks of row group `index`, each encoded as a task of its own.
fn encode_group(
    factory: &ArrowRowGroupWriterFactory,
    schema: &arrow_schema::SchemaRef,
    index: usize,
    rows: &[&Row],
) -> Result<Vec<ArrowColumnChunk>, String> {
    let batch = to_batch(schema, rows)?;
    let writers = factory.create_column_writers(index).map_err(failed("start a row group"))?;
    // The tier schema is flat: one leaf, so one column writer, per field.
    if writers.len() != batch.num_columns() {
        return Err(format!(
            "{} column writers for {} columns: the tier schema is not flat",
            writers.len(),
            batch.num_columns()
        ));
    }
    writers
        .into_par_iter()
        .zip(batch.columns().par_iter())
        .zip(schema.fields().par_iter())
        .map(|((mut writer, column), field)| {
            for leaf in compute_leaves(field, column).map_err(failed("encode a column"))? {
                writer.write(&leaf).map_err(failed("encode a column"))?;
            }
            writer.close().map_err(failed("encode a column"))
        })
        .collect()
}

fn failed(what: &'static str) -> impl Fn(ParquetError) -> String {
    move |e| format!("cannot {what}: {e}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests may panic")]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;

    use super::*;
    use crate::series::SeriesKey;
    use crate::tier::Tier;
    use crate::tier::agg::{Agg, Increase, IncreaseScope};
    use crate::tier::file::{RowFilter, read};

    const M: i64 = 60_000_000_000;

    /// `series` series of `per_series` minutes each, in file order; every third series a
    /// counter (its rows carry an increase) and some with a tag outside the tag columns.
    fn rows(series: usize, per_series: i64) -> Vec<Row> {
        let mut rows = Vec::new();
        for s in 0..series {
            let mut tags =
                vec![("hostname".to_owned(), format!("h{s:05}")), ("type".to_owned(), "node".to_owned())];
            if s % 5 == 0 {
                tags.push(("rack".to_owned(), format!("r{}", s % 7)));
            }
            tags.sort();
            let key = Arc::new(SeriesKey { measurement: "cpu".into(), field: "value".into(), tags });
            for t in 0..per_series {
                let mut agg = Agg::point(t * M + 7, (s as f64 * 0.5 + t as f64).sin());
                agg.push_sorted(t * M + 9, t as f64);
                if s % 3 == 0 {
                    agg.increase = Some(Increase { value: t as f64, scope: IncreaseScope::Bucket });
                }
                rows.push(Row { key: key.clone(), time: t * M, agg });
            }
        }
        rows
    }

    fn refs(rows: &[Row]) -> Vec<&Row> {
        rows.iter().collect()
    }

    /// What `ArrowWriter` writes of the same rows in one batch: the serial encoder.
    fn serial(rows: &[Row], info: &FileInfo) -> Vec<u8> {
        let mut out = Vec::new();
        let mut writer = ArrowWriter::try_new(&mut out, schema(), Some(properties(info))).unwrap();
        writer.write(&to_batch(&schema(), rows).unwrap()).unwrap();
        writer.close().unwrap();
        out
    }

    fn on_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
        rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(f)
    }

    #[test]
    fn several_row_groups_encode_to_the_serial_bytes() {
        // 2.3 row groups: the last one partial.
        let rows = rows(50, 3_000);
        assert!(rows.len() > 2 * ROW_GROUP_ROWS);
        let info = FileInfo { tier: Tier::Warm, resolution: M };
        let parallel = on_threads(2, || encode(Vec::new(), &refs(&rows), &info).unwrap());
        assert_eq!(parallel, serial(&rows, &info));
        assert_eq!(on_threads(1, || encode(Vec::new(), &refs(&rows), &info).unwrap()), parallel);
        let (back_info, back) = read(Bytes::from(parallel), &RowFilter::all()).unwrap();
        assert_eq!(back_info, info);
        assert_eq!(back, rows);
    }

    #[test]
    fn one_partial_row_group_encodes_to_the_serial_bytes() {
        let rows = rows(7, 11);
        let info = FileInfo { tier: Tier::Cold, resolution: M };
        let parallel = on_threads(2, || encode(Vec::new(), &refs(&rows), &info).unwrap());
        assert_eq!(parallel, serial(&rows, &info));
        assert_eq!(read(Bytes::from(parallel), &RowFilter::all()).unwrap().1, rows);
    }

    #[test]
    fn no_rows_encode_to_a_file_without_row_groups() {
        let info = FileInfo { tier: Tier::Warm, resolution: M };
        let empty = encode(Vec::new(), &[], &info).unwrap();
        assert_eq!(empty, serial(&[], &info));
        let (back_info, back) = read(Bytes::from(empty), &RowFilter::all()).unwrap();
        assert_eq!(back_info, info);
        assert!(back.is_empty());
    }
}
