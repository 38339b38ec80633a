//! `strata demo`: strata's main job on an embedded default, end to end in one command.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use clap::Args;
use strata::{Config, Engine, Selector, WriteOptions};
use strata_gen::GenConfig;

use crate::blocks::split_lines;
use crate::say;

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Hosts of the generated cluster (302 series each).
    #[arg(long, default_value_t = 16)]
    hosts: usize,
    /// Data directory; a temporary one, removed afterwards, when not given.
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

pub(crate) fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let temp = std::env::temp_dir().join(format!("strata-demo-{}", std::process::id()));
    let dir = args.data_dir.clone().unwrap_or_else(|| temp.clone());
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let now = i64::try_from(now)?;
    let workload =
        GenConfig { hosts: args.hosts, start: now - 3600, duration_secs: 3600, ..GenConfig::default() };
    say!(
        "generating 1 h of telemetry for {} hosts of cluster fritz ({} series, 10 s interval)...",
        workload.hosts,
        workload.series()
    );
    let data = strata_gen::generate(workload.clone())?;
    let blocks = split_lines(&data, 2 << 20);

    let engine = Engine::open(Config::with_data_dir(&dir))
        .with_context(|| format!("cannot open {}", dir.display()))?;
    say!(
        "writing {:.0} MB of line protocol into {} (WAL fsync per group, 2 writer threads)...",
        data.len() as f64 / 1e6,
        dir.display()
    );
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let options = WriteOptions::cc_metric_store("fritz");
    let accepted: u64 = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<u64> {
                    let mut accepted = 0;
                    while let Some(block) = blocks.get(next.fetch_add(1, Ordering::Relaxed)) {
                        accepted += engine.write_lp(block, &options)?.accepted;
                    }
                    Ok(accepted)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|_| Err(anyhow::anyhow!("a writer panicked"))))
            .sum::<anyhow::Result<u64>>()
    })?;
    let secs = started.elapsed().as_secs_f64();
    say!("  {accepted} points in {secs:.2} s: {:.2} M points/s", accepted as f64 / secs / 1e6);
    let stats = engine.stats();
    engine.close()?;

    let started = Instant::now();
    let engine = Engine::open(Config::with_data_dir(&dir))?;
    say!(
        "reopened in {:.0} ms ({} series, {} points in memory)",
        started.elapsed().as_secs_f64() * 1e3,
        stats.series,
        stats.hot.open_points + stats.hot.sealed_points
    );
    let selector = Selector::metric("cpu_load").tag("cluster", "fritz").tag("hostname", "f0101");
    let series = engine.read(&selector, (now - 60) * 1_000_000_000, now * 1_000_000_000)?;
    say!("cpu_load of f0101 over the last minute:");
    for s in &series {
        for (t, v) in s.times.iter().zip(&s.values) {
            say!(
                "  {}  {v}",
                humantime::format_rfc3339_seconds(
                    UNIX_EPOCH + std::time::Duration::from_secs((t / 1_000_000_000) as u64)
                )
            );
        }
    }

    // The compactor's work, done now rather than by the background pass: minutes to warm,
    // whole hours to cold, as Parquet under <data_dir>/tiers.
    let started = Instant::now();
    let report = engine.compact()?;
    say!(
        "compacted in {:.2} s: {} warm rows (1 min) in {} files, {} cold rows (1 h) in {} files, under {}",
        started.elapsed().as_secs_f64(),
        report.warm_rows,
        report.warm_files,
        report.cold_rows,
        report.cold_files,
        dir.join("tiers").display()
    );
    let hour = 3_600_000_000_000;
    let mut query = strata::Query::new(
        "cpu_load",
        (now - 3600) * 1_000_000_000,
        now * 1_000_000_000,
        strata::Resolution::Every(hour / 6),
    );
    query.selector = selector;
    query.aggregates = vec![strata::Aggregate::Avg, strata::Aggregate::Max];
    let result = engine.query(&query)?;
    let served: Vec<String> = result.served.iter().map(|p| p.tier.name().to_owned()).collect();
    say!("cpu_load of f0101 over the hour, every 10 min (served by {}):", served.join(" + "));
    for s in &result.series {
        for (i, t) in s.times.iter().enumerate() {
            let cell = |k: usize| {
                s.columns
                    .get(k)
                    .and_then(|(_, v)| v.get(i).copied().flatten())
                    .map_or("-".to_owned(), |v| format!("{v:.2}"))
            };
            say!(
                "  {}  avg {}  max {}",
                humantime::format_rfc3339_seconds(
                    UNIX_EPOCH + std::time::Duration::from_secs((t / 1_000_000_000) as u64)
                ),
                cell(0),
                cell(1)
            );
        }
    }
    drop(engine);
    if args.data_dir.is_none() {
        std::fs::remove_dir_all(&temp).ok();
    }
    Ok(ExitCode::SUCCESS)
}
