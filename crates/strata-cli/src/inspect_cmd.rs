//! `strata inspect`: what each tier holds, from the engine's stats and manifest and its
//! contents per tier (`Engine::contents`: hot from memory, warm and cold from a read of every
//! live tier file).
//!
//! Distinct series are exact: warm and cold count the series keys of every live file's rows
//! (a series with partial rows in several files counts once), hot the series with points in
//! memory. Bytes per metric are hot's memory estimate per series, and for warm and cold each
//! file's bytes shared out by its rows (a Parquet file holds many metrics).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use std::process::ExitCode;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use serde_json::json;
use strata::{Engine, HotStats, Selector, Span, Tier, TierContents, TierSummary};

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
    /// table: one line per tier, series per metric, then per tier its metrics and tag keys
    /// with the most series; json: one object with a key per tier.
    #[arg(long, value_enum, default_value = "table")]
    format: InspectFormat,
    /// Rows of each per-tier table of metrics and of tag keys (the most series first).
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// Every node of the fleet sharing `object_store.url` (nodes with a `node_id`): each
    /// node's committed tiers from its manifest; with --format json, the manifests themselves.
    #[arg(long)]
    fleet: bool,
}

/// One tier as `inspect` shows it.
#[derive(Debug, Default)]
pub(crate) struct TierView {
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
    /// Per metric and per tag key.
    contents: TierContents,
}

