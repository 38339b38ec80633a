//! Ingest, hot memory, reopen and replay of the engine on the anchors' workload
//! (`../shared/reference/anchors.md`), printed as one table beside the peers' figures.
//!
//! A harness, not criterion: each run takes seconds. Every ingest run gets a fresh data
//! directory on the real disk (under `target/tmp`), an engine whose clock stands a minute after
//! the workload's last point, and the workload cut into 20,000-line writes taken from a shared
//! index by the writer threads, as the peers' clients post `split -l 20000` files. Each round
//! starts with a canary (parsing 32 MB, no engine) that shows how fast the shared machine is
//! just then. Memory is measured in child processes (`memory.rs`).
//!
//! ```text
//! cargo bench -p strata-benches --bench ingest              # about 3 minutes
//! STRATA_BENCH_HOSTS=8 STRATA_BENCH_RUNS=1 STRATA_BENCH_SERIES=100000 \
//!     cargo bench -p strata-benches --bench ingest          # quick look
//! just -f benches/justfile ingest                           # with the peers, output saved
//! ```
//!
//! Knobs (environment variables, defaults in brackets):
//! - `STRATA_BENCH_HOSTS` (64), `STRATA_BENCH_RUNS` (5), `STRATA_BENCH_THREADS` (2),
//!   `STRATA_BENCH_CHUNK_LINES` (20000);
//! - `STRATA_BENCH_VARIANTS` (`sync,sync-1,none`): which ingest variants run;
//! - `STRATA_BENCH_MEMORY` (1; 0 skips the memory cases), `STRATA_BENCH_LONG` (`4x12`: hosts x
//!   hours of a workload long enough to seal chunks; 0 skips), `STRATA_BENCH_SERIES` (1000000;
//!   0 skips);
//! - `STRATA_BENCH_DIR` (`target/tmp/strata-bench-ingest`): where data directories go;
//! - `STRATA_BENCH_PEERS`: the `key=value` file `benches/peers/ingest_peers.sh` writes; without
//!   it the table shows the anchors' figures.

mod memory;
mod table;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use strata::{Config, DurabilityConfig, Engine, ManualClock, Selector, Span, WriteOptions};
use strata_benches::{START_SECS, env_or, split_lines, workload};
use strata_gen::GenConfig;
use strata_lp::{Line, ParseOptions, Parser, Precision};

use crate::memory::{child, child_main};
use crate::table::{Peers, Table};

const HOUR: u64 = 3600;

fn main() {
    if let Ok(child) = std::env::var("STRATA_BENCH_CHILD") {
        child_main(&child);
        return;
    }
    let hosts: usize = env_or("STRATA_BENCH_HOSTS", 64);
    let runs: usize = env_or("STRATA_BENCH_RUNS", 5).max(1);
    let threads: usize = env_or("STRATA_BENCH_THREADS", 2).max(1);
    let series: u64 = env_or("STRATA_BENCH_SERIES", 1_000_000);
    let long: String = env_or("STRATA_BENCH_LONG", "4x12".to_owned());
    let with_memory: u8 = env_or("STRATA_BENCH_MEMORY", 1);

    print_machine();
    let mut table = Table::default();
    let peers = Peers::load();
    if let Some(peer_hosts) = peers.get("hosts")
        && peer_hosts as usize != hosts
    {
        println!("note: the peers' figures are for {peer_hosts} hosts, this run's for {hosts}");
    }

    // 1 and 3: ingest, then replay and reopen, in this process.
    let ingest = run_ingest(hosts, runs, threads);
    table.ingest(&ingest, &peers, runs, threads);

    // 2: memory, each case in a child process.
    if with_memory != 0 {
        let anchor = child(&format!("memory:{hosts}:{}:{}", HOUR, 2 * HOUR));
        table.memory(&format!("{hosts} hosts x 1 h, chunk 2 h"), &anchor, None, &peers);
        if let Some((h, hours)) =
            long.split_once('x').and_then(|(h, d)| Some((h.parse::<usize>().ok()?, d.parse::<u64>().ok()?)))
            && h > 0
            && hours > 0
        {
            for (chunk_hours, pco) in [(2, 1.50), (6, 1.38)] {
                let case = child(&format!("memory:{h}:{}:{}", hours * HOUR, chunk_hours * HOUR));
                table.memory(
                    &format!("{h} hosts x {hours} h, chunk {chunk_hours} h"),
                    &case,
                    Some(pco),
                    &peers,
                );
            }
        }
        if series > 0 {
            let case = child(&format!("series:{series}"));
            table.series(&case);
            let case = child(&format!("churn:{series}"));
            table.churn(&case);
        }
    }
    table.print(&peers);
}

