//! Running a plan: each part read from its tier, a series' buckets merged in time order, gaps
//! left as `None`, and per-series or scope-aggregate columns.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::plan::{Bounds, Part, plan};
use super::{Aggregate, Query, QueryResult, QuerySeries, Resolution, Scope, Served};
use crate::config::{Config, MetricKind, ScopeAggregation};
use crate::core::Core;
use crate::error::Error;
use crate::read::{TierSeries, read, read_tier_where};
use crate::series::{SeriesKey, tag_name};
use crate::tier::agg::{IncreaseScope, step};
use crate::tier::state::TierState;
use crate::tier::{Agg, Tier, bucket};

/// Answers `query` from whichever tiers hold its range (see the `query` module docs).
///
/// # Errors
/// [`Error::Query`] for an empty range, a zero resolution or no aggregate; object store
/// errors and damaged files, named; [`Error::Cancelled`] once `cancel` is seen set.
pub(crate) fn run(core: &Core, query: &Query, cancel: &AtomicBool) -> Result<QueryResult, Error> {
    let kind = check(&core.config, query)?;
    let mut notes = Vec::new();
    let manifest = core.tiers.manifest();
    let bounds = Bounds {
        config: &core.config,
        manifest: &manifest,
        hot_start: core.hot.evicted_until(),
        now: core.now(),
    };
    let (parts, from, to) = plan(&bounds, query, &mut notes)?;
    if query.resolution == Resolution::Raw {
        // Points straight from hot: no buckets to merge.
        let mut series = Vec::new();
        for part in &parts {
            for s in read(core, &query.selector, part.from, part.to, cancel)? {
                if keeps(query, &s.key) {
                    let aggs = s.times.iter().zip(&s.values).map(|(&t, &v)| Some(Agg::point(t, v))).collect();
                    let lengths = vec![0; s.times.len()];
                    series.push(columns_of(
                        Some(s.key),
                        s.times,
                        &lengths,
                        aggs,
                        &query.aggregates,
                        &mut notes,
                    ));
                }
            }
        }
        let served =
            parts.iter().map(|p| Served { from: p.from, to: p.to, tier: p.tier, resolution: 0 }).collect();
        return Ok(QueryResult { series, served, notes });
    }
    // Parts come oldest first and each yields a series' buckets in time order, so a series'
    // buckets arrive in order: equal neighbours merge, no map per bucket.
    let mut per_series: BTreeMap<Arc<SeriesKey>, Buckets> = BTreeMap::new();
    for part in &parts {
        match part.tier {
            Tier::Hot => {
                for s in read(core, &query.selector, part.from, part.to, cancel)? {
                    if !keeps(query, &s.key) {
                        continue;
                    }
                    let buckets = per_series.entry(s.key.clone()).or_default();
                    for (&t, &v) in s.times.iter().zip(&s.values) {
                        buckets.add(bucket(t, part.resolution), &Agg::point_of(kind, t, v));
                    }
                }
            }
            Tier::Warm | Tier::Cold => add_tier_part(&core.tiers, query, part, &mut per_series, cancel)?,
        }
    }
    let grid = grid(&parts, from, to);
    let served = parts
        .iter()
        .map(|p| Served { from: p.from, to: p.to, tier: p.tier, resolution: p.resolution })
        .collect();
    let series = answer(&core.config, query, &grid, per_series, &mut notes);
    Ok(QueryResult { series, served, notes })
}

/// Checks `query` against what the engine can answer; returns its metric's kind.
pub(crate) fn check(config: &Config, query: &Query) -> Result<MetricKind, Error> {
    if query.from >= query.to {
        return Err(Error::Query(format!("the range [{}, {}) is empty", query.from, query.to)));
    }
    if query.aggregates.is_empty() {
        return Err(Error::Query("no aggregate asked for".into()));
    }
    let kind = config.kind(&query.selector.metric);
    if let Some(&a) = query.aggregates.iter().find(|a| a.needs_counter()) {
        if kind != MetricKind::Counter {
            return Err(Error::NotACounter { metric: query.selector.metric.clone(), aggregate: a.name() });
        }
        if query.resolution == Resolution::Raw {
            return Err(Error::Query(format!(
                "{} needs buckets: ask for a resolution, not raw points",
                a.name()
            )));
        }
    }
    Ok(kind)
}

