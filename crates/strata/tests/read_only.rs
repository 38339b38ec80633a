//! `Engine::open_read_only` beside a live engine that holds the data directory, and on a
//! directory nobody may change: it answers as the live engine does (as of the open), refuses
//! writes, compactions and checkpoints by name, and leaves every byte, size and modification
//! time under the data directory as it found them, a torn WAL tail included, which the next
//! writable open still cuts.

mod support;

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use strata::{
    Aggregate, Engine, Error, ManualClock, Point, Query, Resolution, Selector, StreamSequence, Tier,
    WriteOptions,
};
use support::{HOUR, MIN, SEC, T0, config};

/// Every entry under `dir` (directories too, so one created or changed shows): its kind,
/// size, modification time and, for a file, a hash of its bytes.
fn image(dir: &Path) -> BTreeMap<PathBuf, (bool, u64, SystemTime, u64)> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<PathBuf, (bool, u64, SystemTime, u64)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let mut hash = DefaultHasher::new();
            if meta.is_file() {
                hash.write(&std::fs::read(&path).unwrap());
            }
            let relative = path.strip_prefix(root).unwrap().to_owned();
            out.insert(relative, (meta.is_dir(), meta.len(), meta.modified().unwrap(), hash.finish()));
            if meta.is_dir() {
                walk(&path, root, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    let meta = std::fs::metadata(dir).unwrap();
    out.insert(PathBuf::new(), (true, meta.len(), meta.modified().unwrap(), 0));
    walk(dir, dir, &mut out);
    out
}

fn lp(engine: &Engine, body: &str) {
    let options = WriteOptions { default_cluster: Some("fritz".into()), ..Default::default() };
    let report = engine.write_lp(body.as_bytes(), &options).unwrap();
    assert!(report.rejections.is_empty(), "{:?}", report.rejections.first());
}

/// A point every 15 s for two hosts of `cpu_load` in `[from, to)`.
fn write_span(engine: &Engine, from: i64, to: i64) {
    let mut body = String::new();
    let mut t = from;
    while t < to {
        for host in ["f0101", "f0102"] {
            let value = ((t / SEC) % 1000) as f64 / 8.0;
            body.push_str(&format!("cpu_load,hostname={host},type=node value={value} {t}\n"));
        }
        t += 15 * SEC;
    }
    lp(engine, &body);
}

/// The newest WAL segment of `dir`.
fn newest_segment(dir: &Path) -> PathBuf {
    let mut segments: Vec<PathBuf> =
        std::fs::read_dir(dir.join("wal")).unwrap().map(|e| e.unwrap().path()).collect();
    segments.sort();
    segments.pop().unwrap()
}

fn append_bytes(path: &Path, bytes: &[u8]) {
    use std::io::Write as _;
    std::fs::OpenOptions::new().append(true).open(path).unwrap().write_all(bytes).unwrap();
}

/// Everything a reader can ask, for comparing two engines.
fn answers(engine: &Engine) -> impl PartialEq + std::fmt::Debug + use<> {
    let all = Selector::metric("cpu_load");
    let mut query = Query::new("cpu_load", T0, T0 + 6 * HOUR, Resolution::Every(MIN));
    query.aggregates = vec![Aggregate::Count, Aggregate::Sum, Aggregate::Max];
    let stats = engine.stats();
    (
        engine.read(&all, i64::MIN, i64::MAX).unwrap(),
        engine.read_batches(&all, i64::MIN, i64::MAX).unwrap(),
        engine.read_tier(Tier::Warm, &all, i64::MIN, i64::MAX).unwrap(),
        engine.read_tier(Tier::Cold, &all, i64::MIN, i64::MAX).unwrap(),
        engine.query(&query).unwrap(),
        (stats.series, stats.hot, stats.tiers.warm, stats.tiers.cold, stats.tiers.warm_until),
        engine.manifest(),
        engine.hot_start(),
    )
}

/// A copy of `from` at `to`, as a crash of the engine at this moment would leave it.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

#[test]
fn beside_a_live_engine_with_a_torn_tail_it_answers_as_a_restart_would_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0 + 5 * HOUR));
    let live = Engine::open_with_clock(config(dir.path()), clock.clone()).unwrap();
    // Five hours, compacted to warm and cold (and hot evicted past its 2 h), a late point
    // compacted as a partial row, then points that only the WAL and memory hold.
    write_span(&live, T0, T0 + 5 * HOUR);
    let report = live.compact().unwrap();
    assert!(report.warm_until.is_some() && report.cold_until.is_some(), "{report}");
    lp(&live, &format!("cpu_load,hostname=f0101,type=node value=99 {}\n", T0 + 2 * HOUR + 7 * SEC));
    live.compact().unwrap();
    write_span(&live, T0 + 5 * HOUR, T0 + 5 * HOUR + 10 * MIN);
    // What the live engine had not finished writing: part of a record after its last one.
    let segment = newest_segment(dir.path());
    let written = std::fs::metadata(&segment).unwrap().len();
    append_bytes(&segment, &[0x5a; 13]);
    let before = image(dir.path());
    // What a crash now would leave, to compare with.
    let copy = tempfile::tempdir().unwrap();
    copy_dir(dir.path(), copy.path());

    let reader = Engine::open_read_only_with_clock(config(dir.path()), clock.clone()).unwrap();
    assert!(reader.is_read_only() && !live.is_read_only());
    let torn = reader.recovery().truncated.clone().expect("the torn tail is reported");
    assert_eq!((torn.offset, torn.dropped_bytes), (written, 13));
    let restarted = Engine::open_with_clock(config(copy.path()), clock.clone()).unwrap();
    assert_eq!(restarted.recovery().truncated, reader.recovery().truncated);
    assert_eq!(answers(&reader), answers(&restarted), "the reader sees what a restart would");
    drop(restarted);
    // And the live engine's tiers, with the same answer to a query.
    let all = Selector::metric("cpu_load");
    for tier in [Tier::Warm, Tier::Cold] {
        let (got, want) = (
            reader.read_tier(tier, &all, i64::MIN, i64::MAX),
            live.read_tier(tier, &all, i64::MIN, i64::MAX),
        );
        assert_eq!(got.unwrap(), want.unwrap(), "{tier}");
    }
    assert_eq!(reader.manifest(), live.manifest());
    let mut query = Query::new("cpu_load", T0, T0 + 6 * HOUR, Resolution::Every(HOUR));
    query.aggregates = vec![Aggregate::Count, Aggregate::Sum, Aggregate::Min, Aggregate::Max];
    assert_eq!(reader.query(&query).unwrap().series, live.query(&query).unwrap().series);
    reader.close().unwrap();
    assert_eq!(image(dir.path()), before, "a read-only engine changes nothing under the data directory");
    assert!(
        matches!(Engine::open(config(dir.path())), Err(Error::Locked { .. })),
        "the live engine still holds it"
    );

    // The live engine dies without closing; a writable open cuts the tail as it always has.
    drop(live);
    let reopened = Engine::open_with_clock(config(dir.path()), clock).unwrap();
    let cut = reopened.recovery().truncated.clone().expect("the writable open cuts the tail");
    assert_eq!((cut.segment, cut.offset, cut.dropped_bytes), (torn.segment, written, 13));
    assert_eq!(std::fs::metadata(&segment).unwrap().len(), written);
    reopened.close().unwrap();
}

