//! Counters: `increase` and `rate` give the same answer from hot, warm and cold as from the raw
//! points, at every resolution, with resets (one exactly on a bucket boundary), a counter with
//! one point per bucket, late points into buckets already written (interleaving with the
//! points there, while hot still holds them), backfill into a gap, file merges and the cold
//! rollup of late rows. Backfill that interleaves with points whose raw values left hot is
//! the one inexact case: the query says so. Gauges are untouched.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use strata::tier::agg::IncreaseScope;
use strata::{
    Aggregate, Engine, Error, ManualClock, MetricConfig, MetricKind, Query, QueryResult, Resolution, Scope,
    ScopeAggregation, Selector, Tier, WriteOptions,
};
use support::{Backend, DAY, HOUR, MIN, Rng, SEC, T0, Tiers, config};

/// (host, time) -> value.
type Model = BTreeMap<(String, i64), f64>;

const NOW: i64 = T0 + 6 * HOUR + 10 * MIN;
const RESOLUTIONS: [i64; 5] = [MIN, 2 * MIN, 5 * MIN, HOUR, 2 * HOUR];

fn open(dir: &std::path::Path, tiers: &Tiers, clock: Arc<ManualClock>) -> Engine {
    let mut config = config(dir);
    let counter =
        MetricConfig { kind: MetricKind::Counter, aggregation: ScopeAggregation::Sum, ..Default::default() };
    config.metrics.insert("bytes".into(), counter);
    Engine::open_with_object_store(config, clock, tiers.store.clone(), "").unwrap()
}

fn write(engine: &Engine, model: &mut Model, metric: &str, points: &[(&str, i64, f64)]) {
    let mut body = String::new();
    for &(host, t, v) in points {
        body.push_str(&format!("{metric},cluster=c,hostname={host} value={v} {t}\n"));
        if metric == "bytes" {
            model.insert((host.to_owned(), t), v);
        }
    }
    let report = engine.write_lp(body.as_bytes(), &WriteOptions::default()).unwrap();
    assert!(report.rejections.is_empty(), "{:?}", report.rejections);
}

/// A counter's points: steps of whole units with a reset now and then, hours 2 and 4 empty.
fn counter_points(
    rng: &mut Rng,
    host: &'static str,
    every: i64,
    offset: i64,
) -> Vec<(&'static str, i64, f64)> {
    let mut out = Vec::new();
    let mut value = 1000.0 * rng.below(50) as f64;
    let mut t = T0 + offset;
    while t < NOW - 6 * MIN {
        let hour = (t - T0) / HOUR;
        if hour != 2 && hour != 4 {
            value = if rng.below(25) == 0 { rng.below(10) as f64 } else { value + rng.below(5000) as f64 };
            out.push((host, t, value));
        }
        t += every + rng.below(3) as i64 * SEC;
    }
    out
}

/// The bucket lengths of a result: the resolution of the part that served each bucket.
fn lengths(result: &QueryResult, times: &[i64]) -> Vec<i64> {
    times
        .iter()
        .map(|&t| {
            let part = result.served.iter().find(|p| p.from <= t && t < p.to).or(result.served.first());
            part.map(|p| p.resolution).unwrap()
        })
        .collect()
}

/// The increase per bucket straight from the points: every pair of consecutive points of the
/// answered range, counted in the bucket of the later point; a drop counts the new value.
fn expected(model: &Model, host: &str, times: &[i64], lengths: &[i64]) -> Vec<Option<f64>> {
    let (start, end) = (times[0], times.last().unwrap() + lengths.last().unwrap());
    let mut out: Vec<Option<f64>> = vec![None; times.len()];
    let mut previous: Option<f64> = None;
    for ((_, t), &v) in model.range((host.to_owned(), start)..(host.to_owned(), end)) {
        let i = times.partition_point(|&b| b <= *t) - 1;
        let step = previous.map_or(0.0, |p| if v >= p { v - p } else { v });
        *out[i].get_or_insert(0.0) += step;
        previous = Some(v);
    }
    out
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1.0)
}

