//! Data moves hot -> warm -> cold and is deleted at retention, on the local file system and
//! on an S3 server in the test process; every tier row is checked against a model of what was
//! written. Faults: failed puts, hung requests, a crash between upload and manifest commit.

mod support;

use std::sync::Arc;

use strata::{Engine, ManualClock, Tier, WriteOptions};
use support::{Backend, DAY, HOUR, MIN, Model, Rng, SEC, T0, Tiers, assert_tier_matches, config};

const HOSTS: [&str; 3] = ["f0101", "f0102", "f0103"];
const METRICS: [&str; 2] = ["cpu_load", "flops_any"];

/// Writes a point every ~15 s (jittered, some duplicated) for each series in `[from, to)`.
fn write_span(engine: &Engine, model: &mut Model, rng: &mut Rng, from: i64, to: i64) {
    let mut body = String::new();
    let mut t = from;
    while t < to {
        for metric in METRICS {
            for host in HOSTS {
                let time = t + rng.below(10) as i64 * SEC;
                let value = rng.value();
                body.push_str(&format!("{metric},hostname={host},type=node value={value} {time}\n"));
                model.insert(metric, host, time, value);
            }
        }
        t += 15 * SEC;
    }
    let report = engine
        .write_lp(
            body.as_bytes(),
            &WriteOptions { default_cluster: Some("fritz".into()), ..Default::default() },
        )
        .unwrap();
    assert!(report.rejections.is_empty(), "{:?}", report.rejections.first());
}

fn open(dir: &std::path::Path, tiers: &Tiers, clock: &Arc<ManualClock>) -> Engine {
    Engine::open_with_object_store(config(dir), clock.clone(), tiers.store.clone(), "").unwrap()
}

