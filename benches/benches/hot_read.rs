//! A raw query over hot data against the same query over plain arrays: how much the sealed
//! chunks' decoding costs a reader.
//!
//! 4 hosts x 12 h at 10 s with 2 h chunks (most chunks sealed); the query reads every point of
//! every `cpu_user` series (288 series) through `Engine::read`, and the baseline copies the same
//! points out of one `Vec<i64>` and one `Vec<f64>` per series, as a store without compression
//! would, returning all series at once as the engine does. `cargo bench -p strata-benches --bench hot_read`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use strata::{Config, Engine, ManualClock, Selector, Span, WriteOptions};

fn main() {
    let hours = 12u64;
    let (workload, data) = strata_benches::workload(4, hours * 3600);
    let start = workload.start;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::with_data_dir(dir.path());
    config.hot.retention = Span(Duration::from_secs(24 * 3600));
    config.hot.checkpoint_interval = Span(Duration::from_secs(24 * 3600));
    let now = (start + (hours as i64) * 3600) * 1_000_000_000;
    let engine = Engine::open_with_clock(config, Arc::new(ManualClock::new(now))).expect("open");
    for block in strata_benches::split_lines(&data, 20_000) {
        engine.write_lp(block, &WriteOptions::cc_metric_store("fritz")).expect("write");
    }
    let stats = engine.stats();
    let selector = Selector::metric("cpu_user");
    let series = engine.read(&selector, 0, i64::MAX).expect("read");
    let points: usize = series.iter().map(|s| s.times.len()).sum();
    // The baseline's store: the same points as plain arrays, one pair per series.
    let arrays: Vec<(Vec<i64>, Vec<f64>)> =
        series.iter().map(|s| (s.times.clone(), s.values.clone())).collect();

    let time = |f: &dyn Fn() -> usize| {
        let mut runs = Vec::new();
        let runs_wanted: usize = strata_benches::env_or("STRATA_BENCH_RUNS", 15);
        for _ in 0..runs_wanted {
            let started = Instant::now();
            assert_eq!(f(), points);
            runs.push(started.elapsed().as_secs_f64());
        }
        strata_benches::median(&runs)
    };
    let hot =
        time(&|| engine.read(&selector, 0, i64::MAX).expect("read").iter().map(|s| s.times.len()).sum());
    // Like `Engine::read`, the baseline returns every series' points at once.
    let raw = time(&|| {
        let result: Vec<(Vec<i64>, Vec<f64>)> = arrays
            .iter()
            .map(|(t, v)| {
                let (a, b) = (t.partition_point(|&x| x < 0), t.partition_point(|&x| x < i64::MAX));
                (t[a..b].to_vec(), v[a..b].to_vec())
            })
            .collect();
        std::hint::black_box(&result).iter().map(|(t, _)| t.len()).sum()
    });
    println!(
        "hot store: {} series, {:.0}% of points sealed ({:.2} B/pt)",
        stats.hot.series,
        100.0 * stats.hot.sealed_points as f64 / (stats.hot.sealed_points + stats.hot.open_points) as f64,
        stats.hot.sealed_bytes as f64 / stats.hot.sealed_points.max(1) as f64
    );
    println!(
        "query: every point of cpu_user, {} series, {points} points, median of {runs}",
        series.len(),
        runs = strata_benches::env_or("STRATA_BENCH_RUNS", 15)
    );
    println!("| store | median | M points/s |");
    println!("|---|---|---|");
    println!("| strata hot (Engine::read) | {:.2} ms | {:.0} |", hot * 1e3, points as f64 / hot / 1e6);
    println!("| plain arrays (copy) | {:.2} ms | {:.0} |", raw * 1e3, points as f64 / raw / 1e6);
    println!("ratio: the hot query takes {:.1}x the array copy", hot / raw);
}
