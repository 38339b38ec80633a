//! An object store outage of many passes: checkpoints go on (the WAL stays small), writes are
//! refused once hot memory is full (never accepted past it), a crash in the middle loses
//! nothing acknowledged, and when the store is back every point is in the tiers exactly once,
//! the late points of the flush that waited through the outage included.

mod support;

use std::path::Path;
use std::sync::Arc;

use strata::{ByteSize, Config, Engine, Error, ManualClock, Selector, Tier, WriteOptions};
use support::{Backend, HOUR, MIN, Model, SEC, T0, Tiers, assert_tier_matches};

const HOSTS: i64 = 250;
const LIMIT: u64 = 1 << 20;

fn config(dir: &Path) -> Config {
    let mut config = support::config(dir);
    config.hot.max_memory = ByteSize(LIMIT);
    config.wal.segment_size = ByteSize(64 << 10);
    config
}

fn open(dir: &Path, tiers: &Tiers, clock: &Arc<ManualClock>) -> Engine {
    Engine::open_with_object_store(config(dir), clock.clone(), tiers.store.clone(), "").unwrap()
}

/// Ten minutes from `from` of every host at 10 s, and two late points per host at `late`
/// (a time no other write uses).
fn body(from: i64, late: Option<i64>) -> Vec<(String, i64, f64)> {
    let mut points = Vec::new();
    for host in 0..HOSTS {
        for step in 0..60 {
            let t = from + step * 10 * SEC;
            // Square roots: full mantissas, which no decimal scale holds, so memory fills as
            // it would with noisy measurements.
            points.push((format!("h{host}"), t, (((host * 31 + t / SEC) % 977) as f64).sqrt()));
        }
        if let Some(late) = late {
            points.push((format!("h{host}"), late + host, -(host as f64)));
            points.push((format!("h{host}"), late + 7 * SEC + host, 0.25));
        }
    }
    points
}

fn write(engine: &Engine, model: &mut Model, points: &[(String, i64, f64)]) -> Result<(), Error> {
    let mut text = String::new();
    for (host, t, v) in points {
        text.push_str(&format!("mem,hostname={host} value={v} {t}\n"));
    }
    let options = WriteOptions { default_cluster: Some("fritz".into()), ..Default::default() };
    let report = engine.write_lp(text.as_bytes(), &options)?;
    assert!(report.rejections.is_empty(), "{:?}", report.rejections.first());
    for (host, t, v) in points {
        model.insert("mem", host, *t, *v);
    }
    Ok(())
}

fn wal_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir.join("wal")).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum()
}

/// Hot and warm together hold exactly the model: warm up to where it is written, hot after.
fn assert_everything_stored(engine: &Engine, model: &Model) {
    let warm_until = engine.manifest().warm_until.unwrap();
    assert_tier_matches(engine, Tier::Warm, "mem", model, MIN, T0, warm_until);
    let mut hot_points = 0usize;
    for series in engine.read(&Selector::metric("mem"), warm_until, i64::MAX).unwrap() {
        let host = series.key.tag("hostname").unwrap().to_owned();
        let want: Vec<(i64, f64)> =
            model.0[&("mem".to_owned(), host)].range(warm_until..).map(|(t, v)| (*t, *v)).collect();
        let got: Vec<(i64, f64)> = series.times.into_iter().zip(series.values).collect();
        assert_eq!(got, want, "hot points of {}", series.key);
        hot_points += got.len();
    }
    let want_hot: usize = model.0.values().map(|p| p.range(warm_until..).count()).sum();
    assert_eq!(hot_points, want_hot);
}

