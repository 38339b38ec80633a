//! The warm flush through the engine's compaction pass, and its steps one at a time.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use rayon::ThreadPoolBuilder;
use strata::Tier;
use strata::tier::file::{self, FileInfo, Row};
use strata::{Selector, SeriesPoints};
use strata_benches::{START_SECS, median, split_lines, workload};
use strata_lp::{ParseOptions, Parser, Precision};

use crate::{HOUR, SEC, Sizes, bench_dir, load, open, spread};

/// The 50 M points/s per core the issue asks of downsampling.
const TARGET_PER_CORE: f64 = 50e6;

/// Warm buckets: the default 1 minute.
const RES: i64 = 60 * SEC;

pub(crate) fn run(hosts: usize, runs: usize, loops: usize) -> Sizes {
    // One step past the hour: every series opens its next window, which seals the hour's chunk.
    let (shape, data) = workload(hosts, HOUR + 10);
    let start = START_SECS * SEC;
    // Pass 1, a second before the last minute is due, flushes [start, cut): 59 minutes, and has
    // no full cold hour to roll up. Pass 2 flushes the last minute and rolls the hour up.
    let cut = start + 3540 * SEC;
    let (now1, now2) = (start + 3899 * SEC, start + 3900 * SEC);
    println!(
        "workload: {hosts} hosts x 1 h + one step at 10 s, {} series, {} points, hot chunks of 1 h",
        shape.series(),
        shape.lines()
    );
    let pools: Vec<(usize, rayon::ThreadPool)> = [2, 1]
        .into_iter()
        .map(|n| (n, ThreadPoolBuilder::new().num_threads(n).build().expect("a rayon pool")))
        .collect();
    let mut first: Vec<(usize, Vec<f64>)> = pools.iter().map(|(n, _)| (*n, Vec::new())).collect();
    let mut second: Vec<(usize, Vec<f64>)> = first.clone();
    let (mut flushed, mut rows, mut cold_rows) = (0, 0, 0);
    let mut kept = None;
    for run in 1..=runs {
        // Pool sizes alternate within a run, so a noisy neighbour hits both alike.
        for (i, (threads, pool)) in pools.iter().enumerate() {
            let dir = tempfile::Builder::new().prefix("flush-").tempdir_in(bench_dir()).expect("a data dir");
            let engine = open(dir.path(), Duration::from_secs(HOUR), now2);
            let started = Instant::now();
            load(&engine, &data);
            let loaded = started.elapsed().as_secs_f64();
            let sealed = engine.stats().hot.sealed_points;
            let started = Instant::now();
            let pass1 = pool.install(|| engine.compact_at(now1)).expect("pass 1");
            let secs1 = started.elapsed().as_secs_f64();
            flushed = engine.stats().tiers.warm.points;
            let started = Instant::now();
            let pass2 = pool.install(|| engine.compact_at(now2)).expect("pass 2");
            let secs2 = started.elapsed().as_secs_f64();
            (rows, cold_rows) = (pass1.warm_rows, pass2.cold_rows);
            println!(
                "run {run}/{runs}, {threads} thread(s): loaded in {loaded:.1} s ({sealed} points sealed); pass 1 {secs1:.3} s: {flushed} points -> {} warm rows in {} file(s), {:.1} M points/s; pass 2 {secs2:.3} s: {} warm rows, {} cold rows",
                pass1.warm_rows,
                pass1.warm_files,
                flushed as f64 / secs1 / 1e6,
                pass2.warm_rows,
                pass2.cold_rows,
            );
            first[i].1.push(secs1);
            second[i].1.push(secs2);
            if kept.is_none() {
                kept = Some((dir, engine));
            }
        }
    }
    let (dir, engine) = kept.expect("at least one run");

    println!();
    println!(
        "## Warm flush: first pass over {hosts} hosts x 59 min ({flushed} points, {rows} rows), median of {runs}"
    );
    println!();
    println!("| rayon threads | pass | range | M points/s | M points/s per core | per core / 50 M |");
    println!("|---|---|---|---|---|---|");
    for (threads, secs) in &first {
        let (m, lo, hi) = spread(secs);
        let rate = flushed as f64 / m;
        println!(
            "| {threads} | {m:.3} s | {lo:.3}-{hi:.3} | {:.1} | {:.1} | {:.2} |",
            rate / 1e6,
            rate / *threads as f64 / 1e6,
            rate / *threads as f64 / TARGET_PER_CORE
        );
    }
    let one_thread = first.iter().find(|(n, _)| *n == 1).map_or(f64::NAN, |(_, s)| median(s));
    println!();
    println!(
        "Second pass (last minute to warm, the hour's {cold_rows} cold rows rolled up from warm files):"
    );
    for (threads, secs) in &second {
        let (m, lo, hi) = spread(secs);
        println!("- {threads} thread(s): {m:.3} s ({lo:.3}-{hi:.3})");
    }

    steps(&engine, &data, shape.series(), (start, cut), flushed, loops, runs, one_thread, &pools);
    let points = engine.stats().tiers.warm.points;
    Sizes::of(engine, dir, format!("{hosts} hosts x 1 h"), points)
}

