//! What to generate: [`GenConfig`], its defaults and its checks.

use crate::Precision;
use crate::error::GenError;
use crate::shape::{self, MAX_ACCELERATORS};

/// The shape, time range and character of a generated workload.
///
/// The defaults are the reference script's: cluster `fritz`, hosts with 72 hardware threads and
/// 2 sockets (302 series each), an hour at 10 s from 2025-11-22T00:00:00Z, seed 1, timestamps in
/// seconds, no idle hosts and rare spikes.
#[derive(Debug, Clone, PartialEq)]
pub struct GenConfig {
    /// Value of the `cluster` tag; ASCII letters, digits, `-`, `_` and `.` only.
    pub cluster: String,
    /// Number of hosts, named `f0101`, `f0102`, ... `f0164`, `f0201`, ... (64 to a rack).
    pub hosts: usize,
    /// Unix seconds of the first timestamp.
    pub start: i64,
    /// Length of the run; the last partial interval is not generated.
    pub duration_secs: u64,
    /// Seconds between two points of a series; must be above 0.
    pub interval_secs: u64,
    /// Seed of every random choice: equal configs give byte-identical output on every platform.
    pub seed: u64,
    /// Unit of the printed timestamps.
    pub precision: Precision,
    /// Hardware threads per host, each with 4 metrics.
    pub hwthreads: usize,
    /// Sockets per host, each with 3 metrics.
    pub sockets: usize,
    /// Memory domains per host, each with 2 NUMA counters.
    pub memory_domains: usize,
    /// Accelerators (GPUs) per host, each with 4 metrics and a PCI address as type-id; at most 256.
    pub accelerators: usize,
    /// Fraction of hosts that are idle, in `[0, 1]`: the first `round(hosts * idle_fraction)`
    /// hosts (`f0101` onwards), whose gauges hold one low value and whose counters crawl.
    pub idle_fraction: f64,
    /// Probability, in `[0, 1]`, that one point of a busy host's gauge is printed at the metric's
    /// upper bound instead of its walk's value.
    pub spike_rate: f64,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            cluster: "fritz".to_owned(),
            hosts: 8,
            start: 1_763_769_600,
            duration_secs: 3600,
            interval_secs: 10,
            seed: 1,
            precision: Precision::Seconds,
            hwthreads: 72,
            sockets: 2,
            memory_domains: 0,
            accelerators: 0,
            idle_fraction: 0.0,
            spike_rate: 1e-5,
        }
    }
}

impl GenConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`GenError::InvalidConfig`] naming the first field at fault, its value and what it must be.
    pub fn validate(&self) -> Result<(), GenError> {
        let cluster_ok = !self.cluster.is_empty()
            && self.cluster.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !cluster_ok {
            return Err(GenError::invalid(
                "cluster",
                &self.cluster,
                "must be non-empty ASCII letters, digits, '-', '_' or '.'",
            ));
        }
        if self.hosts == 0 {
            return Err(GenError::invalid("hosts", self.hosts, "must be at least 1"));
        }
        if self.interval_secs == 0 {
            return Err(GenError::invalid("interval_secs", self.interval_secs, "must be greater than 0"));
        }
        if !(0.0..=1.0).contains(&self.idle_fraction) {
            return Err(GenError::invalid("idle_fraction", self.idle_fraction, "must be between 0 and 1"));
        }
        if !(0.0..=1.0).contains(&self.spike_rate) {
            return Err(GenError::invalid("spike_rate", self.spike_rate, "must be between 0 and 1"));
        }
        if self.accelerators > MAX_ACCELERATORS {
            return Err(GenError::invalid(
                "accelerators",
                self.accelerators,
                "must be at most 256 (one PCI bus number each)",
            ));
        }
        if self.checked_lines().is_none() {
            return Err(GenError::invalid(
                "hosts",
                self.hosts,
                "with these hwthreads, sockets, memory_domains, accelerators and steps the line count overflows",
            ));
        }
        if self.last_timestamp_nanos().is_none() {
            return Err(GenError::invalid(
                "duration_secs",
                self.duration_secs,
                "from `start` the last timestamp would overflow i64 nanoseconds",
            ));
        }
        Ok(())
    }

    /// Series of one host: 4 per hwthread, 3 per socket, 8 per node, 2 per memory domain, 4 per
    /// accelerator (302 with the defaults). Saturates at `usize::MAX` for configs
    /// [`validate`](Self::validate) rejects.
    pub fn series_per_host(&self) -> usize {
        shape::series_per_host(self.hwthreads, self.sockets, self.memory_domains, self.accelerators)
            .unwrap_or(usize::MAX)
    }

    /// Series of the whole cluster: `hosts * series_per_host()` (saturating).
    pub fn series(&self) -> usize {
        self.hosts.saturating_mul(self.series_per_host())
    }

    /// Time steps: `duration_secs / interval_secs`, rounded down (0 when the interval is 0).
    pub fn steps(&self) -> u64 {
        self.duration_secs.checked_div(self.interval_secs).unwrap_or(0)
    }

    /// Lines of the whole output: `series() * steps()` (saturating).
    pub fn lines(&self) -> u64 {
        self.checked_lines().unwrap_or(u64::MAX)
    }

    fn checked_lines(&self) -> Option<u64> {
        let per_host =
            shape::series_per_host(self.hwthreads, self.sockets, self.memory_domains, self.accelerators)?;
        let series = u64::try_from(self.hosts.checked_mul(per_host)?).ok()?;
        series.checked_mul(self.steps())
    }

    /// How many printed timestamp units one second is: 1 for seconds, 1000 for milliseconds, ...
    pub(crate) fn units_per_second(&self) -> i64 {
        1_000_000_000 / self.precision.nanos_per_unit()
    }

    /// Seconds of the timestamp of `step`, or `None` on overflow.
    pub(crate) fn timestamp_secs(&self, step: u64) -> Option<i64> {
        let offset = step.checked_mul(self.interval_secs)?;
        self.start.checked_add(i64::try_from(offset).ok()?)
    }

    /// The last timestamp in nanoseconds, which bounds every printed timestamp in any precision
    /// (and is what a reader converts to), or `None` if it does not fit `i64`.
    fn last_timestamp_nanos(&self) -> Option<i64> {
        let last_step = self.steps().saturating_sub(1);
        self.timestamp_secs(last_step)?.checked_mul(1_000_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_counts_match_the_reference_workload() {
        let config = GenConfig { hosts: 64, ..GenConfig::default() };
        config.validate().unwrap();
        assert_eq!(config.series_per_host(), 302);
        assert_eq!(config.series(), 19_328);
        assert_eq!(config.steps(), 360);
        assert_eq!(config.lines(), 6_958_080);
    }

    #[test]
    fn overflowing_shapes_are_rejected_not_wrapped() {
        let config = GenConfig { hwthreads: usize::MAX / 2, ..GenConfig::default() };
        assert_eq!(config.series_per_host(), usize::MAX);
        assert!(matches!(config.validate(), Err(GenError::InvalidConfig { field: "hosts", .. })));
        let late = GenConfig { start: i64::MAX / 1_000_000_000, ..GenConfig::default() };
        assert!(matches!(late.validate(), Err(GenError::InvalidConfig { field: "duration_secs", .. })));
    }
}
