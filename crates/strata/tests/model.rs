//! A reference model: random writes (out of order, late, duplicate), checkpoints, compaction
//! passes (so writes after them are late points of flushed buckets), clean closes and dirty
//! drops, checked after every step against a plain map of what was acknowledged; at the end
//! everything moves down the tiers and the tiers are checked against the model too.

use std::collections::BTreeMap;
use std::sync::Arc;

use strata::{Aggregate, Config, Engine, ManualClock, Query, Resolution, Selector, WriteOptions};

const NOW: i64 = 1_763_769_600_000_000_000;
const SEC: i64 = 1_000_000_000;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

type Model = BTreeMap<(String, i64), f64>;

fn config(dir: &std::path::Path) -> Config {
    let mut config = Config::with_data_dir(dir);
    config.hot.chunk_duration = strata::Span(std::time::Duration::from_secs(600));
    config.wal.segment_size = strata::ByteSize(64 << 10);
    config
}

fn open(dir: &std::path::Path) -> Engine {
    Engine::open_with_clock(config(dir), Arc::new(ManualClock::new(NOW))).unwrap()
}

fn check(engine: &Engine, model: &Model, step: usize) {
    let series = engine.read(&Selector::metric("m"), i64::MIN, i64::MAX).unwrap();
    let mut got = Model::new();
    for s in &series {
        let host = s.key.tag("hostname").unwrap().to_owned();
        assert!(
            s.times.windows(2).all(|w| w[0] < w[1]),
            "step {step}: times of {host} not strictly increasing"
        );
        for (&t, &v) in s.times.iter().zip(&s.values) {
            got.insert((host.clone(), t), v);
        }
    }
    assert_eq!(got.len(), model.len(), "step {step}: point count");
    for ((key, want), (got_key, got_v)) in model.iter().zip(&got) {
        assert_eq!(key, got_key, "step {step}");
        assert_eq!(want.to_bits(), got_v.to_bits(), "step {step}: value of {key:?}");
    }
}

fn run(seed: u64) {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(seed);
    let mut model = Model::new();
    let mut engine = open(dir.path());
    for step in 0..120 {
        match rng.below(20) {
            0 => {
                engine.close().unwrap();
                engine = open(dir.path());
            }
            1 => {
                // A crash without a final checkpoint: recovery replays the WAL.
                drop(engine);
                engine = open(dir.path());
            }
            2 => {
                engine.checkpoint().unwrap();
            }
            3 | 4 => {
                // Flushes every bucket older than compactor.lateness: later writes into them
                // are late points, kept in hot and in the late list for the next pass.
                engine.compact().unwrap();
            }
            _ => {
                let mut body = String::new();
                for _ in 0..rng.below(40) + 1 {
                    let host = format!("h{}", rng.below(6));
                    // Within the last 2 hours, so many windows of 10 minutes, late and out of order.
                    let t = NOW - (rng.below(7200) as i64) * SEC;
                    let v = (rng.below(2001) as f64 - 1000.0) / 10.0;
                    body.push_str(&format!("m,hostname={host} value={v} {t}\n"));
                    model.insert((host, t), v);
                }
                let report = engine.write_lp(body.as_bytes(), &WriteOptions::default()).unwrap();
                assert_eq!(report.rejected, 0, "{:?}", report.rejections);
            }
        }
        check(&engine, &model, step);
    }
    engine.close().unwrap();
    let engine = open(dir.path());
    check(&engine, &model, usize::MAX);
    assert!(engine.recovery().checkpoint.is_some());
    assert_eq!(engine.recovery().records, 0, "a clean close leaves nothing to replay");
    check_tiers(&engine, &model, seed);
}

/// Everything moved down the tiers (a pass a day later evicts all of hot): per host and
/// minute, the warm rows count each point written once, and the latest value of each time
/// that no pass had tiered before it was rewritten.
fn check_tiers(engine: &Engine, model: &Model, seed: u64) {
    const DAY: i64 = 86_400 * SEC;
    engine.compact_at(NOW + DAY).unwrap();
    assert!(engine.hot_start() > NOW, "seed {seed}: hot was evicted");
    let mut want: BTreeMap<(String, i64), u64> = BTreeMap::new();
    for (host, t) in model.keys() {
        *want.entry((host.clone(), t.div_euclid(60 * SEC) * 60 * SEC)).or_default() += 1;
    }
    let mut query = Query::new("m", NOW - 3 * 3600 * SEC, NOW + 60 * SEC, Resolution::Every(60 * SEC));
    query.aggregates = vec![Aggregate::Count];
    let result = engine.query(&query).unwrap();
    let mut got: BTreeMap<(String, i64), u64> = BTreeMap::new();
    for s in &result.series {
        let host = s.key.as_ref().unwrap().tag("hostname").unwrap().to_owned();
        for (t, count) in s.points(Aggregate::Count) {
            got.insert((host.clone(), t), count as u64);
        }
    }
    assert_eq!(got, want, "seed {seed}: points per host and minute in the tiers; served {:?}", result.served);
}

