//! NATS ingest against a real `nats-server`, with lines published by a real client (nats-py):
//! core subjects (also shared by a queue group), and a JetStream consumer that stores every
//! acknowledged publish exactly once, also when messages stored before a crash (never
//! acknowledged to the stream) are delivered again after their points moved to the tiers.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use strata::{Config, Engine, ManualClock, Selector, StreamSequence, Tier, WriteOptions};
use strata_nats::{JetStreamConsumer, NatsConfig, NatsIngest, Subscription};
use support::{NatsServer, publish, wait_for};

const SEC: i64 = 1_000_000_000;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;
/// 2025-11-22T00:00:00Z.
const T0: i64 = 1_763_769_600 * SEC;

fn config(dir: &std::path::Path) -> Config {
    Config::from_toml(&format!(
        "data_dir = {dir:?}\n\
         [hot]\nretention = \"2h\"\nchunk_duration = \"30m\"\n\
         [warm]\nresolution = \"1m\"\nretention = \"1d\"\n\
         [cold]\nresolution = \"1h\"\nretention = \"3d\"\n\
         [compactor]\ninterval = \"1000d\"\nlateness = \"5m\"\n"
    ))
    .unwrap()
}

fn open(dir: &std::path::Path, clock: &Arc<ManualClock>) -> Arc<Engine> {
    Arc::new(Engine::open_with_clock(config(dir), clock.clone()).unwrap())
}

fn nats(url: &str) -> NatsConfig {
    NatsConfig {
        url: url.to_owned(),
        user: None,
        password: None,
        token: None,
        precision: strata::Precision::Seconds,
        subscriptions: Vec::new(),
        jetstream: Vec::new(),
    }
}

/// Message `n`: one point a minute for ten minutes from `T0 + n * 10 min`, for hosts a and b
/// (no cluster tag: the subscription's cluster is added).
fn message(n: i64) -> (String, BTreeMap<(String, i64), f64>) {
    let mut body = String::new();
    let mut points = BTreeMap::new();
    for host in ["a", "b"] {
        for m in 0..10 {
            let t = T0 + n * 10 * MIN + m * MIN + 3 * SEC;
            let v = (n * 100 + m) as f64 + if host == "a" { 0.5 } else { 0.25 };
            body.push_str(&format!("load,hostname={host},type=node value={v} {}\n", t / SEC));
            points.insert((host.to_owned(), t), v);
        }
    }
    (body, points)
}

