//! Queries from each tier against DuckDB over the same Parquet files and VictoriaMetrics over
//! the same points, in one run on one machine, printed as one table.
//!
//! A harness, not criterion: loading and compacting take half a minute. One engine holds both
//! metrics of `data.rs` (clock at the data's end; hot 2 h, warm 1 m for 7 d, cold 1 h for
//! 365 d), compacted in one pass, so each UTC day has one warm and one cold file. The queries:
//! 1. **raw**: one `cpu_user` series (f0101, hwthread 0), every point of the last hour, from hot;
//! 2. **warm**: f0101's `cpu_user` over its 72 hwthreads, the mean across threads of each
//!    thread's 1 min average (`Scope::Aggregate`, `[metrics.cpu_user] aggregation = "avg"`),
//!    the 24 h before hot starts, from warm;
//! 3. **cold**: `cpu_load` of every host, per host its 1 h averages over the 30 days before
//!    warm starts, from cold only;
//! 4. **30d-now**: the same over the last 30 days: cold for the older part (at least the 23
//!    days warm no longer holds), then whatever the planner picks (warm, hot).
//!
//! Each is timed in process `STRATA_BENCH_RUNS` times (the raw query `STRATA_BENCH_RAW_RUNS`)
//! after warm-up runs; p50 and p90, with the tiers that served it (asserted). Then
//! `benches/peers/query_duckdb.py` runs the same aggregations over the manifest's Parquet files
//! (those the range overlaps) and `benches/peers/query_vm.py` ingests the same chunk files into
//! VictoriaMetrics on loopback and times its HTTP query API; both write every value they
//! return, which is compared bucket by bucket with strata's. strata's queries run once more
//! after the peers, to show how the machine's speed moved meanwhile, and the raw query runs on
//! engines holding 72, 576 and 4,608 `cpu_user` series, to show what its series lookup costs.
//! Last, each tier query on a freshly opened engine (an empty cache) beside the time of the
//! CRC32C check of the files it may read (`cold.rs`).
//!
//! ```text
//! cargo bench -p strata-benches --bench query                     # about 2 minutes
//! STRATA_BENCH_HOSTS=8 STRATA_BENCH_PEERS=duckdb STRATA_BENCH_RUNS=5 \
//!     cargo bench -p strata-benches --bench query                 # quick look
//! just -f benches/justfile query                                  # output saved in results/
//! ```
//!
//! Knobs (environment variables, defaults in brackets): `STRATA_BENCH_HOSTS` (64, hosts of
//! `cpu_load`), `STRATA_BENCH_COLD_INTERVAL` (60 s), `STRATA_BENCH_WARM_HOSTS` (8, hosts of
//! `cpu_user`), `STRATA_BENCH_RUNS` (30), `STRATA_BENCH_RAW_RUNS` (20000),
//! `STRATA_BENCH_QUERIES` (all; e.g. `raw,warm`), `STRATA_BENCH_PEERS` (`duckdb,vm`; `none`
//! skips them), `STRATA_BENCH_DIR` (`target/tmp/strata-bench-query`, removed at the end unless
//! `STRATA_BENCH_KEEP=1`).

mod cold;
mod data;
mod peers;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use strata::{Config, Engine, ManualClock, Query, QueryResult, Resolution, Scope, Selector, Tier};
use strata_benches::{START_SECS, env_or};

use crate::data::Shape;
use crate::peers::{Timing, Values};

const SEC: i64 = 1_000_000_000;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 3600 * SEC;
const DAY: i64 = 24 * HOUR;
/// Days of `cpu_load`: the 30 the cold query reads and the 7 warm keeps.
const COLD_DAYS: i64 = 37;
/// Hours of `cpu_user`: the 24 the warm query reads and the 2 hot keeps.
const WARM_HOURS: i64 = 26;

/// One query of the table.
#[derive(Debug)]
pub(crate) struct Case {
    pub(crate) name: &'static str,
    pub(crate) what: String,
    pub(crate) query: Query,
    pub(crate) runs: usize,
    /// What the peers run: `raw`, `scope` or `per_host`.
    pub(crate) kind: &'static str,
    /// The Parquet files the range overlaps (from the manifest), for DuckDB.
    pub(crate) files: Vec<PathBuf>,
    /// The p50 to beat in process, if the issue sets one.
    pub(crate) target: Option<Duration>,
}

