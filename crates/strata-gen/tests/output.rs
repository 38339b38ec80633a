//! The generated workload read back with strata's own parser: shape, value ranges, precision,
//! counters, idle hosts, spikes and determinism.

use std::collections::{BTreeMap, BTreeSet};

use strata_gen::{GenConfig, Generator, Precision};
use strata_lp::{ParseOptions, Parser};

/// A metric's name, `type` tag, bounds (`None` for counters) and most decimals.
type MetricRow = (&'static str, &'static str, Option<(f64, f64)>, usize);

/// The metric table of the brief and `gen_ccms.py`, kept here independently of the crate's own
/// so that a change to either shows up.
const METRICS: &[MetricRow] = &[
    ("cpu_user", "hwthread", Some((0.0, 100.0)), 1),
    ("flops_any", "hwthread", Some((0.0, 40.0)), 4),
    ("ipc", "hwthread", Some((0.2, 3.5)), 3),
    ("clock", "hwthread", Some((1000.0, 3600.0)), 0),
    ("core_power", "socket", Some((20.0, 250.0)), 2),
    ("mem_bw", "socket", Some((0.0, 150.0)), 3),
    ("mem_power", "socket", Some((5.0, 60.0)), 2),
    ("cpu_load", "node", Some((0.0, 72.0)), 2),
    ("mem_used", "node", Some((1000.0, 250_000.0)), 0),
    ("net_bw", "node", Some((0.0, 1e4)), 1),
    ("nfs4_read", "node", Some((0.0, 500.0)), 3),
    ("lustre_read_bw", "node", Some((0.0, 2000.0)), 3),
    ("lustre_write_bw", "node", Some((0.0, 2000.0)), 3),
    ("ib_xmit", "node", None, 0),
    ("ib_recv", "node", None, 0),
    ("numastats_numa_hit", "memoryDomain", None, 0),
    ("numastats_numa_miss", "memoryDomain", None, 0),
    ("acc_utilization", "accelerator", Some((0.0, 100.0)), 0),
    ("acc_mem_used", "accelerator", Some((0.0, 81_920.0)), 0),
    ("acc_power", "accelerator", Some((50.0, 400.0)), 2),
    ("acc_temp", "accelerator", Some((25.0, 90.0)), 0),
];

fn metric(name: &str) -> (&'static str, Option<(f64, f64)>, usize) {
    let (_, scope, bounds, digits) =
        METRICS.iter().find(|m| m.0 == name).unwrap_or_else(|| panic!("unexpected metric {name}"));
    (scope, *bounds, *digits)
}

/// One line, parsed by `strata_lp` and also cut by hand for the value's text.
#[derive(Debug, Clone)]
struct Point {
    metric: String,
    host: String,
    scope: String,
    type_id: Option<String>,
    series: String,
    value: f64,
    value_text: String,
    timestamp_text: String,
    timestamp_nanos: i64,
}

fn read(bytes: &[u8], precision: Precision) -> Vec<Point> {
    assert_eq!(bytes.last(), Some(&b'\n'), "output ends with a newline");
    let text = std::str::from_utf8(bytes).expect("output is UTF-8");
    let raw_lines: Vec<&str> = text.lines().collect();
    let parsed: Vec<_> = Parser::new(bytes, ParseOptions::with_precision(precision)).collect();
    assert_eq!(parsed.len(), raw_lines.len());
    parsed
        .into_iter()
        .zip(raw_lines)
        .map(|(line, raw)| {
            let line = line.unwrap_or_else(|e| panic!("{e}: {raw}"));
            let (head, timestamp_text) = raw.rsplit_once(' ').unwrap();
            let (_, value_text) = head.split_once(" value=").unwrap();
            assert_eq!(line.fields.len(), 1, "{raw}");
            Point {
                metric: line.measurement.to_string(),
                host: line.tag("hostname").unwrap().to_owned(),
                scope: line.tag("type").unwrap().to_owned(),
                type_id: line.tag("type-id").map(str::to_owned),
                series: line.series_text.to_owned(),
                value: line.field("value").unwrap().as_f64().unwrap(),
                value_text: value_text.to_owned(),
                timestamp_text: timestamp_text.to_owned(),
                timestamp_nanos: line.timestamp.unwrap(),
            }
        })
        .collect()
}

