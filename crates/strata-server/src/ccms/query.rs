//! `GET /api/query` (and `POST`, for clients that cannot send a body with GET): cc-metric-store's
//! query, accepting exactly what cc-backend 1.5.4 sends (`"queries":null`,
//! `"for-all-nodes":null`, no `with-padding`, `resolution: 0` for native, `scale-by`).
//!
//! One outer result per query (explicit queries first, then those `for-all-nodes` made), one
//! inner element per selector: a single element when `aggreg` is true, the query has no
//! `type` or no `type-ids` (every matching series combined with the metric's configured
//! aggregation, `sum` or `avg`), otherwise one per type-id (× subtype-id). A selector without
//! data answers an element with `error` instead of being left out, so positions never drift
//! against `type-ids` (cc-metric-store leaves it out). Type-ids are compared as tag values only;
//! they never name a file, so `/home` is as good as `0`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use strata::{Aggregate, Engine, Query, Resolution, Scope, ScopeAggregation, Selector};

use crate::config::FileConfig;
use crate::error::ApiError;

const NANOS: i64 = 1_000_000_000;

/// The request body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueryRequest {
    pub(crate) cluster: String,
    #[serde(default)]
    pub(crate) queries: Option<Vec<Selection>>,
    #[serde(rename = "for-all-nodes", default)]
    pub(crate) for_all_nodes: Option<Vec<String>>,
    /// Unix seconds, inclusive.
    pub(crate) from: i64,
    /// Unix seconds, exclusive.
    pub(crate) to: i64,
    #[serde(rename = "with-stats", default)]
    pub(crate) with_stats: Option<bool>,
    #[serde(rename = "with-data", default)]
    pub(crate) with_data: Option<bool>,
    #[serde(rename = "with-padding", default)]
    pub(crate) with_padding: Option<bool>,
    /// Newer cc-backend sends `lttb`, `average` or `simple`; strata answers coarser
    /// resolutions with bucket averages whichever is asked (docs/SERVER.md).
    #[serde(rename = "resample-algo", default)]
    pub(crate) resample_algo: Option<String>,
}

/// One query: a metric of a host, at a scope.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Selection {
    pub(crate) metric: String,
    pub(crate) host: String,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub(crate) kind: Option<String>,
    #[serde(rename = "type-ids", default, skip_serializing_if = "Option::is_none")]
    pub(crate) type_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) subtype: Option<String>,
    #[serde(rename = "subtype-ids", default, skip_serializing_if = "Option::is_none")]
    pub(crate) subtype_ids: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) aggreg: Option<bool>,
    /// Seconds; 0 or absent: the metric's frequency.
    #[serde(default)]
    pub(crate) resolution: Option<i64>,
    #[serde(rename = "scale-by", default, skip_serializing_if = "Option::is_none")]
    pub(crate) scale_by: Option<f64>,
}

/// What a query may cost, from `[server]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_series: u64,
    pub(crate) max_points: u64,
}

/// Answers `request`; `cancel` (deadline passed, client gone) is checked between selectors
/// and, inside the engine, before each series and tier file a selector reads.
pub(crate) fn run(
    engine: &Engine,
    config: &FileConfig,
    request: &QueryRequest,
    limits: Limits,
    cancel: &AtomicBool,
) -> Result<Value, ApiError> {
    if request.from >= request.to {
        return Err(ApiError::BadRequest(format!(
            "from ({}) must be before to ({}): to is exclusive",
            request.from, request.to
        )));
    }
    if let Some(algo) = request.resample_algo.as_deref()
        && !matches!(algo, "" | "lttb" | "average" | "simple")
    {
        return Err(ApiError::BadRequest(format!("resample-algo {algo:?} is not lttb, average or simple")));
    }
    let from = seconds_to_nanos(request.from, "from")?;
    let to = seconds_to_nanos(request.to, "to")?;
    let mut queries = request.queries.clone().unwrap_or_default();
    let mut generated = Vec::new();
    if let Some(metrics) = request.for_all_nodes.as_ref().filter(|m| !m.is_empty()) {
        for host in hosts(engine, &request.cluster, metrics, from, to, cancel)? {
            for metric in metrics {
                generated.push(Selection {
                    metric: metric.clone(),
                    host: host.clone(),
                    aggreg: Some(false),
                    resolution: Some(0),
                    ..Selection::default()
                });
            }
        }
    }
    queries.extend(generated.iter().cloned());
    let mut plans = Vec::with_capacity(queries.len());
    let mut points = 0u64;
    for selection in &queries {
        let plan = Plan::new(config, selection)?;
        let buckets = ((to - from) / plan.resolution + 2) as u64;
        points = points.saturating_add(buckets.saturating_mul(plan.elements.len() as u64));
        plans.push(plan);
    }
    if points > limits.max_points {
        return Err(ApiError::QueryLimit(format!(
            "the query asks for up to {points} values, more than server.max_query_points ({})",
            limits.max_points
        )));
    }
    let shape = Shape {
        with_stats: request.with_stats.unwrap_or(true),
        with_data: request.with_data.unwrap_or(true),
        with_padding: request.with_padding.unwrap_or(true),
    };
    let mut results = Vec::with_capacity(plans.len());
    for (selection, plan) in queries.iter().zip(&plans) {
        let mut elements = Vec::with_capacity(plan.elements.len());
        for element in &plan.elements {
            if cancel.load(Ordering::Relaxed) {
                return Err(ApiError::QueryLimit("the query was cancelled".into()));
            }
            let answer =
                answer(engine, config, &request.cluster, selection, plan, element, from, to, limits, cancel)?;
            elements.push(answer.into_json(selection, shape));
        }
        results.push(Value::Array(elements));
    }
    let mut body = Map::new();
    if !generated.is_empty() {
        body.insert("queries".into(), serde_json::to_value(&generated).unwrap_or(Value::Null));
    }
    body.insert("results".into(), Value::Array(results));
    Ok(Value::Object(body))
}

