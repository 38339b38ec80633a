//! Series churn: series that stop reporting leave the index and the checkpoints once none of
//! their points is left in hot, their rows stay in the tiers, and a key that reports again is a
//! new series, possibly under an id a retired series had. A reopen that replays the retirement
//! from an older checkpoint comes back to the same series and the same answers.

mod support;

use std::sync::Arc;

use strata::{Aggregate, Config, Engine, ManualClock, Query, Resolution, Selector, WriteOptions};

const SEC: i64 = 1_000_000_000;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;
/// 2025-11-22T00:00:00Z.
const T0: i64 = 1_763_769_600 * SEC;
const GONE: usize = 500;

fn config(dir: &std::path::Path) -> Config {
    Config::from_toml(&format!(
        "data_dir = {dir:?}\n\
         [hot]\nretention = \"30m\"\nchunk_duration = \"10m\"\ncheckpoint_interval = \"1000d\"\n\
         [warm]\nresolution = \"1m\"\nretention = \"30d\"\n\
         [cold]\nresolution = \"1h\"\nretention = \"365d\"\n\
         [compactor]\ninterval = \"1000d\"\nlateness = \"1m\"\n"
    ))
    .unwrap()
}

fn write(engine: &Engine, lines: &str) {
    let options = WriteOptions { precision: strata::Precision::Nanoseconds, ..WriteOptions::default() };
    let report = engine.write_lp(lines.as_bytes(), &options).unwrap();
    assert!(report.rejections.is_empty(), "{:?}", report.rejections);
}

fn gone_lines(hosts: std::ops::Range<usize>, time: i64, offset: f64) -> String {
    hosts.map(|h| format!("gone,hostname=h{h} value={} {time}\n", h as f64 + offset)).collect()
}

type Answer = Vec<(String, i64, f64, f64)>;

/// Fails naming the first bucket that differs (the answers are long).
fn same(got: &(Answer, Answer, Answer), want: &(Answer, Answer, Answer), what: &str) {
    for (i, (g, w)) in [(&got.0, &want.0), (&got.1, &want.1), (&got.2, &want.2)].into_iter().enumerate() {
        assert_eq!(g.len(), w.len(), "{what}: metric {i}: rows");
        if let Some((g, w)) = g.iter().zip(w).find(|(g, w)| g != w) {
            panic!("{what}: metric {i}: {g:?} where {w:?} was answered before");
        }
    }
}

/// Per series (hostname) of `metric`: bucket, count and average, at 1 m over `[from, to)`.
fn answer(engine: &Engine, metric: &str, from: i64, to: i64) -> Answer {
    let mut query = Query::new(metric, from, to, Resolution::Every(MIN));
    query.selector = Selector::metric(metric);
    query.aggregates = vec![Aggregate::Count, Aggregate::Avg];
    let result = engine.query(&query).unwrap();
    let mut out = Vec::new();
    for s in &result.series {
        let host = s.key.as_ref().unwrap().tag("hostname").unwrap().to_owned();
        let count = s.points(Aggregate::Count);
        for ((t, n), (_, avg)) in count.iter().zip(s.points(Aggregate::Avg)) {
            out.push((host.clone(), *t, *n, avg));
        }
    }
    out.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    out
}

#[test]
fn idle_series_retire_and_a_replay_retires_them_again() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0 + 5 * MIN));
    let engine = Engine::open_with_clock(config(dir.path()), clock.clone()).unwrap();
    write(
        &engine,
        &(gone_lines(0..GONE, T0 + MIN, 0.0) + &format!("stay,hostname=s value=1 {}\n", T0 + MIN)),
    );
    let full = engine.stats();
    assert_eq!(full.series, GONE as u64 + 1);
    let full_checkpoint = std::fs::metadata(engine.checkpoint().unwrap()).unwrap().len();

    // Two hours on, "stay" reporting every 10 minutes and a pass after each write.
    let (mut retired, mut moved) = (0, 0);
    let mut retired_at = None;
    for k in 1..=12 {
        let now = T0 + k * 10 * MIN;
        clock.set(now);
        write(&engine, &format!("stay,hostname=s value={k} {}\n", now - MIN));
        let report = engine.compact_at(now).unwrap();
        if report.retired_series > 0 {
            retired_at.get_or_insert(now);
        }
        retired += report.retired_series;
        moved += report.moved_series;
    }
    // The first window [T0, T0 + 10m) is evicted once 30 minutes past its end.
    assert_eq!((retired, retired_at), (GONE as u64, Some(T0 + 40 * MIN)));
    // "stay" had the highest id (500): it moved to the lowest, so nothing is left indexed by
    // 500 ids.
    assert_eq!(moved, 1);
    let stats = engine.stats();
    assert_eq!(stats.series, 1);
    assert!(stats.tiers.warm.rows >= GONE as u64);
    assert!(
        stats.index_bytes * 20 < full.index_bytes,
        "index: {} bytes of {} left",
        stats.index_bytes,
        full.index_bytes
    );
    // The rows stay in warm, whole keys and all.
    let old = answer(&engine, "gone", T0, T0 + 10 * MIN);
    assert_eq!(old.len(), GONE);
    assert!(old.iter().all(|(h, t, n, avg)| *t == T0 + MIN && *n == 1.0 && format!("h{avg}") == *h));

    // New series, then some of the retired keys again: they take the retired ids, the new
    // metric first so that ids 0.. name other keys than before.
    let now = T0 + 2 * 60 * MIN;
    let fresh: String = (0..5).map(|f| format!("fresh,hostname=f{f} value={f} {}\n", now - MIN)).collect();
    write(&engine, &(fresh + &gone_lines(0..10, now - MIN, 1000.0)));
    assert_eq!(engine.stats().series, 16);
    let answers = |engine: &Engine| {
        (answer(engine, "gone", T0, now), answer(engine, "fresh", T0, now), answer(engine, "stay", T0, now))
    };
    let before = answers(&engine);
    assert_eq!(before.0.len(), GONE + 10);
    assert_eq!(before.1.len(), 5);
    // A crash: the WAL since the full checkpoint holds the retirement and the new series.
    drop(engine);
    let engine = Engine::open_with_clock(config(dir.path()), clock.clone()).unwrap();
    assert_eq!(engine.stats().series, 16);
    same(&answers(&engine), &before, "replayed from the checkpoint before the retirement");
    // The retirement's record evicted again what hot had evicted when it was logged: without
    // it, ids the new series took would still hold the retired series' first window.
    assert!(engine.hot_start() >= retired_at.unwrap() - 30 * MIN);
    let lean_checkpoint = std::fs::metadata(engine.checkpoint().unwrap()).unwrap().len();
    assert!(
        lean_checkpoint * 4 < full_checkpoint,
        "checkpoint {lean_checkpoint} bytes, {full_checkpoint} before"
    );
    drop(engine);
    let engine = Engine::open_with_clock(config(dir.path()), clock).unwrap();
    assert_eq!(engine.stats().series, 16);
    same(&answers(&engine), &before, "reopened from the checkpoint after it");
    engine.close().unwrap();
}

