//! `strata`: the command-line tool.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod args;
mod blocks;
mod compact_cmd;
mod data_cmd;
mod demo_cmd;
mod gen_cmd;
mod inspect_cmd;
mod lp_cmd;
mod output;
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
    /// Generate an hour of cluster telemetry, write it into a fresh engine, reopen it and query it.
    Demo(demo_cmd::DemoArgs),
    /// Line protocol tools.
    #[command(subcommand)]
    Lp(lp_cmd::LpCommand),
    /// Generate synthetic HPC cluster telemetry as line protocol (cc-metric-store shape).
    Gen(gen_cmd::GenArgs),
    /// Write line protocol into the engine; exit status 1 if any line was rejected.
    Write(data_cmd::WriteArgs),
    /// Read a metric's series: raw points from hot, or downsampled rows from warm or cold.
    ///
    /// Opens the data directory read-only: changes nothing, works beside a running engine
    /// (answering as of the moment it opened) and on a directory that is not writable.
    Query(data_cmd::QueryArgs),
    /// Run one compaction pass (warm flush, cold rollup, merges, retention) and print its report.
    Compact(compact_cmd::CompactArgs),
    /// Show what each tier holds: span, files, rows, bytes, series per metric.
    ///
    /// Opens the data directory read-only, as `query` does.
    Inspect(inspect_cmd::InspectArgs),
    /// Serve cc-metric-store's HTTP API and InfluxDB's write API until SIGTERM or SIGINT.
    Serve(serve_cmd::ServeArgs),
}

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
        Command::Demo(args) => demo_cmd::run(args),
        Command::Lp(cmd) => lp_cmd::run(cmd),
        Command::Gen(args) => gen_cmd::run(args),
        Command::Write(args) => data_cmd::write(args),
        Command::Query(args) => data_cmd::query(args),
        Command::Compact(args) => compact_cmd::run(args),
        Command::Inspect(args) => inspect_cmd::run(args),
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
