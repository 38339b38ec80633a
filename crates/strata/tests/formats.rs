//! Formats that change only on purpose: the committed data directories in `testdata/formats/`
//! are read back exactly, the current writers reproduce their WAL, checkpoint and manifest
//! bytes, and files of a newer version are refused with an error naming the file.
//!
//! Each fixture is a whole data directory, named after the format versions in it:
//! - `wal2-ckpt3-manifest3-tier3/`: the full workload (writes, one compaction pass, late
//!   points, a checkpoint, writes after it), with its `ENGINE_ID`; `cpu_load` is a counter;
//! - `wal2-ckpt3-manifest3-tier2/`: the same workload as a strata of tier schema version 2
//!   wrote it (`time` in nanoseconds);
//! - `wal2-ckpt3-manifest2-tier2/`: the same workload as a strata of manifest version 2 wrote
//!   it (no `committed_at`, no `removed`);
//! - `wal2-ckpt3-manifest2-tier1/`: the same workload as a strata of tier schema version 1
//!   wrote it (no increase columns);
//! - `wal2-ckpt2-manifest2-tier1/`: the same workload as a strata of checkpoint version 2 wrote
//!   it (no pending flush block);
//! - `wal1-ckpt2-manifest2-tier1/`: the same workload as a strata of WAL version 1 wrote it
//!   (no `synced` in records, no predecessor in segment headers);
//! - `wal1-ckpt2-manifest1-tier1/`: the same workload as a strata of manifest version 1 wrote it
//!   (no checksums, no owner, no `ENGINE_ID`);
//! - `wal1-ckpt1/`: the writes only, with a version 1 checkpoint (no tier state).
//!
//! Regenerate them (only together with a version bump, recorded in docs/FORMATS.md) with
//! `STRATA_WRITE_FIXTURES=1 cargo test -p strata --test formats write_fixtures`.
//! A fixture of an older version is never regenerated: it stays as that version wrote it.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_schema::{DataType, TimeUnit};
use strata::tier::Manifest;
use strata::{Config, Engine, Error, ManualClock, Selector, Tier, WriteOptions};

const SEC: i64 = 1_000_000_000;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;
/// 2025-11-22T00:00:00Z: the first point.
const T0: i64 = 1_763_769_600 * SEC;
/// The clock of every run.
const NOW: i64 = T0 + 2 * HOUR;
/// What the compaction pass at `NOW` writes warm up to: `NOW` minus `compactor.lateness`.
const WARM_UNTIL: i64 = NOW - 5 * MIN;
/// What it rolls cold up to: the last whole hour before `WARM_UNTIL`.
const COLD_UNTIL: i64 = T0 + HOUR;

const CURRENT: &str = "wal2-ckpt3-manifest3-tier3";
const TIER_V2: &str = "wal2-ckpt3-manifest3-tier2";
const MANIFEST_V2: &str = "wal2-ckpt3-manifest2-tier2";
const TIER_V1: &str = "wal2-ckpt3-manifest2-tier1";
const CHECKPOINT_V2: &str = "wal2-ckpt2-manifest2-tier1";
const WAL_V1: &str = "wal1-ckpt2-manifest2-tier1";
const MANIFEST_V1: &str = "wal1-ckpt2-manifest1-tier1";
const CHECKPOINT_V1: &str = "wal1-ckpt1";

/// One series: metric, hostname, type, type-id (cc-metric-store tags; the cluster comes from
/// the write).
type Series = (&'static str, &'static str, &'static str, Option<&'static str>);

const SERIES: [Series; 7] = [
    ("cpu_load", "f0101", "node", None),
    ("cpu_load", "f0102", "node", None),
    ("cpu_user", "f0101", "hwthread", Some("0")),
    ("cpu_user", "f0101", "hwthread", Some("1")),
    ("cpu_user", "f0102", "hwthread", Some("0")),
    ("cpu_user", "f0102", "hwthread", Some("1")),
    // Defined only by a write after the checkpoint: its definition is in a replayed record.
    ("mem_used", "f0101", "node", None),
];

/// A point: index into `SERIES`, time (ns, whole seconds), value.
type P = (usize, i64, f64);

#[derive(Debug, Clone)]
enum Step {
    Write(Vec<P>),
    Compact,
    Checkpoint,
}

/// The deterministic workload. Values are multiples of 0.25, so every sum is exact and the
/// expected aggregates need no double-double arithmetic.
fn workload(compact: bool) -> Vec<Step> {
    let value = |s: usize, m: i64| ((m * 13 + s as i64 * 7) % 40) as f64 * 0.25 + s as f64;
    let mut steps = Vec::new();
    // Two hours of the first six series, one point a minute (and a second one every fifth
    // minute), in twelve writes of ten minutes.
    for block in 0..12 {
        let mut points = Vec::new();
        for m in block * 10..block * 10 + 10 {
            for s in 0..6 {
                points.push((s, T0 + m * MIN + 7 * s as i64 * SEC, value(s, m)));
                if m % 5 == 0 {
                    points.push((s, T0 + m * MIN + 30 * SEC, value(s, m) + 0.5));
                }
            }
        }
        steps.push(Step::Write(points));
    }
    if compact {
        steps.push(Step::Compact);
    }
    // Late points: their warm buckets (one also its cold hour) are written by then.
    steps.push(Step::Write(vec![
        (0, T0 + 3 * MIN + 50 * SEC, -1.5),
        (2, T0 + 3 * MIN + 50 * SEC, 100.25),
        (0, T0 + 70 * MIN + 50 * SEC, 7.75),
        (3, T0 + 70 * MIN + 50 * SEC, -0.0),
    ]));
    steps.push(Step::Checkpoint);
    // After the checkpoint, replayed from the WAL: a new series, and one more late point.
    steps.push(Step::Write((116..120).map(|m| (6, T0 + m * MIN, 1024.0 + m as f64)).collect()));
    steps.push(Step::Write(vec![(1, T0 + 100 * MIN + 55 * SEC, 3.25), (4, T0 + 119 * MIN + 52 * SEC, 2.0)]));
    steps
}

