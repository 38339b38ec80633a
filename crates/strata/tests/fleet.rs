//! The fleet view: nodes with their own `node_id` share one object store, each commits only
//! under `nodes/<node_id>/`, and `Fleet` answers over all of them: a series one node holds as
//! that node does, a series whose partition moved (its points on two nodes, apart in time)
//! merged exactly, and a series two nodes both hold the same points of reported, never summed.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use strata::{Aggregate, Config, Engine, Error, Fleet, ManualClock, Query, Resolution, Scope, WriteOptions};
use support::{Backend, HOUR, SEC, T0, Tiers, config};

const DAYS: i64 = 2;

/// The config of node `id` (or of the fleet view, `None`) over the test's store.
fn node_config(data_dir: &Path, tiers: &Tiers, id: Option<&str>) -> Config {
    let mut config = config(data_dir);
    config.node_id = id.map(str::to_owned);
    match &tiers.server {
        None => config.object_store.url = Some(format!("file://{}", tiers.root.display())),
        Some(server) => {
            config.object_store.url = Some(format!("s3://{}", server.bucket));
            config.object_store.endpoint = Some(server.endpoint.clone());
            config.object_store.region = Some("us-east-1".into());
            config.object_store.access_key_id = Some(server.access_key.clone());
            config.object_store.secret_access_key = Some(server.secret_key.clone());
            config.object_store.allow_http = true;
        }
    }
    config
}

/// Points per host and hour: count, sum, min, max.
#[derive(Default)]
struct Model(BTreeMap<(String, i64), (u64, f64, f64, f64)>);

impl Model {
    fn add(&mut self, host: &str, t: i64, v: f64) {
        let e = self.0.entry((host.to_owned(), t.div_euclid(HOUR) * HOUR)).or_insert((
            0,
            0.0,
            f64::MAX,
            f64::MIN,
        ));
        e.0 += 1;
        e.1 += v;
        e.2 = e.2.min(v);
        e.3 = e.3.max(v);
    }
}

/// Writes `host`'s point every 30 s in `[from, to)` (at `offset` s) to `engine`, and to `model`.
fn write(engine: &Engine, model: Option<&mut Model>, host: &str, from: i64, to: i64, offset: i64) {
    let mut body = String::new();
    let mut points = Vec::new();
    let mut t = from + offset * SEC;
    while t < to {
        let v = ((t / SEC) % 89) as f64 / 8.0 + host.len() as f64;
        body.push_str(&format!("cpu_load,hostname={host},type=node value={v} {t}\n"));
        points.push((t, v));
        t += 30 * SEC;
    }
    let options = WriteOptions { default_cluster: Some("fritz".into()), ..Default::default() };
    let report = engine.write_lp(body.as_bytes(), &options).unwrap();
    assert!(report.rejections.is_empty(), "{:?}", report.rejections.first());
    if let Some(model) = model {
        for (t, v) in points {
            model.add(host, t, v);
        }
    }
}

