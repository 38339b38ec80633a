//! Snapshots for readers outside strata. A snapshot is one manifest's file list; read by the
//! rule docs/FORMATS.md gives (every cold row; of warm, the rows from `cold_until` on, and the
//! rows of files of flushes not yet rolled up into cold) it counts every point the tiers held
//! at that commit exactly once. Its files
//! stay in the store through passes that merge and expire them and through a crash and
//! reopen, for `object_store.snapshot_retention`, and go after it.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arrow_array::{Float64Array, Int64Array, TimestampMicrosecondArray};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use strata::tier::Manifest;
use strata::{Engine, ManualClock, Span, Tier, WriteOptions};
use support::{Backend, DAY, HOUR, SEC, T0, Tiers, config};

const HOSTS: [&str; 3] = ["f0101", "f0102", "f0103"];

/// What was written: every point's time, and the sum of the values.
#[derive(Default)]
struct Written(Vec<(i64, f64)>);

impl Written {
    /// Points and their sum with times before `until`.
    fn before(&self, until: i64) -> (u64, f64) {
        let kept = self.0.iter().filter(|(t, _)| *t < until);
        kept.fold((0, 0.0), |(n, s), (_, v)| (n + 1, s + v))
    }
}

/// A point every 10 s per host in `[from, to)`, at `offset` seconds into each 10 s: offsets 0
/// and 5 never meet, so a second pass with offset 5 adds late points without replacing any.
fn write(engine: &Engine, written: &mut Written, from: i64, to: i64, offset: i64) {
    let mut body = String::new();
    let mut t = from + offset * SEC;
    while t < to {
        for (i, host) in HOSTS.iter().enumerate() {
            let value = ((t / SEC) % 97) as f64 + i as f64 / 4.0;
            body.push_str(&format!("cpu_load,hostname={host},type=node value={value} {t}\n"));
            written.0.push((t, value));
        }
        t += 10 * SEC;
    }
    let options = WriteOptions { default_cluster: Some("fritz".into()), ..Default::default() };
    let report = engine.write_lp(body.as_bytes(), &options).unwrap();
    assert!(report.rejections.is_empty(), "{:?}", report.rejections.first());
}

/// Reads a manifest's files as a reader without strata would, with the parquet crate alone:
/// the points (sum of `count`) and the sum of `sum` over the rows the rule takes.
fn read_by_the_rule(root: &Path, manifest: &Manifest) -> (u64, f64) {
    let cold_until = manifest.cold_until.unwrap_or(i64::MIN);
    let mut total = (0, 0.0);
    for file in &manifest.files {
        // Of a warm file whose flush is rolled up, the rows before cold_until are in cold.
        let from = if file.tier == Tier::Warm && file.flush <= manifest.cold_flushes {
            cold_until
        } else {
            i64::MIN
        };
        let bytes = std::fs::read(root.join(&file.path))
            .unwrap_or_else(|e| panic!("{} of generation {}: {e}", file.path, manifest.generation));
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes)).unwrap().build().unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            let count = batch.column_by_name("count").unwrap().as_any().downcast_ref::<Int64Array>().unwrap();
            let sum = batch.column_by_name("sum").unwrap().as_any().downcast_ref::<Float64Array>().unwrap();
            // Bucket starts in microseconds (tier schema version 3); the manifest's bounds are
            // nanoseconds.
            let time = batch.column_by_name("time").unwrap();
            let time = time.as_any().downcast_ref::<TimestampMicrosecondArray>().unwrap();
            for row in 0..batch.num_rows() {
                if time.value(row).saturating_mul(1_000) >= from {
                    total.0 += count.value(row) as u64;
                    total.1 += sum.value(row);
                }
            }
        }
    }
    total
}