fn config(data_dir: &Path) -> Config {
    // Everything is kept: no pass evicts or expires anything, and the background threads never
    // run (their intervals are longer than any test).
    Config::from_toml(&format!(
        r#"
        data_dir = {data_dir:?}
        [hot]
        retention = "30d"
        chunk_duration = "30m"
        checkpoint_interval = "1000d"
        [warm]
        resolution = "1m"
        retention = "30d"
        [cold]
        resolution = "1h"
        retention = "365d"
        [compactor]
        lateness = "5m"
        interval = "1000d"
        [metrics.cpu_load]
        kind = "counter"
        "#
    ))
    .unwrap()
}

fn open(data_dir: &Path) -> Result<Engine, Error> {
    Engine::open_with_clock(config(data_dir), Arc::new(ManualClock::new(NOW)))
}

fn line_protocol(points: &[P]) -> String {
    let mut out = String::new();
    for &(s, time, value) in points {
        let (metric, host, kind, id) = SERIES[s];
        out.push_str(&format!("{metric},hostname={host},type={kind}"));
        if let Some(id) = id {
            out.push_str(&format!(",type-id={id}"));
        }
        out.push_str(&format!(" value={value:?} {}\n", time / SEC));
    }
    out
}

/// Runs `steps` on a fresh data directory and leaves it as a crash would (no final checkpoint),
/// so the WAL after the checkpoint is replayed at the next open.
fn run(data_dir: &Path, steps: &[Step]) {
    let engine = open(data_dir).unwrap();
    for step in steps {
        match step {
            Step::Write(points) => {
                let report = engine
                    .write_lp(line_protocol(points).as_bytes(), &WriteOptions::cc_metric_store("fritz"))
                    .unwrap();
                assert_eq!(report.accepted, points.len() as u64, "{:?}", report.rejections);
            }
            Step::Compact => {
                let report = engine.compact_at(NOW).unwrap();
                assert_eq!((report.warm_until, report.cold_until), (Some(WARM_UNTIL), Some(COLD_UNTIL)));
            }
            Step::Checkpoint => {
                engine.checkpoint().unwrap();
            }
        }
    }
    drop(engine);
    std::fs::remove_file(data_dir.join("LOCK")).unwrap();
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/formats")
}

/// Writes the fixtures, only when `STRATA_WRITE_FIXTURES=1`: a format change without a version
/// bump must fail the tests below, not rewrite what they compare against.
#[test]
fn write_fixtures() {
    if std::env::var_os("STRATA_WRITE_FIXTURES").is_none_or(|v| v != "1") {
        return;
    }
    let current = fixtures().join(CURRENT);
    let _ = std::fs::remove_dir_all(&current);
    run(&current, &workload(true));

    // Fixtures of older versions are never rewritten; only a missing one is made again.
    // No strata writes version 1 checkpoints any more: write version 2 without a compaction,
    // whose tier block is then empty, and drop that block (the only difference of the layout).
    let v1 = fixtures().join(CHECKPOINT_V1);
    if v1.exists() {
        return;
    }
    run(&v1, &workload(false));
    std::fs::remove_file(v1.join("ENGINE_ID")).unwrap();
    let (path, bytes) = checkpoint_file(&v1);
    let body = &bytes[..bytes.len() - 4];
    let (v1_body, tier_block) = body.split_at(body.len() - 12);
    assert_eq!(tier_block[..8], i64::MIN.to_le_bytes(), "evicted_until: none");
    assert_eq!(tier_block[8..], 0u32.to_le_bytes(), "no late points");
    let mut v1_bytes = v1_body.to_vec();
    v1_bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
    let crc = crc32c(&v1_bytes);
    v1_bytes.extend_from_slice(&crc.to_le_bytes());
    std::fs::write(path, v1_bytes).unwrap();
}

/// Copies a fixture to a temporary directory: opening writes (a new WAL segment, the LOCK).
fn copy_fixture(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let from = fixtures().join(name);
    assert!(from.is_dir(), "missing fixture {}", from.display());
    support::copy_dir(&from, dir.path());
    dir
}

/// Every file under `dir`, relative to it, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().to_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn only_file(dir: &Path, under: &str, suffix: &str) -> PathBuf {
    let found: Vec<PathBuf> = files(dir)
        .into_iter()
        .filter(|p| p.starts_with(under) && p.to_string_lossy().ends_with(suffix))
        .collect();
    assert_eq!(found.len(), 1, "{under}/*{suffix} in {}: {found:?}", dir.display());
    dir.join(&found[0])
}

