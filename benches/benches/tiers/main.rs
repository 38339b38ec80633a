//! Retention tiers on `strata gen` data: how fast hot points become warm rows, what warm and
//! cold files weigh, and how many files a day of compaction passes leaves.
//!
//! A harness that prints tables, not criterion: one case takes seconds. Cases:
//! 1. **Warm flush** (`flush.rs`): an engine holds `hosts` x 1 h in sealed 1 h chunks (one more
//!    step opens the next window); the first pass, as of 1 s before the last minute is due,
//!    flushes 59 minutes: cut, decode, downsample, sort, Parquet encode, file write, manifest.
//!    On a rayon pool of 2 threads and of 1, alternating, `runs` times. The second pass flushes
//!    the last minute and rolls the hour up into cold.
//! 2. **Steps** (`flush.rs`): the same points through the public functions one at a time, on
//!    one thread: a raw read from hot (decode and copy), `downsample` (the compactor's inner
//!    loop, beside a plain bucket loop without keys), each `loops` times; the sort of the
//!    per-series runs (`sort_runs`, the pass's) and of all rows (`sort_and_merge`), `write` on
//!    a pool of 1 thread and of 2, and writing the file's bytes to disk, each `runs` times.
//! 3. **Sizes**: bytes per warm and cold row of the flush engine (1 h) and of a longer workload
//!    compacted in one pass (`STRATA_BENCH_SIZES`, hosts x hours).
//! 4. **Files per day** (`passes.rs`): a pass every simulated minute over a day of a small
//!    workload, with the default `merge_fanin`.
//! 5. **Encodings** (`encodings.rs`): the value columns of the same files rewritten as
//!    byte-stream split, plain, and dictionary.
//!
//! ```text
//! cargo bench -p strata-benches --bench tiers                       # about a minute
//! STRATA_BENCH_HOSTS=64 STRATA_BENCH_SIZES=64x3 \
//!     cargo bench -p strata-benches --bench tiers                   # the anchors' 64 hosts
//! STRATA_BENCH_HOSTS=4 STRATA_BENCH_RUNS=1 STRATA_BENCH_SIZES=0 STRATA_BENCH_PASSES=1x2 \
//!     cargo bench -p strata-benches --bench tiers                   # quick look
//! ```
//!
//! Knobs (environment variables, defaults in brackets): `STRATA_BENCH_HOSTS` (16),
//! `STRATA_BENCH_RUNS` (3), `STRATA_BENCH_LOOPS` (11, repeats of the in-memory steps),
//! `STRATA_BENCH_SIZES` (`16x3`; 0 skips), `STRATA_BENCH_PASSES` (`1x12`: hosts x hours of
//! minute passes; 0 skips), `STRATA_BENCH_DIR` (`target/tmp/strata-bench-tiers`).

mod encodings;
mod flush;
mod passes;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use strata::{Config, DurabilityConfig, Engine, ManualClock, Span, Tier, TierSummary, WriteOptions};
use strata_benches::{START_SECS, env_or, median, split_lines, workload};
use tempfile::TempDir;

const SEC: i64 = 1_000_000_000;
const HOUR: u64 = 3600;

fn main() {
    let hosts: usize = env_or("STRATA_BENCH_HOSTS", 16);
    let runs: usize = env_or("STRATA_BENCH_RUNS", 3).max(1);
    let loops: usize = env_or("STRATA_BENCH_LOOPS", 11).max(1);
    print_machine();

    let mut sizes = vec![flush::run(hosts, runs, loops)];
    if let Some((h, hours)) = hosts_by_hours("STRATA_BENCH_SIZES", "16x3") {
        sizes.push(sizes_case(h, hours));
    }
    println!();
    println!("## Sizes");
    println!();
    println!("| workload | tier | files | rows | points | bytes | B/row | B/point |");
    println!("|---|---|---|---|---|---|---|---|");
    for s in &sizes {
        s.print_rows();
    }

    if let Some((h, hours)) = hosts_by_hours("STRATA_BENCH_PASSES", "1x12") {
        passes::run(h, hours);
    }

    encodings::run(&sizes);
}

/// `hosts x hours` from an environment variable, `None` for `0`.
fn hosts_by_hours(name: &str, default: &str) -> Option<(usize, u64)> {
    let text: String = env_or(name, default.to_owned());
    let (h, hours) = text.split_once('x')?;
    let (h, hours) = (h.parse::<usize>().ok()?, hours.parse::<u64>().ok()?);
    (h > 0 && hours > 0).then_some((h, hours))
}

