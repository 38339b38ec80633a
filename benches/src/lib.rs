//! Shared helpers for strata's benchmarks: the workloads they run on.

use strata_gen::GenConfig;

/// The anchors' workload (`../shared/reference/anchors.md`): 64 hosts, 1 h at 10 s, about
/// 7 M lines and 586 MB. `STRATA_BENCH_HOSTS` scales it down for a quick run.
pub fn anchor_workload() -> (GenConfig, Vec<u8>) {
    let hosts = std::env::var("STRATA_BENCH_HOSTS").ok().and_then(|h| h.parse().ok()).unwrap_or(64);
    let config = GenConfig { hosts, duration_secs: 3600, interval_secs: 10, ..GenConfig::default() };
    let data = strata_gen::generate(config.clone()).expect("the benchmark workload config is valid");
    (config, data)
}
