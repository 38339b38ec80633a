//! Queries across tiers: one question, answered from hot, warm and cold stitched together.
//!
//! The planner cuts `[from, to)` into at most three parts, each served by the finest tier that
//! holds all of it: hot from `evicted_until` on (every point, full resolution), warm below
//! that down to where cold takes over, cold below. Parts meet on warm (hot/warm) and cold
//! (warm/cold) bucket bounds, so every point is counted in exactly one part; a bucket that
//! straddles two parts merges their aggregates, which is exact (see `tier::agg`).
//!
//! Aggregated queries cover the buckets of the resolution that overlap `[from, to)`: `from` is
//! rounded down and `to` up to the resolution. A part whose tier is coarser than the resolution
//! asked for is answered at the tier's resolution and the result says so (`notes`, `served`).
//! Buckets without points are `None`: gaps are never filled in.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampNanosecondArray};
use arrow_schema::{DataType, Field, Schema, TimeUnit};

use crate::config::ScopeAggregation;
use crate::engine::{Engine, Selector};
use crate::error::Error;
use crate::series::SeriesKey;
use crate::tier::file::TAG_COLUMNS;
use crate::tier::{Agg, Tier, bucket};

/// How finely a query answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// Every point as written (hot only).
    Raw,
    /// Buckets of this many nanoseconds, aligned to the Unix epoch.
    Every(i64),
    /// The finest whole-second buckets that give at most this many per series.
    Auto(u32),
}

/// A per-bucket aggregate a query returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Aggregate {
    Avg,
    Min,
    Max,
    Sum,
    Count,
    Last,
}

impl Aggregate {
    pub const ALL: [Aggregate; 6] =
        [Aggregate::Avg, Aggregate::Min, Aggregate::Max, Aggregate::Sum, Aggregate::Count, Aggregate::Last];

    pub fn name(self) -> &'static str {
        match self {
            Aggregate::Avg => "avg",
            Aggregate::Min => "min",
            Aggregate::Max => "max",
            Aggregate::Sum => "sum",
            Aggregate::Count => "count",
            Aggregate::Last => "last",
        }
    }

    /// Parses `avg`, `min`, `max`, `sum`, `count` or `last`.
    ///
    /// # Errors
    /// A message naming the word and the choices.
    pub fn parse(word: &str) -> Result<Aggregate, String> {
        Aggregate::ALL
            .into_iter()
            .find(|a| a.name() == word)
            .ok_or_else(|| format!("{word:?} is not an aggregate (avg, min, max, sum, count, last)"))
    }

    /// This aggregate of a bucket.
    pub fn of(self, agg: &Agg) -> f64 {
        match self {
            Aggregate::Avg => agg.avg(),
            Aggregate::Min => agg.min,
            Aggregate::Max => agg.max,
            Aggregate::Sum => agg.sum,
            Aggregate::Count => agg.count as f64,
            Aggregate::Last => agg.last,
        }
    }
}

/// Whether a query returns each matched series or one aggregate of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// One result per series.
    #[default]
    Series,
    /// One result for all matched series, per bucket: the sum or the mean of the series'
    /// values, as `[metrics.<name>] aggregation` says (the mean when unset); counts add.
    Aggregate,
}

/// A question for [`Engine::query`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Metric, field and tag equalities (`host` is read as `hostname`).
    pub selector: Selector,
    /// Only these hosts, when not empty.
    pub hosts: Vec<String>,
    /// Only these `type-id`s, when not empty.
    pub type_ids: Vec<String>,
    /// `[from, to)` in nanoseconds.
    pub from: i64,
    pub to: i64,
    pub resolution: Resolution,
    pub aggregates: Vec<Aggregate>,
    pub scope: Scope,
}

impl Query {
    /// The average per `resolution` of every series of `metric` in `[from, to)`.
    pub fn new(metric: &str, from: i64, to: i64, resolution: Resolution) -> Query {
        Query {
            selector: Selector::metric(metric),
            hosts: Vec::new(),
            type_ids: Vec::new(),
            from,
            to,
            resolution,
            aggregates: vec![Aggregate::Avg],
            scope: Scope::Series,
        }
    }
}