/// The fixture of a WAL holding a retirement record (payload version 3): 70 series retire after
/// the checkpoint, the one left moves to id 0, and a new series takes id 1 in the next record. Written only with
/// `STRATA_WRITE_FIXTURES=1` (see `tests/formats.rs`), then never again.
const RETIRED_FIXTURE: &str = "wal2-payload3-ckpt3-manifest3-tier3";

fn fixture_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/formats").join(RETIRED_FIXTURE)
}

#[test]
fn write_retirement_fixture() {
    if std::env::var_os("STRATA_WRITE_FIXTURES").is_none_or(|v| v != "1") || fixture_dir().exists() {
        return;
    }
    let dir = fixture_dir();
    let clock = Arc::new(ManualClock::new(T0 + 5 * MIN));
    let engine = Engine::open_with_clock(config(&dir), clock.clone()).unwrap();
    write(&engine, &(gone_lines(0..70, T0 + MIN, 0.0) + &format!("stay,hostname=s value=1 {}\n", T0 + MIN)));
    engine.checkpoint().unwrap();
    let (mut retired, mut moved) = (0, 0);
    for k in 1..=4 {
        let now = T0 + k * 10 * MIN;
        clock.set(now);
        write(&engine, &format!("stay,hostname=s value={k} {}\n", now - MIN));
        let report = engine.compact_at(now).unwrap();
        (retired, moved) = (retired + report.retired_series, moved + report.moved_series);
    }
    assert_eq!((retired, moved), (70, 1));
    write(&engine, &format!("fresh,hostname=f value=5 {}\n", T0 + 39 * MIN));
    drop(engine);
    std::fs::remove_file(dir.join("LOCK")).unwrap();
}

#[test]
fn retirement_fixture_reads_back() {
    assert!(fixture_dir().is_dir(), "missing fixture {}", fixture_dir().display());
    let dir = tempfile::tempdir().unwrap();
    support::copy_dir(&fixture_dir(), dir.path());
    let engine =
        Engine::open_with_clock(config(dir.path()), Arc::new(ManualClock::new(T0 + 40 * MIN))).unwrap();
    let recovery = engine.recovery();
    assert!(recovery.checkpoint.is_some() && recovery.records >= 6, "{recovery:?}");
    // "gone" retired in the replay, "stay" moved to id 0, "fresh" took id 1 in the record after.
    assert_eq!(engine.stats().series, 2);
    let raw = engine.read(&Selector::metric("fresh"), T0, T0 + HOUR).unwrap();
    assert_eq!(raw.len(), 1);
    assert_eq!((raw[0].times.clone(), raw[0].values.clone()), (vec![T0 + 39 * MIN], vec![5.0]));
    assert!(engine.read(&Selector::metric("gone"), T0, T0 + HOUR).unwrap().is_empty());
    let gone = answer(&engine, "gone", T0, T0 + HOUR);
    assert_eq!(gone.len(), 70);
    assert!(gone.iter().all(|(h, t, n, avg)| *t == T0 + MIN && *n == 1.0 && format!("h{avg}") == *h));
    let stay: Vec<f64> = answer(&engine, "stay", T0, T0 + HOUR).iter().map(|r| r.3).collect();
    assert_eq!(stay, vec![1.0, 1.0, 2.0, 3.0, 4.0]);
    engine.close().unwrap();
}