/// Every range and resolution: increase and rate per host equal the raw points' computation.
/// Returns the notes about increases.
fn check(engine: &Engine, model: &Model, stage: &str, only_cold: bool) -> Vec<String> {
    let mut notes = Vec::new();
    let ranges = [
        (T0 - HOUR, NOW),
        (T0 + 90 * MIN + 7 * SEC, T0 + 5 * HOUR + 3 * MIN),
        (T0 + 4 * HOUR + 17 * MIN, NOW),
    ];
    for res in RESOLUTIONS {
        if only_cold && res % HOUR != 0 {
            continue;
        }
        for (from, to) in ranges {
            let mut query = Query::new("bytes", from, to, Resolution::Every(res));
            query.aggregates = vec![Aggregate::Increase, Aggregate::Rate, Aggregate::Count];
            let result = engine.query(&query).unwrap();
            notes.extend(result.notes.iter().filter(|n| n.contains("increase")).cloned());
            assert!(!result.series.is_empty(), "{stage}");
            let mut total: Vec<Option<f64>> = Vec::new();
            for s in &result.series {
                let host = s.key.as_ref().unwrap().tag("hostname").unwrap();
                let lengths = lengths(&result, &s.times);
                let want = expected(model, host, &s.times, &lengths);
                let increase = &s.columns[0].1;
                let rate = &s.columns[1].1;
                for i in 0..s.times.len() {
                    let at = format!(
                        "{stage}: {host} bucket {} at {res}, range {from}..{to}, {:?}",
                        s.times[i], result.served
                    );
                    match (increase[i], want[i]) {
                        (None, None) => assert_eq!(rate[i], None, "{at}"),
                        (Some(got), Some(w)) => {
                            assert!(close(got, w), "{at}: increase {got}, want {w}");
                            let r = rate[i].unwrap();
                            assert!(close(r, w / (lengths[i] as f64 / 1e9)), "{at}: rate {r}");
                        }
                        (got, w) => panic!("{at}: increase {got:?}, want {w:?}"),
                    }
                }
                total.resize(s.times.len(), None);
                for (t, v) in total.iter_mut().zip(increase) {
                    if let Some(v) = v {
                        *t.get_or_insert(0.0) += v;
                    }
                }
            }
            // One result for all hosts: `aggregation = "sum"` adds their increases.
            query.scope = Scope::Aggregate;
            let all = engine.query(&query).unwrap();
            assert_eq!(all.series.len(), 1);
            for (got, want) in all.series[0].columns[0].1.iter().zip(&total) {
                assert_eq!(got.is_some(), want.is_some(), "{stage}");
                if let (Some(g), Some(w)) = (got, want) {
                    assert!(close(*g, *w), "{stage}: scope increase {g}, want {w}");
                }
            }
        }
    }
    notes
}

/// Every counter row of a tier holds its points' own increase (pairs inside its bucket), as
/// computed from the points; a gauge's rows keep none.
fn check_rows(engine: &Engine, model: &Model, tier: Tier, stage: &str) {
    let res = if tier == Tier::Warm { MIN } else { HOUR };
    for s in engine.read_tier(tier, &Selector::metric("bytes"), i64::MIN, i64::MAX).unwrap() {
        let host = s.key.tag("hostname").unwrap();
        for (&t, agg) in s.times.iter().zip(&s.aggs) {
            let increase = agg.increase.unwrap();
            assert_eq!(increase.scope, IncreaseScope::Own, "{stage}: {host} {tier} row {t}");
            let values: Vec<f64> =
                model.range((host.to_owned(), t)..(host.to_owned(), t + res)).map(|(_, v)| *v).collect();
            assert_eq!(agg.count as usize, values.len(), "{stage}: {host} {tier} row {t}");
            let own: f64 = values.windows(2).map(|w| if w[1] >= w[0] { w[1] - w[0] } else { w[1] }).sum();
            assert!(
                close(increase.value, own),
                "{stage}: {host} {tier} row {t}: {} want {own}",
                increase.value
            );
        }
    }
    for s in engine.read_tier(tier, &Selector::metric("load"), i64::MIN, i64::MAX).unwrap() {
        assert!(s.aggs.iter().all(|a| a.increase.is_none()), "{stage}: a gauge's row keeps no increase");
    }
}

#[test]
fn increase_and_rate_are_the_same_from_every_tier() {
    for seed in [0x5eed_c0de, 1, 2, 3, 4, 5] {
        run(seed);
    }
}

