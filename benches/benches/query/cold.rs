//! What reading a tier file the first time costs, and the share of it that is checking the
//! file's CRC32C against the manifest (every fetch checks it; a cached file is not checked
//! again, so the warm-cache figures of the main table contain no CRC32C work at all).
//!
//! Per case: the tier files its range overlaps in any tier (an upper bound of what it reads),
//! the time of one CRC32C pass over their bytes, and the case's query on a freshly opened
//! read-only engine (empty cache: fetch, check, parse, query), `COLD_RUNS` times, beside the
//! peers' first runs (DuckDB on a fresh connection, VictoriaMetrics just restarted; the files
//! are in the page cache for every engine alike).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use strata::{Engine, ManualClock};

use crate::peers::Timing;
use crate::{Case, fmt_dur, percentile};

const COLD_RUNS: usize = 7;

pub(crate) fn report(
    engine: &Engine,
    data_dir: &Path,
    cases: &[Case],
    peers: &[Timing],
    config: impl Fn() -> strata::Config,
) {
    println!();
    println!("## First read of the tier files (empty cache), and its CRC32C check");
    println!();
    println!(
        "| query | files | MB | CRC32C of them | first-read query p50 | CRC32C share | DuckDB first run p50 | VictoriaMetrics first run p50 |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let manifest = engine.manifest();
    for case in cases.iter().filter(|c| c.name != "raw") {
        let bytes: Vec<Vec<u8>> = manifest
            .files
            .iter()
            .filter(|f| f.min_time < case.query.to && f.max_time >= case.query.from)
            .map(|f| std::fs::read(data_dir.join("tiers").join(&f.path)).expect("read a tier file"))
            .collect();
        let total: usize = bytes.iter().map(Vec::len).sum();
        let crc_times: Vec<Duration> = (0..COLD_RUNS)
            .map(|_| {
                let started = Instant::now();
                for b in &bytes {
                    std::hint::black_box(crc32c::crc32c(b));
                }
                started.elapsed()
            })
            .collect();
        let crc = percentile(&crc_times, 50);
        let firsts: Vec<Duration> = (0..COLD_RUNS)
            .map(|_| {
                let clock = Arc::new(ManualClock::new(engine.now()));
                let reader = Engine::open_read_only_with_clock(config(), clock).expect("open read-only");
                let started = Instant::now();
                std::hint::black_box(reader.query(&case.query).expect("the query runs"));
                started.elapsed()
            })
            .collect();
        let first = percentile(&firsts, 50);
        let peer = |name: &str| {
            peers
                .iter()
                .find(|t| t.first && t.engine == name && t.query == case.name)
                .map_or_else(|| "-".to_owned(), |t| fmt_dur(t.p50))
        };
        println!(
            "| {} | {} | {:.1} | {} | {} | {:.1}% | {} | {} |",
            case.name,
            bytes.len(),
            total as f64 / 1e6,
            fmt_dur(crc),
            fmt_dur(first),
            crc.as_secs_f64() * 100.0 / first.as_secs_f64(),
            peer("duckdb"),
            peer("vm")
        );
    }
}