// ---------------------------------------------------------------------------------------------
// Ingest, replay, reopen

/// One ingest variant: durability and writer threads.
#[derive(Debug, Clone, Copy)]
struct Variant {
    name: &'static str,
    durability: DurabilityConfig,
    threads: usize,
}

#[derive(Debug, Default)]
struct IngestResults {
    points: u64,
    /// Bytes/s of the canary, one per round.
    canary: Vec<f64>,
    /// Points per second per variant, one per run.
    rates: BTreeMap<&'static str, Vec<f64>>,
    replay_secs: Vec<f64>,
    replay_points: u64,
    close_secs: Vec<f64>,
    open_secs: Vec<f64>,
    checkpoint_bytes: Vec<f64>,
    /// After reopening from the checkpoint every chunk is sealed: the codec over all the data.
    reopened_sealed_bytes_per_point: Vec<f64>,
}

fn run_ingest(hosts: usize, runs: usize, threads: usize) -> IngestResults {
    let chunk_lines: usize = env_or("STRATA_BENCH_CHUNK_LINES", 20_000);
    let started = Instant::now();
    let (shape, data) = workload(hosts, HOUR);
    let chunks = split_lines(&data, chunk_lines);
    println!(
        "workload: {hosts} hosts x 1 h at 10 s: {} series, {} lines, {} bytes, {} writes of {chunk_lines} lines (generated in {:.1} s)",
        shape.series(),
        shape.lines(),
        data.len(),
        chunks.len(),
        started.elapsed().as_secs_f64()
    );
    let headline = Variant { name: "sync", durability: DurabilityConfig::Sync, threads };
    let variants = [
        headline,
        Variant { name: "sync-1", durability: DurabilityConfig::Sync, threads: 1 },
        Variant { name: "none", durability: DurabilityConfig::None, threads },
    ];
    let only: String = env_or("STRATA_BENCH_VARIANTS", String::new());
    let variants: Vec<Variant> =
        variants.into_iter().filter(|v| only.is_empty() || only.split(',').any(|o| o == v.name)).collect();
    let mut results = IngestResults { points: shape.lines(), ..Default::default() };
    let base = bench_dir();
    for run in 1..=runs {
        let canary = canary(&chunks);
        println!("run {run}/{runs} canary: strata-lp parse, 1 thread, {:.0} MB/s", canary / 1e6);
        results.canary.push(canary);
        // Variants alternate within a round, so a noisy neighbour hits them alike.
        for &variant in &variants {
            let dir =
                tempfile::Builder::new().prefix("ingest-").tempdir_in(&base).expect("create a data dir");
            let config = engine_config(dir.path(), &shape, variant.durability, 2 * HOUR);
            let clock = clock_after(&shape);
            let engine = Engine::open_with_clock(config.clone(), clock.clone()).expect("open");
            let (secs, accepted, rejected) = ingest(&engine, &chunks, variant.threads);
            assert_eq!((accepted, rejected), (shape.lines(), 0), "every line of the workload is accepted");
            let rate = accepted as f64 / secs;
            results.rates.entry(variant.name).or_default().push(rate);
            print!(
                "run {run}/{runs} {:>6} {} thread(s): {:.2} s, {:.2} M points/s",
                variant.name,
                variant.threads,
                secs,
                rate / 1e6
            );
            if variant.name != headline.name {
                println!();
                continue;
            }
            // Crash-like stop: no final checkpoint, so the whole WAL is replayed on open.
            drop(engine);
            let t = Instant::now();
            let engine = Engine::open_with_clock(config.clone(), clock.clone()).expect("reopen after drop");
            let replay = t.elapsed().as_secs_f64();
            let recovery = engine.recovery().clone();
            assert_eq!((recovery.checkpoint.as_ref(), recovery.points), (None, shape.lines()));
            if run == 1 {
                check_read(&engine, &shape);
            }
            let t = Instant::now();
            engine.close().expect("close");
            let close = t.elapsed().as_secs_f64();
            let checkpoint_bytes = dir_bytes(&dir.path().join("checkpoints"));
            let t = Instant::now();
            let engine = Engine::open_with_clock(config, clock).expect("reopen after close");
            let open = t.elapsed().as_secs_f64();
            assert_eq!(engine.recovery().points, 0, "a clean close leaves nothing to replay");
            let hot = engine.stats().hot;
            assert_eq!(hot.sealed_points + hot.open_points, shape.lines());
            drop(engine);
            println!(
                "; replay {:.2} s ({} records, {:.1} M points/s); close {:.2} s; open {:.3} s; checkpoint {:.2} B/point",
                replay,
                recovery.records,
                recovery.points as f64 / replay / 1e6,
                close,
                open,
                checkpoint_bytes as f64 / shape.lines() as f64
            );
            results.replay_points = recovery.points;
            results.replay_secs.push(replay);
            results.close_secs.push(close);
            results.open_secs.push(open);
            results.checkpoint_bytes.push(checkpoint_bytes as f64);
            results
                .reopened_sealed_bytes_per_point
                .push(hot.sealed_bytes as f64 / hot.sealed_points.max(1) as f64);
        }
    }
    results
}

