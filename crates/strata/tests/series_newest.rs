//! `Engine::series_newest`: every known series with its newest point in memory, before and
//! after a reopen (when the newest window is a sealed chunk loaded from a checkpoint).

use strata::{Config, Engine, ManualClock, WriteOptions};

#[test]
fn newest_point_per_series_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let base = 1_800_000_000i64;
    let clock = || std::sync::Arc::new(ManualClock::new((base + 3600) * 1_000_000_000));
    let engine = Engine::open_with_clock(Config::with_data_dir(dir.path()), clock()).unwrap();
    let body = format!(
        "cpu_load,hostname=a value=1 {}\ncpu_load,hostname=a value=2 {}\nmem_used,hostname=b value=3 {}\n",
        base,
        base + 70,
        base + 10
    );
    assert_eq!(engine.write_lp(body.as_bytes(), &WriteOptions::cc_metric_store("c")).unwrap().accepted, 3);
    let newest = |engine: &Engine| {
        let mut all: Vec<(String, String, Option<i64>)> = engine
            .series_newest()
            .into_iter()
            .map(|(key, t)| (key.measurement.clone(), key.tag("hostname").unwrap().to_owned(), t))
            .collect();
        all.sort();
        all
    };
    let want = vec![
        ("cpu_load".to_owned(), "a".to_owned(), Some((base + 70) * 1_000_000_000)),
        ("mem_used".to_owned(), "b".to_owned(), Some((base + 10) * 1_000_000_000)),
    ];
    assert_eq!(newest(&engine), want);
    engine.close().unwrap();
    let engine = Engine::open_with_clock(Config::with_data_dir(dir.path()), clock()).unwrap();
    assert_eq!(newest(&engine), want);
    engine.close().unwrap();
}