fn seconds_to_nanos(seconds: i64, name: &str) -> Result<i64, ApiError> {
    seconds
        .checked_mul(NANOS)
        .filter(|n| *n >= 0)
        .ok_or_else(|| ApiError::BadRequest(format!("{name} ({seconds}) is not a Unix time in seconds")))
}

/// The hosts of `cluster` with points of any of `metrics` in `[from, to)`, sorted.
fn hosts(
    engine: &Engine,
    cluster: &str,
    metrics: &[String],
    from: i64,
    to: i64,
    cancel: &AtomicBool,
) -> Result<Vec<String>, ApiError> {
    let mut hosts = std::collections::BTreeSet::new();
    for metric in metrics {
        let mut query = Query::new(metric, from, to, Resolution::Every((to - from).max(1)));
        query.selector = Selector::metric(metric).tag("cluster", cluster);
        query.aggregates = vec![Aggregate::Count];
        for series in engine.query_cancellable(&query, cancel)?.series {
            if let Some(host) = series.key.as_ref().and_then(|k| k.tag("hostname")) {
                hosts.insert(host.to_owned());
            }
        }
    }
    Ok(hosts.into_iter().collect())
}

/// One selector of a query: which type-ids and subtype-ids it combines.
#[derive(Debug, Clone)]
struct Element {
    type_ids: Vec<String>,
    subtype_ids: Vec<String>,
}

/// A query's resolution and selectors.
#[derive(Debug)]
struct Plan {
    /// Asked for, in ns: the metric's frequency, or a whole multiple of it.
    resolution: i64,
    native: bool,
    elements: Vec<Element>,
}

impl Plan {
    fn new(config: &FileConfig, s: &Selection) -> Result<Plan, ApiError> {
        let frequency = config.frequency(&s.metric);
        let asked = s.resolution.unwrap_or(0);
        if asked < 0 {
            return Err(ApiError::BadRequest(format!("resolution ({asked}) must not be negative")));
        }
        let asked = asked.saturating_mul(NANOS);
        // Coarser than native: rounded up to a whole number of slots.
        let resolution =
            if asked <= frequency { frequency } else { (asked + frequency - 1) / frequency * frequency };
        let type_ids = s.type_ids.clone().unwrap_or_default();
        let subtype_ids = s.subtype_ids.clone().unwrap_or_default();
        let combined = s.aggreg.unwrap_or(false) || s.kind.is_none() || type_ids.is_empty();
        let elements = if combined {
            vec![Element { type_ids, subtype_ids }]
        } else if s.subtype.is_some() && !subtype_ids.is_empty() {
            type_ids
                .iter()
                .flat_map(|t| {
                    subtype_ids
                        .iter()
                        .map(|st| Element { type_ids: vec![t.clone()], subtype_ids: vec![st.clone()] })
                })
                .collect()
        } else {
            type_ids
                .iter()
                .map(|t| Element { type_ids: vec![t.clone()], subtype_ids: subtype_ids.clone() })
                .collect()
        };
        Ok(Plan { resolution, native: resolution == frequency, elements })
    }
}

#[derive(Debug, Clone, Copy)]
struct Shape {
    with_stats: bool,
    with_data: bool,
    with_padding: bool,
}

/// One element of the answer.
#[derive(Debug)]
enum Answer {
    Data { from: i64, resolution: i64, values: Vec<Option<f64>> },
    Error(String),
}