/// Every point of `load` the engine holds in hot, by (host, time).
fn hot_points(engine: &Engine, cluster: &str) -> BTreeMap<(String, i64), f64> {
    let mut out = BTreeMap::new();
    for series in engine.read(&Selector::metric("load").tag("cluster", cluster), i64::MIN, i64::MAX).unwrap()
    {
        let host = series.key.tag("hostname").unwrap().to_owned();
        for (t, v) in series.times.iter().zip(&series.values) {
            out.insert((host.clone(), *t), *v);
        }
    }
    out
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

#[test]
fn core_subjects_arrive_and_a_queue_group_shares_them() {
    let Some(server) = NatsServer::start(false) else { return };
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let clock = Arc::new(ManualClock::new(T0 + 2 * HOUR));
    let engines: Vec<Arc<Engine>> = dirs.iter().map(|d| open(d.path(), &clock)).collect();
    let rt = runtime();
    // Engine 0 takes every message of `hpc.fritz`; engines 1 and 2 share `hpc.alex` as a queue
    // group, so each message lands in exactly one of them.
    let mut ingests = Vec::new();
    for (i, engine) in engines.iter().enumerate() {
        let mut config = nats(&server.url);
        config.subscriptions.push(match i {
            0 => {
                Subscription { subject: "hpc.fritz".into(), cluster: Some("fritz".into()), queue_group: None }
            }
            _ => Subscription {
                subject: "hpc.alex".into(),
                cluster: Some("alex".into()),
                queue_group: Some("strata".into()),
            },
        });
        ingests.push(rt.block_on(NatsIngest::start(engine.clone(), &config)).unwrap());
    }
    let mut messages = Vec::new();
    let mut want = BTreeMap::new();
    for n in 0..12 {
        let (body, points) = message(n);
        messages.push(("hpc.fritz".to_owned(), body.clone()));
        messages.push(("hpc.alex".to_owned(), body));
        want.extend(points);
    }
    let Some(_) = publish(&server.url, &messages, None) else { return };
    let total = want.len() as u64;
    wait_for("the fritz points", || engines[0].stats().points_accepted == total);
    wait_for("the alex points", || {
        engines[1].stats().points_accepted + engines[2].stats().points_accepted == total
    });
    assert_eq!(hot_points(&engines[0], "fritz"), want);
    let mut shared = hot_points(&engines[1], "alex");
    let second = hot_points(&engines[2], "alex");
    assert!(!shared.is_empty() && !second.is_empty(), "both members of the queue group got messages");
    let before = shared.len() + second.len();
    shared.extend(second);
    assert_eq!(shared.len(), before, "no message went to both members");
    assert_eq!(shared, want);
    for ingest in ingests {
        let counts = ingest.stats().counts();
        assert_eq!((counts.failed, counts.too_large), (0, 0), "{counts:?}");
        rt.block_on(ingest.stop());
    }
}

#[test]
fn jetstream_stores_every_acknowledged_publish_exactly_once() {
    let Some(server) = NatsServer::start(true) else { return };
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0 + 4 * HOUR));
    let mut engine = open(dir.path(), &clock);
    let consumer = JetStreamConsumer {
        stream: "METRICS".into(),
        consumer: "strata".into(),
        filter_subject: Some("metrics.>".into()),
        cluster: Some("fritz".into()),
        batch: 8,
        ack_wait: strata::Span(std::time::Duration::from_secs(30)),
        partitions: None,
        lease: strata::Span(std::time::Duration::from_secs(10)),
    };
    // 24 messages (four hours), each acknowledged by the stream.
    let mut want = BTreeMap::new();
    let mut messages = Vec::new();
    for n in 0..24 {
        let (body, points) = message(n);
        messages.push((format!("metrics.n{n}"), body));
        want.extend(points);
    }
    let Some(sequences) = publish(&server.url, &messages, Some(("METRICS", "metrics.>"))) else { return };
    assert_eq!(sequences, (1..=24).collect::<Vec<u64>>());

    // A run before a crash stored the first nine messages but its acknowledgements never
    // reached the stream; a compaction then moved their windows to the tiers.
    let options = WriteOptions::cc_metric_store("fritz");
    for (n, (_, body)) in messages.iter().enumerate().take(9) {
        let source = StreamSequence { stream: consumer.source_name(), sequence: n as u64 + 1 };
        engine.write_lp_sequenced(body.as_bytes(), &options, &source).unwrap();
    }
    engine.compact().unwrap();
    assert!(engine.hot_start() > T0 + HOUR, "the first messages' windows left hot");
    drop(engine);
    engine = open(dir.path(), &clock);

    // The consumer starts from the first message: nine are delivered again and skipped.
    let rt = runtime();
    let mut config = nats(&server.url);
    config.jetstream.push(consumer.clone());
    let ingest = rt.block_on(NatsIngest::start(engine.clone(), &config)).unwrap();
    wait_for("24 messages", || {
        let c = ingest.stats().counts();
        c.stored + c.duplicates == 24
    });
    let counts = ingest.stats().counts();
    assert_eq!((counts.stored, counts.duplicates, counts.failed), (15, 9, 0), "{counts:?}");
    assert_eq!(engine.stream_sequence(&consumer.source_name()), Some(24));
    rt.block_on(ingest.stop());

    // Every point exactly once: the tiers hold the evicted part (one row per point a minute),
    // hot the rest.
    engine.compact().unwrap();
    let hot_start = engine.hot_start();
    let mut got = hot_points(&engine, "fritz");
    for series in engine.read_tier(Tier::Warm, &Selector::metric("load"), T0, hot_start).unwrap() {
        let host = series.key.tag("hostname").unwrap().to_owned();
        for (t, agg) in series.times.iter().zip(&series.aggs) {
            assert_eq!(agg.count, 1, "{host} at {t}: one point a minute, counted once");
            assert!(
                got.insert((host.clone(), agg.first_time), agg.sum).is_none(),
                "{host} at {t}: in hot too"
            );
        }
    }
    assert_eq!(got, want);

    // Acknowledged messages are not delivered again: a restarted consumer takes only new ones.
    let (body, points) = message(24);
    publish(&server.url, &[("metrics.n24".to_owned(), body)], Some(("METRICS", "metrics.>"))).unwrap();
    let ingest = rt.block_on(NatsIngest::start(engine.clone(), &config)).unwrap();
    wait_for("the 25th message", || ingest.stats().counts().stored == 1);
    rt.block_on(ingest.stop());
    assert_eq!(stored_points(&engine), want.len() + points.len());
}

/// Points in hot and warm together.
fn stored_points(engine: &Engine) -> usize {
    let hot = hot_points(engine, "fritz").len();
    let warm: u64 = engine
        .read_tier(Tier::Warm, &Selector::metric("load"), i64::MIN, engine.hot_start())
        .unwrap()
        .iter()
        .flat_map(|s| s.aggs.iter().map(|a| a.count))
        .sum();
    hot + warm as usize
}