fn lifecycle(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let tiers = Tiers::new(backend);
    let clock = Arc::new(ManualClock::new(T0 + 5 * HOUR));
    let mut engine = open(dir.path(), &tiers, &clock);
    let mut model = Model::default();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);

    // Five hours of data, written at 05:00 (the first three hours are backfill beyond hot).
    write_span(&engine, &mut model, &mut rng, T0, T0 + 5 * HOUR);
    let report = engine.compact().unwrap();
    assert_eq!(report.warm_until, Some(T0 + 5 * HOUR - 5 * MIN), "{report}");
    assert_eq!(report.cold_until, Some(T0 + 4 * HOUR), "{report}");
    for metric in METRICS {
        assert_tier_matches(&engine, Tier::Warm, metric, &model, MIN, T0, T0 + 5 * HOUR - 5 * MIN);
        assert_tier_matches(&engine, Tier::Cold, metric, &model, HOUR, T0, T0 + 4 * HOUR);
    }
    // Hot kept only hot.retention (2h) of it.
    assert_eq!(engine.stats().hot.series, 6);
    let hot = engine.read(&strata::Selector::metric("cpu_load"), i64::MIN, i64::MAX).unwrap();
    assert!(hot.iter().all(|s| s.times[0] >= T0 + 3 * HOUR), "hot evicted what is older than 2h");

    // Late points for buckets already written (one replaces a value not yet... no: written),
    // and a restart in between: they land as partial rows that reads merge.
    engine.close().unwrap();
    engine = open(dir.path(), &tiers, &clock);
    let late = format!(
        "cpu_load,hostname=f0101,type=node value=1.5 {}\ncpu_load,hostname=f0102,type=node value=-7 {}\n",
        T0 + 4 * HOUR + 30 * SEC + 1,
        T0 + 90 * MIN + 1
    );
    engine
        .write_lp(
            late.as_bytes(),
            &WriteOptions { default_cluster: Some("fritz".into()), ..Default::default() },
        )
        .unwrap();
    model.insert("cpu_load", "f0101", T0 + 4 * HOUR + 30 * SEC + 1, 1.5);
    model.insert("cpu_load", "f0102", T0 + 90 * MIN + 1, -7.0);
    clock.set(T0 + 6 * HOUR);
    write_span(&engine, &mut model, &mut rng, T0 + 5 * HOUR, T0 + 6 * HOUR);
    let report = engine.compact().unwrap();
    assert_eq!(report.late_points, 2, "{report}");
    for metric in METRICS {
        assert_tier_matches(&engine, Tier::Warm, metric, &model, MIN, T0, T0 + 6 * HOUR - 5 * MIN);
        assert_tier_matches(&engine, Tier::Cold, metric, &model, HOUR, T0, T0 + 5 * HOUR);
    }

    // A dirty stop (no close: the WAL is replayed) loses and doubles nothing.
    clock.set(T0 + 7 * HOUR);
    write_span(&engine, &mut model, &mut rng, T0 + 6 * HOUR, T0 + 7 * HOUR);
    drop(engine);
    engine = open(dir.path(), &tiers, &clock);
    engine.compact().unwrap();
    for metric in METRICS {
        assert_tier_matches(&engine, Tier::Warm, metric, &model, MIN, T0, T0 + 7 * HOUR - 5 * MIN);
        assert_tier_matches(&engine, Tier::Cold, metric, &model, HOUR, T0, T0 + 6 * HOUR);
    }
    let stats = engine.stats().tiers;
    assert!(stats.warm.max_files_per_day <= 3 * 2 + 2, "merges bound the files per day: {stats:?}");

    // Two days later: warm (1d) is gone, cold (3d) still answers; hot is empty.
    clock.set(T0 + 2 * DAY);
    let report = engine.compact().unwrap();
    assert!(report.expired_files > 0, "{report}");
    let stats = engine.stats();
    assert_eq!(stats.tiers.warm.files, 0, "{:?}", stats.tiers);
    assert_eq!(stats.hot.sealed_points + stats.hot.open_points, 0);
    // The expired files stay for readers of earlier manifests (object_store.snapshot_retention,
    // 1 h by default), listed under the manifest's `removed`, then go.
    let waiting = stats.tiers.files_waiting_for_readers;
    assert!(waiting > 0 && tiers.objects().iter().any(|p| p.starts_with("warm/")), "{:?}", stats.tiers);
    assert!(engine.manifest().removed.len() as u64 >= waiting, "deleted ones stay listed until a commit");
    clock.set(T0 + 2 * DAY + HOUR);
    let report = engine.compact().unwrap();
    assert!(report.deleted_files >= waiting, "{report}");
    assert_eq!(engine.stats().tiers.files_waiting_for_readers, 0);
    assert!(tiers.objects().iter().all(|p| !p.starts_with("warm/")), "{:?}", tiers.objects());
    for metric in METRICS {
        assert_tier_matches(&engine, Tier::Cold, metric, &model, HOUR, T0, T0 + 7 * HOUR);
    }

    // Four days later cold is gone too, from the manifest and from the store.
    clock.set(T0 + 4 * DAY);
    engine.compact().unwrap();
    assert_eq!(engine.stats().tiers.cold.files, 0);
    clock.set(T0 + 4 * DAY + HOUR);
    engine.compact().unwrap();
    let left: Vec<String> = tiers.objects().into_iter().filter(|p| !p.starts_with("_manifest/")).collect();
    assert!(left.is_empty(), "{left:?}");
    engine.close().unwrap();
}

#[test]
fn lifecycle_on_the_local_file_system() {
    lifecycle(Backend::Local);
}

#[test]
fn lifecycle_on_s3() {
    lifecycle(Backend::S3);
}

/// The engine's own S3 client, configured from TOML as an operator would.
#[test]
fn s3_from_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let s3_dir = tempfile::tempdir().unwrap();
    let server = support::s3::spawn(s3_dir.path(), "metrics");
    let mut config = config(dir.path());
    config.object_store = strata::Config::from_toml(&format!(
        "[object_store]\nurl = \"s3://metrics/site-a/strata\"\nendpoint = \"{}\"\nregion = \"us-east-1\"\naccess_key_id = \"{}\"\nsecret_access_key = \"{}\"\nallow_http = true\n",
        server.endpoint, server.access_key, server.secret_key
    ))
    .unwrap()
    .object_store;
    let clock = Arc::new(ManualClock::new(T0 + 3 * HOUR));
    let engine = Engine::open_with_clock(config, clock.clone()).unwrap();
    let mut model = Model::default();
    write_span(&engine, &mut model, &mut Rng(7), T0, T0 + 3 * HOUR);
    engine.compact().unwrap();
    assert_tier_matches(&engine, Tier::Warm, "flops_any", &model, MIN, T0, T0 + 3 * HOUR - 5 * MIN);
    assert_tier_matches(&engine, Tier::Cold, "flops_any", &model, HOUR, T0, T0 + 2 * HOUR);
    let files: Vec<String> = std::fs::read_dir(s3_dir.path().join("metrics/site-a/strata/warm"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, ["day=2025-11-22"]);
    engine.close().unwrap();
}

