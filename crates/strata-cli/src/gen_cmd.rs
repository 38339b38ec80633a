//! `strata gen`: synthetic cluster telemetry for benchmarks, tests and the demo.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use clap::Args;
use strata_gen::{GenConfig, Precision};

use crate::args::{parse_duration, parse_time};

#[derive(Debug, Args)]
pub(crate) struct GenArgs {
    /// Cluster name written in the `cluster` tag.
    #[arg(long, default_value = "fritz")]
    cluster: String,
    /// Number of hosts (named f0101, f0102, ..., 64 per rack).
    #[arg(long, default_value_t = 8)]
    hosts: usize,
    /// First timestamp: Unix seconds or RFC 3339.
    #[arg(long, default_value = "1763769600", value_parser = parse_time)]
    start: i64,
    /// Time span covered, e.g. 1h, 30m, 7d.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    duration: std::time::Duration,
    /// Time between two measurements of a series, e.g. 10s.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    interval: std::time::Duration,
    /// Seed of the random walks; the same seed gives the same bytes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Unit of the printed timestamps.
    #[arg(long, default_value = "s")]
    precision: Precision,
    /// Hardware threads per host.
    #[arg(long, default_value_t = 72)]
    hwthreads: usize,
    /// Sockets per host.
    #[arg(long, default_value_t = 2)]
    sockets: usize,
    /// Memory domains per host (NUMA statistics counters); 0 keeps the reference workload's shape.
    #[arg(long, default_value_t = 0)]
    memory_domains: usize,
    /// Accelerators per host, with PCI-address type-ids.
    #[arg(long, default_value_t = 0)]
    accelerators: usize,
    /// Fraction of hosts that are idle: their values repeat.
    #[arg(long, default_value_t = 0.0)]
    idle_fraction: f64,
    /// Probability that a gauge point is a spike.
    #[arg(long, default_value_t = 1e-5)]
    spike_rate: f64,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Print lines, bytes and speed on stderr when done.
    #[arg(long, short)]
    verbose: bool,
}

pub(crate) fn run(args: GenArgs) -> anyhow::Result<ExitCode> {
    for (flag, d) in [("--duration", args.duration), ("--interval", args.interval)] {
        anyhow::ensure!(d.subsec_nanos() == 0, "{flag} must be whole seconds, got {d:?}");
    }
    let config = GenConfig {
        cluster: args.cluster,
        hosts: args.hosts,
        start: args.start,
        duration_secs: args.duration.as_secs(),
        interval_secs: args.interval.as_secs(),
        seed: args.seed,
        precision: args.precision,
        hwthreads: args.hwthreads,
        sockets: args.sockets,
        memory_domains: args.memory_domains,
        accelerators: args.accelerators,
        idle_fraction: args.idle_fraction,
        spike_rate: args.spike_rate,
    };
    config.validate()?;
    let started = Instant::now();
    let stats = match &args.output {
        Some(path) => {
            let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
            let mut out = BufWriter::new(file);
            let stats = strata_gen::write_all(config, &mut out)?;
            out.flush().with_context(|| format!("cannot write {}", path.display()))?;
            stats
        }
        None => strata_gen::write_all(config, io::stdout().lock())?,
    };
    if args.verbose {
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "{} lines, {:.1} MB in {secs:.2} s ({:.2} M lines/s)",
            stats.lines,
            stats.bytes as f64 / 1e6,
            stats.lines as f64 / secs / 1e6
        );
    }
    Ok(ExitCode::SUCCESS)
}