fn checkpoint_file(dir: &Path) -> (PathBuf, Vec<u8>) {
    let path = only_file(dir, "checkpoints", ".ckpt");
    let bytes = std::fs::read(&path).unwrap();
    (path, bytes)
}

const SEGMENT: &str = "wal/00000000000000000001.wal";

/// CRC32C, bitwise: the tests check the formats without trusting the crate the engine uses.
fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0x82f6_3b78 } else { crc >> 1 };
        }
    }
    !crc
}

/// The end offsets of the records of a WAL segment, read with the layout in docs/FORMATS.md
/// (version 1 or 2).
fn record_ends(segment: &[u8]) -> Vec<u64> {
    assert_eq!(&segment[0..8], b"STRATWAL");
    let version = u32::from_le_bytes(segment[8..12].try_into().unwrap());
    assert!(version == 1 || version == 2, "format version {version}");
    assert_eq!(segment[12..16], 0u32.to_le_bytes(), "reserved");
    assert_eq!(segment[16..24], 1u64.to_le_bytes(), "sequence number");
    assert_eq!(segment[24..28], crc32c(&segment[..24]).to_le_bytes(), "header checksum");
    let mut at = 28;
    if version == 2 {
        assert_eq!(segment[28..44], [0; 16], "no segment before the first");
        assert_eq!(segment[44..48], crc32c(&segment[..44]).to_le_bytes(), "header checksum");
        at = 48;
    }
    let mut ends = Vec::new();
    // Version 2: each record says how far the segment was synced when it was written; the
    // workload syncs every write (durability "sync"), so that is the previous record's end.
    let mut synced = at as u64;
    while at < segment.len() {
        let len = u32::from_le_bytes(segment[at..at + 4].try_into().unwrap()) as usize;
        let (payload, ok) = if version == 1 {
            let crc = u32::from_le_bytes(segment[at + 4..at + 8].try_into().unwrap());
            let payload = &segment[at + 8..at + 8 + len];
            let mut covered = segment[at..at + 4].to_vec();
            covered.extend_from_slice(payload);
            (payload, crc == crc32c(&covered))
        } else {
            let claim = u64::from_le_bytes(segment[at + 4..at + 12].try_into().unwrap());
            assert_eq!(claim, synced, "synced of the record at {at}");
            let crc = u32::from_le_bytes(segment[at + 12..at + 16].try_into().unwrap());
            let payload = &segment[at + 16..at + 16 + len];
            let mut covered = payload.to_vec();
            covered.extend_from_slice(&segment[at..at + 12]);
            (payload, crc == crc32c(&covered))
        };
        assert!(ok, "checksum of the record at {at}");
        // Payload version 2 (a flags byte) from the current fixture on; 1 before.
        assert!(payload[0] == 1 || payload[0] == 2, "payload version of the record at {at}: {}", payload[0]);
        if payload[0] == 2 {
            assert_eq!(payload[1], 0, "no stream source in the workload's records");
        }
        at += if version == 1 { 8 } else { 16 } + len;
        ends.push(at as u64);
        synced = at as u64;
    }
    assert_eq!(at, segment.len());
    ends
}

// ---- What the workload leaves, computed from the steps -----------------------------------------

/// The tags of a series as the engine keys it: sorted, the write's cluster added.
fn tags(s: usize) -> Vec<(String, String)> {
    let (_, host, kind, id) = SERIES[s];
    let mut tags = vec![
        ("cluster".to_owned(), "fritz".to_owned()),
        ("hostname".to_owned(), host.to_owned()),
        ("type".to_owned(), kind.to_owned()),
    ];
    if let Some(id) = id {
        tags.push(("type-id".to_owned(), id.to_owned()));
    }
    tags.sort();
    tags
}

fn series_of(key: &strata::SeriesKey) -> usize {
    assert_eq!(key.field, "value");
    (0..SERIES.len())
        .find(|&s| SERIES[s].0 == key.measurement && tags(s) == key.tags)
        .unwrap_or_else(|| panic!("unexpected series {key:?}"))
}

/// Every point written, per series, by time.
fn points(steps: &[Step]) -> BTreeMap<usize, BTreeMap<i64, f64>> {
    let mut out: BTreeMap<usize, BTreeMap<i64, f64>> = BTreeMap::new();
    for step in steps {
        if let Step::Write(points) = step {
            for &(s, t, v) in points {
                assert!(out.entry(s).or_default().insert(t, v).is_none(), "one point per time");
            }
        }
    }
    out
}

/// The points written before the first compaction pass, or all of them with `all`.
fn points_before_pass(steps: &[Step], all: bool) -> BTreeMap<usize, BTreeMap<i64, f64>> {
    let end = if all { steps.len() } else { steps.iter().position(|s| matches!(s, Step::Compact)).unwrap() };
    points(&steps[..end])
}

/// A tier row as the test computes it: count, sum, min, max, first, first_time, last,
/// last_time, and a counter's (`cpu_load`'s, series 0 and 1) own increase.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Row {
    increase: Option<f64>,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    first: f64,
    first_time: i64,
    last: f64,
    last_time: i64,
}