#[test]
fn random_writes_reopens_and_checkpoints_match_the_model() {
    for seed in [1, 2, 3, 0x5EED] {
        run(seed);
    }
}

#[test]
fn rejections_are_explained_and_valid_lines_still_stored() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.limits.max_series_per_metric = 2;
    let engine = Engine::open_with_clock(config, Arc::new(ManualClock::new(NOW))).unwrap();
    let s = NOW / SEC;
    let body = format!(
        "m,hostname=a value=1 {s}\n\
         m,hostname=b value=oops {s}\n\
         m,hostname=b value=\"text\" {s}\n\
         m,hostname=b value=2 {old}\n\
         m,hostname=b value=3 {future}\n\
         m,hostname=b value=4 {s}\n\
         m,hostname=c value=5 {s}\n\
         m,host=d,hostname=e value=6 {s}\n\
         m value=7\n",
        old = s - 366 * 86400,
        future = s + 3600
    );
    let report = engine.write_lp(body.as_bytes(), &WriteOptions::cc_metric_store("fritz")).unwrap();
    let messages: Vec<String> = report.rejections.iter().map(ToString::to_string).collect();
    assert_eq!(report.accepted, 2, "{messages:#?}");
    assert_eq!(
        messages,
        [
            "line 2, column 20: field \"value\" has an invalid value \"oops\": expected a number (float, or integer with suffix i or u), a boolean or a quoted string",
            "line 3: field \"value\" is a string: strata stores numbers (float, integer or unsigned fields) only",
            "line 4: timestamp 2024-11-21T00:00:00Z is more than cold.retention (365d) before now (2025-11-22T00:00:00Z): no tier keeps it",
            "line 5: timestamp 2025-11-22T01:00:00Z is more than limits.future_tolerance (10m) after now (2025-11-22T00:00:00Z)",
            "line 7: a new series would pass a limit: metric \"m\" has limits.max_series_per_metric = 2 series already",
            "line 8: tag \"hostname\" is given twice (\"host\" is read as \"hostname\")",
            "line 9: a new series would pass a limit: metric \"m\" has limits.max_series_per_metric = 2 series already",
        ]
    );
    let stats = engine.stats();
    assert_eq!(stats.points_accepted, 2);
    let count = |r| stats.rejected.iter().find(|(reason, _)| *reason == r).unwrap().1;
    assert_eq!(count(strata::RejectReason::SeriesLimit), 2);
    assert_eq!(count(strata::RejectReason::Syntax), 1);
    // Line 9 has no timestamp and no cluster: the clock and the write's default fill them in.
    let series = engine.read(&Selector::metric("m").tag("cluster", "fritz"), 0, i64::MAX).unwrap();
    let hosts: Vec<_> =
        series.iter().map(|s| (s.key.tag("hostname").unwrap().to_owned(), s.values.clone())).collect();
    assert_eq!(hosts, [("a".to_owned(), vec![1.0]), ("b".to_owned(), vec![4.0])]);
}

#[test]
fn oversized_writes_are_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.limits.max_write_size = strata::ByteSize(64);
    let engine = Engine::open_with_clock(config, Arc::new(ManualClock::new(NOW))).unwrap();
    let body = "m value=1\n".repeat(10);
    let err = engine.write_lp(body.as_bytes(), &WriteOptions::default()).unwrap_err();
    assert_eq!(err.to_string(), "the write is 100 bytes, more than limits.max_write_size = 64 bytes");
    assert_eq!(engine.stats().points_accepted, 0);
}

#[test]
fn typed_points_and_a_second_engine_on_the_same_directory() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let tags = [("hostname", "f0101"), ("type", "node")];
    let points: Vec<strata::Point<'_>> = (0..5)
        .map(|i| strata::Point {
            measurement: "mem_used",
            field: "value",
            tags: &tags,
            time: NOW - i * SEC,
            value: i as f64,
        })
        .chain([strata::Point {
            measurement: "mem_used",
            field: "value",
            tags: &tags,
            time: NOW,
            value: f64::NAN,
        }])
        .collect();
    let report = engine.write(&points).unwrap();
    assert_eq!((report.accepted, report.rejected), (5, 1));
    assert!(matches!(Engine::open(config(dir.path())), Err(strata::Error::Locked { .. })));
    let series = engine.read(&Selector::metric("mem_used").tag("host", "f0101"), NOW - 2 * SEC, NOW).unwrap();
    assert_eq!(series[0].times, vec![NOW - 2 * SEC, NOW - SEC]);
    assert_eq!(series[0].values, vec![2.0, 1.0]);
}