/// The pass's steps one at a time on one thread, over the points pass 1 flushed.
#[expect(clippy::too_many_arguments, reason = "one call site; the figures of the pass it splits")]
fn steps(
    engine: &strata::Engine,
    data: &[u8],
    series_per_step: usize,
    (from, to): (i64, i64),
    flushed: u64,
    loops: usize,
    runs: usize,
    pass: f64,
    pools: &[(usize, rayon::ThreadPool)],
) {
    // Every metric name, from the first step's lines.
    let first_step = split_lines(data, series_per_step).first().copied().unwrap_or_default();
    let metrics: BTreeSet<String> = Parser::new(first_step, ParseOptions::with_precision(Precision::Seconds))
        .map(|line| line.expect("the workload parses").measurement.into_owned())
        .collect();

    // 1. A raw read of the same points: decode of the sealed chunks and a copy, as the compactor
    //    decodes each series into reused buffers.
    let mut series: Vec<SeriesPoints> = Vec::new();
    let read = time(loops, || {
        series =
            metrics.iter().flat_map(|m| engine.read(&Selector::metric(m), from, to).expect("read")).collect();
    });
    let points: u64 = series.iter().map(|s| s.times.len() as u64).sum();
    assert_eq!(points, flushed, "the raw read holds the points pass 1 flushed");
    // The hot store hands series over by shard, not in file order: shuffle them.
    shuffle(&mut series);

    // 2. The inner loop, and a plain one over the same arrays, alternating: the plain loop is
    //    the canary of how fast the shared machine is just then.
    let mut per_series: Vec<Vec<Row>> = Vec::new();
    let mut plain_rows: Vec<Plain> = Vec::new();
    let (mut downsample, mut plain) = (Vec::new(), Vec::new());
    for _ in 0..loops {
        drop(std::mem::take(&mut per_series));
        let started = Instant::now();
        per_series = series
            .iter()
            .map(|s| strata::tier::downsample(&s.key, strata::MetricKind::Gauge, &s.times, &s.values, RES))
            .collect();
        downsample.push(started.elapsed().as_secs_f64());
        plain_rows.clear();
        let started = Instant::now();
        for s in &series {
            plain_loop(&s.times, &s.values, RES, &mut plain_rows);
        }
        std::hint::black_box(&plain_rows);
        plain.push(started.elapsed().as_secs_f64());
    }
    let ratios: Vec<f64> = downsample.iter().zip(&plain).map(|(d, p)| d / p).collect();
    let rows: Vec<Row> = per_series.iter().flatten().cloned().collect();
    assert_eq!(rows.iter().map(|r| r.agg.count).sum::<u64>(), points);
    let agree = |r: &Row, p: &Plain| {
        (r.time, r.agg.count, r.agg.min, r.agg.max, r.agg.first, r.agg.last)
            == (p.time, p.count, p.min, p.max, p.first, p.last)
            && (r.agg.sum - p.sum).abs() <= 1e-9 * p.sum.abs().max(1.0)
    };
    assert!(rows.len() == plain_rows.len() && rows.iter().zip(&plain_rows).all(|(r, p)| agree(r, p)));

    // 3. Sort and merge (all rows, as before; per-series runs, as the pass does), Parquet
    //    encode on a pool of 1 thread and of 2, and the file write.
    let mut sorted = Vec::new();
    let sort = time(runs, || {
        sorted = rows.clone();
        let started = Instant::now();
        file::sort_and_merge(&mut sorted);
        started.elapsed()
    });
    let sort_runs = time(runs, || {
        let series_runs = per_series.clone();
        let started = Instant::now();
        let by_runs = file::sort_runs(series_runs);
        let elapsed = started.elapsed();
        assert!(by_runs.iter().flatten().eq(&sorted), "sort_runs orders rows as sort_and_merge does");
        elapsed
    });
    let info = FileInfo { tier: Tier::Warm, resolution: RES };
    let mut bytes = Default::default();
    let pool = |n: usize| pools.iter().find(|(threads, _)| *threads == n).map(|(_, p)| p).expect("a pool");
    let encode = time(runs, || bytes = pool(1).install(|| file::write(&sorted, &info)).expect("encode"));
    let encode2 = time(runs, || bytes = pool(2).install(|| file::write(&sorted, &info)).expect("encode"));
    let path = bench_dir().join("steps.parquet");
    let put = time(runs, || std::fs::write(&path, &bytes).expect("write the file"));
    let _ = std::fs::remove_file(&path);

    println!();
    println!(
        "## Steps of the pass, one thread (but the 2-thread encode): {points} points of {} series -> {} rows, {} bytes",
        series.len(),
        rows.len(),
        bytes.len()
    );
    println!();
    println!("| step | median | range | M points/s | M rows/s | share of the 1-thread pass |");
    println!("|---|---|---|---|---|---|");
    let line = |name: &str, secs: &[f64]| {
        let (m, lo, hi) = spread(secs);
        println!(
            "| {name} | {:.1} ms | {:.1}-{:.1} | {:.1} | {:.1} | {:.0}% |",
            m * 1e3,
            lo * 1e3,
            hi * 1e3,
            points as f64 / m / 1e6,
            rows.len() as f64 / m / 1e6,
            100.0 * m / pass
        );
        m
    };
    let parts = [
        line("raw read from hot (decode + copy)", &read),
        line("`tier::downsample`", &downsample),
        line("`file::sort_runs` (per-series runs, shuffled; the pass's sort)", &sort_runs),
        line("`file::write` (Parquet, zstd 3), 1 thread", &encode),
        line("write the file (`std::fs::write`)", &put),
    ];
    line("`file::sort_and_merge` (all rows, series shuffled; not in the pass)", &sort);
    line("`file::write` (Parquet, zstd 3), 2 threads (not in the sum)", &encode2);
    line("plain bucket loop (no key, naive sum; not in the pass)", &plain);
    let sum: f64 = parts.iter().sum();
    println!(
        "| sum of the steps | {:.1} ms | | | | {:.0}% |\n| the pass, 1 thread | {:.1} ms | | {:.1} | | 100% |",
        sum * 1e3,
        100.0 * sum / pass,
        pass * 1e3,
        points as f64 / pass / 1e6
    );
    let per_core = points as f64 / median(&downsample);
    println!();
    println!(
        "downsample: {:.1} M points/s on one core, {:.2}x the 50 M points/s per core target ({}); {:.2}x the plain loop's time in the same iterations (median)",
        per_core / 1e6,
        per_core / TARGET_PER_CORE,
        if per_core >= TARGET_PER_CORE { "met" } else { "MISSED" },
        median(&ratios)
    );
}

