//! Running a plan: each part read from its tier, a series' buckets merged in time order, gaps
//! left as `None`, and per-series or scope-aggregate columns.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::plan::{Part, plan};
use super::{Aggregate, Query, QueryResult, QuerySeries, Resolution, Scope, Served};
use crate::config::ScopeAggregation;
use crate::core::Core;
use crate::error::Error;
use crate::read::{read, read_tier};
use crate::series::{SeriesKey, tag_name};
use crate::tier::{Agg, Tier, bucket};

/// Answers `query` from whichever tiers hold its range (see the `query` module docs).
///
/// # Errors
/// [`Error::Query`] for an empty range, a zero resolution or no aggregate; object store
/// errors and damaged files, named; [`Error::Cancelled`] once `cancel` is seen set.
pub(crate) fn run(core: &Core, query: &Query, cancel: &AtomicBool) -> Result<QueryResult, Error> {
    if query.from >= query.to {
        return Err(Error::Query(format!("the range [{}, {}) is empty", query.from, query.to)));
    }
    if query.aggregates.is_empty() {
        return Err(Error::Query("no aggregate asked for".into()));
    }
    let mut notes = Vec::new();
    let (parts, from, to) = plan(core, query, &mut notes)?;
    let keep = |key: &SeriesKey| {
        (query.hosts.is_empty()
            || key.tag(tag_name("host")).is_some_and(|h| query.hosts.iter().any(|x| x == h)))
            && (query.type_ids.is_empty()
                || key.tag("type-id").is_some_and(|t| query.type_ids.iter().any(|x| x == t)))
    };
    if query.resolution == Resolution::Raw {
        // Points straight from hot: no buckets to merge.
        let mut series = Vec::new();
        for part in &parts {
            for s in read(core, &query.selector, part.from, part.to, cancel)? {
                if keep(&s.key) {
                    let aggs = s.times.iter().zip(&s.values).map(|(&t, &v)| Some(Agg::point(t, v))).collect();
                    series.push(columns_of(Some(s.key), s.times, aggs, &query.aggregates));
                }
            }
        }
        let served =
            parts.iter().map(|p| Served { from: p.from, to: p.to, tier: p.tier, resolution: 0 }).collect();
        return Ok(QueryResult { series, served, notes });
    }
    // Parts come oldest first and each yields a series' buckets in time order, so a series'
    // buckets arrive in order: equal neighbours merge, no map per bucket.
    let mut per_series: BTreeMap<Arc<SeriesKey>, Vec<(i64, Agg)>> = BTreeMap::new();
    for part in &parts {
        match part.tier {
            Tier::Hot => {
                for s in read(core, &query.selector, part.from, part.to, cancel)? {
                    if !keep(&s.key) {
                        continue;
                    }
                    let buckets = per_series.entry(s.key.clone()).or_default();
                    for (&t, &v) in s.times.iter().zip(&s.values) {
                        add(buckets, bucket(t, part.resolution), &Agg::point(t, v));
                    }
                }
            }
            Tier::Warm | Tier::Cold => {
                for s in read_tier(core, part.tier, &query.selector, part.from, part.to, cancel)? {
                    if !keep(&s.key) {
                        continue;
                    }
                    let buckets = per_series.entry(s.key.clone()).or_default();
                    for (t, agg) in s.times.iter().zip(&s.aggs) {
                        add(buckets, bucket(*t, part.resolution), agg);
                    }
                }
            }
        }
    }
    let series = {
        let grid = grid(&parts, from, to);
        let filled: Vec<(Arc<SeriesKey>, Vec<Option<Agg>>)> = per_series
            .into_iter()
            .map(|(key, buckets)| {
                let mut next = buckets.iter().peekable();
                let filled = grid
                    .iter()
                    .map(|&t| {
                        while next.next_if(|(b, _)| *b < t).is_some() {}
                        next.next_if(|(b, _)| *b == t).map(|(_, agg)| *agg)
                    })
                    .collect();
                (key, filled)
            })
            .collect();
        match query.scope {
            Scope::Series => filled
                .into_iter()
                .map(|(key, aggs)| columns_of(Some(key), grid.clone(), aggs, &query.aggregates))
                .collect(),
            Scope::Aggregate => {
                let how = core
                    .config
                    .metrics
                    .get(&query.selector.metric)
                    .map_or(ScopeAggregation::Avg, |m| m.aggregation);
                vec![scope_aggregate(&grid, &filled, &query.aggregates, how)]
            }
        }
    };
    let served = parts
        .iter()
        .map(|p| Served { from: p.from, to: p.to, tier: p.tier, resolution: p.resolution })
        .collect();
    Ok(QueryResult { series, served, notes })
}

fn add(buckets: &mut Vec<(i64, Agg)>, at: i64, agg: &Agg) {
    match buckets.last_mut() {
        Some((last, merged)) if *last == at => merged.merge(agg),
        // Out of order only if a tier returned rows unsorted: keep the order by inserting.
        Some((last, _)) if *last > at => match buckets.binary_search_by_key(&at, |(b, _)| *b) {
            Ok(i) => {
                if let Some((_, merged)) = buckets.get_mut(i) {
                    merged.merge(agg);
                }
            }
            Err(i) => buckets.insert(i, (at, *agg)),
        },
        _ => buckets.push((at, *agg)),
    }
}

/// Every bucket start of the parts, in order: the rows of the answer.
fn grid(parts: &[Part], from: i64, to: i64) -> Vec<i64> {
    let mut times: Vec<i64> = Vec::new();
    for part in parts {
        let mut t = bucket(part.from.max(from), part.resolution);
        while t < part.to.min(to) {
            if times.last().is_none_or(|&last| last < t) {
                times.push(t);
            }
            t = t.saturating_add(part.resolution);
        }
    }
    times
}

fn columns_of(
    key: Option<Arc<SeriesKey>>,
    times: Vec<i64>,
    aggs: Vec<Option<Agg>>,
    aggregates: &[Aggregate],
) -> QuerySeries {
    let columns =
        aggregates.iter().map(|&a| (a, aggs.iter().map(|g| g.map(|g| a.of(&g))).collect())).collect();
    QuerySeries { key, times, aggs, columns }
}

fn scope_aggregate(
    grid: &[i64],
    series: &[(Arc<SeriesKey>, Vec<Option<Agg>>)],
    aggregates: &[Aggregate],
    how: ScopeAggregation,
) -> QuerySeries {
    let columns = aggregates
        .iter()
        .map(|&a| {
            let values = (0..grid.len())
                .map(|i| {
                    let present: Vec<f64> = series
                        .iter()
                        .filter_map(|(_, aggs)| aggs.get(i).copied().flatten())
                        .map(|g| a.of(&g))
                        .collect();
                    if present.is_empty() {
                        return None;
                    }
                    let total: f64 = present.iter().sum();
                    Some(match (how, a) {
                        (_, Aggregate::Count) | (ScopeAggregation::Sum, _) => total,
                        (ScopeAggregation::Avg, _) => total / present.len() as f64,
                    })
                })
                .collect();
            (a, values)
        })
        .collect();
    QuerySeries { key: None, times: grid.to_vec(), aggs: Vec::new(), columns }
}