fn main() {
    let shape = Shape {
        end: START_SECS + COLD_DAYS * 86_400,
        hosts: env_or("STRATA_BENCH_HOSTS", 64),
        cold_days: COLD_DAYS,
        cold_interval: env_or("STRATA_BENCH_COLD_INTERVAL", 60),
        warm_hosts: env_or("STRATA_BENCH_WARM_HOSTS", 8).max(1),
        warm_hours: WARM_HOURS,
    };
    let runs: usize = env_or("STRATA_BENCH_RUNS", 30).max(1);
    let raw_runs: usize = env_or("STRATA_BENCH_RAW_RUNS", 20_000).max(1);
    let peer_names: String = env_or("STRATA_BENCH_PEERS", "duckdb,vm".to_owned());
    print_machine();

    let work = bench_dir();
    let _ = std::fs::remove_dir_all(&work);
    let (data_dir, chunk_dir) = (work.join("strata"), work.join("chunks"));
    std::fs::create_dir_all(&chunk_dir).expect("create the chunk dir");
    let end = shape.end * SEC;
    let clock = Arc::new(ManualClock::new(end));
    let engine = Engine::open_with_clock(config(&data_dir), clock).expect("open the engine");

    println!(
        "\ndata: cpu_load of {} hosts x {} d at {} s ({} points) and cpu_user of {} hosts x 72 hwthreads x {} h at 10 s ({} points); {} series; clock at the end, {}",
        shape.hosts,
        shape.cold_days,
        shape.cold_interval,
        shape.cold_points(),
        shape.warm_hosts,
        shape.warm_hours,
        shape.warm_points(),
        shape.series(),
        fmt_time(end),
    );
    let started = Instant::now();
    let loaded = data::load(&shape, &engine, Some(&chunk_dir));
    println!(
        "loaded {} points ({} MB of line protocol, {} chunk files) in {:.1} s, of which write_lp {:.1} s ({:.2} M points/s)",
        loaded.points,
        loaded.bytes / 1_000_000,
        loaded.chunk_files.len(),
        started.elapsed().as_secs_f64(),
        loaded.write_secs,
        loaded.points as f64 / loaded.write_secs / 1e6,
    );
    assert_eq!(loaded.points, shape.cold_points() + shape.warm_points());
    for pass in 1..=2 {
        let started = Instant::now();
        let report = engine.compact_at(end).expect("compact");
        println!(
            "compact_at(end) pass {pass} in {:.1} s: warm {} rows in {} files, cold {} rows in {} files, {} files expired, {} hot points evicted",
            started.elapsed().as_secs_f64(),
            report.warm_rows,
            report.warm_files,
            report.cold_rows,
            report.cold_files,
            report.expired_files,
            report.evicted_points
        );
    }
    let manifest = engine.manifest();
    let hot_start = engine.hot_start();
    let warm_start = manifest.files(strata::Tier::Warm).map(|f| f.min_time).min().unwrap_or(end);
    println!(
        "tiers: hot from {}, warm files {} ({} .. {}), cold files {}, cold rolled up to {}",
        fmt_time(hot_start),
        manifest.files(strata::Tier::Warm).count(),
        fmt_time(warm_start),
        manifest.warm_until.map_or_else(|| "-".into(), fmt_time),
        manifest.files(strata::Tier::Cold).count(),
        manifest.cold_until.map_or_else(|| "-".into(), fmt_time),
    );
    assert_eq!(hot_start, end - 2 * HOUR, "hot keeps the last 2 h");
    assert_eq!(warm_start, end - 7 * DAY, "warm keeps 7 d");

    let only: String = env_or("STRATA_BENCH_QUERIES", String::new());
    let cases: Vec<Case> = cases(&engine, &data_dir, shape.hosts, (runs, raw_runs))
        .into_iter()
        .filter(|c| only.is_empty() || only.split(',').any(|n| n == c.name))
        .collect();
    println!("\n## strata, in process");
    let first = run_strata(&engine, &cases);
    let strata_values: BTreeMap<&str, Values> =
        cases.iter().zip(&first).map(|(c, (_, result))| (c.name, peers::values_of(c, result))).collect();

    let mut peer_timings: Vec<Timing> = Vec::new();
    let mut peer_values: BTreeMap<(String, String), Values> = BTreeMap::new();
    if peer_names != "none" {
        let spec = peers::write_spec(&work, &cases, &shape, &loaded);
        for peer in peer_names.split(',').filter(|p| !p.is_empty()) {
            println!("\n## {peer}");
            match peers::run(peer, &spec) {
                Ok(timings) => {
                    for t in &timings {
                        if let Some(values) = peers::read_values(&work, &t.engine, &t.query) {
                            peer_values.insert((t.engine.clone(), t.query.clone()), values);
                        }
                    }
                    peer_timings.extend(timings);
                }
                Err(e) => println!("{peer}: not measured: {e}"),
            }
        }
    }
    println!("\n## strata again, after the peers");
    let second = run_strata(&engine, &cases);
    cold::report(&engine, &data_dir, &cases, &peer_timings, || config(&data_dir));
    let scaling =
        if cases.iter().any(|c| c.name == "raw") { raw_scaling(&work, raw_runs) } else { Vec::new() };

    println!("\n## Results");
    println!();
    print_table(&cases, &first, &second, &peer_timings);
    println!();
    if !scaling.is_empty() {
        println!("The raw query against the number of cpu_user series in the engine (other engines,");
        println!(
            "cpu_user only, the last hour of each host at 10 s; the main engine holds {}):",
            shape.warm_hosts * 72
        );
        println!();
        println!("| cpu_user series | p50 | p90 |");
        println!("|---|---|---|");
        for (series, times) in &scaling {
            println!(
                "| {series} | {} | {} |",
                fmt_dur(percentile(times, 50)),
                fmt_dur(percentile(times, 90))
            );
        }
        println!();
    }
    peers::print_checks(&cases, &strata_values, &peer_values);
    drop(engine);
    if env_or("STRATA_BENCH_KEEP", 0) == 0 {
        let _ = std::fs::remove_dir_all(&work);
    }
}

