//! `strata write` and `strata query`: the engine from the command line.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use strata::{Precision, Selector, SeriesKey, Tier, WriteOptions};

use crate::args::{EngineArgs, parse_time};
use crate::blocks::{for_each_block, open_input};
use crate::output::{Cell, Format, write_rows};
use crate::say;

#[derive(Debug, Args)]
pub(crate) struct WriteArgs {
    #[command(flatten)]
    engine: EngineArgs,
    /// Unit of the timestamps in the input.
    #[arg(long, default_value = "ns")]
    precision: Precision,
    /// Cluster of lines that carry no `cluster` tag.
    #[arg(long)]
    cluster: Option<String>,
    /// The engine's "now" for this write (Unix seconds, RFC 3339 or now-1h): for backfills.
    #[arg(long, value_parser = parse_time)]
    now: Option<i64>,
    /// Input file; `-` or nothing reads standard input.
    file: Option<PathBuf>,
}

/// Input is written in blocks of whole lines of about this size.
const BLOCK: usize = 4 << 20;
/// How many rejections are printed.
const SHOWN: usize = 10;

pub(crate) fn write(args: WriteArgs) -> anyhow::Result<ExitCode> {
    let engine = args.engine.open(args.now)?;
    let (mut input, total) = open_input(args.file.as_deref())?;
    let options =
        WriteOptions { precision: args.precision, default_cluster: args.cluster.clone(), default_time: None };
    let progress = io::stderr().is_terminal() && total.is_some_and(|t| t > 4 * BLOCK as u64);
    let (mut accepted, mut rejected) = (0u64, 0u64);
    let mut shown = Vec::new();
    // A block plus the tail line must fit one write: blocks and lines of half the limit each.
    let half = usize::try_from(engine.config().limits.max_write_size.0 / 2).unwrap_or(usize::MAX).max(1);
    let read = for_each_block(&mut input, BLOCK.min(half), half, |block, lines_before, read| {
        let report = engine.write_lp(block, &options)?;
        accepted += report.accepted;
        rejected += report.rejected;
        for r in report.rejections {
            if shown.len() < SHOWN {
                shown.push(strata::Rejection { line: r.line + lines_before, ..r });
            }
        }
        if progress && let Some(total) = total {
            eprint!("\r{:5.1}%  {accepted} points", read as f64 * 100.0 / total.max(1) as f64);
        }
        Ok(())
    });
    if progress {
        eprintln!();
    }
    // Closed before the summary (the final checkpoint), but a failed write is reported first:
    // after a write error (a full disk) closing fails too, for the same cause.
    let closed = engine.close();
    say!("{accepted} points accepted, {rejected} lines rejected");
    if let Err(e) = read {
        if let Err(close) = closed {
            eprintln!("closing the engine failed too: {close}");
        }
        // What was stored stays stored; say how much before the error.
        return Err(e.context(format!("the write stopped after storing {accepted} points")));
    }
    closed?;
    for r in &shown {
        say!("  {r}");
    }
    if rejected as usize > shown.len() {
        say!("  ... and {} more", rejected as usize - shown.len());
    }
    Ok(if rejected == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// Which data `query` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum TierArg {
    /// Raw points in memory.
    Hot,
    /// Downsampled rows (warm.resolution buckets).
    Warm,
    /// Downsampled rows (cold.resolution buckets).
    Cold,
}

#[derive(Debug, Args)]
pub(crate) struct QueryArgs {
    #[command(flatten)]
    engine: EngineArgs,
    /// The metric (measurement).
    #[arg(long)]
    metric: String,
    #[arg(long)]
    cluster: Option<String>,
    /// Host name (the `hostname` tag).
    #[arg(long)]
    host: Option<String>,
    /// cc-metric-store type: node, socket, memoryDomain, hwthread, accelerator, ...
    #[arg(long = "type")]
    kind: Option<String>,
    /// Type ids; several give the union.
    #[arg(long = "type-id")]
    type_ids: Vec<String>,
    /// Any tag equality, as key=value.
    #[arg(long = "tag", value_parser = parse_tag)]
    tags: Vec<(String, String)>,
    /// Start (inclusive): Unix seconds, RFC 3339 or now-1h. For warm and cold, of bucket starts.
    #[arg(long, value_parser = parse_time)]
    from: i64,
    /// End (exclusive).
    #[arg(long, value_parser = parse_time)]
    to: i64,
    /// hot: raw points (time, value); warm or cold: one row per bucket (time is the bucket's
    /// start; count, sum, min, max, avg, last).
    #[arg(long, value_enum, default_value = "hot")]
    tier: TierArg,
    /// Answer across tiers at this resolution: `raw`, a duration (`1m`, `1h`) or `auto` (at
    /// most --max-points buckets per series). The planner picks hot, warm or cold per part of
    /// the range and says which on standard error.
    #[arg(long)]
    resolution: Option<String>,
    /// Buckets per series for `--resolution auto`.
    #[arg(long, default_value_t = 1000)]
    max_points: u32,
    /// Per-bucket aggregates, comma separated: avg, min, max, sum, count, last (default avg);
    /// for a metric with `[metrics.<name>] kind = "counter"` also increase (reset-corrected)
    /// and rate (increase per second of the bucket).
    #[arg(long = "agg", value_delimiter = ',')]
    aggs: Vec<String>,
    /// One result across the matched series, summed or averaged as `[metrics.<name>]
    /// aggregation` says (averaged when unset).
    #[arg(long)]
    aggregate: bool,
    /// Print min, avg and max over the whole range per result series instead of the buckets.
    #[arg(long)]
    stats: bool,
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Answer from every node of the fleet sharing `object_store.url` (their committed warm
    /// and cold tiers, read-only; not their hot data): needs --resolution.
    #[arg(long)]
    fleet: bool,
}

fn parse_tag(s: &str) -> Result<(String, String), String> {
    let (k, v) = s.split_once('=').ok_or_else(|| format!("{s:?} is not key=value"))?;
    Ok((k.to_owned(), v.to_owned()))
}

impl QueryArgs {
    /// One selector, or one per `--type-id` (their union).
    fn selectors(&self) -> Vec<Selector> {
        let mut base = Selector::metric(&self.metric);
        for (key, value) in [("cluster", &self.cluster), ("hostname", &self.host), ("type", &self.kind)] {
            if let Some(value) = value {
                base = base.tag(key, value);
            }
        }
        for (k, v) in &self.tags {
            base = base.tag(k, v);
        }
        if self.type_ids.is_empty() {
            vec![base]
        } else {
            self.type_ids.iter().map(|id| base.clone().tag("type-id", id)).collect()
        }
    }
}

pub(crate) fn query(args: QueryArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.from < args.to, "--from must be before --to");
    anyhow::ensure!(
        !args.fleet || args.resolution.as_deref().is_some_and(|r| r != "raw"),
        "--fleet answers from the nodes' warm and cold tiers: give --resolution (a duration or auto)"
    );
    if args.resolution.is_some() || !args.aggs.is_empty() || args.aggregate || args.stats {
        anyhow::ensure!(
            matches!(args.tier, TierArg::Hot),
            "--tier reads one tier as stored; --resolution, --agg, --aggregate and --stats go through the planner: use one or the other"
        );
        return planned_query(&args);
    }
    let engine = args.engine.open_read_only()?;
    let (from, to) = (args.from.saturating_mul(1_000_000_000), args.to.saturating_mul(1_000_000_000));
    let mut out = io::BufWriter::new(io::stdout().lock());
    let tier = match args.tier {
        TierArg::Hot => None,
        TierArg::Warm => Some(Tier::Warm),
        TierArg::Cold => Some(Tier::Cold),
    };
    match tier {
        None => {
            let mut series = Vec::new();
            for selector in args.selectors() {
                series.extend(engine.read(&selector, from, to)?);
            }
            drop(engine);
            let keys = KeyColumns::of(series.iter().map(|s| &*s.key));
            let rows = series.iter().flat_map(|s| {
                let key = keys.cells(&s.key);
                s.times
                    .iter()
                    .zip(&s.values)
                    .map(move |(&t, &v)| key.iter().cloned().chain([Cell::Time(t), Cell::Float(v)]).collect())
            });
            write_rows(&mut out, args.format, &keys.header(&["time", "value"]), rows)?;
        }
        Some(tier) => {
            let mut series = Vec::new();
            for selector in args.selectors() {
                series.extend(engine.read_tier(tier, &selector, from, to)?);
            }
            drop(engine);
            let keys = KeyColumns::of(series.iter().map(|s| &*s.key));
            let rows = series.iter().flat_map(|s| {
                let key = keys.cells(&s.key);
                s.times.iter().zip(&s.aggs).map(move |(&t, a)| {
                    let values = [
                        Cell::Time(t),
                        Cell::Int(a.count),
                        Cell::Float(a.sum),
                        Cell::Float(a.min),
                        Cell::Float(a.max),
                        Cell::Float(a.avg()),
                        Cell::Float(a.last),
                    ];
                    key.iter().cloned().chain(values).collect()
                })
            });
            let header = keys.header(&["time", "count", "sum", "min", "max", "avg", "last"]);
            write_rows(&mut out, args.format, &header, rows)?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// `strata query --resolution ...`: one question across tiers (`Engine::query`).
fn planned_query(args: &QueryArgs) -> anyhow::Result<ExitCode> {
    let resolution = match args.resolution.as_deref().unwrap_or("raw") {
        "raw" => strata::Resolution::Raw,
        "auto" => strata::Resolution::Auto(args.max_points),
        other => {
            let every =
                crate::args::parse_duration(other).map_err(|e| anyhow::anyhow!("--resolution: {e}"))?;
            let nanos = i64::try_from(every.as_nanos()).unwrap_or(i64::MAX);
            anyhow::ensure!(nanos > 0, "--resolution must be raw, auto or a positive duration");
            strata::Resolution::Every(nanos)
        }
    };
    let aggregates = if args.aggs.is_empty() {
        vec![strata::Aggregate::Avg]
    } else {
        args.aggs
            .iter()
            .map(|a| strata::Aggregate::parse(a.trim()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(anyhow::Error::msg)?
    };
    let (from, to) = (args.from.saturating_mul(1_000_000_000), args.to.saturating_mul(1_000_000_000));
    let mut query = strata::Query::new(&args.metric, from, to, resolution);
    let mut selector = Selector::metric(&args.metric);
    for (key, value) in [("cluster", &args.cluster), ("hostname", &args.host), ("type", &args.kind)] {
        if let Some(value) = value {
            selector = selector.tag(key, value);
        }
    }
    for (k, v) in &args.tags {
        selector = selector.tag(k, v);
    }
    query.selector = selector;
    query.type_ids = args.type_ids.clone();
    query.aggregates = aggregates.clone();
    query.scope = if args.aggregate { strata::Scope::Aggregate } else { strata::Scope::Series };
    let result = if args.fleet {
        strata::Fleet::open(args.engine.config()?).context("cannot open the fleet view")?.query(&query)?
    } else {
        args.engine.open_read_only()?.query(&query)?
    };
    for part in &result.served {
        let resolution = if part.resolution == 0 {
            "raw".to_owned()
        } else {
            strata::Span(std::time::Duration::from_nanos(part.resolution.unsigned_abs())).to_string()
        };
        eprintln!(
            "served by {} at {resolution}: [{}, {})",
            part.tier.name(),
            crate::output::unix_seconds(part.from),
            crate::output::unix_seconds(part.to)
        );
    }
    for note in &result.notes {
        eprintln!("note: {note}");
    }
    let keys = KeyColumns::of(result.series.iter().filter_map(|s| s.key.as_deref()));
    let key_cells = |s: &strata::QuerySeries| match &s.key {
        Some(key) => keys.cells(key),
        None => keys.header(&[]).iter().map(|_| Cell::Null).collect(),
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    if args.stats {
        let rows = result.series.iter().filter_map(|s| {
            let stats = s.stats()?;
            let values = [
                Cell::Float(stats.min),
                Cell::Float(stats.avg),
                Cell::Float(stats.max),
                Cell::Int(stats.count),
            ];
            Some(key_cells(s).into_iter().chain(values).collect())
        });
        write_rows(&mut out, args.format, &keys.header(&["min", "avg", "max", "count"]), rows)?;
    } else {
        let names: Vec<&str> = std::iter::once("time").chain(aggregates.iter().map(|a| a.name())).collect();
        let rows = result.series.iter().flat_map(|s| {
            let key = key_cells(s);
            s.times.iter().enumerate().map(move |(i, &t)| {
                let values =
                    s.columns.iter().map(|(a, column)| match (a, column.get(i).copied().flatten()) {
                        (_, None) => Cell::Null,
                        (strata::Aggregate::Count, Some(v)) => Cell::Int(v as u64),
                        (_, Some(v)) => Cell::Float(v),
                    });
                key.iter().cloned().chain(std::iter::once(Cell::Time(t))).chain(values).collect()
            })
        });
        write_rows(&mut out, args.format, &keys.header(&names), rows)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The series key columns a result shows: none for one series; for several, `metric`, `field`
/// when they differ in it (the series of `m v=1,w=2` differ only there), and every tag any of
/// them has (sorted by name).
struct KeyColumns {
    tags: Option<Vec<String>>,
    field: bool,
}

impl KeyColumns {
    fn of<'a>(keys: impl Iterator<Item = &'a SeriesKey> + Clone) -> KeyColumns {
        if keys.clone().count() <= 1 {
            return KeyColumns { tags: None, field: false };
        }
        let mut fields = keys.clone().map(|k| k.field.as_str());
        let first = fields.next();
        let field = fields.any(|f| Some(f) != first);
        let mut names: Vec<String> = keys.flat_map(|k| k.tags.iter().map(|(name, _)| name.clone())).collect();
        names.sort();
        names.dedup();
        KeyColumns { tags: Some(names), field }
    }

    fn header(&self, values: &[&str]) -> Vec<String> {
        let keys = self.tags.iter().flat_map(|tags| {
            let field = self.field.then_some("field");
            std::iter::once("metric").chain(field).chain(tags.iter().map(String::as_str))
        });
        keys.chain(values.iter().copied()).map(str::to_owned).collect()
    }

    fn cells(&self, key: &SeriesKey) -> Vec<Cell> {
        let Some(tags) = &self.tags else { return Vec::new() };
        let field = self.field.then(|| Cell::Text(key.field.clone()));
        std::iter::once(Cell::Text(key.measurement.clone()))
            .chain(field)
            .chain(tags.iter().map(|t| Cell::Text(key.tag(t).unwrap_or_default().to_owned())))
            .collect()
    }
}
