//! The central property of queries: the answer does not depend on which tier serves it.
//!
//! Random data (out of order, duplicates before compaction, gaps, late points after it) is
//! written; random bucket-aligned queries are answered while everything is hot, after a pass
//! that moves most of it to warm and cold (hot, warm and cold stitched), after late points, and
//! once only cold is left. Every answer is compared with the same aggregates computed from a
//! plain model of the points: counts, sums, mins, maxes and lasts exactly, averages to 1e-12.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use strata::{Agg, Aggregate, Engine, ManualClock, Query, Resolution, Tier, WriteOptions};
use support::{Backend, DAY, HOUR, MIN, SEC, T0, Tiers, config};

type Points = BTreeMap<(String, i64), f64>;

#[derive(Debug, Clone)]
struct Case {
    /// (host, time offset in s from T0, value in hundredths)
    points: Vec<(u8, u32, i32)>,
    late: Vec<(u8, u32, i32)>,
    queries: Vec<(u8, u16, u16)>,
}

const RESOLUTIONS: [i64; 5] = [MIN, 2 * MIN, 5 * MIN, HOUR, 2 * HOUR];

fn case() -> impl Strategy<Value = Case> {
    // Gaps: hours 2 and 4 get no points.
    let time = (0u32..6 * 3600).prop_filter("gap", |s| !matches!(s / 3600, 2 | 4));
    let point = (0u8..3, time, -100_000_000i32..100_000_000);
    let late = (0u8..3, 0u32..6 * 3600, -1_000_000i32..1_000_000);
    (
        proptest::collection::vec(point, 1..400),
        proptest::collection::vec(late, 0..20),
        proptest::collection::vec((0u8..5, 0u16..400, 1u16..400), 1..8),
    )
        .prop_map(|(points, late, queries)| Case { points, late, queries })
}

fn body(points: &[(u8, u32, i32)], model: &mut Points) -> String {
    let mut body = String::new();
    for &(host, offset, value) in points {
        let t = T0 + i64::from(offset) * SEC + i64::from(host) * 7; // distinct ns per host
        let v = f64::from(value) / 100.0;
        body.push_str(&format!("cpu,cluster=c,hostname=h{host} value={v} {t}\n"));
        model.insert((format!("h{host}"), t), v);
    }
    body
}

/// The model's answer: per host, per bucket of `res` in `[from, to)`, the aggregate.
fn expected(model: &Points, res: i64, from: i64, to: i64) -> BTreeMap<String, BTreeMap<i64, Agg>> {
    let mut out: BTreeMap<String, BTreeMap<i64, Agg>> = BTreeMap::new();
    for ((host, t), &v) in model {
        if *t < from || *t >= to {
            continue;
        }
        let b = t.div_euclid(res) * res;
        out.entry(host.clone())
            .or_default()
            .entry(b)
            .and_modify(|a| a.push_sorted(*t, v))
            .or_insert(Agg::point(*t, v));
    }
    out
}

fn check(
    engine: &Engine,
    model: &Points,
    queries: &[(u8, u16, u16)],
    only_cold_multiples: bool,
    stage: &str,
) {
    for &(r, start, len) in queries {
        let res = RESOLUTIONS[r as usize];
        if only_cold_multiples && res % HOUR != 0 {
            continue;
        }
        let from = T0 - 2 * HOUR + i64::from(start / 4) * res;
        let to = from + i64::from(len) * res;
        let mut query = Query::new("cpu", from, to, Resolution::Every(res));
        query.aggregates = Aggregate::ALL.to_vec();
        let result = engine.query(&query).unwrap();
        assert!(result.notes.is_empty(), "{stage}: {:?}", result.notes);
        let want = expected(model, res, from, to);
        let got: BTreeMap<String, &strata::QuerySeries> = result
            .series
            .iter()
            .filter(|s| s.aggs.iter().any(Option::is_some))
            .map(|s| (s.key.as_ref().unwrap().tag("hostname").unwrap().to_owned(), s))
            .collect();
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{stage}: hosts, res {res}"
        );
        // The same question for one host through `hosts` (pushed into the tier reads' filter):
        // that host's series alone, as the whole question answered it.
        if let Some(host) = want.keys().next() {
            let mut one = query.clone();
            one.hosts = vec![host.clone()];
            let only = engine.query(&one).unwrap();
            let mine: Vec<&strata::QuerySeries> =
                only.series.iter().filter(|s| s.aggs.iter().any(Option::is_some)).collect();
            assert_eq!(mine, [got[host]], "{stage}: hosts = [{host}], res {res}");
        }
        for (host, buckets) in &want {
            let s = got[host];
            assert_eq!(s.times.len() as i64, (to - from) / res, "{stage}: one row per bucket, gaps included");
            for (t, agg) in s.times.iter().zip(&s.aggs) {
                match (agg, buckets.get(t)) {
                    (None, None) => {}
                    (Some(g), Some(w)) => {
                        assert_eq!(
                            (g.count, g.sum.to_bits(), g.min, g.max, g.last, g.last_time),
                            (w.count, w.sum.to_bits(), w.min, w.max, w.last, w.last_time),
                            "{stage}: {host} bucket {t} at {res}: {:?}",
                            result.served
                        );
                        let (a, b) = (g.avg(), w.avg());
                        assert!((a - b).abs() <= 1e-12 * b.abs().max(1e-300), "{stage}: avg {a} vs {b}");
                    }
                    (g, w) => panic!(
                        "{stage}: {host} bucket {t} at {res}: got {g:?}, want {w:?} ({:?})",
                        result.served
                    ),
                }
            }
        }
    }
}