/// The machine's speed now: bytes/s of parsing the first 32 MB of the workload on one thread,
/// no I/O and no engine. The machine is shared; when this moves, every figure of the round moves
/// with it, and the spread of the rounds says more than any one of them.
fn canary(chunks: &[&[u8]]) -> f64 {
    let mut bytes = 0;
    let mut lines = 0u64;
    let started = Instant::now();
    for chunk in chunks {
        if bytes >= 32 << 20 {
            break;
        }
        let mut parser = Parser::new(chunk, ParseOptions::with_precision(Precision::Seconds));
        let mut line = Line::default();
        while let Some(result) = parser.next_into(&mut line) {
            result.expect("the workload is valid");
            lines += 1;
        }
        bytes += chunk.len();
    }
    std::hint::black_box(lines);
    bytes as f64 / started.elapsed().as_secs_f64()
}

/// Writes `chunks` from `threads` threads, each taking the next chunk from a shared index.
/// Returns seconds from the first write to the last acknowledgement, accepted and rejected.
fn ingest(engine: &Engine, chunks: &[&[u8]], threads: usize) -> (f64, u64, u64) {
    let next = AtomicUsize::new(0);
    let options = WriteOptions::cc_metric_store("fritz");
    let started = Instant::now();
    let (accepted, rejected) = std::thread::scope(|s| {
        let writers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let (mut accepted, mut rejected) = (0, 0);
                    while let Some(chunk) = chunks.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let report = engine.write_lp(chunk, &options).expect("write");
                        accepted += report.accepted;
                        rejected += report.rejected;
                    }
                    (accepted, rejected)
                })
            })
            .collect();
        writers
            .into_iter()
            .map(|w| w.join().expect("writer thread"))
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    });
    (started.elapsed().as_secs_f64(), accepted, rejected)
}

/// Reads one host's `cpu_user` back after a replay: every hwthread, every step.
fn check_read(engine: &Engine, shape: &GenConfig) {
    let selector = Selector::metric("cpu_user").tag("hostname", "f0101");
    let series = engine.read(&selector, i64::MIN, i64::MAX).expect("read");
    let points: usize = series.iter().map(|s| s.times.len()).sum();
    assert_eq!((series.len(), points as u64), (shape.hwthreads, shape.hwthreads as u64 * shape.steps()));
}

/// Defaults except: the given durability and chunk window, a retention that keeps the whole
/// workload, and no background checkpoint during a run (10 min by default; a run is shorter,
/// but a dropped engine must leave its whole WAL to replay).
fn engine_config(dir: &Path, shape: &GenConfig, durability: DurabilityConfig, chunk_secs: u64) -> Config {
    let mut config = Config::with_data_dir(dir);
    config.wal.durability = durability;
    let retention =
        config.hot.retention.0.max(Duration::from_secs(2 * shape.duration_secs)).max(secs(chunk_secs));
    config.hot.retention = Span(retention);
    config.hot.chunk_duration = Span(secs(chunk_secs));
    config.hot.checkpoint_interval = Span(secs(1000 * HOUR));
    config
}

/// An engine clock a minute after the workload's last point.
fn clock_after(shape: &GenConfig) -> Arc<ManualClock> {
    let end = START_SECS + shape.duration_secs as i64 + 60;
    Arc::new(ManualClock::new(end * 1_000_000_000))
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn bench_dir() -> PathBuf {
    let dir = std::env::var_os("STRATA_BENCH_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("strata-bench-ingest"),
        PathBuf::from,
    );
    std::fs::create_dir_all(&dir).expect("create the benchmark directory");
    dir
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum())
        .unwrap_or(0)
}

fn print_machine() {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let total = meminfo.lines().find(|l| l.starts_with("MemTotal")).unwrap_or("MemTotal: ?");
    println!(
        "machine: {}, {}",
        strata_benches::machine(),
        total.split_whitespace().collect::<Vec<_>>().join(" ")
    );
    println!("data dirs under {}", bench_dir().display());
}