/// Whether a series the selector matched also has one of the query's hosts and type-ids.
fn keeps(query: &Query, key: &SeriesKey) -> bool {
    (query.hosts.is_empty() || key.tag(tag_name("host")).is_some_and(|h| query.hosts.iter().any(|x| x == h)))
        && (query.type_ids.is_empty()
            || key.tag("type-id").is_some_and(|t| query.type_ids.iter().any(|x| x == t)))
}

/// Adds the rows of a warm or cold part, read from `tiers`, to each series' buckets.
pub(crate) fn add_tier_part(
    tiers: &TierState,
    query: &Query,
    part: &Part,
    per_series: &mut BTreeMap<Arc<SeriesKey>, Buckets>,
    cancel: &AtomicBool,
) -> Result<(), Error> {
    // The query's hosts and type-ids go to the tier reads with the selector.
    let one_of: Vec<(&str, &[String])> =
        [(tag_name("host"), query.hosts.as_slice()), ("type-id", query.type_ids.as_slice())]
            .into_iter()
            .filter(|(_, values)| !values.is_empty())
            .collect();
    let rows = read_tier_where(tiers, part.tier, &query.selector, &one_of, part.from, part.to, cancel)?;
    for TierSeries { key, times, aggs } in rows {
        if !keeps(query, &key) {
            continue;
        }
        let buckets = per_series.entry(key).or_default();
        if buckets.times.is_empty() && times.iter().all(|&t| bucket(t, part.resolution) == t) {
            // Rows on the part's buckets already, nothing to merge them with.
            *buckets = Buckets { times, aggs };
            continue;
        }
        for (t, agg) in times.iter().zip(&aggs) {
            buckets.add(bucket(*t, part.resolution), agg);
        }
    }
    Ok(())
}

/// The answer's series from each series' buckets: on the `grid` (bucket starts and lengths),
/// gaps as `None`, one column per aggregate; one series for [`Scope::Aggregate`].
pub(crate) fn answer(
    config: &Config,
    query: &Query,
    (grid, lengths): &(Vec<i64>, Vec<i64>),
    per_series: BTreeMap<Arc<SeriesKey>, Buckets>,
    notes: &mut Vec<String>,
) -> Vec<QuerySeries> {
    let per_series: Vec<QuerySeries> = per_series
        .into_iter()
        .map(|(key, buckets)| {
            let mut next = buckets.times.iter().zip(&buckets.aggs).peekable();
            let filled = grid
                .iter()
                .map(|&t| {
                    while next.next_if(|(b, _)| **b < t).is_some() {}
                    next.next_if(|(b, _)| **b == t).map(|(_, agg)| *agg)
                })
                .collect();
            columns_of(Some(key), grid.clone(), lengths, filled, &query.aggregates, notes)
        })
        .collect();
    match query.scope {
        Scope::Series => per_series,
        Scope::Aggregate => {
            let how =
                config.metrics.get(&query.selector.metric).map_or(ScopeAggregation::Avg, |m| m.aggregation);
            vec![scope_aggregate(grid, &per_series, &query.aggregates, how)]
        }
    }
}

/// A series' buckets of the answer so far: starts ascending, one aggregate each.
#[derive(Debug, Default)]
pub(crate) struct Buckets {
    pub(crate) times: Vec<i64>,
    pub(crate) aggs: Vec<Agg>,
}

impl Buckets {
    pub(crate) fn add(&mut self, at: i64, agg: &Agg) {
        match (self.times.last(), self.aggs.last_mut()) {
            (Some(&last), Some(merged)) if last == at => merged.merge(agg),
            // Out of order only if a tier returned rows unsorted: keep the order by inserting.
            (Some(&last), Some(_)) if last > at => match self.times.binary_search(&at) {
                Ok(i) => {
                    if let Some(merged) = self.aggs.get_mut(i) {
                        merged.merge(agg);
                    }
                }
                Err(i) => {
                    self.times.insert(i, at);
                    self.aggs.insert(i, *agg);
                }
            },
            _ => {
                self.times.push(at);
                self.aggs.push(*agg);
            }
        }
    }
}

