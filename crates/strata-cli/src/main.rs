//! `strata`: the command-line tool.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod args;
mod blocks;
mod compact_cmd;
mod data_cmd;
mod demo;
mod gen_cmd;
mod inspect_cmd;
mod inspect_fleet;
mod lp_cmd;
mod output;
#[cfg(feature = "serve")]
mod serve_cmd;

/// strata: a columnar time-series storage engine with retention tiers.
#[derive(Debug, Parser)]
#[command(name = "strata", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Fill hot, warm and cold on the default retention, ask each tier a question, draw a chart.
    ///
    /// A simulated cluster (the full metric set for the last 33 h, a few metrics backfilled
    /// over 9 weeks, one spike) is written as a manual clock moves and the compactor runs; then
    /// what each tier holds, three answers with the tier that served each and its latency, and
    /// one answer across the tiers as a chart.
    #[command(after_help = EXAMPLE_DEMO)]
    Demo(demo::DemoArgs),
    /// Line protocol tools.
    #[command(subcommand, after_help = EXAMPLE_LP)]
    Lp(lp_cmd::LpCommand),
    /// Generate synthetic HPC cluster telemetry as line protocol (cc-metric-store shape).
    #[command(after_help = EXAMPLE_GEN)]
    Gen(gen_cmd::GenArgs),
    /// Write line protocol into the engine; exit status 1 if any line was rejected.
    #[command(after_help = EXAMPLE_WRITE)]
    Write(data_cmd::WriteArgs),
    /// Read a metric's series: raw points from hot, or downsampled rows from warm or cold.
    ///
    /// Opens the data directory read-only: changes nothing, works beside a running engine
    /// (answering as of the moment it opened) and on a directory that is not writable.
    #[command(after_help = EXAMPLE_QUERY)]
    Query(data_cmd::QueryArgs),
    /// Run one compaction pass (warm flush, cold rollup, merges, retention) and print its report.
    #[command(after_help = EXAMPLE_COMPACT)]
    Compact(compact_cmd::CompactArgs),
    /// Show what each tier holds: span, files, rows, bytes; per tier the metrics and tag keys
    /// with the most series.
    ///
    /// Opens the data directory read-only, as `query` does.
    #[command(after_help = EXAMPLE_INSPECT)]
    Inspect(inspect_cmd::InspectArgs),
    /// Serve cc-metric-store's HTTP API and InfluxDB's write API until SIGTERM or SIGINT.
    #[cfg(feature = "serve")]
    #[command(after_help = EXAMPLE_SERVE)]
    Serve(serve_cmd::ServeArgs),
}

// One example per command, shown after its options (`strata <command> --help`).
const EXAMPLE_DEMO: &str = "Example:
  strata demo                                   # a new data directory under /tmp, printed
  strata demo --data-dir demo --plot tiers.svg  # then: strata inspect --data-dir demo";
const EXAMPLE_LP: &str = "Example:
  strata gen --hosts 2 --duration 1m | strata lp parse --precision s --summary";
const EXAMPLE_GEN: &str = "Example:
  strata gen --hosts 64 --duration 1h --start now-1h > fritz.lp";
const EXAMPLE_WRITE: &str = "Example:
  strata write --data-dir d --precision s --cluster fritz fritz.lp";
const EXAMPLE_QUERY: &str = "Example:
  strata query --data-dir d --metric cpu_user --host f0101 --type hwthread --type-id 0 \\
               --from now-10m --to now --format csv
  strata query --data-dir d --metric cpu_load --from now-30d --to now --resolution 1h --agg avg,max";
const EXAMPLE_COMPACT: &str = "Example:
  strata compact --data-dir d
  strata compact --data-dir d --now 2025-11-22T00:00:00Z   # as of a time: backfills, tests";
const EXAMPLE_INSPECT: &str = "Example:
  strata inspect --data-dir d                     # tables: tiers, metrics, tag keys
  strata inspect --data-dir d --format json | jq '.warm.metrics[0]'";
#[cfg(feature = "serve")]
const EXAMPLE_SERVE: &str = "Example:
  strata serve --config strata.toml
  curl -X POST 'http://127.0.0.1:8081/api/write?cluster=fritz' \\
       --data-binary \"cpu_load,hostname=f0101,type=node value=4.25 $(date +%s)\"";

/// `println!` that returns the error instead of panicking: a reader downstream closing the pipe
/// (`strata write f.lp | head`) ends the command quietly (see `is_broken_pipe`).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?
    }};
}
pub(crate) use say;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Lp(cmd) => lp_cmd::run(cmd),
        Command::Gen(args) => gen_cmd::run(args),
        Command::Write(args) => data_cmd::write(args),
        Command::Query(args) => data_cmd::query(args),
        Command::Compact(args) => compact_cmd::run(args),
        Command::Inspect(args) => inspect_cmd::run(args),
        #[cfg(feature = "serve")]
        Command::Serve(args) => serve_cmd::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// A reader downstream (`| head`) closing the pipe is not an error worth reporting.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
