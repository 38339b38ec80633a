//! Power loss and failing disks, through the WAL's simulated storage.

use std::sync::Arc;

use strata::{Config, Engine, ManualClock, Selector, WriteOptions};
use strata_wal::{SimOp, SimStorage};

const NOW: i64 = 1_763_769_600_000_000_000;

fn config(dir: &std::path::Path) -> Config {
    let mut config = Config::with_data_dir(dir);
    // No background checkpoint during the test: recovery must come from the WAL.
    config.hot.checkpoint_interval = strata::Span(std::time::Duration::from_secs(3600));
    config
}

fn open(dir: &std::path::Path, storage: SimStorage) -> Engine {
    Engine::open_with_wal_storage(config(dir), Arc::new(ManualClock::new(NOW)), storage).unwrap()
}

fn line(i: usize) -> String {
    format!("m,hostname=h{} value={}.5 {}\n", i % 7, i, NOW - i as i64 * 1_000_000_000)
}

fn stored(engine: &Engine) -> Vec<(i64, f64)> {
    let mut points: Vec<(i64, f64)> = engine
        .read(&Selector::metric("m"), 0, i64::MAX)
        .unwrap()
        .into_iter()
        .flat_map(|s| s.times.into_iter().zip(s.values))
        .collect();
    points.sort_by_key(|p| p.0);
    points
}

fn expected(lines: std::ops::Range<usize>) -> Vec<(i64, f64)> {
    let mut points: Vec<(i64, f64)> =
        lines.map(|i| (NOW - i as i64 * 1_000_000_000, format!("{i}.5").parse().unwrap())).collect();
    points.sort_by_key(|p| p.0);
    points
}

#[test]
fn acknowledged_writes_survive_power_loss() {
    let dir = tempfile::tempdir().unwrap();
    let storage = SimStorage::new();
    let engine = open(dir.path(), storage.clone());
    for i in 0..200 {
        engine.write_lp(line(i).as_bytes(), &WriteOptions::default()).unwrap();
    }
    // Power loss: only what was synced survives. The engine is not closed.
    let survived = storage.crash();
    drop(engine);
    let engine = open(dir.path(), survived);
    assert_eq!(stored(&engine), expected(0..200));
    assert_eq!(engine.recovery().points, 200);
}

#[test]
fn a_failed_sync_poisons_the_engine_and_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let storage = SimStorage::new();
    let engine = open(dir.path(), storage.clone());
    for i in 0..10 {
        engine.write_lp(line(i).as_bytes(), &WriteOptions::default()).unwrap();
    }
    storage.fail_nth(SimOp::Sync, 1);
    let err = engine.write_lp(line(10).as_bytes(), &WriteOptions::default()).unwrap_err();
    assert!(matches!(err, strata::Error::Wal(_)), "{err}");
    let err = engine.write_lp(line(11).as_bytes(), &WriteOptions::default()).unwrap_err();
    assert!(matches!(err, strata::Error::Poisoned { .. }), "{err}");
    assert!(err.to_string().contains("reopen it"), "{err}");
    // The failed write was never visible.
    assert_eq!(stored(&engine), expected(0..10));
    let survived = storage.crash();
    drop(engine);
    let engine = open(dir.path(), survived);
    assert_eq!(stored(&engine), expected(0..10));
    engine.write_lp(line(12).as_bytes(), &WriteOptions::default()).unwrap();
}