#[test]
fn writes_compactions_and_checkpoints_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0 + 5 * HOUR));
    let writer = Engine::open_with_clock(config(dir.path()), clock.clone()).unwrap();
    write_span(&writer, T0 + 4 * HOUR, T0 + 5 * HOUR);
    writer.close().unwrap();
    let before = image(dir.path());

    let reader = Engine::open_read_only_with_clock(config(dir.path()), clock).unwrap();
    let refused = |result: Result<(), Error>, operation: &str| match result {
        Err(Error::ReadOnly { operation: op, path }) => {
            assert_eq!((op, path.as_path()), (operation, dir.path()));
        }
        other => panic!("{operation}: {other:?}"),
    };
    let options = WriteOptions::cc_metric_store("fritz");
    refused(reader.write_lp(b"cpu_load,hostname=x value=1 1", &options).map(|_| ()), "write");
    let point = Point { measurement: "cpu_load", field: "value", tags: &[], time: T0 + 5 * HOUR, value: 1.0 };
    refused(reader.write(&[point]).map(|_| ()), "write");
    let source = StreamSequence { stream: "nats".into(), sequence: 1 };
    refused(reader.write_lp_sequenced(b"cpu_load value=1 1", &options, &source).map(|_| ()), "write");
    refused(reader.compact().map(|_| ()), "compact");
    refused(reader.compact_at(T0 + 9 * HOUR).map(|_| ()), "compact");
    refused(reader.checkpoint().map(|_| ()), "checkpoint");
    let message = reader.checkpoint().unwrap_err().to_string();
    assert!(
        message.contains("read-only") && message.contains(&dir.path().display().to_string()),
        "{message}"
    );
    assert_eq!(reader.stats().points_accepted, 0);
    assert_eq!(reader.read(&Selector::metric("cpu_load"), i64::MIN, i64::MAX).unwrap().len(), 2);
    reader.close().unwrap();
    assert_eq!(image(dir.path()), before);
}