/// The rows of every bucket of `resolution` before `until`, per series and bucket.
fn rows(
    points: &BTreeMap<usize, BTreeMap<i64, f64>>,
    resolution: i64,
    until: i64,
) -> BTreeMap<(usize, i64), Row> {
    let mut out: BTreeMap<(usize, i64), Row> = BTreeMap::new();
    for (&s, series) in points {
        for (&t, &v) in series.range(..until) {
            let bucket = t.div_euclid(resolution) * resolution;
            out.entry((s, bucket))
                .and_modify(|r| {
                    // Points come in time order: this one is the latest so far.
                    if let Some(i) = &mut r.increase {
                        *i += if v >= r.last { v - r.last } else { v };
                    }
                    r.count += 1;
                    r.sum += v;
                    r.min = r.min.min(v);
                    r.max = r.max.max(v);
                    (r.last, r.last_time) = (v, t);
                })
                .or_insert(Row {
                    increase: (s < 2).then_some(0.0),
                    count: 1,
                    sum: v,
                    min: v,
                    max: v,
                    first: v,
                    first_time: t,
                    last: v,
                    last_time: t,
                });
        }
    }
    out
}

fn read_tier(engine: &Engine, tier: Tier) -> BTreeMap<(usize, i64), Row> {
    let mut out = BTreeMap::new();
    for metric in ["cpu_load", "cpu_user", "mem_used"] {
        for series in engine.read_tier(tier, &Selector::metric(metric), i64::MIN, i64::MAX).unwrap() {
            let s = series_of(&series.key);
            for (t, a) in series.times.iter().zip(&series.aggs) {
                assert_eq!(a.sum_lo, 0.0, "every sum is exact");
                let row = Row {
                    increase: a.increase.map(|i| i.value),
                    count: a.count,
                    sum: a.sum,
                    min: a.min,
                    max: a.max,
                    first: a.first,
                    first_time: a.first_time,
                    last: a.last,
                    last_time: a.last_time,
                };
                assert!(out.insert((s, *t), row).is_none(), "two rows for one bucket");
            }
        }
    }
    out
}

/// The raw points the engine holds in memory, per series, bit for bit.
fn read_hot(engine: &Engine) -> BTreeMap<usize, Vec<(i64, u64)>> {
    let mut out = BTreeMap::new();
    for metric in ["cpu_load", "cpu_user", "mem_used"] {
        for series in engine.read(&Selector::metric(metric), i64::MIN, i64::MAX).unwrap() {
            let s = series_of(&series.key);
            let points = series.times.iter().zip(&series.values).map(|(t, v)| (*t, v.to_bits())).collect();
            assert!(out.insert(s, points).is_none());
        }
    }
    out
}

fn bits(points: &BTreeMap<usize, BTreeMap<i64, f64>>) -> BTreeMap<usize, Vec<(i64, u64)>> {
    points.iter().map(|(s, p)| (*s, p.iter().map(|(t, v)| (*t, v.to_bits())).collect())).collect()
}

// ---- The current fixture, and the one of manifest version 1 ----------------------------------

#[test]
fn current_fixture_reads_back_exactly() {
    reads_back_exactly(CURRENT, 3);
}

/// Tier files of schema version 2 (`time` in nanoseconds) are read as before; the next flush
/// writes version 3 beside them.
#[test]
fn tier_version_2_fixture_reads_back_exactly() {
    reads_back_exactly(TIER_V2, 3);
}

/// A manifest of version 2 (no commit time, no files kept for snapshot readers) is read as
/// before; the first commit writes version 3.
#[test]
fn manifest_version_2_fixture_reads_back_exactly() {
    reads_back_exactly(MANIFEST_V2, 2);
}

/// Tier files of schema version 1 are read as before; their counter rows know no increase,
/// and a bucket that merges one with a newer row knows none either.
#[test]
fn tier_version_1_fixture_reads_back_exactly() {
    reads_back_exactly(TIER_V1, 2);
}

/// The rows a fixture's tiers hold: a tier version 1 strata kept no increase.
fn as_written(fixture: &str, mut rows: BTreeMap<(usize, i64), Row>) -> BTreeMap<(usize, i64), Row> {
    if fixture.ends_with("tier1") {
        rows.values_mut().for_each(|r| r.increase = None);
    }
    rows
}

/// A checkpoint of version 2 (no pending flush) loads as before.
#[test]
fn checkpoint_version_2_fixture_reads_back_exactly() {
    let (_, bytes) = checkpoint_file(&fixtures().join(CHECKPOINT_V2));
    assert_eq!(bytes[8..12], 2u32.to_le_bytes());
    reads_back_exactly(CHECKPOINT_V2, 2);
}

/// A log of WAL version 1 is read as before; the segment opening starts is version 2 and
/// names the version 1 segment as the one before it.
#[test]
fn wal_version_1_fixture_reads_back_exactly() {
    reads_back_exactly(WAL_V1, 2);
}

#[test]
fn a_version_2_segment_follows_a_version_1_one() {
    let dir = copy_fixture(WAL_V1);
    let first = std::fs::read(dir.path().join(SEGMENT)).unwrap();
    open(dir.path()).unwrap().close().unwrap();
    let second = std::fs::read(dir.path().join("wal/00000000000000000002.wal")).unwrap();
    assert_eq!(second[8..12], 2u32.to_le_bytes());
    assert_eq!(second[28..36], 1u64.to_le_bytes(), "the segment before it");
    assert_eq!(second[36..44], (first.len() as u64).to_le_bytes(), "its length");
    // Opened again: the chain from version 1 to 2 checks out, and the points are all there.
    let engine = open(dir.path()).unwrap();
    assert_eq!(read_hot(&engine), bits(&points(&workload(true))));
    engine.close().unwrap();
}

