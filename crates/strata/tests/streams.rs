//! Exactly-once ingest from a stream: a message redelivered after a crash, a checkpoint or the
//! eviction of its window to the tiers is skipped whole, and each point counts once.

mod support;

use std::sync::Arc;

use strata::{Engine, ManualClock, Sequenced, StreamSequence, Tier, WriteOptions};
use support::{Backend, HOUR, MIN, Model, SEC, T0, Tiers, assert_tier_matches, config};

const STREAM: &str = "metrics/strata";

fn open(dir: &std::path::Path, tiers: &Tiers, clock: &Arc<ManualClock>) -> Engine {
    Engine::open_with_object_store(config(dir), clock.clone(), tiers.store.clone(), "").unwrap()
}

/// Message `n`: ten minutes of one point a minute for two hosts, from `T0 + n * 10 min`.
fn message(n: i64) -> (String, Vec<(String, i64, f64)>) {
    let mut body = String::new();
    let mut points = Vec::new();
    for host in ["a", "b"] {
        for m in 0..10 {
            let t = T0 + n * 10 * MIN + m * MIN + 7 * SEC;
            let v = (n * 100 + m) as f64 + if host == "a" { 0.5 } else { 0.25 };
            body.push_str(&format!("load,hostname={host} value={v} {t}\n"));
            points.push((host.to_owned(), t, v));
        }
    }
    (body, points)
}

fn send(engine: &Engine, n: i64, sequence: u64) -> Sequenced {
    let options = WriteOptions { default_cluster: Some("c".into()), ..WriteOptions::default() };
    let source = StreamSequence { stream: STREAM.into(), sequence };
    engine.write_lp_sequenced(message(n).0.as_bytes(), &options, &source).unwrap()
}

#[test]
fn a_redelivered_message_counts_once_across_crashes_checkpoints_and_eviction() {
    let dir = tempfile::tempdir().unwrap();
    let tiers = Tiers::new(Backend::Local);
    let clock = Arc::new(ManualClock::new(T0 + HOUR));
    let mut engine = open(dir.path(), &tiers, &clock);
    let mut model = Model::default();
    let mut sequence = 0;
    let mut deliver = |engine: &Engine, n: i64, model: &mut Model| {
        sequence += 1;
        let outcome = send(engine, n, sequence);
        assert!(matches!(&outcome, Sequenced::Applied(r) if r.accepted == 20), "{outcome:?}");
        for (host, t, v) in message(n).1 {
            model.insert("load", &host, t, v);
        }
    };
    for n in 0..6 {
        deliver(&engine, n, &mut model);
    }
    // A redelivery while the engine runs.
    assert_eq!(send(&engine, 5, 6), Sequenced::Duplicate { last_applied: 6 });
    assert_eq!(send(&engine, 2, 3), Sequenced::Duplicate { last_applied: 6 });
    assert_eq!(engine.stats().stream_duplicates, 2);

    // A crash before the acknowledgements reached the stream: the replayed log knows.
    drop(engine);
    engine = open(dir.path(), &tiers, &clock);
    assert_eq!(engine.stream_sequence(STREAM), Some(6));
    assert_eq!(engine.stream_sequence("another"), None);
    assert_eq!(send(&engine, 5, 6), Sequenced::Duplicate { last_applied: 6 });

    // A checkpoint trims the log: the checkpoint knows.
    engine.checkpoint().unwrap();
    drop(engine);
    engine = open(dir.path(), &tiers, &clock);
    assert_eq!(engine.stream_sequence(STREAM), Some(6));

    // The windows move to the tiers and leave hot; a redelivery of their messages is skipped,
    // where writing the points again would add a second partial row.
    clock.set(T0 + 4 * HOUR);
    for n in 6..18 {
        deliver(&engine, n, &mut model);
    }
    engine.compact().unwrap();
    assert!(engine.hot_start() > T0 + HOUR, "the first hour was evicted");
    for (n, sequence) in [(0, 1), (3, 4), (5, 6)] {
        assert_eq!(send(&engine, n, sequence), Sequenced::Duplicate { last_applied: 18 });
    }
    drop(engine);
    engine = open(dir.path(), &tiers, &clock);
    assert_eq!(send(&engine, 17, 18), Sequenced::Duplicate { last_applied: 18 });
    engine.compact().unwrap();
    let warm_until = engine.manifest().warm_until.unwrap();
    assert_tier_matches(&engine, Tier::Warm, "load", &model, MIN, T0, warm_until);
    assert_tier_matches(&engine, Tier::Cold, "load", &model, HOUR, T0, engine.manifest().cold_until.unwrap());

    // A message with no valid line still records its sequence.
    let source = StreamSequence { stream: STREAM.into(), sequence: 19 };
    let outcome = engine.write_lp_sequenced(b"load value=\n", &WriteOptions::default(), &source).unwrap();
    assert!(matches!(&outcome, Sequenced::Applied(r) if r.accepted == 0 && r.rejected == 1), "{outcome:?}");
    drop(engine);
    let engine = open(dir.path(), &tiers, &clock);
    assert_eq!(engine.stream_sequence(STREAM), Some(19));
    engine.close().unwrap();
}