#[test]
fn a_missing_data_directory_is_refused_and_not_created() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("nothing-here");
    let err = Engine::open_read_only(config(&dir)).unwrap_err();
    assert!(matches!(&err, Error::Io { path, .. } if path == &dir), "{err}");
    assert!(!dir.exists());
}

#[test]
fn a_directory_with_only_a_wal_opens_without_creating_anything() {
    // An engine that wrote but never compacted or closed: no tiers, no checkpoint.
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0 + 5 * HOUR));
    let writer = Engine::open_with_clock(config(dir.path()), clock.clone()).unwrap();
    write_span(&writer, T0 + 4 * HOUR, T0 + 5 * HOUR);
    drop(writer);
    for gone in ["tiers", "checkpoints", "LOCK"] {
        let path = dir.path().join(gone);
        if path.is_dir() {
            std::fs::remove_dir_all(&path).unwrap();
        } else if path.exists() {
            std::fs::remove_file(&path).unwrap();
        }
    }
    let before = image(dir.path());
    let reader = Engine::open_read_only_with_clock(config(dir.path()), clock).unwrap();
    assert_eq!(reader.read(&Selector::metric("cpu_load"), i64::MIN, i64::MAX).unwrap().len(), 2);
    assert_eq!(reader.manifest().generation, 0);
    reader.close().unwrap();
    assert_eq!(image(dir.path()), before);
}