fn faults(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let tiers = Tiers::new(backend);
    let clock = Arc::new(ManualClock::new(T0 + 3 * HOUR));
    let mut engine = open(dir.path(), &tiers, &clock);
    let mut model = Model::default();
    let mut rng = Rng(0xFA17);
    write_span(&engine, &mut model, &mut rng, T0, T0 + 3 * HOUR);

    // The first put (a warm file) fails: the pass fails, the status says why, the next retries.
    tiers.store.set(|f| f.fail_put_in = Some(0));
    let err = engine.compact().unwrap_err().to_string();
    assert!(err.contains("injected failure"), "{err}");
    let status = engine.stats().tiers.status;
    assert_eq!((status.failures, status.failing_for), (1, 1));
    assert!(status.last_error.unwrap().contains("injected failure"));
    // Checkpoints go on while the flush waits: they record its late points.
    engine.checkpoint().unwrap();
    engine.compact().unwrap();
    assert_eq!(engine.stats().tiers.status.failing_for, 0);
    assert_tier_matches(&engine, Tier::Warm, "cpu_load", &model, MIN, T0, T0 + 3 * HOUR - 5 * MIN);

    // A request that hangs past object_store.timeout (2s) fails the pass, and is retried.
    clock.set(T0 + 4 * HOUR);
    write_span(&engine, &mut model, &mut rng, T0 + 3 * HOUR, T0 + 4 * HOUR);
    tiers.store.set(|f| f.hang_puts = Some(std::time::Duration::from_secs(3)));
    let err = engine.compact().unwrap_err().to_string();
    assert!(err.contains("no answer within"), "{err}");
    tiers.store.set(|f| f.hang_puts = None);
    engine.compact().unwrap();
    assert_tier_matches(&engine, Tier::Warm, "cpu_load", &model, MIN, T0, T0 + 4 * HOUR - 5 * MIN);

    // The process dies between uploading files and committing the manifest: every manifest put
    // fails, then the engine is dropped without a close.
    clock.set(T0 + 5 * HOUR);
    write_span(&engine, &mut model, &mut rng, T0 + 4 * HOUR, T0 + 5 * HOUR);
    engine
        .write_lp(
            format!("cpu_load,hostname=f0103,type=node,cluster=fritz value=99 {}\n", T0 + MIN).as_bytes(),
            &WriteOptions::default(),
        )
        .unwrap();
    model.insert("cpu_load", "f0103", T0 + MIN, 99.0);
    tiers.store.set(|f| f.fail_puts_to = Some("_manifest/".into()));
    assert!(engine.compact().is_err());
    let uploaded = tiers.objects().iter().filter(|p| p.starts_with("warm/")).count();
    drop(engine);
    tiers.store.set(|f| f.fail_puts_to = None);
    engine = open(dir.path(), &tiers, &clock);
    assert!(engine.stats().tiers.status.orphans_removed >= 1, "the uploaded, uncommitted file is an orphan");
    assert!(tiers.objects().iter().filter(|p| p.starts_with("warm/")).count() < uploaded);
    engine.compact().unwrap();
    for metric in METRICS {
        assert_tier_matches(&engine, Tier::Warm, metric, &model, MIN, T0, T0 + 5 * HOUR - 5 * MIN);
        assert_tier_matches(&engine, Tier::Cold, metric, &model, HOUR, T0, T0 + 4 * HOUR);
    }
    engine.close().unwrap();
}

#[test]
fn faults_on_the_local_file_system() {
    faults(Backend::Local);
}

#[test]
fn faults_on_s3() {
    faults(Backend::S3);
}

