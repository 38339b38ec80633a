//! Merges stream: inputs of several row groups are read one group at a time, the output is cut
//! into files of at most about half of `compactor.merge_memory`, and the merged day answers
//! exactly as its points do.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use strata::{Aggregate, ByteSize, Engine, ManualClock, Query, Resolution, Tier, WriteOptions};
use support::{HOUR, MIN, SEC, T0, config};

#[test]
fn a_merge_is_cut_into_files_of_half_the_bound_and_answers_exactly() {
    let merged = merge_a_day(80, ByteSize(256 << 10));
    // The last merge of the day's first 16 hours (76,800 rows, about 230 KB) was cut.
    let runs = merged.iter().fold(BTreeMap::<(u32, u64), usize>::new(), |mut runs, f| {
        *runs.entry((f.level, f.flush)).or_default() += 1;
        runs
    });
    assert!(runs.values().any(|&files| files >= 2), "no merge was cut: {merged:?}");
}

#[test]
fn a_merge_reads_inputs_of_several_row_groups() {
    let merged = merge_a_day(200, ByteSize(64 << 20));
    // Row groups hold 65,536 rows: the merge that made this file (16 hours, 192,000 rows) read
    // two inputs of two row groups each.
    let largest = merged.iter().map(|f| f.rows).max().unwrap();
    assert!(largest > 2 * 65_536, "{merged:?}");
}

/// Writes `hosts` × 23 hours at one point a minute, an hour and a pass at a time, with merges
/// of every 2 runs; checks every host-hour against the points; returns the merged files.
fn merge_a_day(hosts: usize, merge_memory: ByteSize) -> Vec<strata::tier::FileEntry> {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.compactor.merge_fanin = 2;
    config.compactor.merge_memory = merge_memory;
    let cut_at = config.compactor.merge_memory.0 / 2;
    let clock = Arc::new(ManualClock::new(T0 + HOUR));
    let engine = Engine::open_with_clock(config, clock.clone()).unwrap();
    // host -> hour -> (count, sum)
    let mut model: BTreeMap<String, BTreeMap<i64, (u64, f64)>> = BTreeMap::new();
    let options = WriteOptions { default_cluster: Some("fritz".into()), ..Default::default() };
    for hour in 1..=23 {
        let (from, to) = (T0 + (hour - 1) * HOUR, T0 + hour * HOUR);
        let mut body = String::new();
        for h in 0..hosts {
            let host = format!("n{h:03}");
            let mut t = from + (h as i64 % 7) * SEC;
            while t < to {
                let v = ((t / SEC) % 101) as f64 / 4.0 + h as f64;
                body.push_str(&format!("cpu_load,hostname={host},type=node value={v} {t}\n"));
                let e = model.entry(host.clone()).or_default().entry(t.div_euclid(HOUR) * HOUR).or_default();
                e.0 += 1;
                e.1 += v;
                t += MIN;
            }
        }
        clock.set(to);
        let report = engine.write_lp(body.as_bytes(), &options).unwrap();
        assert!(report.rejections.is_empty(), "{:?}", report.rejections.first());
        clock.set(to + 10 * MIN);
        engine.compact().unwrap();
    }
    let manifest = engine.manifest();
    let merged: Vec<_> = manifest.files(Tier::Warm).filter(|f| f.level > 0).cloned().collect();
    for f in &merged {
        // Cut at a series boundary once past half the bound: at most one series (a day of
        // minutes, about 20 KB) beyond it.
        assert!(f.bytes < cut_at + 64 * 1024, "{} holds {} bytes", f.path, f.bytes);
    }
    let until = manifest.warm_until.unwrap().div_euclid(HOUR) * HOUR;
    let mut query = Query::new("cpu_load", T0, until, Resolution::Every(HOUR));
    query.aggregates = vec![Aggregate::Count, Aggregate::Sum];
    let answer = engine.query(&query).unwrap();
    assert_eq!(answer.series.len(), hosts);
    let mut buckets = 0;
    for series in &answer.series {
        let host = series.key.as_ref().unwrap().tag("hostname").unwrap();
        for (i, &t) in series.times.iter().enumerate() {
            let agg = series.aggs[i].unwrap();
            let (count, sum) = model[host][&t];
            assert_eq!(agg.count, count, "{host} at {t}");
            assert!((agg.sum - sum).abs() <= 1e-12 * sum.abs(), "{host} at {t}");
            buckets += 1;
        }
    }
    assert_eq!(buckets, hosts * usize::try_from((until - T0) / HOUR).unwrap());
    merged
}