fn config(data_dir: &Path) -> Config {
    // Compaction only when asked (compact_at), no checkpoints while timing, no fsync per load
    // write (durability is not what is measured).
    let text = format!(
        r#"
data_dir = "{}"
[wal]
durability = "none"
[hot]
retention = "2h"
chunk_duration = "2h"
checkpoint_interval = "1000d"
[warm]
resolution = "1m"
retention = "7d"
[cold]
resolution = "1h"
retention = "365d"
[compactor]
interval = "1000d"
[metrics.cpu_user]
aggregation = "avg"
"#,
        data_dir.display()
    );
    Config::from_toml(&text).expect("the benchmark config is valid")
}

/// The queries, placed by the engine's clock and where its tiers start.
fn cases(engine: &Engine, data_dir: &Path, hosts: usize, (runs, raw_runs): (usize, usize)) -> Vec<Case> {
    let (end, hot_start) = (engine.now(), engine.hot_start());
    let warm_start = engine.manifest().files(strata::Tier::Warm).map(|f| f.min_time).min().unwrap_or(end);
    let files = |tier: strata::Tier, from: i64, to: i64| -> Vec<PathBuf> {
        let manifest = engine.manifest();
        manifest
            .files(tier)
            .filter(|f| f.min_time < to && f.max_time >= from)
            .map(|f| data_dir.join("tiers").join(&f.path))
            .collect()
    };
    let mut raw = Query::new("cpu_user", end - HOUR, end, Resolution::Raw);
    raw.selector = Selector::metric("cpu_user").tag("hostname", "f0101").tag("type-id", "0");
    let mut warm = Query::new("cpu_user", hot_start - DAY, hot_start, Resolution::Every(MIN));
    warm.selector = Selector::metric("cpu_user").tag("hostname", "f0101");
    warm.scope = Scope::Aggregate;
    let cold = Query::new("cpu_load", warm_start - 30 * DAY, warm_start, Resolution::Every(HOUR));
    let now = Query::new("cpu_load", end - 30 * DAY, end, Resolution::Every(HOUR));
    vec![
        Case {
            name: "raw",
            what: "1 series, raw, last 1 h".into(),
            runs: raw_runs,
            kind: "raw",
            files: Vec::new(),
            target: Some(Duration::from_micros(20)),
            query: raw,
        },
        Case {
            name: "warm",
            what: "1 node, avg of 72 hwthreads, 24 h at 1 m".into(),
            runs,
            kind: "scope",
            files: files(strata::Tier::Warm, warm.from, warm.to),
            target: None,
            query: warm,
        },
        Case {
            name: "cold",
            what: format!("{hosts} hosts, 30 d at 1 h, before warm"),
            runs,
            kind: "per_host",
            files: files(strata::Tier::Cold, cold.from, cold.to),
            target: None,
            query: cold,
        },
        Case {
            name: "30d-now",
            what: format!("{hosts} hosts, last 30 d at 1 h"),
            runs,
            kind: "per_host",
            files: files(strata::Tier::Cold, now.from, now.to),
            target: None,
            query: now,
        },
    ]
}