/// Readers open again and again while a live engine writes, checkpoints (removing WAL
/// segments) and compacts: each sees every point of a prefix of the writes, none twice.
#[test]
fn readers_beside_a_checkpointing_and_compacting_engine_see_a_consistent_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.wal.segment_size = strata::ByteSize(4096);
    // Points in [T0 + 1h, T0 + 2h), inside hot's retention (2 h) and past the lateness, so
    // every compaction flushes what was written and evicts nothing: a view only grows.
    let clock = Arc::new(ManualClock::new(T0 + 3 * HOUR));
    let live = Arc::new(Engine::open_with_clock(cfg.clone(), clock.clone()).unwrap());
    let start = T0 + HOUR;
    const BATCHES: i64 = 60;
    let writer = {
        let live = live.clone();
        std::thread::spawn(move || {
            for i in 0..BATCHES {
                // Ten points a batch, one per 6 s, each counted once.
                let body: String = (0..10)
                    .map(|j| {
                        format!("cpu_load,hostname=a,type=node value=1 {}\n", start + (i * 10 + j) * 6 * SEC)
                    })
                    .collect();
                lp(&live, &body);
                match i % 3 {
                    0 => drop(live.checkpoint().unwrap()),
                    1 => drop(live.compact().unwrap()),
                    _ => {}
                }
            }
        })
    };
    let mut seen = Vec::new();
    while !writer.is_finished() || seen.is_empty() {
        let reader = match Engine::open_read_only_with_clock(cfg.clone(), clock.clone()) {
            Ok(reader) => reader,
            // Documented: the writer changed things during every try; open again.
            Err(Error::Unsettled { .. }) => continue,
            Err(e) => panic!("{e}"),
        };
        let mut query = Query::new("cpu_load", start, start + HOUR, Resolution::Every(MIN));
        query.aggregates = vec![Aggregate::Count, Aggregate::Max];
        let result = reader.query(&query).unwrap();
        let counts: Vec<(i64, f64)> = result
            .series
            .iter()
            .flat_map(|s| s.times.iter().zip(s.columns[0].1.iter()).filter_map(|(&t, c)| Some((t, (*c)?))))
            .collect();
        let total: f64 = counts.iter().map(|(_, c)| c).sum();
        // A prefix of the writes: every minute before the last holds ten points.
        let minutes = counts.len();
        for (k, &(t, c)) in counts.iter().enumerate() {
            assert_eq!(t, start + k as i64 * MIN, "no minute missing: {counts:?}");
            if k + 1 < minutes {
                assert_eq!(c, 10.0, "minute {k} holds its ten points once: {counts:?}");
            }
        }
        assert_eq!(total % 10.0, 0.0, "whole batches: {counts:?}");
        seen.push(total);
        drop(reader);
    }
    writer.join().unwrap();
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "views only move forward: {seen:?}");
    let last = Engine::open_read_only_with_clock(cfg, clock).unwrap();
    let all = last.read(&Selector::metric("cpu_load"), i64::MIN, i64::MAX).unwrap();
    let hot: usize = all.iter().map(|s| s.times.len()).sum();
    assert!(hot > 0);
    assert!(seen.len() > 1, "readers opened while the engine worked: {seen:?}");
}

/// Over an S3 tier store (an in-process server) beside the live engine that owns it: the
/// reader's store sees no put, and neither the data directory nor the bucket changes.
#[test]
fn over_s3_beside_the_owner_nothing_is_put_and_nothing_changes() {
    let dir = tempfile::tempdir().unwrap();
    let tiers = support::Tiers::new(support::Backend::S3);
    let clock = Arc::new(ManualClock::new(T0 + 5 * HOUR));
    let live =
        Engine::open_with_object_store(config(dir.path()), clock.clone(), tiers.store.clone(), "").unwrap();
    write_span(&live, T0, T0 + 5 * HOUR);
    live.compact().unwrap();
    write_span(&live, T0 + 5 * HOUR, T0 + 5 * HOUR + 10 * MIN);
    let (data_before, bucket_before) = (image(dir.path()), image(&tiers.root));
    let puts_before = tiers.store.faults.lock().unwrap().puts;

    let watched = support::faulty::FaultyStore::new(tiers.store.clone());
    let reader =
        Engine::open_read_only_with_object_store(config(dir.path()), clock.clone(), watched.clone(), "")
            .unwrap();
    let all = Selector::metric("cpu_load");
    for tier in [Tier::Warm, Tier::Cold] {
        let got = reader.read_tier(tier, &all, i64::MIN, i64::MAX).unwrap();
        assert!(!got.is_empty(), "{tier}");
        assert_eq!(got, live.read_tier(tier, &all, i64::MIN, i64::MAX).unwrap(), "{tier}");
    }
    assert_eq!(reader.manifest(), live.manifest());
    let hot = reader.read(&all, T0 + 5 * HOUR, i64::MAX).unwrap();
    assert_eq!(hot, live.read(&all, T0 + 5 * HOUR, i64::MAX).unwrap());
    assert!(matches!(reader.compact(), Err(Error::ReadOnly { operation: "compact", .. })));
    reader.close().unwrap();

    assert_eq!(watched.faults.lock().unwrap().puts, 0, "the reader put nothing");
    assert_eq!(tiers.store.faults.lock().unwrap().puts, puts_before);
    assert_eq!(image(dir.path()), data_before);
    assert_eq!(image(&tiers.root), bucket_before);
    live.close().unwrap();
}
