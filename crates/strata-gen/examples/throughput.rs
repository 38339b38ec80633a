//! Measures generation speed, or prints a workload for size comparisons.
//!
//! `cargo run --release -p strata-gen --example throughput -- [HOSTS] [MINUTES] [INTERVAL] [--stdout]`
//! Without `--stdout` the output is discarded and lines/s are reported on stderr; with it the
//! workload goes to stdout (pipe it into `wc -lc` to compare with `gen_ccms.py`).

use std::io::{self, Write};
use std::time::Instant;

use strata_gen::GenConfig;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let to_stdout = args.iter().any(|a| a == "--stdout");
    let numbers: Vec<u64> =
        args.iter().filter(|a| *a != "--stdout").map(|a| a.parse()).collect::<Result<_, _>>()?;
    let arg = |i: usize, default: u64| numbers.get(i).copied().unwrap_or(default);
    let config = GenConfig {
        hosts: usize::try_from(arg(0, 64))?,
        duration_secs: arg(1, 60) * 60,
        interval_secs: arg(2, 10),
        ..GenConfig::default()
    };

    let started = Instant::now();
    let stats = if to_stdout {
        strata_gen::write_all(config, io::stdout().lock())?
    } else {
        strata_gen::write_all(config, io::sink())?
    };
    let secs = started.elapsed().as_secs_f64();
    writeln!(
        io::stderr(),
        "{} lines, {} bytes ({:.1} B/line) in {:.3} s: {:.2} M lines/s, {:.0} MB/s",
        stats.lines,
        stats.bytes,
        stats.bytes as f64 / stats.lines.max(1) as f64,
        secs,
        stats.lines as f64 / secs / 1e6,
        stats.bytes as f64 / secs / 1e6,
    )?;
    Ok(())
}