/// Every bucket start of the parts, in order, with the bucket's length: the rows of the answer.
pub(crate) fn grid(parts: &[Part], from: i64, to: i64) -> (Vec<i64>, Vec<i64>) {
    let (mut times, mut lengths): (Vec<i64>, Vec<i64>) = (Vec::new(), Vec::new());
    for part in parts {
        let mut t = bucket(part.from.max(from), part.resolution);
        while t < part.to.min(to) {
            if times.last().is_none_or(|&last| last < t) {
                times.push(t);
                lengths.push(part.resolution);
            }
            t = t.saturating_add(part.resolution);
        }
    }
    (times, lengths)
}

/// A series' columns. `increase` and `rate` add to a bucket's own increase the pair across
/// its boundary with the previous bucket that has points (`first` minus the other's `last`,
/// reset-corrected); the first bucket with points has no such pair. Buckets whose increase is
/// inexact or unknown are counted in `notes`.
fn columns_of(
    key: Option<Arc<SeriesKey>>,
    times: Vec<i64>,
    lengths: &[i64],
    aggs: Vec<Option<Agg>>,
    aggregates: &[Aggregate],
    notes: &mut Vec<String>,
) -> QuerySeries {
    let increases: Option<Vec<Option<f64>>> = aggregates.iter().any(|a| a.needs_counter()).then(|| {
        let (mut previous_last, mut inexact, mut unknown) = (None::<f64>, 0usize, 0usize);
        let values = aggs
            .iter()
            .map(|g| {
                let g = g.as_ref()?;
                let across = previous_last.map_or(0.0, |last| step(last, g.first));
                previous_last = Some(g.last);
                match g.increase {
                    Some(i) => {
                        inexact += usize::from(i.scope == IncreaseScope::Inexact);
                        Some(i.value + across)
                    }
                    None => {
                        unknown += 1;
                        None
                    }
                }
            })
            .collect();
        let name = key.as_ref().map_or_else(|| "the series".to_owned(), |k| k.to_string());
        if inexact > 0 {
            notes.push(format!(
                "{name}: the increase of {inexact} bucket(s) is inexact: backfill written after its raw points left hot interleaves in time with points written before, and the pairs between them are unknown"
            ));
        }
        if unknown > 0 {
            notes.push(format!(
                "{name}: {unknown} bucket(s) keep no increase (rows written while the metric was a gauge, or before tier schema version 2): left empty"
            ));
        }
        values
    });
    let columns = aggregates
        .iter()
        .map(|&a| {
            let values = match (a, &increases) {
                (Aggregate::Increase, Some(inc)) => inc.clone(),
                (Aggregate::Rate, Some(inc)) => {
                    inc.iter().zip(lengths).map(|(i, &len)| Some(i.as_ref()? / (len as f64 / 1e9))).collect()
                }
                _ => aggs.iter().map(|g| g.map(|g| a.of(&g))).collect(),
            };
            (a, values)
        })
        .collect();
    QuerySeries { key, times, aggs, columns }
}

fn scope_aggregate(
    grid: &[i64],
    series: &[QuerySeries],
    aggregates: &[Aggregate],
    how: ScopeAggregation,
) -> QuerySeries {
    let columns = aggregates
        .iter()
        .enumerate()
        .map(|(column, &a)| {
            // Per bucket, the sum of the series' values (in series order) and how many there are.
            let mut totals = vec![(-0.0f64, 0usize); grid.len()];
            for s in series {
                let Some((_, values)) = s.columns.get(column) else { continue };
                for ((total, n), v) in totals.iter_mut().zip(values) {
                    if let Some(v) = v {
                        *total += v;
                        *n += 1;
                    }
                }
            }
            let values = totals
                .into_iter()
                .map(|(total, n)| {
                    (n > 0).then(|| match (how, a) {
                        (_, Aggregate::Count) | (ScopeAggregation::Sum, _) => total,
                        (ScopeAggregation::Avg, _) => total / n as f64,
                    })
                })
                .collect();
            (a, values)
        })
        .collect();
    QuerySeries { key: None, times: grid.to_vec(), aggs: Vec::new(), columns }
}