/// Runs every case: warm-up, then `runs` timed queries. Checks which tiers served each.
fn run_strata(engine: &Engine, cases: &[Case]) -> Vec<(Vec<Duration>, QueryResult)> {
    println!();
    println!("| query | served | series | values | p50 | p90 | min | runs |");
    println!("|---|---|---|---|---|---|---|---|");
    cases
        .iter()
        .map(|case| {
            let mut result = engine.query(&case.query).expect("the query runs");
            for _ in 0..case.runs.div_ceil(10).min(100) {
                result = engine.query(&case.query).expect("the query runs");
            }
            check_served(case, &result);
            let mut times = Vec::with_capacity(case.runs);
            for _ in 0..case.runs {
                let started = Instant::now();
                let r = engine.query(&case.query).expect("the query runs");
                times.push(started.elapsed());
                std::hint::black_box(r);
            }
            let values: usize =
                result.series.iter().map(|s| s.columns.iter().map(|(_, v)| v.len()).sum::<usize>()).sum();
            println!(
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                case.name,
                served_text(&result),
                result.series.len(),
                values,
                fmt_dur(percentile(&times, 50)),
                fmt_dur(percentile(&times, 90)),
                fmt_dur(percentile(&times, 0)),
                case.runs
            );
            (times, result)
        })
        .collect()
}

/// Asserts that the intended tier served the case.
fn check_served(case: &Case, result: &QueryResult) {
    let sources: Vec<Tier> = result.served.iter().map(|s| s.tier).collect();
    match case.name {
        "raw" => assert_eq!(sources, [Tier::Hot], "the raw query is served by hot"),
        "warm" => assert_eq!(sources, [Tier::Warm], "the 24 h query is served by warm"),
        "cold" => assert_eq!(sources, [Tier::Cold], "the 30 d query before warm is served by cold"),
        _ => {
            // Which tiers serve the newest part is the planner's choice; cold must serve the
            // older part, at least the 23 days warm no longer holds.
            let cold = result.served.first().expect("the query has parts");
            assert_eq!((cold.tier, cold.from), (Tier::Cold, case.query.from), "cold serves the oldest part");
            assert!(cold.to >= case.query.to - 7 * DAY, "cold serves at least the 23 d warm does not hold");
        }
    }
}