/// A tag value never steers an object path, and comes back exactly.
#[test]
fn tag_values_do_not_steer_paths() {
    let dir = tempfile::tempdir().unwrap();
    let tiers = Tiers::new(Backend::Local);
    let clock = Arc::new(ManualClock::new(T0 + HOUR));
    let engine = open(dir.path(), &tiers, &clock);
    let nasty = ["..", "../../etc", "a/b", "\\\\x", "..\\\\..", "day=1999-01-01"];
    let mut body = String::new();
    for (i, value) in nasty.iter().enumerate() {
        let escaped = value.replace('=', "\\=");
        body.push_str(&format!(
            "m,cluster={escaped},hostname={escaped},{escaped}={escaped} value={i} {}\n",
            T0 + i as i64 * SEC
        ));
    }
    let report = engine.write_lp(body.as_bytes(), &WriteOptions::default()).unwrap();
    assert_eq!(report.accepted, nasty.len() as u64, "{:?}", report.rejections);
    engine.compact().unwrap();
    for path in tiers.objects() {
        let ok = path.starts_with("_manifest/")
            || (path.starts_with("warm/day=2025-11-22/") || path.starts_with("cold/day=2025-11-22/"))
                && path.ends_with(".parquet")
                && path.matches('/').count() == 2;
        assert!(ok, "unexpected object {path}");
    }
    assert!(!dir.path().join("etc").exists() && !tiers.root.parent().unwrap().join("etc").exists());
    let rows = engine.read_tier(Tier::Warm, &strata::Selector::metric("m"), T0, T0 + HOUR).unwrap();
    let mut hosts: Vec<String> = rows.iter().map(|s| s.key.tag("hostname").unwrap().to_owned()).collect();
    hosts.sort();
    let mut want: Vec<String> = nasty.iter().map(|v| v.replace("\\\\", "\\")).collect();
    want.sort();
    assert_eq!(hosts, want);
    for s in &rows {
        let v = s.key.tag("hostname").unwrap();
        assert_eq!(s.key.tag(v), Some(v), "the extra tag keyed by the odd value comes back");
    }
}

/// Past hot.max_memory the oldest hot windows are flushed early and evicted, counted.
#[test]
fn memory_limit_evicts_early_after_flushing() {
    let dir = tempfile::tempdir().unwrap();
    let tiers = Tiers::new(Backend::Local);
    let clock = Arc::new(ManualClock::new(T0 + 2 * HOUR));
    let mut config = config(dir.path());
    config.hot.max_memory = strata::ByteSize(1 << 20);
    let engine = Engine::open_with_object_store(config, clock.clone(), tiers.store.clone(), "").unwrap();
    let mut model = Model::default();
    // 2,000 series x 2 h at 10 s: well past 1 MiB in hot.
    for hosts in (0..2000).collect::<Vec<i64>>().chunks(200) {
        let mut body = String::new();
        for &host in hosts {
            for step in 0..720 {
                let t = T0 + step * 10 * SEC;
                let v = (host * 7 + step) % 1000;
                body.push_str(&format!("mem,hostname=h{host} value={v} {t}\n"));
                model.insert("mem", &format!("h{host}"), t, v as f64);
            }
        }
        let options = WriteOptions { default_cluster: Some("fritz".into()), ..Default::default() };
        engine.write_lp(body.as_bytes(), &options).unwrap();
    }
    let before = engine.stats().hot.memory_bytes;
    assert!(before > 1 << 20, "{before}");
    let report = engine.compact().unwrap();
    assert!(report.evicted_early > 0, "{report}");
    let stats = engine.stats();
    assert!(stats.hot.memory_bytes < before, "{} >= {before}", stats.hot.memory_bytes);
    assert_eq!(stats.tiers.status.evicted_early, report.evicted_early);
    // Nothing is lost: every evicted point is in a committed warm row.
    let warm_until = stats.tiers.warm_until.unwrap();
    assert_tier_matches(&engine, Tier::Warm, "mem", &model, MIN, T0, warm_until);
}