/// The tiers a manifest version 1 strata wrote are read as before: no checksums to check, no
/// owner; the first commit takes the store over as version 2.
#[test]
fn manifest_version_1_fixture_reads_back_exactly() {
    reads_back_exactly(MANIFEST_V1, 1);
}

/// The manifest's own checksum, checked by hand with docs/FORMATS.md's rule: the CRC32C of
/// the object's bytes with the 8 hex digits of `"checksum": "…"` written as `00000000`.
fn check_manifest_checksum(bytes: &[u8]) {
    let key = b"\"checksum\": \"";
    let at: Vec<usize> =
        bytes.windows(key.len()).enumerate().filter(|(_, w)| *w == key).map(|(i, _)| i).collect();
    assert_eq!(at.len(), 1, "one checksum field");
    let digits = at[0] + key.len()..at[0] + key.len() + 8;
    assert_eq!(bytes[digits.end], b'"');
    assert_eq!(&bytes[digits.end..], b"\"\n}", "the checksum is the last field");
    let mut zeroed = bytes.to_vec();
    zeroed[digits.clone()].copy_from_slice(b"00000000");
    assert_eq!(std::str::from_utf8(&bytes[digits]).unwrap(), format!("{:08x}", crc32c(&zeroed)));
}

fn reads_back_exactly(fixture: &str, manifest_version: u32) {
    let dir = copy_fixture(fixture);
    let steps = workload(true);
    let segment = std::fs::read(dir.path().join(SEGMENT)).unwrap();
    let ends = record_ends(&segment);
    let writes = steps.iter().filter(|s| matches!(s, Step::Write(_))).count();
    assert_eq!(ends.len(), writes, "one record per write");
    // The checkpoint covers every write but the last two.
    let checkpoint_at = ends[writes - 3];

    let engine = open(dir.path()).unwrap();
    let recovery = engine.recovery();
    assert_eq!(
        recovery.checkpoint.as_deref(),
        Some(dir.path().join(format!("checkpoints/{:020}-{checkpoint_at:020}.ckpt", 1)).as_path())
    );
    assert_eq!((recovery.records, recovery.truncated.clone()), (2, None), "the writes after the checkpoint");

    // Hot: every point, late ones too (no window is evicted).
    assert_eq!(read_hot(&engine), bits(&points(&steps)));
    // The late points wait in the checkpoint (4) and in the replayed WAL (1).
    assert_eq!(engine.stats().hot.late_points, 5);
    // The pass evicted the hot windows older than hot.retention (none held points): the
    // checkpoint's evicted_until.
    assert_eq!(engine.hot_start(), NOW - 30 * 24 * HOUR);

    // Warm and cold: what the pass wrote, from the points written before it.
    let before = points_before_pass(&steps, false);
    let warm = as_written(fixture, rows(&before, MIN, WARM_UNTIL));
    let cold = as_written(fixture, rows(&before, HOUR, COLD_UNTIL));
    assert_eq!(warm.len(), 6 * 115);
    assert_eq!(cold.len(), 6);
    assert_eq!(read_tier(&engine, Tier::Warm), warm);
    assert_eq!(read_tier(&engine, Tier::Cold), cold);

    // The manifest, field by field.
    let manifest = engine.manifest();
    assert_eq!((manifest.format.as_str(), manifest.version), ("strata-manifest", manifest_version));
    let engine_id = std::fs::read_to_string(dir.path().join("ENGINE_ID")).unwrap();
    let engine_id = engine_id.strip_suffix('\n').unwrap();
    assert!(engine_id.len() == 32 && engine_id.bytes().all(|b| b.is_ascii_hexdigit()), "{engine_id:?}");
    if manifest_version == 1 {
        assert_eq!(manifest.owner, None);
    } else {
        assert_eq!(manifest.owner.as_deref(), Some(engine_id), "the fixture's engine owns its tiers");
    }
    let committed_at = (manifest_version >= 3).then_some(NOW);
    assert_eq!(manifest.committed_at, committed_at, "version 3 records the engine clock of its commit");
    assert!(manifest.removed.is_empty(), "no commit of the fixture dropped a file");
    assert_eq!(manifest.generation, 2, "one commit for the warm flush, one for the cold rollup");
    assert_eq!((manifest.warm_resolution, manifest.cold_resolution), (MIN, HOUR));
    assert_eq!((manifest.warm_until, manifest.cold_until), (Some(WARM_UNTIL), Some(COLD_UNTIL)));
    assert_eq!((manifest.warm_flushes, manifest.cold_flushes), (1, 1));
    assert_eq!(manifest.wal_cut, Some((1, ends[11])), "the flush cut after the twelfth write");
    assert_eq!(manifest.files.len(), 2);
    for (file, tier, tier_rows) in
        [(&manifest.files[0], Tier::Warm, &warm), (&manifest.files[1], Tier::Cold, &cold)]
    {
        let name = file.path.strip_prefix(&format!("{tier}/day=2025-11-22/000000000001-L0-")).unwrap();
        let random = name.strip_suffix(".parquet").unwrap();
        assert!(random.len() == 16 && random.bytes().all(|b| b.is_ascii_hexdigit()), "{}", file.path);
        assert_eq!((file.tier, file.day.as_str(), file.level, file.flush), (tier, "2025-11-22", 0, 1));
        assert_eq!(file.rows, tier_rows.len() as u64);
        assert_eq!(file.points, tier_rows.values().map(|r| r.count).sum::<u64>());
        assert_eq!(file.min_time, tier_rows.keys().map(|(_, t)| *t).min().unwrap());
        assert_eq!(file.max_time, tier_rows.keys().map(|(_, t)| *t).max().unwrap());
        assert_eq!(file.series, 6);
        let on_disk = std::fs::read(dir.path().join("tiers").join(&file.path)).unwrap();
        assert_eq!(file.bytes, on_disk.len() as u64);
        let crc = (manifest_version >= 2).then(|| crc32c(&on_disk));
        assert_eq!(file.crc32c, crc, "{}", file.path);
    }

    // The writer's JSON of what was loaded is the fixture's, byte for byte, for every
    // generation kept.
    let live = std::fs::read(dir.path().join("tiers/_manifest/00000000000000000002.json")).unwrap();
    assert_eq!(String::from_utf8(manifest.to_json().unwrap()).unwrap(), String::from_utf8(live).unwrap());
    for generation in [1, 2] {
        let path = dir.path().join(format!("tiers/_manifest/{generation:020}.json"));
        let bytes = std::fs::read(&path).unwrap();
        let parsed: Manifest = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(parsed.to_json().unwrap(), bytes, "{}", path.display());
        if manifest_version >= 2 {
            check_manifest_checksum(&bytes);
        }
    }

    // A second pass flushes the late points as partial rows: then warm and cold hold every
    // point before their bounds, so the checkpoint's late points were exactly the ones written.
    engine.compact_at(NOW).unwrap();
    let all = points_before_pass(&steps, true);
    // The late points interleave with those written before: the counter's rows stay exact
    // (their late rows carry the whole bucket's increase from hot, and from warm for cold).
    assert_eq!(read_tier(&engine, Tier::Warm), as_written(fixture, rows(&all, MIN, WARM_UNTIL)));
    assert_eq!(read_tier(&engine, Tier::Cold), as_written(fixture, rows(&all, HOUR, COLD_UNTIL)));
    // That pass committed version 3, owned by this data directory's engine (a version 1 store
    // is taken over), with a checksum of every new file, at the engine clock's time.
    let manifest = engine.manifest();
    assert_eq!((manifest.version, manifest.owner.as_deref()), (3, Some(engine_id)));
    assert_eq!(manifest.committed_at, Some(NOW));
    let live =
        std::fs::read(dir.path().join(format!("tiers/_manifest/{:020}.json", manifest.generation))).unwrap();
    check_manifest_checksum(&live);
    for file in manifest.files.iter().filter(|f| f.flush == 2) {
        let on_disk = std::fs::read(dir.path().join("tiers").join(&file.path)).unwrap();
        assert_eq!(file.crc32c, Some(crc32c(&on_disk)), "{}", file.path);
    }
    engine.close().unwrap();
}