/// Which tier served a part of the range, at which bucket length (0: raw points).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Served {
    pub from: i64,
    pub to: i64,
    pub source: Source,
    pub resolution: i64,
}

/// Where data comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Hot,
    Warm,
    Cold,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::Hot => "hot",
            Source::Warm => "warm",
            Source::Cold => "cold",
        }
    }
}

/// One result series.
#[derive(Debug, Clone, PartialEq)]
pub struct QuerySeries {
    /// The series; `None` for a scope aggregate of several.
    pub key: Option<Arc<SeriesKey>>,
    /// Bucket starts (or point times for raw queries), ascending.
    pub times: Vec<i64>,
    /// Per bucket, its aggregate; `None` for a bucket without points. Empty for a scope
    /// aggregate, whose values are in `columns` only.
    pub aggs: Vec<Option<Agg>>,
    /// Per requested aggregate, its value per bucket.
    pub columns: Vec<(Aggregate, Vec<Option<f64>>)>,
}

/// Minimum, average and maximum over a whole result series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RangeStats {
    pub min: f64,
    pub avg: f64,
    pub max: f64,
    /// Points (or, for a scope aggregate, buckets) they are over.
    pub count: u64,
}

impl QuerySeries {
    /// The `(time, value)` pairs of one aggregate, gaps left out.
    pub fn points(&self, aggregate: Aggregate) -> Vec<(i64, f64)> {
        let Some((_, values)) = self.columns.iter().find(|(a, _)| *a == aggregate) else { return Vec::new() };
        self.times.iter().zip(values).filter_map(|(&t, v)| Some((t, (*v)?))).collect()
    }

    /// Min, avg and max over the range: from the merged aggregates of a series (exact: the avg
    /// is the sum of every point over their count), or over the first column's values for a
    /// scope aggregate. `None` without data.
    pub fn stats(&self) -> Option<RangeStats> {
        if self.key.is_some() || !self.aggs.is_empty() {
            let mut all: Option<Agg> = None;
            for agg in self.aggs.iter().flatten() {
                match &mut all {
                    Some(a) => a.merge(agg),
                    None => all = Some(*agg),
                }
            }
            let a = all?;
            return Some(RangeStats { min: a.min, avg: a.avg(), max: a.max, count: a.count });
        }
        let (_, values) = self.columns.first()?;
        let present: Vec<f64> = values.iter().flatten().copied().collect();
        let n = present.len();
        if n == 0 {
            return None;
        }
        Some(RangeStats {
            min: present.iter().copied().fold(f64::INFINITY, f64::min),
            avg: present.iter().sum::<f64>() / n as f64,
            max: present.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            count: n as u64,
        })
    }
}

/// What [`Engine::query`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    pub series: Vec<QuerySeries>,
    /// Which tier served which part of the range, oldest first.
    pub served: Vec<Served>,
    /// What differs from the question: a coarser resolution than asked, raw points not kept.
    pub notes: Vec<String>,
}