/// Checks what the rule reads of `manifest` against `want`, the points and sum it must hold.
fn assert_reads(root: &Path, manifest: &Manifest, (want_points, want_sum): (u64, f64)) {
    let until = manifest.warm_until.unwrap();
    let (points, sum) = read_by_the_rule(root, manifest);
    assert_eq!(points, want_points, "points of generation {} before {until}", manifest.generation);
    assert!((sum - want_sum).abs() <= 1e-9 * want_sum.abs(), "sum {sum} against {want_sum}");
}

fn snapshot_survives(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let tiers = Tiers::new(backend);
    let clock = Arc::new(ManualClock::new(T0 + 5 * HOUR));
    let mut config = config(dir.path());
    config.object_store.snapshot_retention = Span(Duration::from_secs(86_400));
    let open = |config: &strata::Config| {
        Engine::open_with_object_store(config.clone(), clock.clone(), tiers.store.clone(), "").unwrap()
    };
    let mut engine = open(&config);
    let mut written = Written::default();

    // Five hours at 05:00, then an hour at a time with late points two hours back.
    write(&engine, &mut written, T0, T0 + 5 * HOUR, 0);
    engine.compact().unwrap();
    let mut snapshot = None;
    for hour in 6..=12 {
        clock.set(T0 + hour * HOUR);
        write(&engine, &mut written, T0 + (hour - 1) * HOUR, T0 + hour * HOUR, 0);
        write(&engine, &mut written, T0 + (hour - 3) * HOUR, T0 + (hour - 3) * HOUR + 10 * 60 * SEC, 5);
        engine.compact().unwrap();
        let manifest = engine.manifest();
        let held = written.before(manifest.warm_until.unwrap());
        assert_reads(&tiers.root, &manifest, held);
        if hour == 8 {
            // Later late points land before its warm_until too: what it holds is fixed now.
            snapshot = Some((manifest, held));
        }
    }
    let (snapshot, held) = snapshot.unwrap();

    // A day later warm expires; then a crash (no close) and an open, which sweeps orphans.
    clock.set(T0 + DAY + 2 * HOUR);
    engine.compact().unwrap();
    drop(engine);
    engine = open(&config);
    let live: BTreeSet<String> = engine.manifest().files.iter().map(|f| f.path.clone()).collect();
    let gone: Vec<&str> =
        snapshot.files.iter().map(|f| f.path.as_str()).filter(|p| !live.contains(*p)).collect();
    assert!(gone.len() >= 3, "passes merged and expired the snapshot's files: {gone:?}");
    let objects = tiers.objects();
    for path in &gone {
        assert!(objects.iter().any(|o| o == path), "{path} left the store within the retention");
    }
    assert_reads(&tiers.root, &snapshot, held);
    let manifest = engine.manifest();
    let removed: BTreeSet<&str> = manifest.removed.iter().map(|r| r.path.as_str()).collect();
    assert!(gone.iter().all(|p| removed.contains(p)), "the manifest lists what it keeps");

    // Past the retention they go, and a later commit forgets them.
    clock.set(T0 + 2 * DAY + 3 * HOUR);
    let report = engine.compact().unwrap();
    assert!(report.deleted_files >= gone.len() as u64, "{report}");
    let objects = tiers.objects();
    assert!(gone.iter().all(|p| !objects.iter().any(|o| o == p)), "{gone:?} still in {objects:?}");
    clock.set(T0 + 2 * DAY + 4 * HOUR);
    write(&engine, &mut written, T0 + 2 * DAY + 3 * HOUR, T0 + 2 * DAY + 4 * HOUR, 0);
    engine.compact().unwrap();
    let manifest = engine.manifest();
    assert!(manifest.removed.iter().all(|r| !gone.contains(&r.path.as_str())), "{:?}", manifest.removed);
    engine.close().unwrap();
}

#[test]
fn a_snapshot_survives_merges_expiry_and_a_crash_on_the_local_file_system() {
    snapshot_survives(Backend::Local);
}

#[test]
fn a_snapshot_survives_merges_expiry_and_a_crash_on_s3() {
    snapshot_survives(Backend::S3);
}
