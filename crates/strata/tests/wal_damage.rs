//! Damage to acknowledged WAL records refuses the open, naming the segment and offset, unless
//! `wal.on_damage = "truncate"`: then the engine opens without them and `Recovery::damage`
//! counts the loss. A segment missing from the log is refused the same way.

use std::path::Path;
use std::sync::Arc;

use strata::{Config, Engine, Error, ManualClock, Selector, WriteOptions};

const SEC: i64 = 1_000_000_000;
/// 2025-11-22T00:00:00Z.
const T0: i64 = 1_763_769_600 * SEC;

fn config(data_dir: &Path, on_damage: &str) -> Config {
    Config::from_toml(&format!(
        r#"
        data_dir = {data_dir:?}
        [wal]
        on_damage = "{on_damage}"
        [hot]
        checkpoint_interval = "1000d"
        [compactor]
        interval = "1000d"
        "#
    ))
    .unwrap()
}

fn open(data_dir: &Path, on_damage: &str) -> Result<Engine, Error> {
    Engine::open_with_clock(config(data_dir, on_damage), Arc::new(ManualClock::new(T0 + 3600 * SEC)))
}

/// One write of 100 points of `host`, one a second from `first` seconds on.
fn write(engine: &Engine, host: &str, first: i64) {
    let body: String = (first..first + 100)
        .map(|s| format!("cpu_load,hostname={host} value={s} {}\n", T0 / SEC + s))
        .collect();
    let report = engine.write_lp(body.as_bytes(), &WriteOptions::cc_metric_store("c")).unwrap();
    assert_eq!(report.accepted, 100);
}

fn points(engine: &Engine) -> usize {
    let series = engine.read(&Selector::metric("cpu_load"), i64::MIN, i64::MAX).unwrap();
    series.iter().map(|s| s.times.len()).sum()
}

/// Leaves the directory as a crash would: no final checkpoint, the WAL holds every write.
fn crash(engine: Engine, data_dir: &Path) {
    drop(engine);
    let _ = std::fs::remove_file(data_dir.join("LOCK"));
}

fn segment_file(data_dir: &Path, seq: u64) -> std::path::PathBuf {
    data_dir.join("wal").join(format!("{seq:020}.wal"))
}

#[test]
fn a_flipped_byte_in_an_acknowledged_record_refuses_the_open_unless_truncate() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path(), "refuse").unwrap();
    for (i, host) in ["a", "b", "c"].into_iter().enumerate() {
        write(&engine, host, i as i64 * 100);
    }
    crash(engine, dir.path());

    let path = segment_file(dir.path(), 1);
    let mut bytes = std::fs::read(&path).unwrap();
    // The first record's payload: header 48 bytes, record header 16.
    bytes[48 + 16 + 30] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();

    let err = open(dir.path(), "refuse").unwrap_err();
    let message = err.to_string();
    assert!(matches!(&err, Error::WalDamaged { segment, offset: 48, .. } if *segment == path), "{message}");
    assert!(message.contains(&path.display().to_string()) && message.contains("offset 48"), "{message}");
    assert!(message.contains("wal.on_damage = \"truncate\""), "{message}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "nothing changed");

    // Opened anyway: the three writes are gone (the damaged one and the two after it), and
    // the loss is reported.
    let engine = open(dir.path(), "truncate").unwrap();
    assert_eq!(points(&engine), 0);
    let recovery = engine.recovery();
    assert_eq!(recovery.truncated, None);
    let damage = recovery.damage.clone().expect("the loss is reported");
    assert_eq!((damage.segment, damage.offset, damage.dropped_records), (1, 48, 2));
    assert_eq!(damage.dropped_bytes, bytes.len() as u64 - 48);
    engine.close().unwrap();
}

#[test]
fn a_missing_middle_segment_refuses_the_open_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    // Each open starts a new segment: three runs, three segments.
    for (i, host) in ["a", "b", "c"].into_iter().enumerate() {
        let engine = open(dir.path(), "refuse").unwrap();
        write(&engine, host, i as i64 * 100);
        crash(engine, dir.path());
    }
    let engine = open(dir.path(), "refuse").unwrap();
    assert_eq!(points(&engine), 300);
    crash(engine, dir.path());

    let missing = segment_file(dir.path(), 2);
    std::fs::remove_file(&missing).unwrap();
    let err = open(dir.path(), "refuse").unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(&err, Error::WalDamaged { segment, offset: 0, .. } if *segment == segment_file(dir.path(), 3)),
        "{message}"
    );
    assert!(
        message.contains(&format!("segment {:020}.wal", 2)) && message.contains("is missing"),
        "{message}"
    );

    let engine = open(dir.path(), "truncate").unwrap();
    assert_eq!(points(&engine), 100, "only the writes before the gap");
    let damage = engine.recovery().damage.clone().unwrap();
    assert_eq!((damage.segment, damage.offset, damage.dropped_records), (3, 0, 1));
    assert_eq!(damage.removed_segments, vec![3, 4]);
    engine.close().unwrap();
}
