//! The memory of a merge: a day's warm files (one per hourly pass) merged in one pass, with the
//! heap the merge holds at its peak measured by a counting allocator, against
//! `compactor.merge_memory`.
//!
//! The engine writes `hosts` x `hours` of `strata gen` data an hour at a time with a pass after
//! each (merges held off by a fan-in above the number of files), so the day holds one warm
//! file per hour. The directory is then copied once per bound, reopened with `merge_fanin` equal
//! to the number of files and `merge_memory` set to the bound, and one pass merges them all.
//! Peak = the most bytes allocated at once during that pass, less what was allocated when it
//! started (the hot store and caches stay as they were).
//!
//! ```text
//! cargo bench -p strata-benches --bench merge_memory                  # 64 hosts x 3 h
//! STRATA_BENCH_MERGE=16x2 cargo bench -p strata-benches --bench merge_memory
//! ```

#![allow(unsafe_code, reason = "a global allocator that counts, around the system's")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use strata::{ByteSize, Config, DurabilityConfig, Engine, ManualClock, Span, Tier, WriteOptions};
use strata_benches::{START_SECS, env_or, split_lines, workload};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed to the system allocator unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            if new_size >= layout.size() {
                let now =
                    CURRENT.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size - layout.size();
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                CURRENT.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const SEC: i64 = 1_000_000_000;
const HOUR: i64 = 3600;
const MIB: u64 = 1 << 20;

fn config(dir: &Path, fanin: u32, merge_memory: u64) -> Config {
    let mut config = Config::with_data_dir(dir);
    config.wal.durability = DurabilityConfig::None;
    config.hot.retention = Span(Duration::from_secs(24 * 3600));
    config.hot.checkpoint_interval = Span(Duration::from_secs(1000 * 3600));
    config.compactor.interval = Span(Duration::from_secs(1000 * 3600));
    config.compactor.merge_fanin = fanin;
    config.compactor.merge_memory = ByteSize(merge_memory);
    config
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create a copy");
    for entry in std::fs::read_dir(from).expect("read a data dir") {
        let entry = entry.expect("an entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a file");
        }
    }
}

fn main() {
    let spec: String = env_or("STRATA_BENCH_MERGE", "64x3".to_owned());
    let (hosts, hours) = spec
        .split_once('x')
        .and_then(|(h, n)| Some((h.parse::<usize>().ok()?, n.parse::<i64>().ok()?)))
        .expect("STRATA_BENCH_MERGE is hosts x hours, e.g. 64x3");
    println!("machine: {}", strata_benches::machine());
    let (shape, data) = workload(hosts, u64::try_from(hours * HOUR).unwrap_or(0));
    let per_hour = shape.series() * (3600 / shape.interval_secs as usize);
    let blocks = split_lines(&data, per_hour);
    let dir = tempfile::tempdir().expect("a data dir");
    let built = dir.path().join("built");
    let options = WriteOptions::cc_metric_store("fritz");
    {
        let clock = Arc::new(ManualClock::new((START_SECS + HOUR) * SEC));
        let engine = Engine::open_with_clock(config(&built, 10_000, 512 * MIB), clock.clone()).expect("open");
        for (hour, block) in blocks.iter().enumerate() {
            let end = START_SECS + (hour as i64 + 1) * HOUR;
            clock.set(end * SEC);
            for part in split_lines(block, 20_000) {
                engine.write_lp(part, &options).expect("write");
            }
            // Everything of the hour is due (lateness is 5 minutes).
            engine.compact_at((end + 600) * SEC).expect("a pass");
        }
        engine.close().expect("close");
    }
    let files = |engine: &Engine| engine.manifest().files(Tier::Warm).count();
    println!(
        "\n## Merge memory: {hosts} hosts x {hours} h ({} points), one warm file per hour merged in one pass\n",
        shape.lines()
    );
    println!(
        "| merge_memory | input files | input rows | input bytes | output files | peak heap of the merge | time |"
    );
    println!("|---|---|---|---|---|---|---|");
    for bound in [16 * MIB, 64 * MIB, 512 * MIB] {
        let copy = dir.path().join(format!("copy-{bound}"));
        copy_dir(&built, &copy);
        let now = (START_SECS + hours * HOUR + 600) * SEC;
        let engine = Engine::open_with_clock(
            config(&copy, u32::try_from(hours).unwrap_or(2).max(2), bound),
            Arc::new(ManualClock::new(now)),
        )
        .expect("reopen");
        let manifest = engine.manifest();
        let inputs: Vec<_> = manifest.files(Tier::Warm).filter(|f| f.level == 0).cloned().collect();
        let (rows, bytes): (u64, u64) =
            inputs.iter().map(|f| (f.rows, f.bytes)).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        let base = CURRENT.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        let started = Instant::now();
        let report = engine.compact_at(now).expect("the merge pass");
        let secs = started.elapsed().as_secs_f64();
        let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
        assert!(report.merged_files >= inputs.len() as u64, "the pass merged the warm files: {report:?}");
        println!(
            "| {} MiB | {} | {rows} | {bytes} | {} warm (all tiers: {}) | {:.1} MiB | {secs:.2} s |",
            bound / MIB,
            inputs.len(),
            files(&engine),
            report.merge_outputs,
            peak as f64 / MIB as f64
        );
        drop(engine);
        std::fs::remove_dir_all(&copy).expect("remove the copy");
    }
}