impl QueryResult {
    /// The result as Arrow record batches, one per series, all with one schema: `time`
    /// (timestamp ns, UTC), the series key columns of tier files (`metric`, `field`, `cluster`,
    /// `hostname`, ... `tags`; null for a scope aggregate), then one column per aggregate
    /// (`count` as Int64, the others Float64; null for a bucket without points).
    ///
    /// # Errors
    /// [`Error::Query`] if Arrow refuses the columns (it does not for results of `query`).
    pub fn to_batches(&self) -> Result<Vec<RecordBatch>, Error> {
        let time = DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()));
        let mut fields = vec![Field::new("time", time, false)];
        let key_columns: Vec<&str> = ["metric", "field"]
            .into_iter()
            .chain(TAG_COLUMNS.iter().map(|(c, _)| *c))
            .chain(["tags"])
            .collect();
        fields.extend(key_columns.iter().map(|name| Field::new(*name, DataType::Utf8, true)));
        let aggregates: Vec<Aggregate> =
            self.series.first().map(|s| s.columns.iter().map(|(a, _)| *a).collect()).unwrap_or_default();
        for a in &aggregates {
            let kind = if *a == Aggregate::Count { DataType::Int64 } else { DataType::Float64 };
            fields.push(Field::new(a.name(), kind, true));
        }
        let schema = Arc::new(Schema::new(fields));
        let mut batches = Vec::with_capacity(self.series.len());
        for s in &self.series {
            let n = s.times.len();
            let mut columns: Vec<ArrayRef> =
                vec![Arc::new(TimestampNanosecondArray::from(s.times.clone()).with_timezone("UTC"))];
            for name in &key_columns {
                let value: Option<String> = s.key.as_ref().and_then(|k| match *name {
                    "metric" => Some(k.measurement.clone()),
                    "field" => Some(k.field.clone()),
                    "tags" => crate::tier::file::other_tags_text(k),
                    column => TAG_COLUMNS
                        .iter()
                        .find(|(c, _)| *c == column)
                        .and_then(|(_, tag)| k.tag(tag))
                        .map(str::to_owned),
                });
                columns.push(Arc::new(StringArray::from(vec![value; n])));
            }
            for (a, values) in &s.columns {
                if *a == Aggregate::Count {
                    columns
                        .push(Arc::new(values.iter().map(|v| v.map(|c| c as i64)).collect::<Int64Array>()));
                } else {
                    columns.push(Arc::new(values.iter().copied().collect::<Float64Array>()));
                }
            }
            batches.push(
                RecordBatch::try_new(schema.clone(), columns).map_err(|e| Error::Query(e.to_string()))?,
            );
        }
        Ok(batches)
    }
}

/// A part of the plan.
#[derive(Debug, Clone, Copy)]
struct Part {
    from: i64,
    to: i64,
    source: Source,
    resolution: i64,
}