pub(crate) fn run(args: InspectArgs) -> anyhow::Result<ExitCode> {
    // Read-only: inspecting changes nothing, and works beside a live engine (as of the open)
    // and on a directory that is not writable. A read-only engine runs no compaction, so no
    // pass of its own deletes a tier file read below; a live engine's merge or retention may,
    // and the read then fails naming the file.
    if args.fleet {
        let fleet = strata::Fleet::open(args.engine.config()?).context("cannot open the fleet view")?;
        let mut out = io::BufWriter::new(io::stdout().lock());
        crate::inspect_fleet::write_fleet(&mut out, &fleet, matches!(args.format, InspectFormat::Json))?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let engine = args.engine.open_read_only()?;
    // Before the tiers are read: the memory that opening took.
    let stats = engine.stats();
    let tiers = tier_views(&engine)?;
    drop(engine);

    let mut out = io::BufWriter::new(io::stdout().lock());
    match args.format {
        InspectFormat::Json => {
            let mut object = serde_json::Map::new();
            for (name, view) in &tiers {
                object.insert((*name).to_owned(), view_json(view));
            }
            writeln!(out, "{}", serde_json::to_string_pretty(&object)?)?;
        }
        InspectFormat::Table => {
            write_tier_table(&mut out, &tiers)?;
            write_resident(&mut out, &stats)?;
            write_series_table(&mut out, &tiers)?;
            for (name, view) in &tiers {
                write_details(&mut out, name, view, args.top)?;
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// This process's resident memory with the hot store loaded, per hot point and per series:
/// what reopening the directory costs (a read-only open loads what an engine would).
fn write_resident(out: &mut impl Write, stats: &strata::Stats) -> anyhow::Result<()> {
    let Some(resident) = stats.resident else { return Ok(()) };
    let per_point = stats.resident_per_point().map_or(String::new(), |b| format!(", {b:.2} B per hot point"));
    let per_series = stats.resident_per_series().map_or(String::new(), |b| format!(", {b:.0} B per series"));
    writeln!(
        out,
        "\nresident memory of this process after opening: {:.1} MB (peak {:.1} MB){per_point}{per_series}",
        resident.bytes as f64 / 1e6,
        resident.peak_bytes as f64 / 1e6,
    )?;
    Ok(())
}

/// Hot, warm and cold as `inspect` shows them.
pub(crate) fn tier_views(engine: &Engine) -> anyhow::Result<Vec<(&'static str, TierView)>> {
    let stats = engine.stats();
    let manifest = engine.manifest();
    let warm = tier_view(engine, Tier::Warm, &stats.tiers.warm, manifest.warm_resolution)?;
    let cold = tier_view(engine, Tier::Cold, &stats.tiers.cold, manifest.cold_resolution)?;
    let hot = hot_view(engine, &stats.hot)?;
    Ok(vec![("hot", hot), ("warm", warm), ("cold", cold)])
}

/// A tier's summary from the manifest, and what it holds per metric and tag key from reading
/// every live file.
fn tier_view(
    engine: &Engine,
    tier: Tier,
    summary: &TierSummary,
    resolution: i64,
) -> anyhow::Result<TierView> {
    let contents = engine.contents(tier).with_context(|| format!("cannot read the {} tier", tier.name()))?;
    Ok(TierView {
        resolution: Some(resolution),
        oldest: summary.min_time,
        newest: summary.max_time,
        files: Some(summary.files),
        max_files_per_day: Some(summary.max_files_per_day),
        rows: summary.rows,
        points: summary.points,
        bytes: summary.bytes,
        series: contents.series,
        per_metric: contents.metrics.iter().map(|m| (m.metric.clone(), m.series)).collect(),
        contents,
    })
}

/// Hot from the engine's stats and memory; its oldest and newest point from reading all of
/// each metric's points.
fn hot_view(engine: &Engine, stats: &HotStats) -> anyhow::Result<TierView> {
    let points = stats.open_points + stats.sealed_points;
    let contents = engine.contents(Tier::Hot)?;
    let mut view = TierView {
        rows: points,
        points,
        bytes: stats.memory_bytes,
        series: stats.series,
        per_metric: contents.metrics.iter().map(|m| (m.metric.clone(), m.series)).collect(),
        ..TierView::default()
    };
    for metric in &contents.metrics {
        // One metric's points at a time: memory holds its decoded points, not all of hot.
        for s in engine.read(&Selector::metric(&metric.metric), i64::MIN, i64::MAX)? {
            if let (Some(&first), Some(&last)) = (s.times.first(), s.times.last()) {
                view.oldest = Some(view.oldest.map_or(first, |t| t.min(first)));
                view.newest = Some(view.newest.map_or(last, |t| t.max(last)));
            }
        }
    }
    view.contents = contents;
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
    let metrics: Vec<serde_json::Value> = by_series(&view.contents)
        .iter()
        .map(|m| json!({ "metric": m.metric, "series": m.series, "rows": m.rows, "points": m.points, "bytes": m.bytes }))
        .collect();
    let tag_keys: Vec<serde_json::Value> = view
        .contents
        .tag_keys
        .iter()
        .map(|k| json!({ "key": k.key, "series": k.series, "values": k.values }))
        .collect();
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
        "metrics": metrics,
        "tag_keys": tag_keys,
    })
}

/// A tier's metrics, the most series first (then by name).
fn by_series(contents: &TierContents) -> Vec<&strata::MetricContents> {
    let mut metrics: Vec<_> = contents.metrics.iter().collect();
    metrics.sort_by(|a, b| b.series.cmp(&a.series).then_with(|| a.metric.cmp(&b.metric)));
    metrics
}

/// One line per tier: resolution, span, files, rows, points, bytes, bytes per point, series.
pub(crate) fn write_tier_table(out: &mut impl Write, tiers: &[(&str, TierView)]) -> anyhow::Result<()> {
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
    write_table(out, &header, &rows)
}

/// Series per metric, a column per tier.
fn write_series_table(out: &mut impl Write, tiers: &[(&str, TierView)]) -> anyhow::Result<()> {
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

/// One tier's metrics (series, rows, points, bytes) and tag keys (series, values), the `top`
/// with the most series.
fn write_details(out: &mut impl Write, name: &str, view: &TierView, top: usize) -> anyhow::Result<()> {
    let metrics = by_series(&view.contents);
    writeln!(out)?;
    writeln!(
        out,
        "{name}: the {} of {} metrics with the most series",
        top.min(metrics.len()),
        metrics.len()
    )?;
    let header = ["metric", "series", "rows", "points", "bytes", "bytes/point"].map(str::to_owned);
    let rows: Vec<Vec<String>> = metrics
        .iter()
        .take(top)
        .map(|m| {
            let per_point =
                if m.points > 0 { format!("{:.2}", m.bytes as f64 / m.points as f64) } else { "-".into() };
            vec![
                m.metric.clone(),
                m.series.to_string(),
                m.rows.to_string(),
                m.points.to_string(),
                m.bytes.to_string(),
                per_point,
            ]
        })
        .collect();
    write_table(out, &header, &rows)?;
    if view.files.is_some() && !metrics.is_empty() {
        writeln!(out, "(a file holds many metrics: each gets the share of its bytes its rows have)")?;
    }
    let keys = &view.contents.tag_keys;
    writeln!(out)?;
    writeln!(out, "{name}: the {} of {} tag keys with the most series", top.min(keys.len()), keys.len())?;
    let header = ["tag key", "series", "values"].map(str::to_owned);
    let rows: Vec<Vec<String>> = keys
        .iter()
        .take(top)
        .map(|k| vec![k.key.clone(), k.series.to_string(), k.values.to_string()])
        .collect();
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
