//! Line protocol parsing: strata-lp against the `influxdb-line-protocol` crate (InfluxDB 3's
//! parser), one thread, on the anchors' workload. Both visit every measurement, tag and field
//! value, and the sums are compared so neither can skip work.
//!
//! `cargo bench -p strata-benches --bench parse` (set `STRATA_BENCH_HOSTS=8` for a quick run).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use strata_lp::{FieldValue, Line, ParseOptions, Parser, Precision};

#[derive(Debug, Default, PartialEq, Clone, Copy)]
struct Visit {
    lines: u64,
    text_bytes: u64,
    sum: f64,
    timestamps: i64,
}

fn strata(input: &[u8]) -> Visit {
    let mut v = Visit::default();
    let mut parser = Parser::new(input, ParseOptions::with_precision(Precision::Seconds));
    let mut line = Line::default();
    while let Some(result) = parser.next_into(&mut line) {
        result.expect("the workload is valid");
        v.lines += 1;
        v.text_bytes += line.measurement.len() as u64;
        for tag in &line.tags {
            v.text_bytes += (tag.key.len() + tag.value.len()) as u64;
        }
        for field in &line.fields {
            v.text_bytes += field.key.len() as u64;
            if let FieldValue::Float(x) = field.value {
                v.sum += x;
            }
        }
        v.timestamps = v.timestamps.wrapping_add(line.timestamp.unwrap_or(0) / 1_000_000_000);
    }
    v
}

fn influx(input: &str) -> Visit {
    use influxdb_line_protocol::FieldValue as F;
    let mut v = Visit::default();
    for line in influxdb_line_protocol::parse_lines(input) {
        let line = line.expect("the workload is valid");
        v.lines += 1;
        v.text_bytes += line.series.measurement.len() as u64;
        for (key, value) in line.series.tag_set.iter().flatten() {
            v.text_bytes += (key.len() + value.len()) as u64;
        }
        for (key, value) in &line.field_set {
            v.text_bytes += key.len() as u64;
            if let F::F64(x) = value {
                v.sum += x;
            }
        }
        v.timestamps = v.timestamps.wrapping_add(line.timestamp.unwrap_or(0));
    }
    v
}

fn parse(c: &mut Criterion) {
    let (config, data) = strata_benches::anchor_workload();
    let text = std::str::from_utf8(&data).expect("the generator writes UTF-8");
    eprintln!(
        "workload: {} hosts, {} lines, {} bytes ({:.1} bytes/line)",
        config.hosts,
        config.lines(),
        data.len(),
        data.len() as f64 / config.lines() as f64
    );
    let (a, b) = (strata(&data), influx(text));
    assert_eq!((a.lines, a.text_bytes, a.timestamps), (b.lines, b.text_bytes, b.timestamps));
    assert!((a.sum - b.sum).abs() <= 1e-9 * a.sum.abs(), "{} vs {}", a.sum, b.sum);

    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("strata-lp", |bench| bench.iter(|| black_box(strata(black_box(&data)))));
    group.bench_function("influxdb-line-protocol-2.0", |bench| {
        bench.iter(|| black_box(influx(black_box(text))))
    });
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
