//! Two `strata serve` nodes share one JetStream stream in four partitions and one object store.
//! Node A claims the partitions first; it is SIGKILLed while a publisher sends, node B takes its
//! partitions once their leases ran out, and A, restarted, must neither take them back nor keep
//! what it wrote and never acknowledged (its fence). Every point whose publish the stream
//! acknowledged is then stored exactly once across the two nodes, read from each node and
//! through the fleet view of both nodes' tiers, which reports no overlap.
//!
//! A real `nats-server` (Debian; its `partition()` subject mapping) on a loopback port, messages
//! published by Python's `nats-py`. Without either the test prints why and passes, unless
//! `CI=true`: there it fails.

mod common;
#[path = "../../strata-nats/tests/support/mod.rs"]
mod nats_support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nats_support::{NatsServer, publish};
use strata::{Aggregate, Config, Engine, Fleet, ManualClock, Query, Resolution, Selector};

const MESSAGES: u64 = 2400;
const PARTITIONS: u32 = 4;
const HOSTS: u64 = 16;

fn start(config: &Path) -> Child {
    let log =
        std::fs::OpenOptions::new().create(true).append(true).open(config.with_extension("log")).unwrap();
    common::start_serve(config, Stdio::from(log))
}

/// A node's files: `strata serve`'s config, and the engine part for readers beside it.
struct Node {
    config_path: std::path::PathBuf,
    engine: Config,
}

fn node(dir: &Path, id: &str, nats: &str) -> Node {
    let data = dir.join(id);
    let bucket = format!("file://{}", dir.join("bucket").display());
    let engine_toml =
        format!("node_id = \"{id}\"\ndata_dir = {data:?}\n[object_store]\nurl = \"{bucket}\"\n");
    let config_path = dir.join(format!("{id}.toml"));
    std::fs::write(
        &config_path,
        format!(
            r#"{engine_toml}[server]
listen = "127.0.0.1:0"
[nats]
url = "{nats}"
[[nats.jetstream]]
stream = "METRICS"
consumer = "strata"
filter_subject = "metrics.*"
cluster = "c1"
batch = 4
partitions = {PARTITIONS}
lease = "2s"
"#
        ),
    )
    .unwrap();
    Node { config_path, engine: Config::from_toml(&engine_toml).unwrap() }
}

fn key(p: u32) -> String {
    format!("nats:METRICS/strata-p{p}")
}

/// The highest stream sequence the node stored, over its partitions (a reader beside it).
fn stored_up_to(node: &Node) -> u64 {
    let Ok(engine) = Engine::open_read_only(node.engine.clone()) else { return 0 };
    (0..PARTITIONS).filter_map(|p| engine.stream_sequence(&key(p))).max().unwrap_or(0)
}

/// Every (host, time) the node holds, with how many times.
fn points(node: &Node, into: &mut BTreeMap<(String, i64), u32>) {
    let engine = Engine::open_read_only(node.engine.clone()).unwrap();
    for series in engine.read(&Selector::metric("jobs"), i64::MIN, i64::MAX).unwrap() {
        let host = series.key.tag("hostname").unwrap().to_owned();
        for t in series.times {
            *into.entry((host.clone(), t)).or_default() += 1;
        }
    }
}

fn stop(mut server: Child) {
    let status = Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap();
    assert!(status.success());
    assert!(server.wait().unwrap().success(), "SIGTERM stops the server cleanly");
}