fn fleet_answers_as_its_nodes(backend: Backend) {
    let tiers = Tiers::new(backend);
    let (dir_a, dir_b, dir_view) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let clock = Arc::new(ManualClock::new(T0 + HOUR));
    let a = Engine::open_with_clock(node_config(dir_a.path(), &tiers, Some("a")), clock.clone()).unwrap();
    let b = Engine::open_with_clock(node_config(dir_b.path(), &tiers, Some("b")), clock.clone()).unwrap();
    let mut model = Model::default();
    let moved_at = T0 + 30 * HOUR + 17 * 60 * SEC;
    for hour in 1..=DAYS * 24 {
        let (from, to) = (T0 + (hour - 1) * HOUR, T0 + hour * HOUR);
        clock.set(to);
        write(&a, Some(&mut model), "n1", from, to, 0);
        write(&a, Some(&mut model), "n2", from, to, 0);
        write(&b, Some(&mut model), "n3", from, to, 0);
        // n4's partition moves from a to b at `moved_at`, in the middle of an hour.
        write(&a, Some(&mut model), "n4", from, to.min(moved_at), 0);
        write(&b, Some(&mut model), "n4", from.max(moved_at), to, 0);
        // Both nodes hold n5's points (a partition written twice); the model counts them once.
        write(&a, Some(&mut model), "n5", from, to, 0);
        write(&b, None, "n5", from, to, 0);
        a.compact().unwrap();
        b.compact().unwrap();
    }
    let objects = tiers.objects();
    assert!(objects.iter().all(|o| o.starts_with("nodes/a/") || o.starts_with("nodes/b/")), "{objects:?}");

    let fleet = Fleet::open_with_clock(node_config(dir_view.path(), &tiers, None), clock.clone()).unwrap();
    let nodes: Vec<_> = fleet.nodes().into_iter().map(|n| n.id).collect();
    assert_eq!(nodes, ["a", "b"]);
    let until = fleet.nodes().iter().map(|n| n.manifest.warm_until.unwrap()).min().unwrap();
    let until = until.div_euclid(HOUR) * HOUR;
    let mut query = Query::new("cpu_load", T0, until, Resolution::Every(HOUR));
    query.aggregates = vec![Aggregate::Count, Aggregate::Sum, Aggregate::Min, Aggregate::Max, Aggregate::Avg];
    let answer = fleet.query(&query).unwrap();

    // Every host's hourly aggregates are the model's: n4 across the move, n5 once.
    let mut seen = 0;
    for series in &answer.series {
        let host = series.key.as_ref().unwrap().tag("hostname").unwrap().to_owned();
        for (i, &t) in series.times.iter().enumerate() {
            let Some(agg) = series.aggs[i] else { continue };
            let want = model.0[&(host.clone(), t)];
            assert_eq!((agg.count, agg.min, agg.max), (want.0, want.2, want.3), "{host} at {t}");
            assert!(
                (agg.sum - want.1).abs() <= 1e-12 * want.1.abs(),
                "{host} at {t}: {} vs {}",
                agg.sum,
                want.1
            );
            seen += 1;
        }
    }
    let want_buckets = model.0.keys().filter(|(_, t)| *t < until).count();
    assert_eq!(seen, want_buckets, "every host-hour before {until} answered");
    // n5 is reported, n4 is not; the nodes' hot data is said to be out of the view.
    let overlaps: Vec<_> = answer.notes.iter().filter(|n| n.contains("may be the same points")).collect();
    assert_eq!(overlaps.len(), 1, "{:?}", answer.notes);
    assert!(overlaps[0].contains("hostname=n5") && overlaps[0].contains("nodes a, b"), "{overlaps:?}");

    // A series one node holds is answered exactly as that node answers it.
    let mut one = query.clone();
    one.hosts = vec!["n3".into()];
    let from_fleet = fleet.query(&one).unwrap();
    let from_b = b.query(&one).unwrap();
    assert_eq!(from_fleet.series, from_b.series);
    assert!(from_fleet.notes.iter().all(|n| !n.contains("may be the same")), "{:?}", from_fleet.notes);

    // The aggregate over every node's hosts (n5 once).
    let mut all = query.clone();
    all.scope = Scope::Aggregate;
    all.aggregates = vec![Aggregate::Count];
    let counts = &fleet.query(&all).unwrap().series[0].columns[0].1;
    let first_hour: u64 = model.0.iter().filter(|((_, t), _)| *t == T0).map(|(_, v)| v.0).sum();
    assert_eq!(counts[0], Some(first_hour as f64));

    // Raw points are the nodes' own.
    let raw = Query::new("cpu_load", T0, until, Resolution::Raw);
    assert!(matches!(fleet.query(&raw), Err(Error::Query(m)) if m.contains("hot store")));
    let mut later = query.clone();
    later.to = T0 + DAYS * 24 * HOUR;
    let notes = fleet.query(&later).unwrap().notes;
    assert!(notes.iter().any(|n| n.starts_with("node a: its tiers hold buckets before")), "{notes:?}");
}

#[test]
fn fleet_answers_as_its_nodes_on_a_local_store() {
    fleet_answers_as_its_nodes(Backend::Local);
}

#[test]
fn fleet_answers_as_its_nodes_on_s3() {
    fleet_answers_as_its_nodes(Backend::S3);
}

#[test]
fn a_node_id_is_one_engine_and_names_a_folder() {
    let tiers = Tiers::new(Backend::Local);
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let clock = Arc::new(ManualClock::new(T0 + 2 * HOUR));
    let first = Engine::open_with_clock(node_config(one.path(), &tiers, Some("a")), clock.clone()).unwrap();
    write(&first, None, "n1", T0, T0 + HOUR, 0);
    first.compact().unwrap();
    // Another engine (another data directory) under the same node_id is refused.
    let err = Engine::open_with_clock(node_config(two.path(), &tiers, Some("a")), clock.clone()).unwrap_err();
    assert!(matches!(err, Error::NotOwner { .. }), "{err}");
    drop(first);
    // An engine that committed at the store's root is refused a node_id: its tiers are there.
    let mut single = config(one.path());
    single.object_store.url = Some(format!("file://{}", tiers.root.join("single").display()));
    let engine = Engine::open_with_clock(single.clone(), clock.clone()).unwrap();
    write(&engine, None, "n1", T0, T0 + HOUR, 0);
    engine.compact().unwrap();
    drop(engine);
    single.node_id = Some("c".into());
    let err = Engine::open_with_clock(single, clock.clone()).unwrap_err().to_string();
    assert!(err.contains("move the objects"), "{err}");
    for bad in ["", "../x", "a/b", "nöde", &"x".repeat(65)] {
        let mut config = node_config(two.path(), &tiers, None);
        config.node_id = Some(bad.to_owned());
        let err = Engine::open(config).unwrap_err().to_string();
        assert!(err.contains("node_id"), "{bad:?}: {err}");
    }
}
