//! The time-step loop: one walk or counter per series, printed after a precomputed prefix.

use std::fmt;

use crate::config::GenConfig;
use crate::error::GenError;
use crate::format::{push_decimal, push_i64, push_u64};
use crate::rng::{SplitMix64, Xoshiro256, geometric_ln_q};
use crate::shape::{self, Metric};

/// How one series moves from step to step.
#[derive(Debug, Clone, Copy)]
enum State {
    /// A busy host's gauge: a bounded random walk, as the reference script does it.
    Walk { value: f64, lo: f64, hi: f64, sigma: f64, digits: u8 },
    /// An idle host's gauge. Its value never changes, so it was printed once into the prefix.
    Fixed,
    /// A counter gaining up to `gain` per step.
    Counter { value: f64, gain: f64 },
}

#[derive(Debug, Clone, Copy)]
struct Series {
    /// `prefixes[start..end]` is `metric,cluster=..,hostname=..,type=..[,type-id=..] value=`.
    start: usize,
    end: usize,
    state: State,
}

/// Produces the workload one time step at a time.
///
/// All series of a step share its timestamp. Series come host by host (`f0101`, `f0102`, ...),
/// and within a host scope by scope as the reference script orders them: the hwthread gauges
/// (`cpu_user` for every thread, then `flops_any`, `ipc`, `clock`), the socket gauges, the node
/// gauges, the node byte counters `ib_xmit` and `ib_recv`, then the memory-domain counters and
/// the accelerator gauges when configured. Equal configs give byte-identical steps.
///
/// Gauges of busy hosts walk as `v += gauss(0, (hi - lo) * 0.02)` clamped to `[lo, hi]`, from a
/// uniform start; counters gain `uniform(0, rate) * interval` per step. Values print with the
/// metric's decimals, trailing zeros dropped (whole-number metrics truncate, as the reference).
///
/// ```
/// use strata_gen::{GenConfig, Generator};
///
/// let config = GenConfig { hosts: 2, duration_secs: 30, ..GenConfig::default() };
/// let mut generator = Generator::new(config)?;
/// let mut out = Vec::new();
/// let mut steps = 0;
/// while generator.next_step(&mut out) {
///     steps += 1;
/// }
/// assert_eq!(steps, 3);
/// assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 3 * 2 * 302);
/// # Ok::<(), strata_gen::GenError>(())
/// ```
pub struct Generator {
    config: GenConfig,
    /// Every series' line prefix, back to back, so the hot loop copies from one allocation.
    prefixes: Vec<u8>,
    series: Vec<Series>,
    /// Drives the walks and counters. Spikes draw from their own stream, so the walks do not
    /// depend on `spike_rate`: a run with spikes differs from one without only at the spikes.
    walk_rng: Xoshiro256,
    spike_rng: Xoshiro256,
    spike_ln_q: Option<f64>,
    /// Busy gauge points still to print before the next spike. Drawing the gap once per spike
    /// (geometric) instead of one coin per point keeps a random draw out of the hot loop.
    until_spike: u64,
    step: u64,
    /// An upper bound of the bytes one step appends, for reserving.
    max_step_bytes: usize,
}

impl fmt::Debug for Generator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The prefixes and states run to megabytes; the config and position say what matters.
        f.debug_struct("Generator")
            .field("config", &self.config)
            .field("series", &self.series.len())
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

impl Generator {
    /// Lays out every series and draws its starting value.
    ///
    /// # Errors
    /// [`GenError::InvalidConfig`] if [`GenConfig::validate`] rejects the config.
    pub fn new(config: GenConfig) -> Result<Generator, GenError> {
        config.validate()?;
        let mut seeder = SplitMix64::new(config.seed);
        let mut walk_rng = Xoshiro256::from_splitmix(&mut seeder);
        let mut spike_rng = Xoshiro256::from_splitmix(&mut seeder);
        let spike_ln_q = geometric_ln_q(config.spike_rate);
        let until_spike = spike_rng.geometric(spike_ln_q);

        let layout = shape::host_layout(&config);
        let idle_hosts = (config.hosts as f64 * config.idle_fraction).round() as usize;
        let interval = config.interval_secs as f64;
        let mut prefixes = Vec::new();
        let mut series = Vec::with_capacity(config.series());
        for host in 0..config.hosts {
            let idle = host < idle_hosts;
            let tags = format!(",cluster={},hostname={}", config.cluster, shape::host_name(host));
            for s in &layout {
                let start = prefixes.len();
                let name = match s.metric {
                    Metric::Gauge(g) => g.name,
                    Metric::Counter(c) => c.name,
                };
                prefixes.extend_from_slice(name.as_bytes());
                prefixes.extend_from_slice(tags.as_bytes());
                prefixes.extend_from_slice(b",type=");
                prefixes.extend_from_slice(s.scope.as_bytes());
                if let Some(id) = &s.type_id {
                    prefixes.extend_from_slice(b",type-id=");
                    prefixes.extend_from_slice(id.as_bytes());
                }
                prefixes.extend_from_slice(b" value=");
                let state = match s.metric {
                    Metric::Gauge(g) if idle => {
                        let value = walk_rng.uniform(g.idle_lo, g.idle_hi);
                        push_decimal(&mut prefixes, value, g.digits);
                        State::Fixed
                    }
                    Metric::Gauge(g) => State::Walk {
                        value: walk_rng.uniform(g.lo, g.hi),
                        lo: g.lo,
                        hi: g.hi,
                        sigma: (g.hi - g.lo) * 0.02,
                        digits: g.digits,
                    },
                    Metric::Counter(c) => State::Counter {
                        value: walk_rng.uniform(0.0, c.start_max),
                        gain: if idle { c.idle_rate } else { c.rate } * interval,
                    },
                };
                series.push(Series { start, end: prefixes.len(), state });
            }
        }
        let max_step_bytes = max_step_bytes(&config, &prefixes, &series);
        Ok(Generator {
            config,
            prefixes,
            series,
            walk_rng,
            spike_rng,
            spike_ln_q,
            until_spike,
            step: 0,
            max_step_bytes,
        })
    }