#[test]
fn a_partition_taken_over_from_a_killed_node_stores_every_acknowledged_publish_once() {
    // The stream's subjects get the partition as a last token: metrics.<host> → metrics.<host>.<p>.
    let mappings =
        format!("\"metrics.*\": \"metrics.{{{{wildcard(1)}}}}.{{{{partition({PARTITIONS},1)}}}}\"");
    let Some(nats) = NatsServer::start_with_mappings(&mappings) else { return };
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (node(dir.path(), "a", &nats.url), node(dir.path(), "b", &nats.url));
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    // Message n: one point of host h<n % 16>, a second apart over the last hour.
    let mut messages = Vec::new();
    let mut want: BTreeMap<(String, i64), u32> = BTreeMap::new();
    for n in 0..MESSAGES {
        let host = format!("h{}", n % HOSTS);
        let t = now - 3000 + n as i64;
        messages.push((format!("metrics.{host}"), format!("jobs,hostname={host},type=node value={n} {t}\n")));
        want.insert((host, t * 1_000_000_000), 1);
    }
    let Some(first) = publish(&nats.url, &messages[..1], Some(("METRICS", "metrics.*.*"))) else { return };
    assert_eq!(first, [1]);

    // A first: it claims every partition. B starts once A holds them, and waits.
    let server_a = start(&a.config_path);
    wait_until("node a stores the first message", || stored_up_to(&a) >= 1);
    let server_b = start(&b.config_path);
    let url = nats.url.clone();
    let rest = messages[1..].to_vec();
    let publisher = std::thread::spawn(move || publish(&url, &rest, Some(("METRICS", "metrics.*.*"))));
    wait_until("node a stores a third", || stored_up_to(&a) >= MESSAGES / 3);
    let mut server_a = server_a;
    server_a.kill().unwrap();
    server_a.wait().unwrap();
    let killed_at = stored_up_to(&a);

    // B takes the partitions over after their leases; then A comes back and gets none.
    let acked = publisher.join().unwrap().unwrap();
    assert_eq!(acked, (2..=MESSAGES).collect::<Vec<_>>(), "every publish acknowledged");
    wait_until("node b stores the last message", || stored_up_to(&b) >= MESSAGES);
    let server_a = start(&a.config_path);
    std::thread::sleep(Duration::from_secs(3));
    stop(server_a);
    stop(server_b);
    // B again: it held the partitions last, so its fence is its own ack floor (it acknowledged
    // everything: nothing dropped), and it claims them back.
    let server_b = start(&b.config_path);
    std::thread::sleep(Duration::from_secs(2));
    stop(server_b);
    assert!(stored_up_to(&a) < MESSAGES, "the restarted node took no partition back");
    for id in ["a", "b"] {
        let log = std::fs::read_to_string(dir.path().join(format!("{id}.log"))).unwrap_or_default();
        eprintln!("node {id}'s log:\n{log}");
    }
    eprintln!("node a was killed at sequence {killed_at}");
    assert!(killed_at < MESSAGES, "the kill came after the last message was stored ({killed_at})");
    // Each partition was claimed by A (epoch 1) and taken over by B (epoch 2), and no more.
    for p in 0..PARTITIONS {
        let claims = dir.path().join(format!("bucket/partitions/METRICS/strata/{p}"));
        let mut epochs: Vec<String> = std::fs::read_dir(&claims)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| !name.ends_with(".lease"))
            .collect();
        epochs.sort();
        assert_eq!(
            epochs,
            ["epoch-00000000000000000001", "epoch-00000000000000000002", "epoch-00000000000000000003"],
            "partition {p}: A's, B's takeover, B's return"
        );
        let lease = std::fs::read_to_string(claims.join("epoch-00000000000000000003.lease")).unwrap();
        assert!(lease.contains("\"owner\":\"b\"") && lease.contains("\"released\":true"), "{lease}");
    }

    let mut got = BTreeMap::new();
    points(&a, &mut got);
    points(&b, &mut got);
    let twice: Vec<_> = got.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "points stored by both nodes: {twice:?}");
    let missing: Vec<_> = want.keys().filter(|k| !got.contains_key(*k)).collect();
    assert!(missing.is_empty(), "acknowledged points stored by neither node: {missing:?}");
    assert_eq!(got, want);

    // Through the fleet view, once each node has moved everything to its tiers: every
    // acknowledged point once per (host, minute), and no overlap reported.
    let later = now + 3600;
    for node in [&a, &b] {
        let output = Command::new(env!("CARGO_BIN_EXE_strata"))
            .args(["compact", "--now", &later.to_string(), "--config"])
            .arg(&node.config_path)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    let clock = Arc::new(ManualClock::new(later * 1_000_000_000));
    let fleet = Fleet::open_with_clock(a.engine.clone(), clock).unwrap();
    assert_eq!(fleet.nodes().iter().map(|n| n.id.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    let minute = 60 * 1_000_000_000;
    let mut query =
        Query::new("jobs", (now - 3600) * 1_000_000_000, later * 1_000_000_000, Resolution::Every(minute));
    query.aggregates = vec![Aggregate::Count];
    let answer = fleet.query(&query).unwrap();
    let overlaps: Vec<_> = answer.notes.iter().filter(|n| n.contains("may be the same points")).collect();
    assert!(overlaps.is_empty(), "{overlaps:?}");
    let mut per_minute: BTreeMap<(String, i64), u64> = BTreeMap::new();
    for (host, t) in want.keys() {
        *per_minute.entry((host.clone(), t.div_euclid(minute) * minute)).or_default() += 1;
    }
    let mut from_fleet = BTreeMap::new();
    for series in &answer.series {
        let host = series.key.as_ref().unwrap().tag("hostname").unwrap().to_owned();
        for (t, count) in series.points(Aggregate::Count) {
            *from_fleet.entry((host.clone(), t)).or_default() += count as u64;
        }
    }
    assert_eq!(from_fleet, per_minute, "the fleet view's count per host and minute");
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(40);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
