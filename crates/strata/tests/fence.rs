//! The ack gate and the fence: a gated message reaches a checkpoint only once acknowledged, and
//! an open fenced at a sequence drops exactly the unacknowledged messages past it, for good.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use strata::{AckGuard, Config, Engine, Error, Selector, Sequenced, StreamSequence, WallClock, WriteOptions};

const KEY: &str = "nats:metrics/strata-p1";

fn now_s() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

fn open(dir: &Path, fences: &[(&str, u64)]) -> Engine {
    let fences: BTreeMap<String, u64> = fences.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
    Engine::open_fenced(Config::with_data_dir(dir), Arc::new(WallClock), &fences).unwrap()
}

/// Message `sequence`: one point of host `h<sequence>`.
fn send(engine: &Engine, sequence: u64) -> (Sequenced, AckGuard) {
    let body = format!("load,hostname=h{sequence} value={sequence} {}", now_s() - 60 + sequence);
    let options = WriteOptions::cc_metric_store("c");
    let source = StreamSequence { stream: KEY.into(), sequence };
    engine.write_lp_gated(body.as_bytes(), &options, &source).unwrap()
}

fn hosts(engine: &Engine) -> Vec<String> {
    let series = engine.read(&Selector::metric("load"), 0, i64::MAX).unwrap();
    let mut hosts: Vec<String> =
        series.iter().map(|s| s.key.tag("hostname").unwrap_or_default().to_owned()).collect();
    hosts.sort();
    hosts
}

/// Leaves the directory as a SIGKILL would: no final checkpoint, the WAL holds every write.
fn crash(engine: Engine, dir: &Path) {
    drop(engine);
    let _ = std::fs::remove_file(dir.join("LOCK"));
}

#[test]
fn a_checkpoint_waits_for_the_acknowledgement_of_a_gated_message() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Arc::new(open(dir.path(), &[]));
    let (outcome, guard) = send(&engine, 1);
    assert!(matches!(outcome, Sequenced::Applied(_)), "{outcome:?}");
    let (tx, rx) = std::sync::mpsc::channel();
    let checkpointing = {
        let engine = engine.clone();
        std::thread::spawn(move || tx.send(engine.checkpoint().map(|_| ())).unwrap())
    };
    assert!(rx.recv_timeout(Duration::from_millis(200)).is_err(), "the checkpoint waits for the ack");
    guard.acknowledged();
    rx.recv_timeout(Duration::from_secs(20)).unwrap().unwrap();
    checkpointing.join().unwrap();
    // A duplicate holds nothing open.
    let (outcome, guard) = send(&engine, 1);
    assert!(matches!(outcome, Sequenced::Duplicate { last_applied: 1 }), "{outcome:?}");
    drop(guard);
    engine.checkpoint().unwrap();
}

#[test]
fn a_fenced_open_drops_the_unacknowledged_messages_past_the_fence_for_good() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path(), &[]);
    for sequence in 1..=2 {
        send(&engine, sequence).1.acknowledged();
    }
    engine.checkpoint().unwrap();
    send(&engine, 3).1.acknowledged();
    // Written durably, never acknowledged: the kill came between the WAL and the ack.
    let (_, unacked) = send(&engine, 4);
    drop(unacked);
    let err = engine.checkpoint().unwrap_err();
    assert!(matches!(&err, Error::Unacknowledged { sequence: 4, .. }), "{err}");
    assert_eq!(hosts(&engine), ["h1", "h2", "h3", "h4"]);
    crash(engine, dir.path());

    // Another node took the partition over from sequence 4 on.
    let engine = open(dir.path(), &[(KEY, 4), ("nats:other/strata-p0", 1)]);
    assert_eq!(engine.recovery().fenced, 1);
    assert_eq!(hosts(&engine), ["h1", "h2", "h3"]);
    assert_eq!(engine.stream_sequence(KEY), Some(3));
    crash(engine, dir.path());

    // Back without the fence (this node owns the partition again): still dropped.
    let engine = open(dir.path(), &[]);
    assert_eq!(engine.recovery().fenced, 0);
    assert_eq!(hosts(&engine), ["h1", "h2", "h3"]);
    let (outcome, guard) = send(&engine, 5);
    assert!(matches!(outcome, Sequenced::Applied(_)), "{outcome:?}");
    guard.acknowledged();
    engine.close().unwrap();
    let engine = open(dir.path(), &[]);
    assert_eq!(hosts(&engine), ["h1", "h2", "h3", "h5"]);
    engine.close().unwrap();
}

#[test]
fn a_warm_flush_waits_for_the_acknowledgement_and_then_holds_the_message() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Arc::new(open(dir.path(), &[]));
    let (outcome, guard) = send(&engine, 1);
    assert!(matches!(outcome, Sequenced::Applied(_)), "{outcome:?}");
    // An hour on, the point's minute is due for warm.
    let later = (now_s() as i64 + 3600) * 1_000_000_000;
    let (tx, rx) = std::sync::mpsc::channel();
    let compacting = {
        let engine = engine.clone();
        std::thread::spawn(move || tx.send(engine.compact_at(later).map(|_| ())).unwrap())
    };
    assert!(rx.recv_timeout(Duration::from_millis(200)).is_err(), "the cut waits for the ack");
    assert!(engine.read_tier(strata::Tier::Warm, &Selector::metric("load"), 0, i64::MAX).unwrap().is_empty());
    guard.acknowledged();
    rx.recv_timeout(Duration::from_secs(20)).unwrap().unwrap();
    compacting.join().unwrap();
    let warm = engine.read_tier(strata::Tier::Warm, &Selector::metric("load"), 0, i64::MAX).unwrap();
    assert_eq!(warm.iter().map(|s| s.aggs.iter().map(|a| a.count).sum::<u64>()).sum::<u64>(), 1);
}
