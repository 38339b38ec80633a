//! The operator's questions, each over a range one tier serves alone, with the tier that
//! answered (the result's `served`) and how long it took; and the answer drawn as a chart,
//! which crosses every tier.

use std::time::{Duration, Instant};

use strata::{Aggregate, Engine, Query, QueryResult, Resolution, Scope, Selector, Served, Tier};

use super::chart::{Chart, ChartPart, sparkline};
use super::simulate::Loaded;
use super::{BACKFILL_WEEKS, DAY, DemoError, HOUR, MIN, rfc3339, tier_label};
use crate::say;

/// Asks the three questions and checks the spike in cold; prints each answer.
pub(crate) fn ask(engine: &Engine, loaded: &Loaded) -> anyhow::Result<()> {
    let end = engine.now();
    let host = loaded.hosts.first().map_or("f0101", String::as_str);
    say!("\nThree questions, each over a range that one tier serves alone:");

    let question = "1. a node's load over the last hour, every point";
    let mut query = Query::new("cpu_load", end - HOUR, end, Resolution::Raw);
    query.selector = Selector::metric("cpu_load").tag("hostname", host);
    let (result, latency) = timed(engine, &query)?;
    say!("\n{question} ({host}'s cpu_load)");
    print_answer(question, &result, Tier::Hot, latency, "points", 1.0)?;

    let question = "2. a node's flops per minute over the day before hot begins";
    let hot_start = engine.hot_start();
    let mut query = Query::new("flops_any", hot_start - DAY, hot_start, Resolution::Every(MIN));
    query.selector = Selector::metric("flops_any").tag("hostname", host);
    query.scope = Scope::Aggregate;
    let (result, latency) = timed(engine, &query)?;
    say!("\n{question} ({host}'s flops_any, summed over its hardware threads, in GFLOP/s)");
    print_answer(question, &result, Tier::Warm, latency, "minutes", 1.0)?;

    let question = "3. the whole cluster's memory per hour over the weeks before warm begins";
    let (from, to) = cold_range(engine, loaded);
    let mut query = Query::new("mem_used", from, to, Resolution::Every(HOUR));
    query.scope = Scope::Aggregate;
    let (result, latency) = timed(engine, &query)?;
    let nodes = match loaded.hosts.len() {
        1 => "its one node's mem_used".to_owned(),
        n => format!("{n} nodes' mem_used summed"),
    };
    say!("\n{question} ({nodes}, in GB; {:.1} weeks)", (to - from) as f64 / (7 * DAY) as f64);
    print_answer(question, &result, Tier::Cold, latency, "hours", 1e-3)?;
    spike(engine, loaded)
}

/// The spike, weeks later, from cold: its hour's row keeps the maximum.
fn spike(engine: &Engine, loaded: &Loaded) -> anyhow::Result<()> {
    let spike = &loaded.spike;
    let hour = spike.time.div_euclid(HOUR) * HOUR;
    let mut query = Query::new(spike.metric, hour, hour + HOUR, Resolution::Every(HOUR));
    query.selector = Selector::metric(spike.metric).tag("hostname", &spike.host);
    query.aggregates = vec![Aggregate::Avg, Aggregate::Max];
    let (result, latency) = timed(engine, &query)?;
    let question = "the spike";
    let served = served_alone(question, &result, Tier::Cold)?;
    let column = |aggregate: Aggregate| {
        result.series.first().and_then(|s| s.points(aggregate).first().map(|&(_, v)| v))
    };
    let (avg, max) = (column(Aggregate::Avg), column(Aggregate::Max));
    if max != Some(spike.value) {
        return Err(DemoError::SpikeLost { value: spike.value, at: rfc3339(spike.time), found: max }.into());
    }
    say!(
        "   the spike: {}'s {} was {:.2} for one sample at {}, {:.1} weeks ago;",
        spike.host,
        spike.metric,
        spike.value,
        rfc3339(spike.time),
        (engine.now() - spike.time) as f64 / (7 * DAY) as f64
    );
    say!(
        "   its hour in cold: avg {:.2}, max {:.2} (served by {} in {})",
        avg.unwrap_or(f64::NAN),
        max.unwrap_or(f64::NAN),
        tier_label(served.tier, served.resolution),
        latency
    );
    Ok(())
}