fn run(case: &Case) {
    let dir = tempfile::tempdir().unwrap();
    let tiers = Tiers::new(Backend::Local);
    let now = T0 + 6 * HOUR + 10 * MIN;
    let clock = Arc::new(ManualClock::new(now));
    let engine =
        Engine::open_with_object_store(config(dir.path()), clock.clone(), tiers.store.clone(), "").unwrap();
    let mut model = Points::new();
    // Written in two halves, the second first: out of order across writes, duplicates keep
    // the later write's value.
    let half = case.points.len() / 2;
    let (a, b) = case.points.split_at(half);
    for part in [b, a] {
        let text = body(part, &mut model);
        let report = engine.write_lp(text.as_bytes(), &WriteOptions::default()).unwrap();
        assert!(report.rejections.is_empty(), "{:?}", report.rejections);
    }
    check(&engine, &model, &case.queries, false, "all hot");
    let all_hot = engine.query(&Query::new("cpu", T0, now, Resolution::Every(MIN))).unwrap();
    assert!(all_hot.served.iter().all(|s| s.tier == Tier::Hot));

    engine.compact().unwrap();
    let sources = |engine: &Engine, res: i64| -> Vec<Tier> {
        let whole = Query::new("cpu", T0 - 2 * HOUR, now, Resolution::Every(res));
        engine.query(&whole).unwrap().served.iter().map(|s| s.tier).collect()
    };
    // Whole hours come from cold where it is rolled up; minutes from warm; the rest from hot.
    assert_eq!(sources(&engine, HOUR), [Tier::Cold, Tier::Hot]);
    assert_eq!(sources(&engine, MIN), [Tier::Warm, Tier::Hot]);
    check(&engine, &model, &case.queries, false, "hot, warm and cold");

    // Late points at new times (some into evicted windows: backfill), then a pass.
    let late: Vec<(u8, u32, i32)> = case
        .late
        .iter()
        .map(|&(h, s, v)| (h, s, v))
        .filter(|&(h, s, _)| {
            !model.contains_key(&(format!("h{h}"), T0 + i64::from(s) * SEC + i64::from(h) * 7))
        })
        .collect();
    let text = body(&late, &mut model);
    engine.write_lp(text.as_bytes(), &WriteOptions::default()).unwrap();
    engine.compact().unwrap();
    check(&engine, &model, &case.queries, false, "after late points");

    // Past warm retention only cold is left.
    clock.set(now + DAY + HOUR);
    engine.compact().unwrap();
    assert_eq!(engine.stats().tiers.warm.files, 0);
    assert_eq!(sources(&engine, HOUR), [Tier::Cold]);
    check(&engine, &model, &case.queries, true, "cold only");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn answers_do_not_depend_on_the_tier(case in case()) {
        run(&case);
    }
}

/// Raw queries return exactly the points written, the latest value of a duplicate.
#[test]
fn raw_queries_return_the_points_written() {
    let dir = tempfile::tempdir().unwrap();
    let tiers = Tiers::new(Backend::Local);
    let clock = Arc::new(ManualClock::new(T0 + HOUR));
    let engine = Engine::open_with_object_store(config(dir.path()), clock, tiers.store.clone(), "").unwrap();
    let text = format!(
        "cpu,hostname=a value=1 {t}\ncpu,hostname=a value=2 {t}\ncpu,hostname=a value=3 {u}\n",
        t = T0 + SEC,
        u = T0
    );
    engine.write_lp(text.as_bytes(), &WriteOptions::default()).unwrap();
    let mut query = Query::new("cpu", T0, T0 + HOUR, Resolution::Raw);
    query.aggregates = vec![Aggregate::Last];
    let result = engine.query(&query).unwrap();
    assert_eq!(result.series[0].points(Aggregate::Last), vec![(T0, 3.0), (T0 + SEC, 2.0)]);
    let batches = result.to_batches().unwrap();
    assert_eq!(batches[0].num_rows(), 2);
    assert_eq!(batches[0].schema().field(0).name(), "time");
}