fn run(seed: u64) {
    eprintln!("seed {seed:#x}");
    let dir = tempfile::tempdir().unwrap();
    let tiers = Tiers::new(Backend::Local);
    let clock = Arc::new(ManualClock::new(NOW));
    let engine = open(dir.path(), &tiers, clock.clone());
    let mut rng = Rng(seed);
    let mut model = Model::new();

    // h0: every ~10 s, and a reset exactly on a bucket boundary (to a value below the last).
    let mut h0 = counter_points(&mut rng, "h0", 10 * SEC, 3 * SEC);
    h0.retain(|p| p.1 != T0 + 30 * MIN);
    let before = h0.iter().rfind(|p| p.1 < T0 + 30 * MIN).unwrap().2;
    h0.push(("h0", T0 + 30 * MIN, (before / 3.0).floor()));
    h0.sort_by_key(|p| p.1);
    // h1: one point per minute, so a minute's increase is only the pair across its boundary.
    let h1 = counter_points(&mut rng, "h1", MIN, 30 * SEC);
    let h1: Vec<_> = h1.into_iter().filter(|p| (p.1 - T0) % MIN == 30 * SEC).collect();
    // h2: every ~37 s.
    let h2 = counter_points(&mut rng, "h2", 37 * SEC, 11 * SEC);
    for points in [&h0, &h1, &h2] {
        // Out of order across writes: the second half first.
        let (a, b) = points.split_at(points.len() / 2);
        write(&engine, &mut model, "bytes", b);
        write(&engine, &mut model, "bytes", a);
    }
    let gauge: Vec<(&str, i64, f64)> = (0..360).map(|m| ("h0", T0 + m * MIN, (m % 7) as f64 - 3.0)).collect();
    write(&engine, &mut Model::new(), "load", &gauge);

    assert!(check(&engine, &model, "all hot", false).is_empty());
    engine.compact().unwrap();
    let served = |res: i64| -> Vec<Tier> {
        let q = Query::new("bytes", T0 - HOUR, NOW, Resolution::Every(res));
        engine.query(&q).unwrap().served.iter().map(|s| s.tier).collect()
    };
    assert_eq!(served(HOUR), [Tier::Cold, Tier::Hot]);
    assert_eq!(served(MIN), [Tier::Warm, Tier::Hot]);
    assert!(check(&engine, &model, "hot, warm and cold", false).is_empty());
    check_rows(&engine, &model, Tier::Warm, "after the first pass");
    check_rows(&engine, &model, Tier::Cold, "after the first pass");

    // Late points in three rounds (each pass writes a warm file; merges join them): between
    // points of minutes already written, while hot holds them (from T0 + 4 h on), with a
    // reset among them; and backfill into the empty hour 2 (past hot, no points there).
    // Half seconds: never the time of a point written before (that would be a rewrite).
    let half = SEC / 2;
    let rounds: [Vec<(&str, i64, f64)>; 3] = [
        vec![
            ("h0", T0 + 5 * HOUR + 10 * MIN + 5 * SEC + half, 7.0),
            ("h2", T0 + 5 * HOUR + 30 * MIN + SEC + half, 1e6),
        ],
        vec![
            ("h1", T0 + 5 * HOUR + 45 * MIN + 5 * SEC + half, 0.0),
            ("h0", T0 + 5 * HOUR + 10 * MIN + 6 * SEC + half, 9.0),
        ],
        vec![
            ("h2", T0 + 2 * HOUR + 5 * MIN, 3.0),
            ("h2", T0 + 2 * HOUR + 40 * MIN, 2e9),
            ("h1", T0 + 2 * HOUR + 59 * MIN, 1.0),
        ],
    ];
    let mut merged = 0;
    for (i, round) in rounds.iter().enumerate() {
        write(&engine, &mut model, "bytes", round);
        merged += engine.compact().unwrap().merged_files;
        let notes = check(&engine, &model, &format!("after late round {i}"), false);
        assert!(notes.is_empty(), "{notes:?}");
    }
    assert!(merged > 0, "partial rows went through a merge (compactor.merge_fanin = 3)");
    check_rows(&engine, &model, Tier::Warm, "after late points");
    check_rows(&engine, &model, Tier::Cold, "after late points");

    // Past warm retention only cold is left: whole hours still exact.
    clock.set(NOW + DAY + HOUR);
    engine.compact().unwrap();
    assert_eq!(engine.stats().tiers.warm.files, 0);
    assert!(check(&engine, &model, "cold only", true).is_empty());

    // Gauges: unchanged aggregates, and no increase to ask for.
    let mut query = Query::new("load", T0, T0 + HOUR, Resolution::Every(HOUR));
    query.aggregates = vec![Aggregate::Sum, Aggregate::Count];
    let result = engine.query(&query).unwrap();
    let want: f64 = (0..60).map(|m| (m % 7) as f64 - 3.0).sum();
    assert_eq!(result.series[0].points(Aggregate::Sum), vec![(T0, want)]);
    query.aggregates = vec![Aggregate::Rate];
    let err = engine.query(&query).unwrap_err();
    assert!(matches!(&err, Error::NotACounter { metric, aggregate: "rate" } if metric == "load"), "{err}");
    assert!(err.to_string().contains("[metrics.load] kind = \"counter\""), "{err}");
}

