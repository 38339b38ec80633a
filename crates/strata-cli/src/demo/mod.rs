//! `strata demo`: every tier filled and queried in one command, on the default retention.
//!
//! The engine runs on a manual clock. It starts `LIVE_HOURS` before now: a few node metrics of
//! the cluster are imported as backfill over the past weeks (`backfill.rs`, with one short
//! spike early on), then the full metric set is written hour by hour while the clock moves
//! and a compaction pass runs after each simulated hour (`simulate.rs`). What each tier holds
//! is printed as `strata inspect` prints it; three operator questions are asked, each of a
//! range one tier serves alone (`answers.rs`); one answer that crosses every tier is drawn in
//! the terminal (`chart.rs`) and, with `--plot`, as SVG (`plot.rs`).

mod answers;
mod backfill;
mod chart;
#[cfg(feature = "plot")]
mod plot;
mod simulate;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Args;
use strata::{Config, MetricConfig, ScopeAggregation, Span, Tier};

use crate::say;

const SEC: i64 = 1_000_000_000;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

/// Hours of the full metric set, ending now: hot's 6 h (up to 8 h, as hot evicts whole 2 h
/// windows), the day before it that warm answers, and an hour to spare.
const LIVE_HOURS: i64 = 33;
/// Weeks of backfill before the full metric set: warm keeps 30 days, cold the rest.
const BACKFILL_WEEKS: i64 = 9;

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Hosts of the generated cluster (302 series each at 72 hardware threads).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    hosts: u16,
    /// Hardware threads per host (4 series each, of 302 per host at 72).
    #[arg(long, default_value_t = 72, value_parser = clap::value_parser!(u16).range(1..=256))]
    hwthreads: u16,
    /// Seconds between two points of the full metric set; the backfill has a point a minute,
    /// or this often if it is longer.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=600))]
    interval: u16,
    /// Data directory: must not exist or be empty. A new one under the system's temporary
    /// directory when not given; it is kept (and printed) either way.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Writes the chart to FILE as SVG.
    #[cfg(feature = "plot")]
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
}

/// What the demo refuses or finds wrong, naming it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DemoError {
    #[error(
        "the demo needs an empty data directory, and {path} holds files: remove it or pass another --data-dir"
    )]
    DataDirNotEmpty { path: PathBuf },
    #[error("{question}: expected {expected} alone to serve it, but the planner chose {served}")]
    NotServedAlone { question: &'static str, expected: &'static str, served: String },
    #[error("{question}: the answer is empty")]
    NoAnswer { question: &'static str },
    #[error("the spike of {value} written at {at} is not the maximum of its hour in cold (found {found:?})")]
    SpikeLost { value: f64, at: String, found: Option<f64> },
    #[cfg(feature = "plot")]
    #[error("cannot draw the chart into {path}: {reason}")]
    Plot { path: PathBuf, reason: String },
}

/// The times every part of the demo agrees on (ns).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeline {
    /// Now: the end of the data, on an interval bound.
    pub(crate) end: i64,
    /// Where the full metric set starts, and the clock with it.
    pub(crate) live_start: i64,
    /// Where the backfill starts: midnight UTC, `BACKFILL_WEEKS` before `live_start`.
    pub(crate) backfill_start: i64,
}

impl Timeline {
    fn new(now: i64, interval: i64) -> Timeline {
        let end = now.div_euclid(interval) * interval;
        let live_start = end - LIVE_HOURS * HOUR;
        let backfill_start = (live_start - BACKFILL_WEEKS * 7 * DAY).div_euclid(DAY) * DAY;
        Timeline { end, live_start, backfill_start }
    }
}

