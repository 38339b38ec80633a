//! Memory cases, each run in a child process (this binary again with `STRATA_BENCH_CHILD` set) so
//! one case's freed-but-kept heap does not count against the next. A child prints its figures on
//! one `RESULT key=value ...` line, which the parent reads back.

use std::collections::BTreeMap;
use std::time::Instant;

use strata::{DurabilityConfig, Engine};
use strata_benches::{START_SECS, env_or, memory, split_lines, workload};
use strata_gen::GenConfig;

use crate::{HOUR, bench_dir, clock_after, engine_config, ingest};

/// Runs this binary as a child for one memory case and returns its `RESULT` figures.
pub(crate) fn child(case: &str) -> BTreeMap<String, f64> {
    let exe = std::env::current_exe().expect("the benchmark's own path");
    let started = Instant::now();
    let output = std::process::Command::new(exe)
        .env("STRATA_BENCH_CHILD", case)
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("run the memory child");
    let text = String::from_utf8_lossy(&output.stdout);
    print!("{text}");
    assert!(output.status.success(), "memory case {case} failed: {}", output.status);
    println!("  ({case}: {:.1} s)", started.elapsed().as_secs_f64());
    text.lines()
        .filter_map(|l| l.strip_prefix("RESULT "))
        .flat_map(str::split_whitespace)
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            Some((k.to_owned(), v.parse().ok()?))
        })
        .collect()
}

pub(crate) fn child_main(case: &str) {
    let parts: Vec<&str> = case.split(':').collect();
    match parts.as_slice() {
        ["memory", hosts, duration, chunk] => {
            let parse = |s: &str| s.parse::<u64>().expect("a number in STRATA_BENCH_CHILD");
            memory_case(parse(hosts) as usize, parse(duration), parse(chunk));
        }
        ["series", n] => series_case(n.parse().expect("a number in STRATA_BENCH_CHILD")),
        ["churn", n] => churn_case(n.parse().expect("a number in STRATA_BENCH_CHILD")),
        _ => panic!("unknown STRATA_BENCH_CHILD {case:?}"),
    }
}

/// Resident memory and chunk sizes after ingesting `hosts` x `duration` with `chunk`-second windows.
fn memory_case(hosts: usize, duration: u64, chunk: u64) {
    let threads: usize = env_or("STRATA_BENCH_THREADS", 2).max(1);
    let (shape, data) = workload(hosts, duration);
    let chunks = split_lines(&data, env_or("STRATA_BENCH_CHUNK_LINES", 20_000));
    let dir = tempfile::Builder::new().prefix("memory-").tempdir_in(bench_dir()).expect("create a data dir");
    let before = memory();
    let engine = Engine::open_with_clock(
        engine_config(dir.path(), &shape, DurabilityConfig::Sync, chunk),
        clock_after(&shape),
    )
    .expect("open");
    let (secs, accepted, rejected) = ingest(&engine, &chunks, threads);
    assert_eq!((accepted, rejected), (shape.lines(), 0));
    let after = memory();
    let stats = engine.stats();
    let checkpoint = engine.checkpoint().expect("checkpoint");
    let checkpoint_bytes = std::fs::metadata(&checkpoint).map_or(0, |m| m.len());
    let hot = stats.hot;
    println!(
        "  memory {hosts} hosts x {} h, chunk {} h: {} points in {secs:.2} s; {} series; open {} / sealed {} points, sealed {} bytes; RSS {:.0} -> {:.0} MB (peak {:.0} MB); checkpoint {} bytes",
        duration / HOUR,
        chunk / HOUR,
        accepted,
        stats.series,
        hot.open_points,
        hot.sealed_points,
        hot.sealed_bytes,
        before.rss as f64 / 1e6,
        after.rss as f64 / 1e6,
        after.peak as f64 / 1e6,
        checkpoint_bytes
    );
    println!(
        "RESULT points={accepted} series={} open_points={} sealed_points={} sealed_bytes={} rss_before={} rss_after={} peak={} checkpoint_bytes={checkpoint_bytes} ingest_secs={secs}",
        stats.series, hot.open_points, hot.sealed_points, hot.sealed_bytes, before.rss, after.rss, after.peak
    );
    drop(engine);
}

/// Resident memory per series: `n` series of one point each.
fn series_case(n: u64) {
    let t = START_SECS + 3000;
    let mut data = Vec::with_capacity(n as usize * 48);
    for i in 0..n {
        use std::io::Write as _;
        writeln!(data, "m,hostname=h{i},type=node value=1 {t}").expect("write to a Vec");
    }
    let chunks = split_lines(&data, env_or("STRATA_BENCH_CHUNK_LINES", 20_000));
    let shape = GenConfig { hosts: 1, duration_secs: HOUR, start: START_SECS, ..GenConfig::default() };
    let dir = tempfile::Builder::new().prefix("series-").tempdir_in(bench_dir()).expect("create a data dir");
    let mut config = engine_config(dir.path(), &shape, DurabilityConfig::Sync, 2 * HOUR);
    config.limits.max_series = config.limits.max_series.max(2 * n);
    config.limits.max_series_per_metric = config.limits.max_series_per_metric.max(2 * n);
    let before = memory();
    let engine = Engine::open_with_clock(config, clock_after(&shape)).expect("open");
    let (secs, accepted, rejected) = ingest(&engine, &chunks, env_or("STRATA_BENCH_THREADS", 2));
    assert_eq!((accepted, rejected), (n, 0));
    let after = memory();
    let stats = engine.stats();
    assert_eq!(stats.series, n);
    println!(
        "  series: {n} series of one point in {secs:.2} s ({:.0} k series/s); RSS {:.0} -> {:.0} MB (peak {:.0} MB)",
        n as f64 / secs / 1e3,
        before.rss as f64 / 1e6,
        after.rss as f64 / 1e6,
        after.peak as f64 / 1e6
    );
    // The key as written: measurement and tags, the default cluster, the field.
    let suffix = format!(" value=1 {t}\n").len() as f64;
    let key_bytes =
        data.len() as f64 / n as f64 - suffix + ",cluster=fritz".len() as f64 + "value".len() as f64;
    println!(
        "RESULT series={n} rss_before={} rss_after={} peak={} ingest_secs={secs} key_bytes={key_bytes} index_bytes={} hot_bytes={}",
        before.rss, after.rss, after.peak, stats.index_bytes, stats.hot.memory_bytes
    );
    drop(engine);
}