impl Engine {
    /// Answers `query` from whichever tiers hold its range (see the module docs).
    ///
    /// # Errors
    /// [`Error::Query`] for an empty range, a zero resolution or no aggregate; object store
    /// errors and damaged files, named.
    pub fn query(&self, query: &Query) -> Result<QueryResult, Error> {
        if query.from >= query.to {
            return Err(Error::Query(format!("the range [{}, {}) is empty", query.from, query.to)));
        }
        if query.aggregates.is_empty() {
            return Err(Error::Query("no aggregate asked for".into()));
        }
        let mut notes = Vec::new();
        let (parts, from, to) = self.plan(query, &mut notes)?;
        let keep = |key: &SeriesKey| {
            (query.hosts.is_empty()
                || key.tag("hostname").is_some_and(|h| query.hosts.iter().any(|x| x == h)))
                && (query.type_ids.is_empty()
                    || key.tag("type-id").is_some_and(|t| query.type_ids.iter().any(|x| x == t)))
        };
        if query.resolution == Resolution::Raw {
            // Points straight from hot: no buckets to merge.
            let mut series = Vec::new();
            for part in &parts {
                for s in self.read(&query.selector, part.from, part.to)? {
                    if keep(&s.key) {
                        let aggs =
                            s.times.iter().zip(&s.values).map(|(&t, &v)| Some(Agg::point(t, v))).collect();
                        series.push(columns_of(Some(s.key), s.times, aggs, &query.aggregates));
                    }
                }
            }
            let served = parts
                .iter()
                .map(|p| Served { from: p.from, to: p.to, source: p.source, resolution: 0 })
                .collect();
            return Ok(QueryResult { series, served, notes });
        }
        // Parts come oldest first and each yields a series' buckets in time order, so a series'
        // buckets arrive in order: equal neighbours merge, no map per bucket.
        let mut per_series: BTreeMap<Arc<SeriesKey>, Vec<(i64, Agg)>> = BTreeMap::new();
        for part in &parts {
            match part.source {
                Source::Hot => {
                    for s in self.read(&query.selector, part.from, part.to)? {
                        if !keep(&s.key) {
                            continue;
                        }
                        let buckets = per_series.entry(s.key.clone()).or_default();
                        for (&t, &v) in s.times.iter().zip(&s.values) {
                            add(buckets, bucket(t, part.resolution), &Agg::point(t, v));
                        }
                    }
                }
                Source::Warm | Source::Cold => {
                    let tier = if part.source == Source::Warm { Tier::Warm } else { Tier::Cold };
                    for s in self.read_tier(tier, &query.selector, part.from, part.to)? {
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
                    let how = self
                        .config()
                        .metrics
                        .get(&query.selector.metric)
                        .map_or(ScopeAggregation::Avg, |m| m.aggregation);
                    vec![scope_aggregate(&grid, &filled, &query.aggregates, how)]
                }
            }
        };
        let served = parts
            .iter()
            .map(|p| Served { from: p.from, to: p.to, source: p.source, resolution: p.resolution })
            .collect();
        Ok(QueryResult { series, served, notes })
    }

    /// Cuts the range into parts by tier; returns them oldest first with the range, rounded
    /// to bucket bounds.
    fn plan(&self, query: &Query, notes: &mut Vec<String>) -> Result<(Vec<Part>, i64, i64), Error> {
        let config = self.config();
        let (warm_res, cold_res) =
            (config.warm.resolution.as_nanos_i64(), config.cold.resolution.as_nanos_i64());
        let manifest = self.manifest();
        let hot_start = self.hot_start();
        let now = self.now();
        let warm_lo = match manifest.cold_until {
            None => i64::MIN,
            Some(cold_until) => {
                let horizon = now.saturating_sub(config.warm.retention.as_nanos_i64());
                round_up(horizon, cold_res).min(cold_until)
            }
        };
        let res = match query.resolution {
            Resolution::Raw => {
                if query.from < hot_start {
                    notes.push(format!(
                        "raw points are kept from {} on (hot.retention); ask for a resolution for older data",
                        crate::engine::format_time(hot_start)
                    ));
                }
                let part = Part {
                    from: query.from.max(hot_start),
                    to: query.to,
                    source: Source::Hot,
                    resolution: 0,
                };
                let parts = if part.from < part.to { vec![part] } else { Vec::new() };
                return Ok((parts, query.from, query.to));
            }
            Resolution::Every(r) if r <= 0 => {
                return Err(Error::Query(format!("the resolution must be positive, not {r} ns")));
            }
            Resolution::Every(r) => r,
            Resolution::Auto(max) => {
                let span = query.to.saturating_sub(query.from);
                let per = span.div_euclid(i64::from(max.max(1))).saturating_add(1);
                round_up(per, 1_000_000_000).max(1_000_000_000)
            }
        };
        let (from, to) = (bucket(query.from, res), round_up(query.to, res));
        let mut parts = Vec::new();
        // At a whole multiple of cold's resolution, cold answers alike and holds the fewest
        // rows: it serves everything it has rolled up, warm only what lies between.
        let cold_until = manifest.cold_until.unwrap_or(i64::MIN);
        let warm_lo = if res % cold_res == 0 { cold_until.max(warm_lo) } else { warm_lo };
        let coarser = |tier_res: i64, name: &str, notes: &mut Vec<String>| -> i64 {
            if res % tier_res == 0 {
                res
            } else {
                let served = round_up(res, tier_res);
                notes.push(format!(
                    "{name} keeps {} buckets; its part of the range is answered at {}",
                    crate::units::Span(std::time::Duration::from_nanos(tier_res as u64)),
                    crate::units::Span(std::time::Duration::from_nanos(served as u64))
                ));
                served
            }
        };
        let cold = Part { from, to: to.min(warm_lo), source: Source::Cold, resolution: 0 };
        if cold.from < cold.to {
            let resolution = coarser(cold_res, "cold", notes);
            parts.push(Part { resolution, ..cold });
        }
        // Hot serves from its start, but never what cold already served.
        let hot_lo = hot_start.max(warm_lo);
        let warm = Part { from: from.max(warm_lo), to: to.min(hot_lo), source: Source::Warm, resolution: 0 };
        if warm.from < warm.to {
            let resolution = coarser(warm_res, "warm", notes);
            parts.push(Part { resolution, ..warm });
        }
        let hot = Part { from: from.max(hot_lo), to, source: Source::Hot, resolution: res };
        if hot.from < hot.to {
            parts.push(hot);
        }
        Ok((parts, from, to))
    }
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

fn round_up(t: i64, res: i64) -> i64 {
    let b = bucket(t, res);
    if b == t { t } else { b.saturating_add(res) }
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