#[test]
fn current_writers_reproduce_the_fixture() {
    let fixture = fixtures().join(CURRENT);
    let fresh = tempfile::tempdir().unwrap();
    run(fresh.path(), &workload(true));

    // Tier file names hold random bits; everything else is named the same.
    let normalize = |files: Vec<PathBuf>| -> Vec<String> {
        files
            .iter()
            .map(|p| {
                let p = p.to_string_lossy().replace('\\', "/");
                match p.strip_suffix(".parquet") {
                    Some(stem) => format!("{}-RANDOM.parquet", &stem[..stem.len() - 17]),
                    None => p,
                }
            })
            .collect()
    };
    assert_eq!(normalize(files(fresh.path())), normalize(files(&fixture)));

    // WAL and checkpoint: the same bytes.
    let read = |dir: &Path, path: &str| std::fs::read(dir.join(path)).unwrap();
    assert!(read(fresh.path(), SEGMENT) == read(&fixture, SEGMENT), "the WAL segment differs from {SEGMENT}");
    let (fixture_ckpt, fixture_bytes) = checkpoint_file(&fixture);
    let (fresh_ckpt, fresh_bytes) = checkpoint_file(fresh.path());
    assert_eq!(fresh_ckpt.file_name(), fixture_ckpt.file_name());
    assert!(fresh_bytes == fixture_bytes, "the checkpoint differs from {}", fixture_ckpt.display());

    // Manifests: the same JSON once the random bits of file names and the Parquet sizes (which
    // depend on the parquet crate's version) are set aside.
    for generation in [1, 2] {
        let path = format!("tiers/_manifest/{generation:020}.json");
        let without_names = |bytes: Vec<u8>| {
            let mut manifest: Manifest = serde_json::from_slice(&bytes).unwrap();
            // The owner is the data directory's random id.
            assert_eq!(manifest.owner.as_ref().map(String::len), Some(32));
            manifest.owner = Some("OWNER".into());
            for file in &mut manifest.files {
                file.path = format!("{}-RANDOM.parquet", &file.path[..file.path.len() - 25]);
                file.bytes = 0;
                assert!(file.crc32c.is_some(), "{}", file.path);
                file.crc32c = Some(0);
            }
            String::from_utf8(manifest.to_json().unwrap()).unwrap()
        };
        assert_eq!(without_names(read(fresh.path(), &path)), without_names(read(&fixture, &path)), "{path}");
    }

    // Tier files: the same schema and strata metadata (not the same bytes: those are the
    // parquet crate's to choose).
    let fresh_files =
        files(fresh.path()).into_iter().filter(|p| p.extension().is_some_and(|e| e == "parquet"));
    let fixture_files = files(&fixture).into_iter().filter(|p| p.extension().is_some_and(|e| e == "parquet"));
    for (a, b) in fresh_files.zip(fixture_files) {
        assert_eq!(parquet_schema(&fresh.path().join(a)), parquet_schema(&fixture.join(b)));
    }
}