    /// Appends the lines of the next time step (one line per series, all with the same
    /// timestamp) to `out`; returns false, appending nothing, once all steps are done.
    pub fn next_step(&mut self, out: &mut Vec<u8>) -> bool {
        if self.step >= self.config.steps() {
            return false;
        }
        let mut stamp = Vec::with_capacity(24);
        stamp.push(b' ');
        push_i64(&mut stamp, timestamp(&self.config, self.step));
        stamp.push(b'\n');
        self.step += 1;

        out.reserve(self.max_step_bytes);
        let Generator { prefixes, series, walk_rng, spike_rng, spike_ln_q, until_spike, .. } = self;
        for s in series.iter_mut() {
            // `start..end` was recorded while `prefixes` grew, so it is always in bounds.
            out.extend_from_slice(&prefixes[s.start..s.end]);
            match &mut s.state {
                State::Walk { value, lo, hi, sigma, digits } => {
                    // min/max rather than clamp: clamp asserts, these cannot panic.
                    *value = (*value + walk_rng.gauss(*sigma)).max(*lo).min(*hi);
                    if *until_spike == 0 {
                        push_decimal(out, *hi, *digits);
                        *until_spike = spike_rng.geometric(*spike_ln_q);
                    } else {
                        *until_spike -= 1;
                        push_decimal(out, *value, *digits);
                    }
                }
                State::Fixed => {}
                State::Counter { value, gain } => {
                    *value += *gain * walk_rng.next_f64();
                    push_decimal(out, *value, 0);
                }
            }
            out.extend_from_slice(&stamp);
        }
        true
    }

    /// The config this generator runs.
    pub fn config(&self) -> &GenConfig {
        &self.config
    }

    /// An upper bound of the bytes of the whole output.
    pub(crate) fn max_total_bytes(&self) -> u64 {
        (self.max_step_bytes as u64).saturating_mul(self.config.steps())
    }
}

/// The printed timestamp of `step`. [`GenConfig::validate`] has checked that the last step's
/// nanoseconds fit `i64`, so neither fallback is ever taken.
fn timestamp(config: &GenConfig, step: u64) -> i64 {
    config
        .timestamp_secs(step)
        .and_then(|secs| secs.checked_mul(config.units_per_second()))
        .unwrap_or(i64::MAX)
}

/// An upper bound of one step's bytes: prefixes, the longest value each series can print, and
/// the longest timestamp (at the first or the last step, whichever is longer) with its space and
/// newline.
fn max_step_bytes(config: &GenConfig, prefixes: &[u8], series: &[Series]) -> usize {
    let stamp = |step| {
        let mut text = Vec::new();
        push_i64(&mut text, timestamp(config, step));
        text.len()
    };
    let stamp_len = stamp(0).max(stamp(config.steps().saturating_sub(1))) + 2;
    let value_len = |value: f64, digits: u8| {
        // Sign, integer part (one more, in case rounding carries into it), point, decimals.
        let mut int_part = Vec::new();
        push_u64(&mut int_part, (value.abs() as u64).saturating_add(1));
        1 + int_part.len() + 1 + usize::from(digits.max(1))
    };
    let steps = config.steps() as f64;
    let values: usize = series
        .iter()
        .map(|s| match s.state {
            State::Walk { lo, hi, digits, .. } => value_len(lo.abs().max(hi.abs()), digits),
            State::Fixed => 0,
            State::Counter { value, gain } => value_len(value + gain * steps, 0),
        })
        .sum();
    prefixes.len() + values + series.len() * stamp_len
}
