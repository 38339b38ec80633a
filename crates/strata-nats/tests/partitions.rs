//! A partitioned consumer against a real `nats-server` (its `partition()` subject mapping): the
//! node claims the partition, stores its messages, and raises its fatal signal (the server exits
//! on it) once another node's claim of a higher epoch appears in the bucket.

mod support;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use strata::{Config, Engine, Span};
use strata_nats::{JetStreamConsumer, NatsConfig, NatsIngest};
use support::{NatsServer, publish, wait_for};

#[test]
fn a_node_that_loses_its_partition_raises_the_fatal_signal() {
    let Some(server) =
        NatsServer::start_with_mappings("\"metrics.*\": \"metrics.{{wildcard(1)}}.{{partition(1,1)}}\"")
    else {
        return;
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let message = |n: u64| {
        (format!("metrics.h{n}"), format!("load,hostname=h{n},type=node value={n} {}\n", now - 60 + n))
    };
    let Some(first) = publish(&server.url, &[message(1)], Some(("METRICS", "metrics.*.*"))) else { return };
    assert_eq!(first, [1]);

    let dir = tempfile::tempdir().unwrap();
    let bucket = dir.path().join("bucket");
    let engine = Config::from_toml(&format!(
        "node_id = \"a\"\ndata_dir = {:?}\n[object_store]\nurl = \"file://{}\"\n",
        dir.path().join("a"),
        bucket.display()
    ))
    .unwrap();
    let engine = Arc::new(Engine::open(engine).unwrap());
    let consumer = JetStreamConsumer {
        stream: "METRICS".into(),
        consumer: "strata".into(),
        filter_subject: Some("metrics.*".into()),
        cluster: Some("c1".into()),
        batch: 4,
        ack_wait: Span(Duration::from_secs(30)),
        partitions: Some(1),
        lease: Span(Duration::from_secs(1)),
    };
    let config = NatsConfig {
        url: server.url.clone(),
        user: None,
        password: None,
        token: None,
        precision: strata::Precision::Seconds,
        subscriptions: Vec::new(),
        jetstream: vec![consumer],
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let ingest = rt.block_on(NatsIngest::start(engine.clone(), &config)).unwrap();
    let key = "nats:METRICS/strata-p0";
    wait_for("the first message", || engine.stream_sequence(key) == Some(1));
    let claim = bucket.join("partitions/METRICS/strata/0/epoch-00000000000000000001");
    assert!(std::fs::read_to_string(&claim).unwrap().contains("\"owner\":\"a\""));
    assert!(publish(&server.url, &[message(2)], Some(("METRICS", "metrics.*.*"))).is_some());
    wait_for("the second message", || engine.stream_sequence(key) == Some(2));
    assert!(ingest.fatal().borrow().is_none());

    // Node b takes the partition (as if a's lease had run out unseen).
    let until = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() + 60_000;
    std::fs::write(
        claim.with_file_name("epoch-00000000000000000002"),
        format!(
            "{{\"owner\":\"b\",\"epoch\":2,\"lease_until\":{until},\"from_sequence\":3,\"released\":false}}"
        ),
    )
    .unwrap();
    let fatal = ingest.fatal();
    wait_for("the fatal signal", || fatal.borrow().is_some());
    let reason = fatal.borrow().clone().unwrap();
    assert!(reason.contains("taken over by node \"b\" at epoch 2"), "{reason}");
    // No more writes of the lost partition.
    assert!(publish(&server.url, &[message(3)], Some(("METRICS", "metrics.*.*"))).is_some());
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(engine.stream_sequence(key), Some(2));
    rt.block_on(ingest.stop());
}