/// Arrow columns: name, type, nullable.
type Columns = Vec<(String, DataType, bool)>;

/// The columns of tier schema version 3, as docs/FORMATS.md lists them: version 2's with
/// `time` in microseconds.
fn schema_v3() -> Columns {
    let mut columns = schema_v2();
    let time = columns.iter_mut().find(|(name, ..)| name == "time").unwrap();
    time.1 = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    columns
}

/// The columns of tier schema version 2, as docs/FORMATS.md lists them.
fn schema_v2() -> Columns {
    let mut columns = schema_v1();
    columns.push(("increase".to_owned(), DataType::Float64, true));
    columns.push(("increase_scope".to_owned(), DataType::Int8, true));
    columns
}

/// The columns of tier schema version 1, as docs/FORMATS.md lists them.
fn schema_v1() -> Columns {
    let time = DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()));
    let mut columns = vec![("metric", DataType::Utf8, false), ("field", DataType::Utf8, false)];
    for tag in ["cluster", "hostname", "type", "type_id", "stype", "stype_id", "tags"] {
        columns.push((tag, DataType::Utf8, true));
    }
    columns.extend([
        ("time", time.clone(), false),
        ("count", DataType::Int64, false),
        ("sum", DataType::Float64, false),
        ("sum_lo", DataType::Float64, false),
        ("min", DataType::Float64, false),
        ("max", DataType::Float64, false),
        ("first", DataType::Float64, false),
        ("first_time", time.clone(), false),
        ("last", DataType::Float64, false),
        ("last_time", time, false),
    ]);
    columns.into_iter().map(|(n, t, null)| (n.to_owned(), t, null)).collect()
}

/// A tier file's Arrow columns (name, type, nullable) and its `strata.*` key-value metadata.
fn parquet_schema(path: &Path) -> (Columns, BTreeMap<String, String>) {
    use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
    let bytes = bytes::Bytes::from(std::fs::read(path).unwrap());
    let metadata = ArrowReaderMetadata::load(&bytes, ArrowReaderOptions::new()).unwrap();
    let columns = metadata
        .schema()
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone(), f.is_nullable()))
        .collect();
    let kv = metadata.metadata().file_metadata().key_value_metadata().unwrap();
    let strata = kv
        .iter()
        .filter(|e| e.key.starts_with("strata."))
        .map(|e| (e.key.clone(), e.value.clone().unwrap()))
        .collect();
    (columns, strata)
}

#[test]
fn tier_files_have_their_schema_version() {
    for (name, version, schema) in [
        (CURRENT, "3", schema_v3()),
        (TIER_V2, "2", schema_v2()),
        (MANIFEST_V2, "2", schema_v2()),
        (TIER_V1, "1", schema_v1()),
    ] {
        check_tier_schema(name, version, &schema);
    }
    // The writer's schema is still version 3's: a change needs a version bump.
    let current: Vec<_> = strata::tier::file::schema()
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone(), f.is_nullable()))
        .collect();
    assert_eq!(current, schema_v3());
    assert_eq!(strata::tier::file::SCHEMA_VERSION, 3);
}