/// The raw query on engines holding only `cpu_user` of 1, 8 and 64 hosts (72 series each) for
/// the last hour: what the series lookup costs as the metric's series grow.
fn raw_scaling(work: &Path, runs: usize) -> Vec<(usize, Vec<Duration>)> {
    [1, 8, 64]
        .into_iter()
        .map(|hosts| {
            let shape = Shape {
                end: START_SECS,
                hosts: 0,
                cold_days: 0,
                cold_interval: 60,
                warm_hosts: hosts,
                warm_hours: 1,
            };
            let dir = work.join(format!("strata-raw-{hosts}"));
            let clock = Arc::new(ManualClock::new(shape.end * SEC));
            let engine = Engine::open_with_clock(config(&dir), clock).expect("open the engine");
            data::load(&shape, &engine, None);
            let mut q = Query::new("cpu_user", (shape.end - 3600) * SEC, shape.end * SEC, Resolution::Raw);
            q.selector = Selector::metric("cpu_user").tag("hostname", "f0101").tag("type-id", "0");
            let mut times = Vec::with_capacity(runs);
            for i in 0..runs + runs / 10 {
                let started = Instant::now();
                let r = engine.query(&q).expect("the query runs");
                if i >= runs / 10 {
                    times.push(started.elapsed());
                }
                assert_eq!(r.series.first().map(|s| s.times.len()), Some(360));
            }
            drop(engine);
            let _ = std::fs::remove_dir_all(&dir);
            (hosts * 72, times)
        })
        .collect()
}

fn served_text(result: &QueryResult) -> String {
    result
        .served
        .iter()
        .map(|s| {
            let span = (s.to - s.from) as f64;
            let len = if span >= DAY as f64 {
                format!("{:.2} d", span / DAY as f64)
            } else {
                format!("{:.2} h", span / HOUR as f64)
            };
            format!("{} {len}", s.tier.name())
        })
        .collect::<Vec<_>>()
        .join(" + ")
}

fn print_table(
    cases: &[Case],
    first: &[(Vec<Duration>, QueryResult)],
    second: &[(Vec<Duration>, QueryResult)],
    peers: &[Timing],
) {
    println!(
        "| query | served (strata) | strata p50 / p90 | strata again p50 | DuckDB p50 / p90 | VictoriaMetrics p50 / p90 | DuckDB ÷ strata | VM ÷ strata | target |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for ((case, (times, result)), (again, _)) in cases.iter().zip(first).zip(second) {
        let p50 = percentile(times, 50);
        let peer =
            |engine: &str| peers.iter().find(|t| !t.first && t.engine == engine && t.query == case.name);
        let cell = |t: Option<&Timing>| {
            t.map_or_else(|| "n/a".to_owned(), |t| format!("{} / {}", fmt_dur(t.p50), fmt_dur(t.p90)))
        };
        let ratio = |t: Option<&Timing>| {
            t.map_or_else(|| "n/a".to_owned(), |t| format!("{:.1}×", t.p50.as_secs_f64() / p50.as_secs_f64()))
        };
        let (duck, vm) = (peer("duckdb"), peer("vm"));
        let beaten = [duck, vm].iter().flatten().all(|t| t.p50 > p50);
        let target = match case.target {
            Some(t) if p50 <= t => format!("p50 ≤ {}: met; faster than peers: {}", fmt_dur(t), yes(beaten)),
            Some(t) => format!("p50 ≤ {}: **missed**; faster than peers: {}", fmt_dur(t), yes(beaten)),
            None => format!("faster than peers: {}", yes(beaten)),
        };
        println!(
            "| {} ({}) | {} | {} / {} | {} | {} | {} | {} | {} | {} |",
            case.name,
            case.what,
            served_text(result),
            fmt_dur(p50),
            fmt_dur(percentile(times, 90)),
            fmt_dur(percentile(again, 50)),
            cell(duck),
            cell(vm),
            ratio(duck),
            ratio(vm),
            target
        );
    }
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "**no**" }
}

/// The `p`th percentile (nearest rank; 0 is the minimum).
pub(crate) fn percentile(times: &[Duration], p: usize) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted.get(rank - 1).copied().unwrap_or_default()
}

pub(crate) fn fmt_dur(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 { format!("{us:.1} µs") } else { format!("{:.2} ms", us / 1000.0) }
}

fn fmt_time(ns: i64) -> String {
    let secs = ns.div_euclid(SEC);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}Z", rem / 3600, rem % 3600 / 60)
}

fn bench_dir() -> PathBuf {
    std::env::var_os("STRATA_BENCH_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("strata-bench-query"), PathBuf::from)
}

fn print_machine() {
    println!("machine: {}; work dir {}", strata_benches::machine(), bench_dir().display());
}
