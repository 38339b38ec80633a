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
//!
//! A counter (`[metrics.<name>] kind = "counter"`) also answers [`Aggregate::Increase`] and
//! [`Aggregate::Rate`]: per bucket, the reset-corrected increase over consecutive points of the
//! range whose later point is in the bucket (its own increase plus the pair across its start),
//! and that per second of the bucket's length; no extrapolation, and nothing before the range.
//! Exact from every tier (docs/FORMATS.md, "Counters"); where it cannot be (backfill past hot
//! interleaving with points already written) the result's `notes` say so.

pub(crate) mod execute;
pub(crate) mod plan;

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow_schema::DataType;

pub(crate) use execute::run;

use crate::error::Error;
use crate::read::Selector;
use crate::series::SeriesKey;
use crate::tier::{Agg, Tier};

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
    /// A counter's reset-corrected increase in the bucket: over every pair of consecutive
    /// points of the query's range whose later point is in the bucket, the later value minus
    /// the earlier one, or the later value itself when it is smaller (the counter restarted
    /// from 0). The first point of the range has no pair: the first bucket's increase does
    /// not reach back before the range. No extrapolation. Exact from every tier
    /// (docs/FORMATS.md, "Counters").
    Increase,
    /// The increase per second: `increase` divided by the bucket's length in seconds.
    Rate,
}

impl Aggregate {
    /// The aggregates of any metric.
    pub const ALL: [Aggregate; 6] =
        [Aggregate::Avg, Aggregate::Min, Aggregate::Max, Aggregate::Sum, Aggregate::Count, Aggregate::Last];

    /// The aggregates of a counter only (`[metrics.<name>] kind = "counter"`).
    pub const COUNTER: [Aggregate; 2] = [Aggregate::Increase, Aggregate::Rate];

    pub fn name(self) -> &'static str {
        match self {
            Aggregate::Avg => "avg",
            Aggregate::Min => "min",
            Aggregate::Max => "max",
            Aggregate::Sum => "sum",
            Aggregate::Count => "count",
            Aggregate::Last => "last",
            Aggregate::Increase => "increase",
            Aggregate::Rate => "rate",
        }
    }

    /// Whether this aggregate needs a counter.
    pub fn needs_counter(self) -> bool {
        Aggregate::COUNTER.contains(&self)
    }

    /// Parses `avg`, `min`, `max`, `sum`, `count`, `last`, `increase` or `rate`.
    ///
    /// # Errors
    /// A message naming the word and the choices.
    pub fn parse(word: &str) -> Result<Aggregate, String> {
        Aggregate::ALL.into_iter().chain(Aggregate::COUNTER).find(|a| a.name() == word).ok_or_else(|| {
            format!("{word:?} is not an aggregate (avg, min, max, sum, count, last, increase, rate)")
        })
    }

    /// This aggregate of a bucket on its own. `increase` and `rate` of a query also need the
    /// bucket before it (the pair across their boundary) and the bucket's length, which a
    /// query adds: here both give the bucket's own increase, NaN when it keeps none.
    pub fn of(self, agg: &Agg) -> f64 {
        match self {
            Aggregate::Avg => agg.avg(),
            Aggregate::Min => agg.min,
            Aggregate::Max => agg.max,
            Aggregate::Sum => agg.sum,
            Aggregate::Count => agg.count as f64,
            Aggregate::Last => agg.last,
            Aggregate::Increase | Aggregate::Rate => agg.increase.map_or(f64::NAN, |i| i.value),
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

/// A question for [`Engine::query`](crate::Engine::query).
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
    pub tier: Tier,
    pub resolution: i64,
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

/// What [`Engine::query`](crate::Engine::query) returns.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    pub series: Vec<QuerySeries>,
    /// Which tier served which part of the range, oldest first.
    pub served: Vec<Served>,
    /// What differs from the question: a coarser resolution than asked, raw points not kept.
    pub notes: Vec<String>,
}

impl QueryResult {
    /// The result as Arrow record batches, one per series, in the one output schema (the
    /// `arrow` module): `time`, the series key columns (null for a scope aggregate), then one
    /// column per aggregate (`count` as Int64, the others Float64; null for a bucket without
    /// points).
    ///
    /// # Errors
    /// [`Error::Arrow`] if Arrow refuses the columns (it does not for results of `query`).
    pub fn to_batches(&self) -> Result<Vec<RecordBatch>, Error> {
        let aggregates: Vec<Aggregate> =
            self.series.first().map(|s| s.columns.iter().map(|(a, _)| *a).collect()).unwrap_or_default();
        let kind = |a: Aggregate| if a == Aggregate::Count { DataType::Int64 } else { DataType::Float64 };
        let value_columns: Vec<(&str, DataType, bool)> =
            aggregates.iter().map(|&a| (a.name(), kind(a), true)).collect();
        let schema = crate::arrow::schema(&value_columns);
        self.series
            .iter()
            .map(|s| {
                let values: Vec<ArrayRef> = s
                    .columns
                    .iter()
                    .map(|(a, values)| -> ArrayRef {
                        if *a == Aggregate::Count {
                            Arc::new(values.iter().map(|v| v.map(|c| c as i64)).collect::<Int64Array>())
                        } else {
                            Arc::new(values.iter().copied().collect::<Float64Array>())
                        }
                    })
                    .collect();
                crate::arrow::batch(&schema, s.key.as_deref(), &s.times, values)
            })
            .collect()
    }
}