#[test]
fn an_outage_of_many_passes_bounds_the_wal_and_memory_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let tiers = Tiers::new(Backend::Local);
    let clock = Arc::new(ManualClock::new(T0 + HOUR));
    let mut engine = open(dir.path(), &tiers, &clock);
    let mut model = Model::default();
    for block in 0..6 {
        write(&engine, &mut model, &body(T0 + block * 10 * MIN, None)).unwrap();
    }
    engine.compact().unwrap();
    assert_eq!(engine.manifest().warm_until, Some(T0 + 55 * MIN));

    // The store goes down: every put fails, for 24 passes (4 hours of engine time).
    tiers.store.set(|f| f.fail_puts_to = Some(String::new()));
    let (mut refused, mut max_wal, mut max_memory, mut written) = (0u64, 0u64, 0u64, 0u64);
    // Refusals since the engine was opened: a reopened engine knows nothing of the outage
    // until its first pass fails.
    let mut refused_since_open = 0u64;
    for round in 0..24 {
        if round == 12 {
            // A crash in the middle of the outage; the engine comes back while the store is
            // still down, from the checkpoint that holds the waiting flush's late points.
            drop(engine);
            engine = open(dir.path(), &tiers, &clock);
            assert!(engine.stats().hot.late_points > 0, "the pending flush's late points came back");
            refused_since_open = 0;
        }
        let from = T0 + HOUR + round * 10 * MIN;
        clock.set(from + 10 * MIN);
        // Late points for a minute already in warm, each round another one.
        let late = T0 + round * MIN + 31 * SEC;
        match write(&engine, &mut model, &body(from, Some(late))) {
            Ok(()) => {
                assert_eq!(refused_since_open, 0, "round {round}: no write accepted after a refusal");
                written += 1;
            }
            Err(e @ Error::HotMemoryFull { .. }) => {
                let message = e.to_string();
                assert!(message.contains("hot.max_memory (1MiB)"), "{message}");
                assert!(message.contains("injected failure"), "names the compactor's error: {message}");
                refused += 1;
                refused_since_open += 1;
            }
            Err(e) => panic!("round {round}: {e}"),
        }
        assert!(engine.compact().is_err(), "round {round}: the store is down");
        engine.checkpoint().unwrap_or_else(|e| panic!("round {round}: checkpoints go on: {e}"));
        max_wal = max_wal.max(wal_bytes(dir.path()));
        max_memory = max_memory.max(engine.stats().hot.memory_bytes);
    }
    let stats = engine.stats();
    assert!(refused > 0 && written > 2, "{written} writes taken, {refused} refused");
    assert_eq!(stats.writes_refused, refused_since_open, "counted since the reopen");
    let failed_puts = stats.object_store_errors.iter().find(|(op, _)| *op == "put").map_or(0, |(_, n)| *n);
    assert!(failed_puts > 0, "failed puts are counted: {:?}", stats.object_store_errors);
    assert!(stats.wal_syncs.count > 0, "every write was synced: {:?}", stats.wal_syncs);
    // Memory stops within one write of the limit: 15,500 points, at most 32 B each in open
    // windows (their capacity doubles).
    let one_write = 15_500 * 32;
    assert!(max_memory < LIMIT + one_write, "hot memory {max_memory} B against a {LIMIT} B limit");
    // Each write's record is about 300 KiB: the WAL holds only what came after the last
    // checkpoint, where 24 writes (7 MB) would have piled up without checkpoints.
    assert!(max_wal < 400 << 10, "the WAL grew to {max_wal} B");

    // The store is back: the waiting flush commits, writes are taken again, nothing is lost.
    tiers.store.set(|f| f.fail_puts_to = None);
    engine.compact().unwrap();
    assert_everything_stored(&engine, &model);
    let from = T0 + 5 * HOUR;
    clock.set(from + 10 * MIN);
    write(&engine, &mut model, &body(from, Some(T0 + 30 * MIN + 45 * SEC))).unwrap();
    engine.compact().unwrap();
    assert_everything_stored(&engine, &model);
    engine.close().unwrap();
    let engine = open(dir.path(), &tiers, &clock);
    assert_everything_stored(&engine, &model);
    engine.close().unwrap();
}

/// A checkpoint taken while a flush waits records the flush's late points; once the flush is
/// committed, a crash before the next checkpoint must not load them a second time.
#[test]
fn late_points_of_a_waiting_flush_count_once_whether_it_committed_or_not() {
    for commit_before_crash in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let tiers = Tiers::new(Backend::Local);
        let clock = Arc::new(ManualClock::new(T0 + HOUR));
        let engine = open(dir.path(), &tiers, &clock);
        let mut model = Model::default();
        for block in 0..6 {
            write(&engine, &mut model, &body(T0 + block * 10 * MIN, None)).unwrap();
        }
        engine.compact().unwrap();
        clock.set(T0 + HOUR + 10 * MIN);
        write(&engine, &mut model, &body(T0 + HOUR, Some(T0 + 3 * MIN + 11 * SEC))).unwrap();
        tiers.store.set(|f| f.fail_puts_to = Some(String::new()));
        assert!(engine.compact().is_err());
        let stats = engine.stats();
        assert_eq!(stats.hot.late_points, 0, "the waiting flush took them");
        // The checkpoint trims the WAL that held the late points.
        engine.checkpoint().unwrap();
        tiers.store.set(|f| f.fail_puts_to = None);
        if commit_before_crash {
            engine.compact().unwrap();
            assert_everything_stored(&engine, &model);
        }
        drop(engine);
        let engine = open(dir.path(), &tiers, &clock);
        let late = engine.stats().hot.late_points;
        assert_eq!(
            late,
            if commit_before_crash { 0 } else { 2 * HOSTS as u64 },
            "commit {commit_before_crash}"
        );
        engine.compact().unwrap();
        assert_everything_stored(&engine, &model);
        engine.close().unwrap();
    }
}