/// Values of each series in output order, keyed by series text.
fn by_series(points: &[Point]) -> BTreeMap<&str, Vec<&Point>> {
    let mut map: BTreeMap<&str, Vec<&Point>> = BTreeMap::new();
    for p in points {
        map.entry(&p.series).or_default().push(p);
    }
    map
}

fn small() -> GenConfig {
    GenConfig { hosts: 3, duration_secs: 300, spike_rate: 0.0, ..GenConfig::default() }
}

#[test]
fn counts_match_the_config() {
    let config = GenConfig { memory_domains: 2, accelerators: 4, ..small() };
    assert_eq!(config.series_per_host(), 302 + 2 * 2 + 4 * 4);
    let points = read(&strata_gen::generate(config.clone()).unwrap(), Precision::Seconds);
    assert_eq!(points.len() as u64, config.lines());
    let series = by_series(&points);
    assert_eq!(series.len(), config.series());
    assert!(series.values().all(|v| v.len() as u64 == config.steps()));
    let hosts: BTreeSet<&str> = points.iter().map(|p| p.host.as_str()).collect();
    assert_eq!(hosts, BTreeSet::from(["f0101", "f0102", "f0103"]));
}

#[test]
fn default_shape_is_the_references() {
    let config = GenConfig { hosts: 65, duration_secs: 10, ..GenConfig::default() };
    let out = strata_gen::generate(config).unwrap();
    let text = std::str::from_utf8(&out).unwrap();
    let mut lines = text.lines();
    let first = lines.next().unwrap();
    assert!(
        first.starts_with("cpu_user,cluster=fritz,hostname=f0101,type=hwthread,type-id=0 value="),
        "{first}"
    );
    assert!(first.ends_with(" 1763769600"), "{first}");
    // Per host: 4 x 72 hwthread lines, 3 x 2 socket lines, then 8 node lines, counters last.
    let host: Vec<&str> = text.lines().take(302).collect();
    assert!(host[288].starts_with("core_power,cluster=fritz,hostname=f0101,type=socket,type-id=0 value="));
    assert!(host[294].starts_with("cpu_load,cluster=fritz,hostname=f0101,type=node value="));
    assert!(host[300].starts_with("ib_xmit,cluster=fritz,hostname=f0101,type=node value="));
    assert!(host[301].starts_with("ib_recv,cluster=fritz,hostname=f0101,type=node value="));
    assert!(text.contains(",hostname=f0164,") && text.contains(",hostname=f0201,"));
}

#[test]
fn values_have_their_metrics_range_scope_and_decimals() {
    let config = GenConfig { memory_domains: 2, accelerators: 2, ..small() };
    let points = read(&strata_gen::generate(config).unwrap(), Precision::Seconds);
    for p in &points {
        let (scope, bounds, digits) = metric(&p.metric);
        assert_eq!(p.scope, scope, "{p:?}");
        assert_eq!(p.type_id.is_none(), scope == "node", "{p:?}");
        if let Some((lo, hi)) = bounds {
            assert!(lo <= p.value && p.value <= hi, "{p:?}");
        }
        let (int_part, decimals) = p.value_text.split_once('.').expect("a decimal point");
        assert!(int_part.bytes().all(|b| b.is_ascii_digit()), "{p:?}");
        assert!(decimals.bytes().all(|b| b.is_ascii_digit()), "{p:?}");
        assert!(!decimals.is_empty() && decimals.len() <= digits.max(1), "{p:?}");
        assert!(decimals == "0" || !decimals.ends_with('0'), "{p:?}");
        assert_eq!(p.value_text.parse::<f64>().unwrap(), p.value);
    }
    // The walks move: most busy gauges take more than one value over 30 steps.
    let series = by_series(&points);
    let moving = series.values().filter(|v| v.iter().any(|p| p.value != v[0].value)).count();
    assert!(moving * 10 > series.len() * 9, "{moving} of {}", series.len());
}

