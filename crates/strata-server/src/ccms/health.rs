//! `GET /api/healthcheck` and `POST /api/free`.
//!
//! The health check answers, per node, `State` (`full`, `partial` or `failed`) and
//! `HealthMetrics`, a JSON string `{"degraded":[..],"missing":[..]}`, as cc-metric-store does
//! (Go field names). A metric is looked at over its last 10 slots (of its frequency) before
//! the engine's now: `missing` without a point in any, `degraded` when more than 5 are empty.
//! `full`: no metric missing or degraded; `failed`: every metric missing; else `partial`.
//!
//! `/api/free` is accepted for compatibility and frees nothing: cc-metric-store drops memory
//! buffers there, while strata moves data out of memory itself (`hot.retention`,
//! `hot.max_memory`) into the tiers, and deletes only by retention. It answers
//! `buffers freed: 0` after checking its parameters.

use std::collections::{BTreeMap, HashMap};

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use strata::{Aggregate, Resolution, Selector};

use super::json_body;
use crate::error::ApiError;
use crate::router::AppState;

/// Slots looked at per metric, and how many may be empty before it is degraded.
const SLOTS: i64 = 10;
const DEGRADED_PAST: usize = 5;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HealthRequest {
    cluster: String,
    #[serde(default)]
    nodes: Option<Vec<String>>,
    #[serde(rename = "metric-names", default)]
    metric_names: Option<Vec<String>>,
}

/// `GET /api/healthcheck`.
pub(crate) async fn healthcheck(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let request: HealthRequest = match json_body(&state, &headers, body).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let task = tokio::task::spawn_blocking(move || check(&state, &request));
    match task.await {
        Ok(Ok(answer)) => axum::Json(answer).into_response(),
        Ok(Err(e)) => e.into_response(),
        Err(e) => {
            ApiError::Engine(strata::Error::Invariant(format!("the health task failed: {e}"))).into_response()
        }
    }
}

fn check(state: &AppState, request: &HealthRequest) -> Result<serde_json::Value, ApiError> {
    let metrics: Vec<String> = match &request.metric_names {
        Some(names) if !names.is_empty() => names.clone(),
        _ => state.config.engine.metrics.keys().cloned().collect(),
    };
    let now = state.engine.now();
    let mut answer = BTreeMap::new();
    for node in request.nodes.iter().flatten() {
        let (mut degraded, mut missing) = (Vec::new(), Vec::new());
        for metric in &metrics {
            let frequency = state.config.frequency(metric);
            let to = now - now.rem_euclid(frequency);
            let from = to - SLOTS * frequency;
            let mut query = strata::Query::new(metric, from, to, Resolution::Every(frequency));
            query.selector = Selector::metric(metric).tag("cluster", &request.cluster).tag("hostname", node);
            query.aggregates = vec![Aggregate::Count];
            query.scope = strata::Scope::Aggregate;
            let result = state.engine.query(&query)?;
            let filled = result
                .series
                .first()
                .and_then(|s| s.columns.first())
                .map_or(0, |(_, v)| v.iter().filter(|c| c.is_some_and(|c| c > 0.0)).count());
            let empty = usize::try_from(SLOTS).unwrap_or(0).saturating_sub(filled);
            if filled == 0 {
                missing.push(metric.clone());
            } else if empty > DEGRADED_PAST {
                degraded.push(metric.clone());
            }
        }
        let state_word = if missing.is_empty() && degraded.is_empty() {
            "full"
        } else if !metrics.is_empty() && missing.len() == metrics.len() {
            "failed"
        } else {
            "partial"
        };
        let health = json!({ "degraded": degraded, "missing": missing }).to_string();
        answer.insert(node.clone(), json!({ "State": state_word, "HealthMetrics": health }));
    }
    Ok(json!(answer))
}

/// `POST /api/free?to=<unix seconds>`.
pub(crate) async fn free(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(to) = params.get("to") else {
        return ApiError::BadRequest("the parameter to (Unix seconds) is missing".into()).into_response();
    };
    if to.parse::<i64>().is_err() {
        return ApiError::BadRequest(format!("to ({to:?}) is not a Unix time in seconds")).into_response();
    }
    match json_body::<Vec<Vec<String>>>(&state, &headers, body).await {
        Ok(_) => "buffers freed: 0\n".into_response(),
        Err(e) => e.into_response(),
    }
}