/// Series churn: `n` series of one point each beside 1,000 that go on reporting every 15
/// minutes; compaction passes until the one-point series have left hot (1 h) and retired. The
/// index, hot and the checkpoint are measured before and after.
fn churn_case(n: u64) {
    const LIVE: u64 = 1000;
    const SEC: i64 = 1_000_000_000;
    const MIN: i64 = 60 * SEC;
    let t0 = START_SECS * 1_000_000_000;
    let lines = |metric: &str, count: u64, time: i64| {
        let mut data = Vec::with_capacity(count as usize * 48);
        for i in 0..count {
            use std::io::Write as _;
            writeln!(data, "{metric},hostname=h{i},type=node value=1 {}", time / SEC)
                .expect("write to a Vec");
        }
        data
    };
    let dir = tempfile::Builder::new().prefix("churn-").tempdir_in(bench_dir()).expect("create a data dir");
    let shape = GenConfig { hosts: 1, duration_secs: HOUR, start: START_SECS, ..GenConfig::default() };
    let mut config = engine_config(dir.path(), &shape, DurabilityConfig::Sync, 600);
    config.hot.retention = strata::Span(std::time::Duration::from_secs(HOUR));
    config.limits.max_series = config.limits.max_series.max(2 * n);
    config.limits.max_series_per_metric = config.limits.max_series_per_metric.max(2 * n);
    let clock = std::sync::Arc::new(strata::ManualClock::new(t0 + 5 * MIN));
    let before = memory();
    let engine = Engine::open_with_clock(config, clock.clone()).expect("open");
    let mut data = lines("churn", n, t0 + MIN);
    data.extend(lines("live", LIVE, t0 + MIN));
    let (secs, accepted, rejected) = {
        let chunks = split_lines(&data, env_or("STRATA_BENCH_CHUNK_LINES", 20_000));
        ingest(&engine, &chunks, env_or("STRATA_BENCH_THREADS", 2))
    };
    assert_eq!((accepted, rejected), (n + LIVE, 0));
    drop(data);
    let full = engine.stats();
    let full_checkpoint = checkpoint_bytes(&engine);
    let full_rss = memory();
    // As `ingest` writes: seconds, the default cluster.
    let options = strata::WriteOptions::cc_metric_store("fritz");
    let (mut retired, mut pass_secs, mut retiring_pass_secs) = (0, 0.0, 0.0);
    for k in 1..=8 {
        let now = t0 + k * 15 * MIN;
        clock.set(now);
        engine.write_lp(&lines("live", LIVE, now - MIN), &options).expect("write the live series");
        let started = Instant::now();
        let report = engine.compact_at(now).expect("compaction pass");
        let took = started.elapsed().as_secs_f64();
        pass_secs += took;
        if report.retired_series > 0 {
            retiring_pass_secs += took;
        }
        retired += report.retired_series;
        if std::env::var_os("STRATA_BENCH_VERBOSE").is_some() {
            println!("  pass {k}: {report}; series {}", engine.stats().series);
        }
    }
    let lean = engine.stats();
    let lean_checkpoint = checkpoint_bytes(&engine);
    let lean_rss = memory();
    assert_eq!((retired, lean.series), (n, LIVE), "every one-point series retires, the live ones stay");
    println!(
        "  churn: {n} one-point series + {LIVE} live, ingested in {secs:.2} s; index {} -> {} bytes, hot {} -> {} bytes, checkpoint {full_checkpoint} -> {lean_checkpoint} bytes, RSS {:.0} -> {:.0} -> {:.0} MB; 8 passes {pass_secs:.2} s (the retiring ones {retiring_pass_secs:.2} s)",
        full.index_bytes,
        lean.index_bytes,
        full.hot.memory_bytes,
        lean.hot.memory_bytes,
        before.rss as f64 / 1e6,
        full_rss.rss as f64 / 1e6,
        lean_rss.rss as f64 / 1e6,
    );
    println!(
        "RESULT series={n} live={LIVE} retired={retired} index_full={} index_lean={} hot_full={} hot_lean={} checkpoint_full={full_checkpoint} checkpoint_lean={lean_checkpoint} rss_before={} rss_full={} rss_lean={} pass_secs={pass_secs} retiring_pass_secs={retiring_pass_secs}",
        full.index_bytes,
        lean.index_bytes,
        full.hot.memory_bytes,
        lean.hot.memory_bytes,
        before.rss,
        full_rss.rss,
        lean_rss.rss
    );
    drop(engine);
}

fn checkpoint_bytes(engine: &Engine) -> u64 {
    let path = engine.checkpoint().expect("checkpoint");
    std::fs::metadata(&path).map_or(0, |m| m.len())
}