/// Warm and cold summaries of one engine, and its tier files (kept until the value is dropped).
#[derive(Debug)]
struct Sizes {
    workload: String,
    warm: TierSummary,
    cold: TierSummary,
    /// Tier files on disk: tier, rows, path.
    files: Vec<(Tier, u64, PathBuf)>,
    _dir: TempDir,
}

impl Sizes {
    /// Closes the engine and keeps its directory.
    fn of(engine: Engine, dir: TempDir, workload: String, points: u64) -> Sizes {
        let tiers = engine.stats().tiers;
        assert_eq!(tiers.warm.points, points, "every point is in a warm row");
        let manifest = engine.manifest();
        let files =
            manifest.files.iter().map(|f| (f.tier, f.rows, dir.path().join("tiers").join(&f.path))).collect();
        drop(engine);
        Sizes { workload, warm: tiers.warm, cold: tiers.cold, files, _dir: dir }
    }

    fn print_rows(&self) {
        for (name, s) in [("warm", &self.warm), ("cold", &self.cold)] {
            println!(
                "| {} | {name} | {} | {} | {} | {} | {:.2} | {:.3} |",
                self.workload,
                s.files,
                s.rows,
                s.points,
                s.bytes,
                s.bytes as f64 / s.rows.max(1) as f64,
                s.bytes as f64 / s.points.max(1) as f64
            );
        }
    }
}

/// `hosts` x `hours` in one engine with default chunks, compacted in one pass as of the end
/// plus the lateness: every warm bucket and every cold hour written.
fn sizes_case(hosts: usize, hours: u64) -> Sizes {
    let (shape, data) = workload(hosts, hours * HOUR);
    let end = START_SECS + (hours * HOUR) as i64;
    let now = (end + 300) * SEC;
    let dir = tempfile::Builder::new().prefix("sizes-").tempdir_in(bench_dir()).expect("create a data dir");
    let engine = open(dir.path(), Duration::from_secs(2 * HOUR), now);
    let started = Instant::now();
    load(&engine, &data);
    let loaded = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let report = engine.compact_at(now).expect("compact");
    let secs = started.elapsed().as_secs_f64();
    println!(
        "\nsizes: {hosts} hosts x {hours} h ({} points) loaded in {loaded:.1} s; one pass in {secs:.2} s: {} warm rows in {} files, {} cold rows in {} files",
        shape.lines(),
        report.warm_rows,
        report.warm_files,
        report.cold_rows,
        report.cold_files
    );
    Sizes::of(engine, dir, format!("{hosts} hosts x {hours} h"), shape.lines())
}

/// The engine's defaults except: no WAL sync, a hot store that keeps a day, no background
/// checkpoint or compaction (the benchmark runs its passes), the given chunk window, and the
/// generator's counters (InfiniBand bytes, NUMA allocations) configured as counters, as a site
/// would: their rows carry the increase columns.
fn config(dir: &Path, chunk: Duration) -> Config {
    let mut config = Config::with_data_dir(dir);
    for counter in ["ib_xmit", "ib_recv", "numastats_numa_hit", "numastats_numa_miss"] {
        config.metrics.insert(
            counter.to_owned(),
            strata::MetricConfig { kind: strata::MetricKind::Counter, ..strata::MetricConfig::default() },
        );
    }
    config.wal.durability = DurabilityConfig::None;
    config.hot.retention = Span(Duration::from_secs(24 * HOUR));
    config.hot.chunk_duration = Span(chunk);
    config.hot.checkpoint_interval = Span(Duration::from_secs(1000 * HOUR));
    config.compactor.interval = Span(Duration::from_secs(1000 * HOUR));
    config
}

fn open(dir: &Path, chunk: Duration, now: i64) -> Engine {
    Engine::open_with_clock(config(dir, chunk), Arc::new(ManualClock::new(now))).expect("open")
}

/// Writes `data` in 20,000-line writes from two threads.
fn load(engine: &Engine, data: &[u8]) {
    let chunks = split_lines(data, 20_000);
    let next = AtomicUsize::new(0);
    let options = WriteOptions::cc_metric_store("fritz");
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                while let Some(chunk) = chunks.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let report = engine.write_lp(chunk, &options).expect("write");
                    assert_eq!(report.rejected, 0, "the workload is accepted");
                }
            });
        }
    });
}

/// The median and range of `values`.
fn spread(values: &[f64]) -> (f64, f64, f64) {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (median(values), min, max)
}

fn bench_dir() -> PathBuf {
    let dir = std::env::var_os("STRATA_BENCH_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("strata-bench-tiers"), PathBuf::from);
    std::fs::create_dir_all(&dir).expect("create the benchmark directory");
    dir
}

fn print_machine() {
    println!("machine: {}; data dirs under {}", strata_benches::machine(), bench_dir().display());
}
