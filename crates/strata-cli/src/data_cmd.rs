//! `strata write` and `strata query`: the engine from the command line.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use strata::{Config, Engine, ManualClock, Precision, Selector, SeriesPoints, WriteOptions};

use crate::args::parse_time;
use crate::blocks::{for_each_block, open_input};

/// Where the data lives: `--data-dir`, else the config's `data_dir`, else the default.
#[derive(Debug, Args)]
pub(crate) struct EngineArgs {
    /// Data directory (overrides the config's data_dir).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// TOML config file (docs/CONFIG.md).
    #[arg(long)]
    config: Option<PathBuf>,
}

impl EngineArgs {
    fn config(&self) -> anyhow::Result<Config> {
        let mut config = match &self.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        if let Some(dir) = &self.data_dir {
            config.data_dir = dir.clone();
        }
        Ok(config)
    }

    fn open(&self, now: Option<i64>) -> anyhow::Result<Engine> {
        let config = self.config()?;
        let dir = config.data_dir.clone();
        let engine = match now {
            Some(secs) => Engine::open_with_clock(
                config,
                Arc::new(ManualClock::new(secs.saturating_mul(1_000_000_000))),
            ),
            None => Engine::open(config),
        };
        let engine = engine.with_context(|| format!("cannot open the engine in {}", dir.display()))?;
        if let Some(cut) = &engine.recovery().truncated {
            eprintln!(
                "note: cut a torn WAL tail left by a crash: {} bytes at segment {} offset {} (never acknowledged)",
                cut.dropped_bytes, cut.segment, cut.offset
            );
        }
        Ok(engine)
    }
}

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
    for_each_block(&mut input, BLOCK, |block, lines_before, read| {
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
    })?;
    if progress {
        eprintln!();
    }
    engine.close()?;
    println!("{accepted} points accepted, {rejected} lines rejected");
    for r in &shown {
        println!("  {r}");
    }
    if rejected as usize > shown.len() {
        println!("  ... and {} more", rejected as usize - shown.len());
    }
    Ok(if rejected == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Csv,
    Json,
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
    /// Start (inclusive): Unix seconds, RFC 3339 or now-1h.
    #[arg(long, value_parser = parse_time)]
    from: i64,
    /// End (exclusive).
    #[arg(long, value_parser = parse_time)]
    to: i64,
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

fn parse_tag(s: &str) -> Result<(String, String), String> {
    let (k, v) = s.split_once('=').ok_or_else(|| format!("{s:?} is not key=value"))?;
    Ok((k.to_owned(), v.to_owned()))
}

pub(crate) fn query(args: QueryArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.from < args.to, "--from must be before --to");
    let engine = args.engine.open(None)?;
    let mut base = Selector::metric(&args.metric);
    for (key, value) in [("cluster", &args.cluster), ("hostname", &args.host), ("type", &args.kind)] {
        if let Some(value) = value {
            base = base.tag(key, value);
        }
    }
    for (k, v) in &args.tags {
        base = base.tag(k, v);
    }
    let (from, to) = (args.from.saturating_mul(1_000_000_000), args.to.saturating_mul(1_000_000_000));
    let mut series: Vec<SeriesPoints> = Vec::new();
    if args.type_ids.is_empty() {
        series = engine.read(&base, from, to)?;
    } else {
        for id in &args.type_ids {
            series.extend(engine.read(&base.clone().tag("type-id", id), from, to)?);
        }
    }
    drop(engine);
    let keyed = series.len() > 1;
    let key_columns: Vec<String> = if keyed {
        let mut names: Vec<String> =
            series.iter().flat_map(|s| s.key.tags.iter().map(|(k, _)| k.clone())).collect();
        names.sort();
        names.dedup();
        names
    } else {
        Vec::new()
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    let mut header: Vec<String> = Vec::new();
    if keyed {
        header.push("metric".into());
        header.extend(key_columns.iter().cloned());
    }
    header.push("time".into());
    header.push("value".into());
    let rows = series.iter().flat_map(|s| {
        let keys: Vec<String> = if keyed {
            std::iter::once(s.key.measurement.clone())
                .chain(key_columns.iter().map(|k| s.key.tag(k).unwrap_or_default().to_owned()))
                .collect()
        } else {
            Vec::new()
        };
        s.times.iter().zip(&s.values).map(move |(&t, &v)| (keys.clone(), t, v))
    });
    match args.format {
        Format::Csv => {
            writeln!(out, "{}", header.join(","))?;
            for (keys, t, v) in rows {
                for k in &keys {
                    write!(out, "{},", csv_field(k))?;
                }
                writeln!(out, "{},{v}", unix_seconds(t))?;
            }
        }
        Format::Json => {
            write!(out, "[")?;
            for (n, (keys, t, v)) in rows.enumerate() {
                write!(out, "{}{{", if n == 0 { "" } else { ",\n " })?;
                for (name, k) in header.iter().zip(&keys) {
                    write!(out, "{}:{},", serde_json::to_string(name)?, serde_json::to_string(k)?)?;
                }
                write!(out, "\"time\":{},\"value\":{}}}", unix_seconds(t), serde_json::to_string(&v)?)?;
            }
            writeln!(out, "]")?;
        }
        Format::Table => {
            let rows: Vec<Vec<String>> = rows
                .map(|(keys, t, v)| keys.into_iter().chain([unix_seconds(t), v.to_string()]).collect())
                .collect();
            let widths: Vec<usize> = (0..header.len())
                .map(|c| {
                    rows.iter()
                        .map(|r| r.get(c).map_or(0, String::len))
                        .chain([header[c].len()])
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            let line = |cells: &[String]| {
                cells
                    .iter()
                    .zip(&widths)
                    .map(|(c, w)| format!("{c:<w$}"))
                    .collect::<Vec<_>>()
                    .join("  ")
                    .trim_end()
                    .to_owned()
            };
            writeln!(out, "{}", line(&header))?;
            for row in &rows {
                writeln!(out, "{}", line(row))?;
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Unix seconds, with a fraction only when the time has one.
fn unix_seconds(nanos: i64) -> String {
    let sign = if nanos < 0 { "-" } else { "" };
    let (secs, frac) = (nanos.unsigned_abs() / 1_000_000_000, nanos.unsigned_abs() % 1_000_000_000);
    if frac == 0 {
        format!("{sign}{secs}")
    } else {
        format!("{sign}{secs}.{frac:09}").trim_end_matches('0').to_owned()
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() }
}

#[cfg(test)]
mod tests {
    #[test]
    fn unix_seconds() {
        assert_eq!(super::unix_seconds(1_763_769_600_000_000_000), "1763769600");
        assert_eq!(super::unix_seconds(1_763_769_600_250_000_000), "1763769600.25");
        assert_eq!(super::unix_seconds(-1), "-0.000000001");
        assert_eq!(super::unix_seconds(-1_500_000_000), "-1.5");
    }
}
