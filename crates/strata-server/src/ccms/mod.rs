//! cc-metric-store's HTTP API: write, query, free and health check, as
//! `../shared/reference/cc-metric-store.md` describes it and cc-backend 1.5.4 uses it.

pub(crate) mod health;
pub(crate) mod query;
pub(crate) mod write;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::body::{self, BodyLimits};
use crate::error::ApiError;
use crate::router::AppState;

/// Reads a JSON body within the server's limits; errors name the field at fault.
pub(crate) async fn json_body<T: DeserializeOwned>(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<T, ApiError> {
    let limits = BodyLimits {
        max_bytes: state.config.server.body_limit.0,
        timeout: state.config.server.body_timeout.0,
    };
    let mut received = 0;
    let bytes = body::read(body, headers, limits, &mut received).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest("the request body is empty; a JSON object is expected".into()));
    }
    serde_json::from_slice(&bytes).map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
}

/// `GET` or `POST /api/query`.
pub(crate) async fn query(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let request: query::QueryRequest = match json_body(&state, &headers, body).await {
        Ok(r) => r,
        Err(e) => {
            state.telemetry.count_request_rejected("bad_query");
            return e.into_response();
        }
    };
    let server = &state.config.server;
    let limits = query::Limits { max_series: server.max_query_series, max_points: server.max_query_points };
    let deadline = server.query_timeout.0;
    let cancel = Arc::new(AtomicBool::new(false));
    // Dropped with this future: when the client goes away or the deadline passes.
    let _guard = query::CancelOnDrop(cancel.clone());
    let task = {
        let state = state.clone();
        tokio::task::spawn_blocking(move || {
            query::run(&state.engine, &state.config, &request, limits, &cancel)
        })
    };
    match tokio::time::timeout(deadline, task).await {
        Err(_) => ApiError::QueryLimit(format!(
            "the query took longer than server.query_timeout ({} s) and was stopped",
            deadline.as_secs_f64()
        ))
        .into_response(),
        Ok(Err(e)) => {
            ApiError::Engine(strata::Error::Invariant(format!("the query task failed: {e}"))).into_response()
        }
        Ok(Ok(Err(e))) => e.into_response(),
        Ok(Ok(Ok(answer))) => axum::Json(answer).into_response(),
    }
}
