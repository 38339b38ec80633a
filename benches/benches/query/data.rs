//! The queries' data: two metrics of the anchors' shape written in time order, each point once
//! to strata and once to a chunk file the peers ingest.
//!
//! - `cpu_load` (node level, `0..72`, 2 decimals) of `hosts` hosts over `cold_days` days at
//!   `cold_interval` seconds: the 30-day query reads it;
//! - `cpu_user` (per hardware thread, `type-id` `0..71`, `0..100`, 1 decimal) of `warm_hosts`
//!   hosts over the last `warm_hours` hours at 10 s: the 24-hour query reads one host of it,
//!   the raw query one thread.
//!
//! Values move as strata-gen's gauges do (a random walk from a uniform start, steps of
//! `gauss(0, (hi - lo) * 0.02)`, clamped) and print as `cpu_user,cluster=fritz,hostname=f0101,
//! type=hwthread,type-id=0 value=47.3 1766966400`. strata-gen writes every metric of a host;
//! this writes two, so the files hold what the queries need and little else.

use std::io::Write;
use std::path::{Path, PathBuf};

use strata::{Engine, WriteOptions};

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    /// Unix seconds just after the last point.
    pub(crate) end: i64,
    pub(crate) hosts: usize,
    pub(crate) cold_days: i64,
    pub(crate) cold_interval: i64,
    pub(crate) warm_hosts: usize,
    pub(crate) warm_hours: i64,
}

pub(crate) const WARM_INTERVAL: i64 = 10;
pub(crate) const HWTHREADS: usize = 72;

impl Shape {
    pub(crate) fn cold_points(&self) -> u64 {
        (self.hosts as i64 * self.cold_days * 86_400 / self.cold_interval) as u64
    }

    pub(crate) fn warm_points(&self) -> u64 {
        (self.warm_hosts as i64 * HWTHREADS as i64 * self.warm_hours * 3600 / WARM_INTERVAL) as u64
    }

    pub(crate) fn series(&self) -> usize {
        self.hosts + self.warm_hosts * HWTHREADS
    }
}

/// The host name of host `index`, as strata-gen names them (`f0101` ... `f0164`, `f0201`).
pub(crate) fn host_name(index: usize) -> String {
    format!("f{:02}{:02}", index / 64 + 1, index % 64 + 1)
}

/// What loading took.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) points: u64,
    pub(crate) bytes: u64,
    pub(crate) chunk_files: Vec<PathBuf>,
    pub(crate) write_secs: f64,
}

/// Generates the data in time order, writes it to `engine` in blocks of about 4 MiB, and
/// saves the same blocks as chunk files in `chunk_dir`, if given (the peers post them as they
/// are).
pub(crate) fn load(shape: &Shape, engine: &Engine, chunk_dir: Option<&Path>) -> Loaded {
    const BLOCK: usize = 4 << 20;
    let options = WriteOptions::cc_metric_store("fritz");
    let mut rng = SplitMix64(0x5eed);
    let mut cold: Vec<Walk> = (0..shape.hosts)
        .map(|h| {
            Walk::new(
                &mut rng,
                format!("cpu_load,cluster=fritz,hostname={},type=node value=", host_name(h)),
                0.0,
                72.0,
                2,
            )
        })
        .collect();
    let mut warm: Vec<Walk> = (0..shape.warm_hosts)
        .flat_map(|h| (0..HWTHREADS).map(move |t| (h, t)))
        .map(|(h, t)| {
            let prefix =
                format!("cpu_user,cluster=fritz,hostname={},type=hwthread,type-id={t} value=", host_name(h));
            Walk::new(&mut rng, prefix, 0.0, 100.0, 1)
        })
        .collect();
    let cold_start = shape.end - shape.cold_days * 86_400;
    let warm_start = shape.end - shape.warm_hours * 3600;
    assert!(shape.cold_interval % WARM_INTERVAL == 0, "the cold interval is a multiple of 10 s");
    let mut block = Vec::with_capacity(BLOCK + (1 << 20));
    let mut loaded = Loaded { points: 0, bytes: 0, chunk_files: Vec::new(), write_secs: 0.0 };
    let flush = |block: &mut Vec<u8>, loaded: &mut Loaded| {
        let t0 = std::time::Instant::now();
        let report = engine.write_lp(block, &options).expect("the engine takes the block");
        loaded.write_secs += t0.elapsed().as_secs_f64();
        assert!(report.rejections.is_empty(), "rejected: {:?}", report.rejections.first());
        loaded.points += report.accepted;
        loaded.bytes += block.len() as u64;
        if let Some(dir) = chunk_dir {
            let path = dir.join(format!("chunk-{:05}.lp", loaded.chunk_files.len()));
            std::fs::write(&path, &block).expect("the chunk dir is writable");
            loaded.chunk_files.push(path);
        }
        block.clear();
    };
    let mut t = cold_start.min(warm_start);
    while t < shape.end {
        if t >= cold_start && (t - cold_start) % shape.cold_interval == 0 {
            for w in &mut cold {
                w.line(&mut rng, t, &mut block);
            }
        }
        if t >= warm_start && (t - warm_start) % WARM_INTERVAL == 0 {
            for w in &mut warm {
                w.line(&mut rng, t, &mut block);
            }
        }
        if block.len() >= BLOCK {
            flush(&mut block, &mut loaded);
        }
        t += WARM_INTERVAL;
    }
    if !block.is_empty() {
        flush(&mut block, &mut loaded);
    }
    loaded
}

/// One gauge: its line prefix and its walk.
struct Walk {
    prefix: String,
    value: f64,
    lo: f64,
    hi: f64,
    digits: usize,
}

impl Walk {
    fn new(rng: &mut SplitMix64, prefix: String, lo: f64, hi: f64, digits: usize) -> Walk {
        let value = lo + (hi - lo) * rng.next_f64();
        Walk { prefix, value, lo, hi, digits }
    }

    fn line(&mut self, rng: &mut SplitMix64, t: i64, out: &mut Vec<u8>) {
        self.value = (self.value + rng.gauss() * (self.hi - self.lo) * 0.02).max(self.lo).min(self.hi);
        out.extend_from_slice(self.prefix.as_bytes());
        // Writing to a Vec cannot fail.
        let _ = writeln!(out, "{:.*} {t}", self.digits, self.value);
    }
}

/// SplitMix64 with a Box-Muller normal: enough randomness for walks, the same on every run.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn gauss(&mut self) -> f64 {
        let u = self.next_f64().max(f64::MIN_POSITIVE);
        let v = self.next_f64();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}