#[test]
fn raw_reads_as_arrow_batches() {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, TimestampNanosecondType};
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let s = NOW / SEC;
    let body = format!(
        "flops_any,hostname=f0101,type=hwthread,type-id=0 value=1.5 {a}\n\
         flops_any,hostname=f0101,type=hwthread,type-id=0 value=2.5 {b}\n\
         flops_any,hostname=f0101,type=node value=9 {a}\n",
        a = s - 20,
        b = s - 10
    );
    let options = WriteOptions::cc_metric_store("fritz");
    assert_eq!(engine.write_lp(body.as_bytes(), &options).unwrap().accepted, 3);
    let batches = engine.read_batches(&Selector::metric("flops_any").tag("host", "f0101"), 0, NOW).unwrap();
    assert_eq!(batches.len(), 2);
    let schema = batches[0].schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(
        names,
        [
            "time", "metric", "field", "cluster", "hostname", "type", "type_id", "stype", "stype_id", "tags",
            "value"
        ]
    );
    assert_eq!(
        schema.field_with_name("time").unwrap().data_type(),
        &arrow_schema::DataType::Timestamp(arrow_schema::TimeUnit::Nanosecond, Some("UTC".into()))
    );
    let hw = batches.iter().find(|b| b.column_by_name("type_id").unwrap().null_count() == 0).unwrap();
    assert_eq!(
        hw.column_by_name("time").unwrap().as_primitive::<TimestampNanosecondType>().values(),
        &[NOW - 20 * SEC, NOW - 10 * SEC]
    );
    assert_eq!(hw.column_by_name("value").unwrap().as_primitive::<Float64Type>().values(), &[1.5, 2.5]);
    let node = batches.iter().find(|b| b.num_rows() == 1).unwrap();
    assert_eq!(node.column_by_name("type_id").unwrap().null_count(), 1, "a tag the series lacks is null");
    let cluster = arrow_cast_string(node.column_by_name("cluster").unwrap());
    assert_eq!(cluster, "fritz");
}

fn arrow_cast_string(column: &arrow_array::ArrayRef) -> String {
    use arrow_array::cast::AsArray;
    let dict = column.as_dictionary::<arrow_array::types::Int32Type>();
    let values = dict.values().as_string::<i32>();
    values.value(dict.keys().value(0) as usize).to_owned()
}

#[test]
fn writers_and_readers_at_once() {
    // Two writers and a reader. A write is atomic per series, not across series (see
    // ARCHITECTURE.md): the reader sees each series' points in order and no count ever goes
    // backwards; at the end, everything.
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        for w in 0..2 {
            let engine = &engine;
            scope.spawn(move || {
                for i in 0..150i64 {
                    let t = NOW - (i * 2 + w) * SEC;
                    let body: String =
                        (0..20).map(|k| format!("c,hostname=w{w},k=k{k} value={i} {t}\n")).collect();
                    assert_eq!(
                        engine.write_lp(body.as_bytes(), &WriteOptions::default()).unwrap().accepted,
                        20
                    );
                }
            });
        }
        let (engine, done) = (&engine, &done);
        let reader = scope.spawn(move || {
            let mut last = 0;
            let mut reads = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let series = engine.read(&Selector::metric("c"), 0, i64::MAX).unwrap();
                for s in &series {
                    assert!(s.times.windows(2).all(|w| w[0] < w[1]), "{} out of order", s.key);
                    assert!(
                        s.values.iter().all(|v| (0.0..150.0).contains(v)),
                        "{} holds a value never written",
                        s.key
                    );
                }
                let total: usize = series.iter().map(|s| s.times.len()).sum();
                assert!(total >= last, "points went missing: {total} after {last}");
                last = total;
                reads += 1;
            }
            reads
        });
        // Let the writers finish (scope joins them after this closure), then stop the reader.
        while engine.stats().points_accepted < 2 * 150 * 20 {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(reader.join().unwrap() > 0);
    });
    let series = engine.read(&Selector::metric("c"), 0, i64::MAX).unwrap();
    assert_eq!(series.iter().map(|s| s.times.len()).sum::<usize>(), 2 * 150 * 20);
}

/// One bad line with a huge number of tags cannot stall the write path: it is refused at the
/// parser's bound, naming it, and the other lines of the write are stored; a line with many
/// unsorted tags and fields within the bounds is stored with every tag.
#[test]
fn many_tags_are_bounded_and_every_tag_kept() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let s = NOW / SEC;
    let huge: String = (0..200_000).map(|i| format!(",k{i:06}=v")).collect();
    let tags: String = (0..200).rev().map(|i| format!(",t{i:03}=v{i}")).collect();
    let fields: Vec<String> = (0..100).map(|i| format!("f{i}={i}")).collect();
    let body =
        format!("m{huge} value=1 {s}\nm,hostname=a value=2 {s}\nwide{tags} {} {s}\n", fields.join(","));
    let options = WriteOptions { precision: strata::Precision::Seconds, ..WriteOptions::default() };
    let report = engine.write_lp(body.as_bytes(), &options).unwrap();
    assert_eq!(report.accepted, 101, "{:?}", report.rejections);
    assert_eq!(report.rejections.len(), 1);
    let message = report.rejections[0].to_string();
    assert!(message.starts_with("line 1, column ") && message.contains("more than 256 tags"), "{message}");
    let wide = engine.read(&Selector::metric("wide").tag("t007", "v7"), 0, i64::MAX).unwrap();
    assert_eq!(wide.len(), 100, "one series per field");
    assert_eq!(wide[0].key.tags.len(), 200);
    assert!(wide[0].key.tags.windows(2).all(|w| w[0].0 < w[1].0), "tags sorted by key");
}
