//! The strata-gen workload as per-series columns, shared by the ratio example and the
//! workload test (which include this file by path).

use std::collections::HashMap;

/// One series: timestamps (ns) and values.
pub(crate) type Series = (Vec<i64>, Vec<f64>);

/// Every series of `hosts` default hosts over `secs` seconds at 10 s, in first-seen order.
pub(crate) fn series(hosts: usize, secs: u64) -> Vec<Series> {
    let config =
        strata_gen::GenConfig { hosts, duration_secs: secs, interval_secs: 10, ..Default::default() };
    let bytes = strata_gen::generate(config).expect("the generator accepts the config");
    let options = strata_lp::ParseOptions::with_precision(strata_lp::Precision::Seconds);
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut all: Vec<Series> = Vec::new();
    for line in strata_lp::Parser::new(&bytes, options) {
        let line = line.expect("the generator writes valid lines");
        let value = line.fields.first().and_then(|f| f.value.as_f64()).expect("a numeric field");
        let ts = line.timestamp.expect("the generator writes timestamps");
        let next = all.len();
        let slot = *index.entry(line.series_text).or_insert(next);
        if slot == all.len() {
            all.push((Vec::new(), Vec::new()));
        }
        if let Some((t, v)) = all.get_mut(slot) {
            t.push(ts);
            v.push(value);
        }
    }
    all
}

/// The chunks of `points` points each (the last of a series may be shorter).
pub(crate) fn chunks(series: &[Series], points: usize) -> Vec<(&[i64], &[f64])> {
    series.iter().flat_map(|(t, v)| t.chunks(points).zip(v.chunks(points))).collect()
}