/// Seconds of `loops` calls of `f`; a call may return its own measured duration (to leave
/// setup out), otherwise the whole call is timed.
fn time<R: Elapsed>(loops: usize, mut f: impl FnMut() -> R) -> Vec<f64> {
    (0..loops)
        .map(|_| {
            let started = Instant::now();
            let own = f().elapsed();
            own.unwrap_or_else(|| started.elapsed()).as_secs_f64()
        })
        .collect()
}

trait Elapsed {
    fn elapsed(self) -> Option<Duration>;
}

impl Elapsed for () {
    fn elapsed(self) -> Option<Duration> {
        None
    }
}

impl Elapsed for Duration {
    fn elapsed(self) -> Option<Duration> {
        Some(self)
    }
}

/// A deterministic Fisher-Yates shuffle (xorshift).
fn shuffle<T>(items: &mut [T]) {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for i in (1..items.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        items.swap(i, (state % (i as u64 + 1)) as usize);
    }
}

/// A bucket of the plain loop: what a tight loop keeps without a series key.
#[derive(Debug, Clone, Copy)]
struct Plain {
    time: i64,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    first: f64,
    last: f64,
}

/// One row per bucket of points in time order, appended to `out`: the shape of
/// `tier::downsample` without the key, the double-double sum and the times of first and last.
fn plain_loop(times: &[i64], values: &[f64], res: i64, out: &mut Vec<Plain>) {
    let mut current: Option<Plain> = None;
    for (&t, &v) in times.iter().zip(values) {
        let bucket = t.div_euclid(res) * res;
        match &mut current {
            Some(p) if p.time == bucket => {
                p.count += 1;
                p.sum += v;
                p.min = p.min.min(v);
                p.max = p.max.max(v);
                p.last = v;
            }
            _ => {
                out.extend(current.take());
                current = Some(Plain { time: bucket, count: 1, sum: v, min: v, max: v, first: v, last: v });
            }
        }
    }
    out.extend(current);
}