#[test]
fn counters_never_decrease() {
    let config = GenConfig { memory_domains: 2, idle_fraction: 0.34, ..small() };
    let points = read(&strata_gen::generate(config).unwrap(), Precision::Seconds);
    let mut counters = 0;
    for values in by_series(&points).values() {
        if metric(&values[0].metric).1.is_some() {
            continue;
        }
        counters += 1;
        for pair in values.windows(2) {
            assert!(pair[0].value <= pair[1].value, "{pair:?}");
        }
        assert!(values.last().unwrap().value > values[0].value, "{values:?}");
    }
    assert_eq!(counters, 3 * (2 + 2 * 2));
}

#[test]
fn idle_hosts_repeat_low_values() {
    let config = GenConfig { hosts: 4, idle_fraction: 0.5, spike_rate: 0.05, accelerators: 1, ..small() };
    let points = read(&strata_gen::generate(config.clone()).unwrap(), Precision::Seconds);
    let idle = ["f0101", "f0102"];
    let mut busy_counter_growth = 0.0;
    let mut idle_counter_growth = 0.0;
    for values in by_series(&points).values() {
        let p0 = values[0];
        let is_idle = idle.contains(&p0.host.as_str());
        let span = values.last().unwrap().value - p0.value;
        match (metric(&p0.metric).1, is_idle) {
            (Some(_), true) => {
                assert!(values.iter().all(|p| p.value_text == p0.value_text), "{values:?}");
                match p0.metric.as_str() {
                    "cpu_user" => assert!(p0.value <= 2.0, "{p0:?}"),
                    "flops_any" | "acc_utilization" => assert_eq!(p0.value, 0.0),
                    "clock" => assert!(p0.value <= 1200.0, "{p0:?}"),
                    _ => {}
                }
            }
            (None, true) => idle_counter_growth += span,
            (None, false) => busy_counter_growth += span,
            (Some(_), false) => {}
        }
    }
    assert!(idle_counter_growth > 0.0);
    assert!(idle_counter_growth * 100.0 < busy_counter_growth);
}

#[test]
fn timestamps_step_by_the_interval_in_the_requested_precision() {
    for (precision, factor) in [
        (Precision::Seconds, 1),
        (Precision::Milliseconds, 1_000),
        (Precision::Microseconds, 1_000_000),
        (Precision::Nanoseconds, 1_000_000_000),
    ] {
        let config =
            GenConfig { hosts: 1, duration_secs: 35, interval_secs: 15, precision, ..GenConfig::default() };
        assert_eq!(config.steps(), 2);
        let points = read(&strata_gen::generate(config).unwrap(), precision);
        let stamps: BTreeSet<&str> = points.iter().map(|p| p.timestamp_text.as_str()).collect();
        let expected: BTreeSet<String> =
            [1_763_769_600i64, 1_763_769_615].iter().map(|s| (s * factor).to_string()).collect();
        assert_eq!(stamps, expected.iter().map(String::as_str).collect());
        assert_eq!(points[0].timestamp_nanos, 1_763_769_600_000_000_000);
        assert_eq!(points.last().unwrap().timestamp_nanos, 1_763_769_615_000_000_000);
    }
}

