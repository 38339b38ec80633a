//! What a host reports: the metric tables and the order of a host's series.
//!
//! The hwthread, socket and node tables and the order (scope by scope, metric by metric, then
//! type-id) are those of the reference script `gen_ccms.py`, so the default shape has its 302
//! series per host. Memory-domain counters and accelerator gauges are added only when configured.

use crate::config::GenConfig;

/// A gauge: a bounded random walk in `[lo, hi]` printed with `digits` decimals. On an idle host
/// it holds one value drawn from `[idle_lo, idle_hi]` for the whole run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct GaugeSpec {
    pub(crate) name: &'static str,
    pub(crate) lo: f64,
    pub(crate) hi: f64,
    pub(crate) digits: u8,
    pub(crate) idle_lo: f64,
    pub(crate) idle_hi: f64,
}

/// A counter that only grows: it starts anywhere in `[0, start_max)` and gains up to `rate` per
/// second (up to `idle_rate` on an idle host). Printed as a whole number with `.0`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct CounterSpec {
    pub(crate) name: &'static str,
    pub(crate) rate: f64,
    pub(crate) start_max: f64,
    pub(crate) idle_rate: f64,
}

const fn gauge(
    name: &'static str,
    (lo, hi): (f64, f64),
    digits: u8,
    (idle_lo, idle_hi): (f64, f64),
) -> GaugeSpec {
    GaugeSpec { name, lo, hi, digits, idle_lo, idle_hi }
}

/// Per hardware thread, `type=hwthread`. Idle threads sit at low frequency doing next to nothing.
pub(crate) const HWTHREAD_GAUGES: [GaugeSpec; 4] = [
    gauge("cpu_user", (0.0, 100.0), 1, (0.0, 2.0)),
    gauge("flops_any", (0.0, 40.0), 4, (0.0, 0.0)),
    gauge("ipc", (0.2, 3.5), 3, (0.3, 0.8)),
    gauge("clock", (1000.0, 3600.0), 0, (1000.0, 1200.0)),
];

/// Per socket, `type=socket`.
pub(crate) const SOCKET_GAUGES: [GaugeSpec; 3] = [
    gauge("core_power", (20.0, 250.0), 2, (20.0, 35.0)),
    gauge("mem_bw", (0.0, 150.0), 3, (0.0, 0.5)),
    gauge("mem_power", (5.0, 60.0), 2, (5.0, 8.0)),
];

/// Per node, `type=node` and no type-id.
pub(crate) const NODE_GAUGES: [GaugeSpec; 6] = [
    gauge("cpu_load", (0.0, 72.0), 2, (0.0, 0.5)),
    gauge("mem_used", (1000.0, 250_000.0), 0, (2000.0, 6000.0)),
    gauge("net_bw", (0.0, 1e4), 1, (0.0, 5.0)),
    gauge("nfs4_read", (0.0, 500.0), 3, (0.0, 0.1)),
    gauge("lustre_read_bw", (0.0, 2000.0), 3, (0.0, 0.05)),
    gauge("lustre_write_bw", (0.0, 2000.0), 3, (0.0, 0.05)),
];

/// InfiniBand byte counters per node: up to 1 MB/s busy, a trickle idle.
pub(crate) const NODE_COUNTERS: [CounterSpec; 2] = [
    CounterSpec { name: "ib_xmit", rate: 1e6, start_max: 1e12, idle_rate: 1e3 },
    CounterSpec { name: "ib_recv", rate: 1e6, start_max: 1e12, idle_rate: 1e3 },
];

/// NUMA allocation counters per memory domain, `type=memoryDomain`; misses are rare.
pub(crate) const MEMORY_DOMAIN_COUNTERS: [CounterSpec; 2] = [
    CounterSpec { name: "numastats_numa_hit", rate: 5e5, start_max: 1e11, idle_rate: 1e3 },
    CounterSpec { name: "numastats_numa_miss", rate: 5e3, start_max: 1e9, idle_rate: 10.0 },
];

/// Per GPU, `type=accelerator` with a PCI address as type-id (an 80 GB A100/H100-like part).
pub(crate) const ACCELERATOR_GAUGES: [GaugeSpec; 4] = [
    gauge("acc_utilization", (0.0, 100.0), 0, (0.0, 0.0)),
    gauge("acc_mem_used", (0.0, 81_920.0), 0, (0.0, 600.0)),
    gauge("acc_power", (50.0, 400.0), 2, (50.0, 70.0)),
    gauge("acc_temp", (25.0, 90.0), 0, (25.0, 35.0)),
];

/// The most accelerators a host may have: each needs its own PCI bus number, a byte.
pub(crate) const MAX_ACCELERATORS: usize = 256;

