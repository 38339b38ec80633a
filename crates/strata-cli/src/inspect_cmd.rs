//! `strata inspect`: what each tier holds, from the engine's stats and manifest and a read of
//! every live tier file.
//!
//! Distinct series per metric are exact: warm and cold count the series keys of every live
//! file's rows (a series with partial rows in several files counts once), hot counts the
//! series `Engine::read` returns per metric. The engine names no metric that only hot holds,
//! so hot lists the metrics the tiers name, and counts the rest of its series (from
//! `HotStats::series`) as `series_in_other_metrics`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use serde_json::json;
use strata::tier::file::RowFilter;
use strata::tier::{Manifest, Store};
use strata::{Engine, HotStats, Selector, SeriesKey, Span, Tier, TierSummary};

use crate::args::EngineArgs;
use crate::output::write_table;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum InspectFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    #[command(flatten)]
    engine: EngineArgs,
    /// table: one line per tier, then series per metric; json: one object with a key per tier.
    #[arg(long, value_enum, default_value = "table")]
    format: InspectFormat,
}

/// One tier as `inspect` shows it.
#[derive(Debug, Default)]
struct TierView {
    /// Bucket length (ns); `None` for hot's raw points.
    resolution: Option<i64>,
    /// Oldest and newest point (hot) or bucket start (warm, cold), ns.
    oldest: Option<i64>,
    newest: Option<i64>,
    /// Files, and the most files of one day; `None` for hot.
    files: Option<u64>,
    max_files_per_day: Option<u64>,
    /// Tier rows (partial rows of a bucket count each); hot: points.
    rows: u64,
    points: u64,
    /// Bytes of the tier's files; hot: the engine's estimate of the memory it holds.
    bytes: u64,
    /// Distinct series, and per metric.
    series: u64,
    per_metric: BTreeMap<String, u64>,
}

