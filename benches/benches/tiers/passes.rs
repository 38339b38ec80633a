//! Files per day: a compaction pass every simulated minute, as the background compactor runs
//! with its default interval, over a small workload written a minute at a time.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use strata::{Engine, HotConfig, ManualClock, Tier, WriteOptions};
use strata_benches::{START_SECS, split_lines, workload};

use crate::{HOUR, SEC, bench_dir, config, spread};

pub(crate) fn run(hosts: usize, hours: u64) {
    let (shape, data) = workload(hosts, hours * HOUR);
    let steps_per_minute = (60 / shape.interval_secs).max(1) as usize;
    let minutes = split_lines(&data, shape.series() * steps_per_minute);
    let dir = tempfile::Builder::new().prefix("passes-").tempdir_in(bench_dir()).expect("a data dir");
    let mut config = config(dir.path(), Duration::from_secs(2 * HOUR));
    // The default hot retention, so hot windows are evicted as the passes go.
    config.hot.retention = HotConfig::default().retention;
    let (lateness, fanin) = (config.compactor.lateness.0.as_secs() as usize, config.compactor.merge_fanin);
    let start = START_SECS * SEC;
    let clock = Arc::new(ManualClock::new(start));
    let engine = Engine::open_with_clock(config, clock.clone()).expect("open");
    let options = WriteOptions::cc_metric_store("fritz");

    let (mut max_warm, mut max_cold, mut merged, mut outputs) = (0, 0, 0, 0);
    let mut secs = Vec::new();
    let started = Instant::now();
    // After the data, passes until its last minute is due: everything reaches warm and cold.
    for minute in 0..minutes.len() + lateness / 60 + 1 {
        let now = start + (minute as i64 + 1) * 60 * SEC;
        clock.set(now);
        if let Some(block) = minutes.get(minute) {
            engine.write_lp(block, &options).expect("write");
        }
        let pass = Instant::now();
        let report = engine.compact_at(now).expect("pass");
        secs.push(pass.elapsed().as_secs_f64());
        let tiers = engine.stats().tiers;
        max_warm = max_warm.max(tiers.warm.max_files_per_day);
        max_cold = max_cold.max(tiers.cold.max_files_per_day);
        merged += report.merged_files;
        outputs += report.merge_outputs;
    }
    let total = started.elapsed().as_secs_f64();
    let tiers = engine.stats().tiers;
    assert_eq!(tiers.warm.points, shape.lines(), "every point reached warm");
    let manifest = engine.manifest();
    let levels = |tier: Tier| {
        let mut by_level: BTreeMap<u32, usize> = BTreeMap::new();
        for f in manifest.files(tier) {
            *by_level.entry(f.level).or_default() += 1;
        }
        by_level.iter().map(|(level, n)| format!("L{level}: {n}")).collect::<Vec<_>>().join(", ")
    };
    let (m, _, hi) = spread(&secs);

    println!();
    println!(
        "## Files per day: {} passes, one per simulated minute, {hosts} host(s) x {hours} h ({} points), merge_fanin {fanin}",
        secs.len(),
        shape.lines()
    );
    println!();
    println!(
        "| tier | most files in one day, any pass | files at the end (by level) | rows | bytes | B/row |"
    );
    println!("|---|---|---|---|---|---|");
    for (tier, most, s) in [(Tier::Warm, max_warm, &tiers.warm), (Tier::Cold, max_cold, &tiers.cold)] {
        println!(
            "| {tier} | {most} | {} ({}) | {} | {} | {:.2} |",
            s.files,
            levels(tier),
            s.rows,
            s.bytes,
            s.bytes as f64 / s.rows.max(1) as f64
        );
    }
    println!();
    println!(
        "merges: {merged} files into {outputs}; a pass takes {:.1} ms (median), {:.1} ms at most; {total:.1} s in all",
        m * 1e3,
        hi * 1e3
    );
}