/// Backfill that interleaves with points whose raw values already left hot cannot be merged
/// exactly: the answer is the sum of the parts' own increases, and the query says so.
#[test]
fn interleaving_backfill_past_hot_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let tiers = Tiers::new(Backend::Local);
    let clock = Arc::new(ManualClock::new(NOW));
    let engine = open(dir.path(), &tiers, clock);
    let mut model = Model::new();
    let points: Vec<(&str, i64, f64)> =
        (0..20).map(|i| ("h0", T0 + HOUR + i * 10 * SEC, 100.0 * i as f64)).collect();
    write(&engine, &mut model, "bytes", &points);
    engine.compact().unwrap();
    assert!(engine.hot_start() > T0 + 2 * HOUR, "the hour left hot");
    // Between the first two points of the minute: the pairs (0, 500) and (500, 100), a reset,
    // replace (0, 100), which the warm row cannot know (the true increase is 1000).
    write(&engine, &mut model, "bytes", &[("h0", T0 + HOUR + 5 * SEC, 500.0)]);
    engine.compact().unwrap();
    let mut query = Query::new("bytes", T0 + HOUR, T0 + HOUR + MIN, Resolution::Every(MIN));
    query.aggregates = vec![Aggregate::Increase, Aggregate::Count];
    let result = engine.query(&query).unwrap();
    assert!(result.notes.iter().any(|n| n.contains("inexact")), "{:?}", result.notes);
    assert_eq!(result.series[0].points(Aggregate::Count), vec![(T0 + HOUR, 7.0)]);
    // 500 from the six points written first, nothing from the lone backfilled one.
    assert_eq!(result.series[0].points(Aggregate::Increase), vec![(T0 + HOUR, 500.0)]);
}

/// A reset exactly on the boundary of two buckets counts in the later one, at every tier.
#[test]
fn a_reset_on_a_bucket_boundary_counts_in_the_later_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let tiers = Tiers::new(Backend::Local);
    let clock = Arc::new(ManualClock::new(NOW));
    let engine = open(dir.path(), &tiers, clock);
    let mut model = Model::new();
    // Hour 3: hot while nothing is evicted, warm and cold after the pass.
    let b = T0 + 3 * HOUR;
    write(
        &engine,
        &mut model,
        "bytes",
        &[("h0", b - 30 * SEC, 100.0), ("h0", b - SEC, 160.0), ("h0", b, 4.0), ("h0", b + 30 * SEC, 10.0)],
    );
    let ask = |engine: &Engine, res: i64| {
        let mut query = Query::new("bytes", b - MIN, b + MIN, Resolution::Every(res));
        query.aggregates = vec![Aggregate::Increase, Aggregate::Rate];
        let result = engine.query(&query).unwrap();
        (
            result.series[0].points(Aggregate::Increase),
            result.series[0].points(Aggregate::Rate),
            result.served,
        )
    };
    let (hot, rate, served) = ask(&engine, MIN);
    assert_eq!(served[0].tier, Tier::Hot);
    // 60 before the boundary; the reset (4) and 6 after it.
    assert_eq!(hot, vec![(b - MIN, 60.0), (b, 10.0)]);
    assert_eq!(rate, vec![(b - MIN, 1.0), (b, 10.0 / 60.0)]);
    let (hours, _, _) = ask(&engine, HOUR);
    assert_eq!(hours, vec![(b - HOUR, 60.0), (b, 10.0)]);
    engine.compact().unwrap();
    let (warm, warm_rate, served) = ask(&engine, MIN);
    assert_eq!(served.iter().map(|s| s.tier).collect::<Vec<_>>(), [Tier::Warm]);
    assert_eq!((warm, warm_rate), (hot, rate));
    let (cold, _, served) = ask(&engine, HOUR);
    assert_eq!(served.iter().map(|s| s.tier).collect::<Vec<_>>(), [Tier::Cold]);
    assert_eq!(cold, hours);
}