pub(crate) fn run(args: InspectArgs) -> anyhow::Result<ExitCode> {
    // Read-only: inspecting changes nothing, and works beside a live engine (as of the open)
    // and on a directory that is not writable. A read-only engine runs no compaction, so no
    // pass of its own deletes a tier file read below outside its reader guard; a live
    // engine's merge or retention may, and the read then fails naming the file.
    let engine = args.engine.open_read_only()?;
    let stats = engine.stats();
    let manifest = engine.manifest();
    let store = Store::open_read_only(&engine.config().object_store, &engine.config().data_dir)
        .context("cannot open the tiers' object store")?;
    let warm = tier_view(&store, &manifest, Tier::Warm, &stats.tiers.warm, manifest.warm_resolution)?;
    let cold = tier_view(&store, &manifest, Tier::Cold, &stats.tiers.cold, manifest.cold_resolution)?;
    let metrics: BTreeSet<&str> =
        warm.per_metric.keys().chain(cold.per_metric.keys()).map(String::as_str).collect();
    let hot = hot_view(&engine, &stats.hot, &metrics)?;
    drop(engine);

    let tiers = [("hot", &hot), ("warm", &warm), ("cold", &cold)];
    let mut out = io::BufWriter::new(io::stdout().lock());
    match args.format {
        InspectFormat::Json => {
            let mut object = serde_json::Map::new();
            for (name, view) in tiers {
                object.insert(name.to_owned(), view_json(view));
            }
            writeln!(out, "{}", serde_json::to_string_pretty(&object)?)?;
        }
        InspectFormat::Table => write_tables(&mut out, &tiers)?,
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// A tier's summary from the manifest, and its distinct series from reading every live file.
fn tier_view(
    store: &Store,
    manifest: &Manifest,
    tier: Tier,
    summary: &TierSummary,
    resolution: i64,
) -> anyhow::Result<TierView> {
    let mut keys: BTreeSet<Arc<SeriesKey>> = BTreeSet::new();
    for file in manifest.files(tier) {
        let name = format!("{}/{}", store.url(), file.path);
        let bytes = store.get(&file.path).with_context(|| format!("cannot read {name}"))?;
        let (_, mut rows) = strata::tier::file::read(bytes, &RowFilter::all())
            .map_err(|reason| anyhow::anyhow!("cannot read {name}: {reason}"))?;
        // A file's rows are sorted by series and share one key per series.
        rows.dedup_by(|a, b| Arc::ptr_eq(&a.key, &b.key));
        keys.extend(rows.into_iter().map(|r| r.key));
    }
    let mut per_metric: BTreeMap<String, u64> = BTreeMap::new();
    for key in &keys {
        *per_metric.entry(key.measurement.clone()).or_default() += 1;
    }
    Ok(TierView {
        resolution: Some(resolution),
        oldest: summary.min_time,
        newest: summary.max_time,
        files: Some(summary.files),
        max_files_per_day: Some(summary.max_files_per_day),
        rows: summary.rows,
        points: summary.points,
        bytes: summary.bytes,
        series: keys.len() as u64,
        per_metric,
    })
}

/// Hot from the engine's stats, and per metric from reading all of the metric's points.
fn hot_view(engine: &Engine, stats: &HotStats, metrics: &BTreeSet<&str>) -> anyhow::Result<TierView> {
    let points = stats.open_points + stats.sealed_points;
    let mut view = TierView {
        rows: points,
        points,
        bytes: stats.memory_bytes,
        series: stats.series,
        ..TierView::default()
    };
    for metric in metrics {
        // One metric's points at a time: memory holds its decoded points, not all of hot.
        let series = engine.read(&Selector::metric(metric), i64::MIN, i64::MAX)?;
        if series.is_empty() {
            continue;
        }
        for s in &series {
            if let (Some(&first), Some(&last)) = (s.times.first(), s.times.last()) {
                view.oldest = Some(view.oldest.map_or(first, |t| t.min(first)));
                view.newest = Some(view.newest.map_or(last, |t| t.max(last)));
            }
        }
        view.per_metric.insert((*metric).to_owned(), series.len() as u64);
    }
    Ok(view)
}

impl TierView {
    /// Series the per-metric counts leave out (hot: metrics no tier names yet).
    fn series_in_other_metrics(&self) -> u64 {
        self.series.saturating_sub(self.per_metric.values().sum())
    }

    fn bytes_per_point(&self) -> Option<f64> {
        (self.points > 0).then(|| self.bytes as f64 / self.points as f64)
    }
}

fn view_json(view: &TierView) -> serde_json::Value {
    json!({
        "resolution": view.resolution.map_or_else(|| "raw".to_owned(), span),
        "resolution_ns": view.resolution,
        "oldest": view.oldest.map(rfc3339),
        "newest": view.newest.map(rfc3339),
        "files": view.files,
        "rows": view.rows,
        "points": view.points,
        "bytes": view.bytes,
        "bytes_per_point": view.bytes_per_point(),
        "max_files_per_day": view.max_files_per_day,
        "series": view.series,
        "series_per_metric": view.per_metric,
        "series_in_other_metrics": view.series_in_other_metrics(),
    })
}

fn write_tables(out: &mut impl Write, tiers: &[(&str, &TierView)]) -> anyhow::Result<()> {
    let dash = || "-".to_owned();
    let header = [
        "tier",
        "resolution",
        "oldest",
        "newest",
        "files",
        "rows",
        "points",
        "bytes",
        "bytes/point",
        "max files/day",
        "series",
    ]
    .map(str::to_owned);
    let rows: Vec<Vec<String>> = tiers
        .iter()
        .map(|(name, v)| {
            vec![
                (*name).to_owned(),
                v.resolution.map_or_else(|| "raw".to_owned(), span),
                v.oldest.map_or_else(dash, rfc3339),
                v.newest.map_or_else(dash, rfc3339),
                v.files.map_or_else(dash, |n| n.to_string()),
                v.rows.to_string(),
                v.points.to_string(),
                v.bytes.to_string(),
                v.bytes_per_point().map_or_else(dash, |b| format!("{b:.2}")),
                v.max_files_per_day.map_or_else(dash, |n| n.to_string()),
                v.series.to_string(),
            ]
        })
        .collect();
    write_table(out, &header, &rows)?;

    let metrics: BTreeSet<&String> = tiers.iter().flat_map(|(_, v)| v.per_metric.keys()).collect();
    let mut header = vec!["metric".to_owned()];
    header.extend(tiers.iter().map(|(name, _)| format!("{name} series")));
    let mut rows: Vec<Vec<String>> = metrics
        .iter()
        .map(|m| {
            std::iter::once((*m).clone())
                .chain(tiers.iter().map(|(_, v)| v.per_metric.get(*m).copied().unwrap_or(0).to_string()))
                .collect()
        })
        .collect();
    if tiers.iter().any(|(_, v)| v.series_in_other_metrics() > 0) {
        rows.push(
            std::iter::once("(metrics in no tier file)".to_owned())
                .chain(tiers.iter().map(|(_, v)| v.series_in_other_metrics().to_string()))
                .collect(),
        );
    }
    writeln!(out)?;
    write_table(out, &header, &rows)
}

/// A bucket length as a config writes it: `1m`, `1h`.
fn span(nanos: i64) -> String {
    Span(Duration::from_nanos(nanos.unsigned_abs())).to_string()
}

/// RFC 3339 in whole seconds (UTC); times before 1970 as nanoseconds.
fn rfc3339(nanos: i64) -> String {
    match u64::try_from(nanos.div_euclid(1_000_000_000)) {
        Ok(secs) => humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string(),
        Err(_) => format!("{nanos} ns"),
    }
}