/// Backfill: last week's data goes to the tiers; data past every retention is refused.
#[test]
fn backfill_goes_to_the_tiers() {
    let dir = tempfile::tempdir().unwrap();
    let tiers = Tiers::new(Backend::Local);
    let now = T0 + 2 * DAY;
    let clock = Arc::new(ManualClock::new(now));
    let engine = open(dir.path(), &tiers, &clock);
    // A first pass on an empty engine moves the tiers (and hot's start) up to now.
    engine.compact().unwrap();
    let body = format!(
        "m,hostname=a value=1 {}\nm,hostname=a value=2 {}\nm,hostname=a value=3 {}\n",
        now - 20 * HOUR,
        now - 20 * HOUR + SEC,
        now - 4 * DAY
    );
    let report = engine.write_lp(body.as_bytes(), &WriteOptions::default()).unwrap();
    assert_eq!(report.accepted, 2);
    assert_eq!(
        report.rejections[0].to_string(),
        "line 3: timestamp 2025-11-20T00:00:00Z is more than cold.retention (3d) before now (2025-11-24T00:00:00Z): no tier keeps it"
    );
    assert_eq!(engine.stats().hot.late_points, 2);
    engine.compact().unwrap();
    let warm = engine.read_tier(Tier::Warm, &strata::Selector::metric("m"), 0, i64::MAX).unwrap();
    assert_eq!(
        (warm[0].times.clone(), warm[0].aggs[0].count, warm[0].aggs[0].sum),
        (vec![now - 20 * HOUR], 2, 3.0)
    );
    let cold = engine.read_tier(Tier::Cold, &strata::Selector::metric("m"), 0, i64::MAX).unwrap();
    assert_eq!(cold[0].aggs[0].count, 2);
    assert_eq!(engine.stats().hot.late_points, 0);
}

/// A cancel flag stops a query reading warm and hot; unset, the answer is `query`'s.
#[test]
fn a_cancelled_query_stops_with_an_error() {
    use std::sync::atomic::AtomicBool;
    let dir = tempfile::tempdir().unwrap();
    let tiers = Tiers::new(Backend::Local);
    let now = T0 + 2 * DAY;
    let clock = Arc::new(ManualClock::new(now));
    let engine = open(dir.path(), &tiers, &clock);
    engine.compact().unwrap();
    let body = format!("m,hostname=a value=1 {}\nm,hostname=a value=2 {}\n", now - 20 * HOUR, now - MIN);
    assert_eq!(engine.write_lp(body.as_bytes(), &WriteOptions::default()).unwrap().accepted, 2);
    engine.compact().unwrap();
    let query = strata::Query::new("m", now - DAY, now, strata::Resolution::Every(MIN));
    let answer = engine.query(&query).unwrap();
    let tiers_served: Vec<Tier> = answer.served.iter().map(|s| s.tier).collect();
    assert!(tiers_served.contains(&Tier::Warm) && tiers_served.contains(&Tier::Hot), "{tiers_served:?}");
    assert_eq!(engine.query_cancellable(&query, &AtomicBool::new(false)).unwrap(), answer);
    let err = engine.query_cancellable(&query, &AtomicBool::new(true)).unwrap_err();
    assert!(matches!(err, strata::Error::Cancelled), "{err}");
    // Raw points from hot stop too.
    let raw = strata::Query::new("m", now - HOUR, now, strata::Resolution::Raw);
    let err = engine.query_cancellable(&raw, &AtomicBool::new(true)).unwrap_err();
    assert!(matches!(err, strata::Error::Cancelled), "{err}");
}

/// Readers that run while passes merge and delete files always see every point once.
#[test]
fn reads_during_merges_and_deletes_stay_correct() {
    let dir = tempfile::tempdir().unwrap();
    let tiers = Tiers::new(Backend::Local);
    let clock = Arc::new(ManualClock::new(T0 + 10 * MIN));
    let engine = Arc::new(open(dir.path(), &tiers, &clock));
    let mut model = Model::default();
    let mut rng = Rng(99);
    write_span(&engine, &mut model, &mut rng, T0, T0 + 10 * MIN);
    engine.compact().unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (engine, stop) = (engine.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut reads = 0;
            let mut last = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let rows = engine
                    .read_tier(Tier::Warm, &strata::Selector::metric("cpu_load"), T0, T0 + HOUR)
                    .unwrap();
                let count: u64 = rows.iter().flat_map(|s| &s.aggs).map(|a| a.count).sum();
                assert!(count >= last, "a read saw fewer points than an earlier one: {count} < {last}");
                last = count;
                reads += 1;
            }
            reads
        })
    };
    // Flush a few minutes per pass: many small files, merged three at a time.
    for step in 1..=8 {
        let end = T0 + (10 + step * 5) * MIN;
        write_span(&engine, &mut model, &mut rng, end - 5 * MIN, end);
        clock.set(end);
        engine.compact().unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
    engine.compact().unwrap();
    assert_tier_matches(&engine, Tier::Warm, "cpu_load", &model, MIN, T0, T0 + 45 * MIN);
}
