//! Synthetic HPC cluster telemetry for strata's benchmarks, tests and demo: InfluxDB line
//! protocol in the shape ClusterCockpit's cc-metric-store takes,
//! `<metric>,cluster=<c>,hostname=<h>,type=<t>,type-id=<id> value=<v> <ts>` (node-level lines
//! carry `type=node` and no type-id). Hosts report per-hwthread, per-socket and per-node gauges
//! that follow bounded random walks with each metric's real precision, byte counters that only
//! grow, and optionally NUMA counters and GPU gauges; some hosts can sit idle and rare points
//! spike. It matches the reference script `gen_ccms.py` in shape, size and character (302 series
//! per host, about 84 bytes a line) and is deterministic: a config and seed give the same bytes
//! on every platform, because the crate brings its own random numbers and number formatting.
//!
//! ```
//! use strata_gen::{GenConfig, Precision};
//! use strata_lp::{ParseOptions, Parser};
//!
//! let config = GenConfig { hosts: 2, duration_secs: 60, ..GenConfig::default() };
//! assert_eq!(config.lines(), 2 * 302 * 6);
//!
//! let mut out = Vec::new();
//! let stats = strata_gen::write_all(config.clone(), &mut out)?;
//! assert_eq!(stats.lines, config.lines());
//! assert_eq!(stats.bytes, out.len() as u64);
//! assert!(out.starts_with(b"cpu_user,cluster=fritz,hostname=f0101,type=hwthread,type-id=0 value="));
//!
//! let first = Parser::new(&out, ParseOptions::with_precision(Precision::Seconds))
//!     .next()
//!     .unwrap()
//!     .unwrap();
//! assert_eq!(first.timestamp, Some(1_763_769_600_000_000_000));
//!
//! // Same config, same bytes.
//! assert_eq!(strata_gen::generate(config)?, out);
//! # Ok::<(), strata_gen::GenError>(())
//! ```

mod config;
mod error;
mod format;
mod generator;
mod rng;
mod shape;

use std::io::Write;

pub use config::GenConfig;
pub use error::GenError;
pub use generator::Generator;
pub use strata_lp::Precision;

/// What [`write_all`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenStats {
    /// Lines written: [`GenConfig::lines`].
    pub lines: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// Bytes gathered before one `write_all` on the output: large enough that a pipe or a file
/// sees few, big writes; small enough to stay in cache.
const CHUNK: usize = 4 << 20;

/// Generates the whole workload into `out`, buffering internally in large chunks, and flushes it.
///
/// # Errors
/// [`GenError::InvalidConfig`] for a config [`GenConfig::validate`] rejects, [`GenError::Io`]
/// if writing fails (what was written before stays written).
pub fn write_all(config: GenConfig, mut out: impl Write) -> Result<GenStats, GenError> {
    let mut generator = Generator::new(config)?;
    let mut buf = Vec::with_capacity(CHUNK);
    let mut stats = GenStats { lines: 0, bytes: 0 };
    let series = generator.config().series() as u64;
    while generator.next_step(&mut buf) {
        stats.lines += series;
        if buf.len() >= CHUNK {
            out.write_all(&buf)?;
            stats.bytes += buf.len() as u64;
            buf.clear();
        }
    }
    out.write_all(&buf)?;
    stats.bytes += buf.len() as u64;
    out.flush()?;
    Ok(stats)
}

/// Generates the whole workload in memory.
///
/// # Errors
/// [`GenError::InvalidConfig`] for a config [`GenConfig::validate`] rejects;
/// [`GenError::TooLarge`] if the output's size cannot be reserved up front.
pub fn generate(config: GenConfig) -> Result<Vec<u8>, GenError> {
    let mut generator = Generator::new(config)?;
    let bytes = generator.max_total_bytes();
    let mut out = Vec::new();
    // Reserving the bound once avoids the doublings (and their copies) of a growing Vec, and
    // turns a workload too large for memory into an error instead of an abort.
    usize::try_from(bytes)
        .ok()
        .and_then(|n| out.try_reserve_exact(n).ok())
        .ok_or(GenError::TooLarge { bytes })?;
    while generator.next_step(&mut out) {}
    Ok(out)
}