pub(crate) fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let dir = match &args.data_dir {
        Some(dir) => dir.clone(),
        None => {
            let stamp = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
            std::env::temp_dir().join(format!("strata-demo-{stamp}-{}", std::process::id()))
        }
    };
    check_empty(&dir)?;
    let now = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos())?;
    let interval = i64::from(args.interval) * SEC;
    let timeline = Timeline::new(now, interval);
    let config = config(&dir);
    say!("strata demo: a cluster of {} hosts on the default tiers, in {}", args.hosts, dir.display());
    say!(
        "  hot: raw points for {}; warm: {} rows for {}; cold: {} rows for {}",
        config.hot.retention,
        config.warm.resolution,
        config.warm.retention,
        config.cold.resolution,
        config.cold.retention
    );

    let shape = simulate::Shape {
        hosts: usize::from(args.hosts),
        hwthreads: usize::from(args.hwthreads),
        interval,
        backfill_interval: interval.max(MIN),
        timeline,
    };
    let loaded = simulate::run(&config, &shape)?;
    let engine = &loaded.engine;
    say!(
        "\nwrote {} points ({} backfill, {} live) and ran {} compaction passes as the clock moved {} h, in {:.1} s ({:.1} s of them in passes)",
        loaded.backfill_points + loaded.live_points,
        loaded.backfill_points,
        loaded.live_points,
        loaded.passes,
        LIVE_HOURS,
        loaded.elapsed.as_secs_f64(),
        loaded.compacting.as_secs_f64()
    );

    say!("\nWhat each tier holds (`strata inspect --data-dir {}` shows more):\n", dir.display());
    let views = crate::inspect_cmd::tier_views(engine)?;
    {
        let mut out = std::io::stdout().lock();
        crate::inspect_cmd::write_tier_table(&mut out, &views)?;
    }

    answers::ask(engine, &loaded)?;
    let chart = answers::chart(engine, &loaded)?;
    say!("\n{}:", chart.title);
    for line in chart::render(&chart, 72, 10) {
        say!("  {line}");
    }
    #[cfg(feature = "plot")]
    if let Some(path) = &args.plot {
        plot::write_svg(&chart, path)?;
        say!("  the chart as SVG: {}", path.display());
    }
    let engine = loaded.engine;
    engine.close()?;
    say!("\nThe data stays in {} (remove it with `rm -r` when done). Look further with:", dir.display());
    say!("  strata inspect --data-dir {}", dir.display());
    say!(
        "  strata query --data-dir {} --metric cpu_load --host {} --from now-{}d --to now --resolution 1h --agg avg,max",
        dir.display(),
        loaded.spike.host,
        BACKFILL_WEEKS * 7 + 2
    );
    Ok(ExitCode::SUCCESS)
}

/// The defaults, but compaction only when the demo runs it (as its clock moves), and the sums
/// an operator means for flops (over a node's hardware threads) and memory (over nodes).
fn config(dir: &Path) -> Config {
    let mut config = Config::with_data_dir(dir);
    config.compactor.interval = Span(Duration::from_secs(1000 * 86_400));
    for metric in ["flops_any", "mem_used"] {
        config.metrics.insert(
            metric.to_owned(),
            MetricConfig { aggregation: ScopeAggregation::Sum, ..MetricConfig::default() },
        );
    }
    config
}

fn check_empty(dir: &Path) -> anyhow::Result<()> {
    // A directory that cannot be listed (absent) is created by the engine.
    let holds_files = std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some());
    if holds_files {
        return Err(DemoError::DataDirNotEmpty { path: dir.to_owned() }.into());
    }
    Ok(())
}

/// A tier's name with its bucket length: `hot (raw)`, `warm (1m)`.
pub(crate) fn tier_label(tier: Tier, resolution: i64) -> String {
    if resolution == 0 {
        format!("{} (raw)", tier.name())
    } else {
        format!("{} ({})", tier.name(), Span(Duration::from_nanos(resolution.unsigned_abs())))
    }
}

/// RFC 3339 in whole seconds (UTC).
pub(crate) fn rfc3339(nanos: i64) -> String {
    let secs = u64::try_from(nanos.div_euclid(SEC)).unwrap_or(0);
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}