/// One host's load over the whole simulated time, at 10 minutes: cold, warm and hot in turn.
pub(crate) fn chart(engine: &Engine, loaded: &Loaded) -> anyhow::Result<Chart> {
    let (from, to) = (loaded.timeline.backfill_start, engine.now());
    let host = &loaded.spike.host;
    let mut query = Query::new("cpu_load", from, to, Resolution::Every(10 * MIN));
    query.selector = Selector::metric("cpu_load").tag("hostname", host);
    query.aggregates = vec![Aggregate::Max];
    let result = engine.query(&query)?;
    let points = result.series.first().map(|s| s.points(Aggregate::Max)).unwrap_or_default();
    let parts = result
        .served
        .iter()
        .map(|p| ChartPart {
            tier: p.tier,
            label: tier_label(p.tier, p.resolution),
            points: points.iter().copied().filter(|&(t, _)| t >= p.from && t < p.to).collect(),
        })
        .collect();
    Ok(Chart {
        title: format!(
            "{host}'s load, the max of every 10 minutes over {BACKFILL_WEEKS} weeks and a day: one line per tier that served it"
        ),
        y_label: format!("{host} cpu_load, max"),
        from,
        to,
        parts,
    })
}

/// From the backfill's start to where warm begins (`now - warm.retention`, on an hour).
fn cold_range(engine: &Engine, loaded: &Loaded) -> (i64, i64) {
    let retention = i64::try_from(engine.config().warm.retention.0.as_nanos()).unwrap_or(i64::MAX);
    let to = (engine.now() - retention).div_euclid(HOUR) * HOUR;
    (loaded.timeline.backfill_start, to)
}

/// How long a query took the first time (tier files fetched and checked) and again (cached).
#[derive(Debug, Clone, Copy)]
struct Latency {
    first: Duration,
    again: Duration,
}

impl std::fmt::Display for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        write!(f, "{:.2} ms, {:.2} ms again", ms(self.first), ms(self.again))
    }
}

fn timed(engine: &Engine, query: &Query) -> anyhow::Result<(QueryResult, Latency)> {
    let started = Instant::now();
    let result = engine.query(query)?;
    let first = started.elapsed();
    let started = Instant::now();
    engine.query(query)?;
    Ok((result, Latency { first, again: started.elapsed() }))
}

/// The one part of the answer, which must be `tier`'s.
fn served_alone(question: &'static str, result: &QueryResult, tier: Tier) -> anyhow::Result<Served> {
    match result.served.as_slice() {
        [part] if part.tier == tier => Ok(*part),
        parts => Err(DemoError::NotServedAlone {
            question,
            expected: tier.name(),
            served: parts.iter().map(|p| tier_label(p.tier, p.resolution)).collect::<Vec<_>>().join(" + "),
        }
        .into()),
    }
}

/// Which tier served it, when, how fast; min, avg and max; a sparkline of the values (times
/// `scale`).
fn print_answer(
    question: &'static str,
    result: &QueryResult,
    tier: Tier,
    latency: Latency,
    unit: &str,
    scale: f64,
) -> anyhow::Result<()> {
    let served = served_alone(question, result, tier)?;
    let series = result.series.first().ok_or(DemoError::NoAnswer { question })?;
    let values: Vec<f64> = series.points(Aggregate::Avg).into_iter().map(|(_, v)| v * scale).collect();
    let stats = series.stats().ok_or(DemoError::NoAnswer { question })?;
    say!(
        "   served by {} from {} to {} in {latency}",
        tier_label(served.tier, served.resolution),
        rfc3339(served.from),
        rfc3339(served.to)
    );
    say!(
        "   {} {unit}: min {:.2}  avg {:.2}  max {:.2}   {}",
        values.len(),
        stats.min * scale,
        stats.avg * scale,
        stats.max * scale,
        sparkline(&values, 48)
    );
    Ok(())
}