#[test]
fn accelerators_are_named_by_distinct_pci_addresses() {
    let config = GenConfig { hosts: 2, accelerators: 8, duration_secs: 10, ..GenConfig::default() };
    let points = read(&strata_gen::generate(config).unwrap(), Precision::Seconds);
    let mut ids: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
    for p in points.iter().filter(|p| p.scope == "accelerator") {
        let id = p.type_id.as_deref().unwrap();
        let (domain, rest) = id.split_at(9);
        assert_eq!(domain, "00000000:", "{id}");
        assert_eq!(rest.len(), 7, "{id}");
        assert!(rest[..2].bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(&rest[2..], ":00.0", "{id}");
        ids.entry((&p.host, &p.metric)).or_default().insert(id);
    }
    assert_eq!(ids.len(), 2 * 4);
    assert!(ids.values().all(|set| set.len() == 8));
}

#[test]
fn spikes_touch_single_points_and_leave_the_walk_alone() {
    let calm = GenConfig { hosts: 2, duration_secs: 300, spike_rate: 0.0, ..GenConfig::default() };
    let spiky = GenConfig { spike_rate: 0.01, ..calm.clone() };
    let calm = read(&strata_gen::generate(calm).unwrap(), Precision::Seconds);
    let spiky = read(&strata_gen::generate(spiky).unwrap(), Precision::Seconds);
    assert_eq!(calm.len(), spiky.len());
    let mut spikes = 0;
    for (c, s) in calm.iter().zip(&spiky) {
        assert_eq!(c.series, s.series);
        if c.value_text != s.value_text {
            spikes += 1;
            let (_, bounds, _) = metric(&s.metric);
            let (_, hi) = bounds.expect("only gauges spike");
            assert_eq!(s.value, hi, "{c:?} {s:?}");
        }
    }
    // About 1% of the 17,760 gauge points; the walks after each spike are unchanged.
    assert!((80..=400).contains(&spikes), "{spikes} spikes");

    let always = GenConfig { hosts: 1, duration_secs: 10, spike_rate: 1.0, ..GenConfig::default() };
    for p in read(&strata_gen::generate(always).unwrap(), Precision::Seconds) {
        if let (_, Some((_, hi)), _) = metric(&p.metric) {
            assert_eq!(p.value, hi, "{p:?}");
        }
    }
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let config = GenConfig {
        hosts: 2,
        duration_secs: 60,
        memory_domains: 1,
        accelerators: 1,
        idle_fraction: 0.5,
        spike_rate: 0.01,
        ..GenConfig::default()
    };
    let a = strata_gen::generate(config.clone()).unwrap();
    let b = strata_gen::generate(config.clone()).unwrap();
    assert_eq!(a, b);
    let other = strata_gen::generate(GenConfig { seed: 2, ..config.clone() }).unwrap();
    assert_ne!(a, other);
    assert_eq!(a.len(), b.len());

    // The bytes for a seed are a contract (benchmarks and fixtures depend on them): the
    // generator uses no libm and no external RNG, so this holds on every platform. Changing
    // the generator's output on purpose means updating this checksum.
    assert_eq!(fnv1a(&a), 0xfc68_fa2d_2b6e_5eef, "{:#018x}", fnv1a(&a));
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

#[test]
fn stepping_streaming_and_generating_agree() {
    let config = GenConfig { hosts: 2, duration_secs: 50, ..GenConfig::default() };
    let whole = strata_gen::generate(config.clone()).unwrap();

    let mut streamed = Vec::new();
    let stats = strata_gen::write_all(config.clone(), &mut streamed).unwrap();
    assert_eq!(streamed, whole);
    assert_eq!(stats.lines, config.lines());
    assert_eq!(stats.bytes, whole.len() as u64);

    let mut generator = Generator::new(config.clone()).unwrap();
    assert_eq!(generator.config(), &config);
    let mut stepped = Vec::new();
    let mut step_lens = Vec::new();
    while generator.next_step(&mut stepped) {
        step_lens.push(stepped.len());
    }
    assert_eq!(step_lens.len() as u64, config.steps());
    assert_eq!(stepped, whole);
    // Once done, a generator appends nothing more.
    assert!(!generator.next_step(&mut stepped));
    assert_eq!(stepped.len(), whole.len());
}

#[test]
fn a_run_shorter_than_one_interval_is_empty() {
    let config = GenConfig { duration_secs: 5, ..GenConfig::default() };
    assert_eq!(config.lines(), 0);
    assert!(strata_gen::generate(config).unwrap().is_empty());
}

#[test]
fn write_errors_are_returned() {
    struct Broken;
    impl std::io::Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk on fire"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let err = strata_gen::write_all(small(), Broken).unwrap_err();
    assert!(matches!(err, strata_gen::GenError::Io(_)));
    assert!(err.to_string().contains("disk on fire"), "{err}");
}
