//! Shared helpers for strata's benchmarks: the workloads they run on, and how they are cut and
//! measured.

use strata_gen::GenConfig;

/// First timestamp of every benchmark workload (2025-11-22T00:00:00Z, the generator's default):
/// a multiple of 2 h and 6 h, so chunk windows line up with the workload's hours.
pub const START_SECS: i64 = 1_763_769_600;

/// The anchors' workload (`../shared/reference/anchors.md`): 64 hosts, 1 h at 10 s, about
/// 7 M lines and 586 MB. `STRATA_BENCH_HOSTS` scales it down for a quick run.
pub fn anchor_workload() -> (GenConfig, Vec<u8>) {
    workload(env_or("STRATA_BENCH_HOSTS", 64), 3600)
}

/// The anchors' host shape, `hosts` hosts for `duration_secs` at 10 s from [`START_SECS`].
pub fn workload(hosts: usize, duration_secs: u64) -> (GenConfig, Vec<u8>) {
    let config =
        GenConfig { hosts, duration_secs, interval_secs: 10, start: START_SECS, ..GenConfig::default() };
    let data = strata_gen::generate(config.clone()).expect("the benchmark workload config is valid");
    (config, data)
}

/// An environment variable parsed as `T`, or `default` when it is unset or does not parse.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Cuts `data` into pieces of `lines` whole lines each (the last may be shorter), as the peers'
/// clients post `split -l` files.
pub fn split_lines(data: &[u8], lines: usize) -> Vec<&[u8]> {
    let lines = lines.max(1);
    let mut out = Vec::with_capacity(data.len() / (lines * 80) + 1);
    let (mut start, mut seen) = (0, 0);
    for at in memchr::memchr_iter(b'\n', data) {
        seen += 1;
        if seen == lines {
            out.push(&data[start..=at]);
            start = at + 1;
            seen = 0;
        }
    }
    if start < data.len() {
        out.push(&data[start..]);
    }
    out
}

/// Resident and peak resident memory of this process in bytes (`VmRSS`, `VmHWM` of
/// `/proc/self/status`); zeros where that file does not exist.
pub fn memory() -> Memory {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    Memory { rss: field("VmRSS:"), peak: field("VmHWM:") }
}

/// See [`memory`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    pub rss: u64,
    pub peak: u64,
}

/// The median of `values` (the mean of the middle two for an even count); NaN when empty.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// This machine as the benchmark headers print it: cores and CPU model (`/proc/cpuinfo`).
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map_or("?", |rest| rest.trim_start_matches([' ', '\t', ':']))
        .to_owned();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores ({model})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_whole_lines() {
        let data = b"a\nb\nc\nd\ne";
        assert_eq!(split_lines(data, 2), vec![&b"a\nb\n"[..], b"c\nd\n", b"e"]);
        assert_eq!(split_lines(b"a\nb\n", 2), vec![&b"a\nb\n"[..]]);
        assert!(split_lines(b"", 2).is_empty());
    }

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }
}