fn check_tier_schema(name: &str, version: &str, schema: &Columns) {
    let fixture = fixtures().join(name);
    for (tier, resolution) in [("warm", MIN), ("cold", HOUR)] {
        let path = only_file(&fixture, &format!("tiers/{tier}"), ".parquet");
        let (columns, metadata) = parquet_schema(&path);
        assert_eq!(&columns, schema, "{}", path.display());
        let want: BTreeMap<String, String> = [
            ("strata.schema_version", version.to_owned()),
            ("strata.tier", tier.to_owned()),
            ("strata.resolution_ns", resolution.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        assert_eq!(metadata, want, "{}", path.display());
    }
}

// ---- Older versions ----------------------------------------------------------------------------

#[test]
fn checkpoint_version_1_loads() {
    let dir = copy_fixture(CHECKPOINT_V1);
    let (path, bytes) = checkpoint_file(dir.path());
    assert_eq!(bytes[8..12], 1u32.to_le_bytes(), "a version 1 checkpoint");
    let steps = workload(false);
    let engine = open(dir.path()).unwrap();
    assert_eq!(engine.recovery().checkpoint.as_deref(), Some(path.as_path()));
    assert_eq!(engine.recovery().records, 2);
    assert_eq!(read_hot(&engine), bits(&points(&steps)));
    assert_eq!((engine.stats().hot.late_points, engine.hot_start()), (0, i64::MIN), "no tier state");
    // The tiers start empty, and a pass fills them from hot.
    assert!(engine.manifest().files.is_empty());
    engine.compact_at(NOW).unwrap();
    let all = points(&steps);
    assert_eq!(read_tier(&engine, Tier::Warm), rows(&all, MIN, WARM_UNTIL));
    assert_eq!(read_tier(&engine, Tier::Cold), rows(&all, HOUR, COLD_UNTIL));
    engine.close().unwrap();
}

// ---- Newer versions are refused, naming the file -----------------------------------------------

fn refused(
    dir: &Path,
    err: Error,
    file: &Path,
    format: &str,
    found: u32,
    supported: std::ops::RangeInclusive<u32>,
) {
    let message = err.to_string();
    let Error::UnsupportedVersion { path, format: f, found: n, supported: s } = err else {
        panic!("not UnsupportedVersion: {message}");
    };
    assert_eq!((path.as_path(), f, n, s), (file, format, found, supported.clone()), "{}", dir.display());
    assert_eq!(
        message,
        format!(
            "{} is {format} format version {found}, written by a newer strata; this build reads versions up to {}: upgrade strata",
            file.display(),
            supported.end()
        )
    );
}

#[test]
fn a_newer_wal_segment_is_refused() {
    let dir = copy_fixture(CURRENT);
    let path = dir.path().join(SEGMENT);
    let mut segment = std::fs::read(&path).unwrap();
    segment[8..12].copy_from_slice(&3u32.to_le_bytes());
    let crc = crc32c(&segment[..24]);
    segment[24..28].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&path, &segment).unwrap();
    let err = open(dir.path()).unwrap_err();
    refused(dir.path(), err, &path, "WAL segment", 3, 1..=2);
    assert_eq!(std::fs::read(&path).unwrap(), segment, "nothing changed");
}

#[test]
fn a_newer_checkpoint_is_refused() {
    let dir = copy_fixture(CURRENT);
    let (path, mut bytes) = checkpoint_file(dir.path());
    bytes[8..12].copy_from_slice(&4u32.to_le_bytes());
    let end = bytes.len() - 4;
    let crc = crc32c(&bytes[..end]);
    bytes[end..].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let err = open(dir.path()).unwrap_err();
    refused(dir.path(), err, &path, "checkpoint", 4, 1..=3);
}

#[test]
fn a_newer_manifest_is_refused() {
    let dir = copy_fixture(CURRENT);
    let path = dir.path().join("tiers/_manifest/00000000000000000002.json");
    let json = std::fs::read_to_string(&path).unwrap();
    // A version 4 that also renamed a field (and has no valid checksum): the version is what
    // is reported.
    let newer = json.replacen("\"version\": 3,", "\"version\": 4,", 1).replacen(
        "\"warm_until\"",
        "\"warm_until_v2\"",
        1,
    );
    assert_ne!(newer, json);
    std::fs::write(&path, newer).unwrap();
    let err = open(dir.path()).unwrap_err();
    // The manifest is named by its object store URL.
    let named = match &err {
        Error::UnsupportedVersion { path, .. } => path.clone(),
        other => panic!("not UnsupportedVersion: {other}"),
    };
    assert!(named.ends_with(path.strip_prefix(dir.path()).unwrap()), "{}", named.display());
    refused(dir.path(), err, &named, "manifest", 4, 1..=3);
}

#[test]
fn a_newer_tier_file_is_refused() {
    let dir = copy_fixture(CURRENT);
    let path = only_file(dir.path(), "tiers/warm", ".parquet");
    let mut bytes = std::fs::read(&path).unwrap();
    // The footer's key-value pair, thrift-encoded: the key, then field 2 (binary) of length 1.
    let mut pattern = b"strata.schema_version".to_vec();
    pattern.extend_from_slice(&[0x18, 0x01, b'3']);
    let at: Vec<usize> =
        bytes.windows(pattern.len()).enumerate().filter(|(_, w)| *w == pattern).map(|(i, _)| i).collect();
    assert_eq!(at.len(), 1, "one schema version in the footer");
    let last = at[0] + pattern.len() - 1;
    bytes[last] = b'4';
    std::fs::write(&path, &bytes).unwrap();
    // As a newer strata would have committed it: the manifest holds its checksum.
    let live = dir.path().join("tiers/_manifest/00000000000000000002.json");
    let mut manifest: Manifest = serde_json::from_slice(&std::fs::read(&live).unwrap()).unwrap();
    let relative = path.strip_prefix(dir.path().join("tiers")).unwrap().to_string_lossy().replace('\\', "/");
    let entry = manifest.files.iter_mut().find(|f| f.path == relative).unwrap();
    entry.crc32c = Some(crc32c(&bytes));
    std::fs::write(&live, manifest.to_json().unwrap()).unwrap();

    let err = strata::tier::file::read(bytes.into(), &strata::tier::file::RowFilter::all()).unwrap_err();
    assert_eq!(err, strata::tier::file::FileError::UnsupportedVersion { found: 4, supported: 1..=3 });

    let engine = open(dir.path()).unwrap();
    let err = engine.read_tier(Tier::Warm, &Selector::metric("cpu_load"), i64::MIN, i64::MAX).unwrap_err();
    // The file is named by its object store URL.
    let named = match &err {
        Error::UnsupportedVersion { path, .. } => path.clone(),
        other => panic!("not UnsupportedVersion: {other}"),
    };
    assert!(named.ends_with(path.strip_prefix(dir.path()).unwrap()), "{}", named.display());
    refused(dir.path(), err, &named, "tier file", 4, 1..=3);
    // The cold file is still read.
    assert_eq!(read_tier(&engine, Tier::Cold).len(), 6);
}