/// The metric behind one series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Metric {
    Gauge(&'static GaugeSpec),
    Counter(&'static CounterSpec),
}

/// One series of a host, before the cluster and host name are filled in.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SeriesShape {
    pub(crate) metric: Metric,
    /// The `type` tag: `hwthread`, `socket`, `node`, `memoryDomain` or `accelerator`.
    pub(crate) scope: &'static str,
    /// The `type-id` tag; `None` for node-level series, which carry none.
    pub(crate) type_id: Option<String>,
}

/// Series per host for these counts, or `None` if that overflows `usize`.
pub(crate) fn series_per_host(
    hwthreads: usize,
    sockets: usize,
    memory_domains: usize,
    accelerators: usize,
) -> Option<usize> {
    let parts = [
        hwthreads.checked_mul(HWTHREAD_GAUGES.len())?,
        sockets.checked_mul(SOCKET_GAUGES.len())?,
        NODE_GAUGES.len(),
        NODE_COUNTERS.len(),
        memory_domains.checked_mul(MEMORY_DOMAIN_COUNTERS.len())?,
        accelerators.checked_mul(ACCELERATOR_GAUGES.len())?,
    ];
    parts.into_iter().try_fold(0usize, usize::checked_add)
}

/// The series every host has, in output order.
pub(crate) fn host_layout(config: &GenConfig) -> Vec<SeriesShape> {
    let mut layout = Vec::with_capacity(config.series_per_host());
    let mut per_id = |specs: &'static [GaugeSpec], scope: &'static str, ids: &[String]| {
        for spec in specs {
            for id in ids {
                layout.push(SeriesShape { metric: Metric::Gauge(spec), scope, type_id: Some(id.clone()) });
            }
        }
    };
    per_id(&HWTHREAD_GAUGES, "hwthread", &numbered(config.hwthreads));
    per_id(&SOCKET_GAUGES, "socket", &numbered(config.sockets));
    for spec in &NODE_GAUGES {
        layout.push(SeriesShape { metric: Metric::Gauge(spec), scope: "node", type_id: None });
    }
    for spec in &NODE_COUNTERS {
        layout.push(SeriesShape { metric: Metric::Counter(spec), scope: "node", type_id: None });
    }
    for spec in &MEMORY_DOMAIN_COUNTERS {
        for id in numbered(config.memory_domains) {
            layout.push(SeriesShape {
                metric: Metric::Counter(spec),
                scope: "memoryDomain",
                type_id: Some(id),
            });
        }
    }
    let pci: Vec<String> = (0..config.accelerators).map(|i| pci_address(i, config.accelerators)).collect();
    for spec in &ACCELERATOR_GAUGES {
        for id in &pci {
            layout.push(SeriesShape {
                metric: Metric::Gauge(spec),
                scope: "accelerator",
                type_id: Some(id.clone()),
            });
        }
    }
    layout
}

fn numbered(count: usize) -> Vec<String> {
    (0..count).map(|i| i.to_string()).collect()
}

/// The host name of host `index`, as the reference script and fritz name them: rack then slot,
/// 64 hosts a rack, both from 1 (`f0101` ... `f0164`, `f0201`, ...).
pub(crate) fn host_name(index: usize) -> String {
    format!("f{:02}{:02}", index / 64 + 1, index % 64 + 1)
}

/// The PCI address of accelerator `index` of `count`, the form cc-metric-collector reports
/// (`00000000:49:00.0`). Buses are spread over `0..=255` the way GPUs sit behind different root
/// ports; for `count <= 256` they are distinct because `index * 256 / count` strictly increases.
pub(crate) fn pci_address(index: usize, count: usize) -> String {
    let count = count.max(1);
    let bus = (index * 256 / count + 128 / count) & 0xff;
    format!("00000000:{bus:02x}:00.0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_shape_has_the_reference_302_series() {
        let config = GenConfig::default();
        assert_eq!(series_per_host(72, 2, 0, 0), Some(302));
        assert_eq!(host_layout(&config).len(), 302);
        assert_eq!(series_per_host(usize::MAX, 0, 0, 0), None);
    }

    #[test]
    fn hosts_are_named_rack_then_slot() {
        assert_eq!(host_name(0), "f0101");
        assert_eq!(host_name(63), "f0164");
        assert_eq!(host_name(64), "f0201");
    }

    #[test]
    fn pci_buses_are_distinct() {
        for count in [1, 2, 7, 8, 100, 255, 256] {
            let mut ids: Vec<String> = (0..count).map(|i| pci_address(i, count)).collect();
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), count);
        }
        assert_eq!(pci_address(0, 1), "00000000:80:00.0");
        assert_eq!(pci_address(2, 8), "00000000:50:00.0");
    }

    #[test]
    fn idle_ranges_lie_inside_the_busy_ranges() {
        let all = HWTHREAD_GAUGES.iter().chain(&SOCKET_GAUGES).chain(&NODE_GAUGES).chain(&ACCELERATOR_GAUGES);
        for g in all {
            assert!(g.lo <= g.idle_lo && g.idle_lo <= g.idle_hi && g.idle_hi <= g.hi, "{g:?}");
        }
    }
}