#[expect(
    clippy::too_many_arguments,
    reason = "one selector's whole context; a struct would only rename them"
)]
fn answer(
    engine: &Engine,
    config: &FileConfig,
    cluster: &str,
    s: &Selection,
    plan: &Plan,
    element: &Element,
    from: i64,
    to: i64,
    limits: Limits,
    cancel: &AtomicBool,
) -> Result<Answer, ApiError> {
    let mut selector = Selector::metric(&s.metric).tag("cluster", cluster).tag("hostname", &s.host);
    if let Some(kind) = &s.kind {
        selector = selector.tag("type", kind);
    }
    if let Some(subtype) = &s.subtype {
        selector = selector.tag("stype", subtype);
    }
    if let [one] = element.subtype_ids.as_slice() {
        selector = selector.tag("stype-id", one);
    }
    let mut resolution = plan.resolution;
    let ask = |resolution: i64| {
        // Native slots keep the later of two points; coarser buckets (asked for, or a coarser
        // tier's) average.
        let aggregate =
            if plan.native && resolution == plan.resolution { Aggregate::Last } else { Aggregate::Avg };
        let mut query = Query::new(&s.metric, from, to, Resolution::Every(resolution));
        query.selector = selector.clone();
        query.type_ids = element.type_ids.clone();
        query.aggregates = vec![aggregate];
        query.scope = Scope::Series;
        engine.query_cancellable(&query, cancel)
    };
    let mut result = ask(resolution)?;
    // A part served by a coarser tier: ask again at that resolution, so the answer has one step.
    let served = result.served.iter().map(|p| p.resolution).max().unwrap_or(resolution);
    if served > resolution {
        resolution = served;
        result = ask(resolution)?;
    }
    let series: Vec<_> = result
        .series
        .into_iter()
        .filter(|q| {
            element.subtype_ids.len() < 2
                || q.key
                    .as_ref()
                    .and_then(|k| k.tag("stype-id"))
                    .is_some_and(|id| element.subtype_ids.iter().any(|x| x == id))
        })
        .collect();
    if series.len() as u64 > limits.max_series {
        return Err(ApiError::QueryLimit(format!(
            "metric {:?} of host {:?} matches {} series, more than server.max_query_series ({})",
            s.metric,
            s.host,
            series.len(),
            limits.max_series
        )));
    }
    let Some(first) = series.first() else {
        return Ok(Answer::Error(describe_missing(cluster, s, element, from, to)));
    };
    let how = config.engine.metrics.get(&s.metric).map(|m| m.aggregation).unwrap_or_default();
    let grid_from = first.times.first().copied().unwrap_or(from);
    let values = (0..first.times.len())
        .map(|i| {
            let present: Vec<f64> = series
                .iter()
                .filter_map(|q| q.columns.first().and_then(|(_, v)| v.get(i).copied().flatten()))
                .collect();
            if present.is_empty() {
                return None;
            }
            let total: f64 = present.iter().sum();
            let value = match how {
                ScopeAggregation::Sum => total,
                ScopeAggregation::Avg => total / present.len() as f64,
            };
            Some(value * s.scale_by.unwrap_or(1.0)).filter(|v| v.is_finite())
        })
        .collect();
    Ok(Answer::Data { from: grid_from, resolution, values })
}

fn describe_missing(cluster: &str, s: &Selection, element: &Element, from: i64, to: i64) -> String {
    let mut what = format!("metric {:?} of host {:?} in cluster {cluster:?}", s.metric, s.host);
    if let Some(kind) = &s.kind {
        what.push_str(&format!(", type {kind:?}"));
        if !element.type_ids.is_empty() {
            what.push_str(&format!(" ids {:?}", element.type_ids));
        }
    }
    if let Some(subtype) = &s.subtype {
        what.push_str(&format!(", subtype {subtype:?}"));
        if !element.subtype_ids.is_empty() {
            what.push_str(&format!(" ids {:?}", element.subtype_ids));
        }
    }
    format!("no data: {what} has no points in [{}, {})", from / NANOS, to / NANOS)
}

impl Answer {
    fn into_json(self, _s: &Selection, shape: Shape) -> Value {
        let (mut from, resolution, mut values) = match self {
            Answer::Error(message) => return json!({ "error": message }),
            Answer::Data { from, resolution, values } => (from, resolution, values),
        };
        if !shape.with_padding {
            let lead = values.iter().take_while(|v| v.is_none()).count();
            values.drain(..lead);
            from += lead as i64 * resolution;
            while values.last().is_some_and(Option::is_none) {
                values.pop();
            }
        }
        let to = from + values.len() as i64 * resolution;
        let mut out = Map::new();
        if shape.with_data {
            out.insert("data".into(), json!(values));
        }
        out.insert("from".into(), json!(from / NANOS));
        out.insert("to".into(), json!(to / NANOS));
        out.insert("resolution".into(), json!(resolution / NANOS));
        if shape.with_stats {
            let present: Vec<f64> = values.iter().flatten().copied().collect();
            let (min, avg, max) = if present.is_empty() {
                (None, None, None)
            } else {
                let sum: f64 = present.iter().sum();
                (
                    Some(present.iter().copied().fold(f64::INFINITY, f64::min)),
                    Some(sum / present.len() as f64),
                    Some(present.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
                )
            };
            out.insert("avg".into(), json!(avg));
            out.insert("min".into(), json!(min));
            out.insert("max".into(), json!(max));
        }
        Value::Object(out)
    }
}

/// Sets a flag when dropped: a query whose handler is dropped (client gone, deadline passed)
/// stops at its next selector.
#[derive(Debug)]
pub(crate) struct CancelOnDrop(pub(crate) Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
