//! The backfill: a few node metrics of every host over the past weeks, a point a minute (or
//! sparser), as an archive imported into a new engine would bring them. Each series walks back in time from
//! the value the full metric set starts with, so the two meet without a jump. One point of
//! one host's load is a spike: four times its 72 hardware threads, for one sample.

use std::io::Write as _;

use strata_lp::{FieldValue, ParseOptions, Parser, Precision};

use super::{DAY, HOUR, MIN, SEC, Timeline};

/// The backfilled metrics (node level): name, walk bounds and printed decimals.
const METRICS: [(&str, f64, f64, usize); 3] =
    [("cpu_load", 0.0, 72.0, 2), ("mem_used", 1000.0, 250_000.0, 0), ("net_bw", 0.0, 1e4, 1)];

/// The one spike: a runaway job drives a node's load to four times its 72 hardware threads.
pub(crate) const SPIKE_VALUE: f64 = 288.0;

/// Where the spike is.
#[derive(Debug, Clone)]
pub(crate) struct Spike {
    pub(crate) metric: &'static str,
    pub(crate) host: String,
    pub(crate) time: i64,
    pub(crate) value: f64,
}

/// Every backfilled series, its values in time order from `Timeline::backfill_start`.
#[derive(Debug)]
pub(crate) struct Backfill {
    series: Vec<Walked>,
    start: i64,
    end: i64,
    /// Between two points (ns).
    interval: i64,
}

#[derive(Debug)]
struct Walked {
    /// Measurement and tags as line protocol, e.g. `cpu_load,cluster=fritz,hostname=f0101,type=node`.
    prefix: String,
    digits: usize,
    values: Vec<f64>,
}

impl Backfill {
    /// Walks back from the values of `first_step` (the full metric set's first time step, line
    /// protocol in seconds) and places the spike on the third host (or the last, if fewer).
    pub(crate) fn new(
        first_step: &[u8],
        timeline: &Timeline,
        interval: i64,
    ) -> anyhow::Result<(Backfill, Spike)> {
        let steps = usize::try_from((timeline.live_start - timeline.backfill_start) / interval)?;
        let mut rng = SplitMix64(0xdead_beef);
        let mut series = Vec::new();
        for line in Parser::new(first_step, ParseOptions::with_precision(Precision::Seconds)) {
            let line = line?;
            let Some(&(_, lo, hi, digits)) = METRICS.iter().find(|(name, ..)| *name == line.measurement)
            else {
                continue;
            };
            let start = match line.fields.first().map(|f| &f.value) {
                Some(FieldValue::Float(v)) => *v,
                Some(FieldValue::Integer(v)) => *v as f64,
                _ => continue,
            };
            // Backwards from the live start, then turned around into time order.
            let sigma = (hi - lo) * 0.005;
            let mut values = Vec::with_capacity(steps);
            let mut value = start;
            for _ in 0..steps {
                value = (value + rng.gauss() * sigma).max(lo).min(hi);
                values.push(value);
            }
            values.reverse();
            series.push(Walked { prefix: line.series_text.to_string(), digits, values });
        }
        let hosts: Vec<String> = series
            .iter()
            .filter(|s| s.prefix.starts_with("cpu_load,"))
            .filter_map(|s| s.prefix.split(',').find_map(|t| t.strip_prefix("hostname=")).map(str::to_owned))
            .collect();
        let host = hosts.get(2).or(hosts.last()).cloned().ok_or_else(|| {
            anyhow::anyhow!("the generated first step holds no cpu_load series to backfill")
        })?;
        // Early: three and a half days into the backfill, on a sample.
        let index = (3 * DAY + 13 * HOUR + 37 * MIN) / interval;
        let time = timeline.backfill_start + index * interval;
        let spike = Spike { metric: "cpu_load", host, time, value: SPIKE_VALUE };
        let index = usize::try_from(index)?;
        let tag = format!("hostname={}", spike.host);
        for s in &mut series {
            if s.prefix.starts_with("cpu_load,")
                && s.prefix.split(',').any(|t| t == tag)
                && let Some(v) = s.values.get_mut(index)
            {
                *v = spike.value;
            }
        }
        let (start, end) = (timeline.backfill_start, timeline.live_start);
        Ok((Backfill { series, start, end, interval }, spike))
    }

    /// Points of the whole backfill.
    pub(crate) fn points(&self) -> u64 {
        self.series.iter().map(|s| s.values.len() as u64).sum()
    }

    /// The backfill in `[from, to)` as line protocol in seconds, in time order.
    pub(crate) fn lines(&self, from: i64, to: i64) -> Vec<u8> {
        let mut out = Vec::new();
        let first = (from.max(self.start) - self.start).div_euclid(self.interval);
        let last = (to.min(self.end) - self.start).div_euclid(self.interval);
        for step in first..last {
            let t = self.start + step * self.interval;
            for s in &self.series {
                if let Some(v) = usize::try_from(step).ok().and_then(|i| s.values.get(i)) {
                    // Writing to a Vec cannot fail.
                    let _ = writeln!(out, "{} value={:.*} {}", s.prefix, s.digits, v, t / SEC);
                }
            }
        }
        out
    }

    /// The backfill's range, `[start, end)`.
    pub(crate) fn range(&self) -> (i64, i64) {
        (self.start, self.end)
    }
}

/// SplitMix64 with a Box-Muller normal: the same walks on every run and platform.
#[derive(Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn gauss(&mut self) -> f64 {
        let u = self.next_f64().max(f64::MIN_POSITIVE);
        let v = self.next_f64();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}
