//! `POST /api/write?cluster=<c>`: cc-metric-store's write. Line protocol with second
//! timestamps; `cluster` fills lines without a `cluster` tag. 200 with an empty body when
//! every line was stored; otherwise 400 naming the rejected lines. Unlike cc-metric-store,
//! which stops at the first bad line, the valid lines of the body are stored either way.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use strata::{Precision, WriteOptions};

use crate::error::ApiError;
use crate::ingest::{ingest, rejections_message};
use crate::router::AppState;

/// The handler.
pub(crate) async fn write(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let options = WriteOptions {
        precision: Precision::Seconds,
        default_cluster: params.get("cluster").filter(|c| !c.is_empty()).cloned(),
        default_time: None,
    };
    match ingest(&state, "ccms", &headers, body, options).await {
        Ok(report) if report.rejected == 0 => StatusCode::OK.into_response(),
        Ok(report) => ApiError::PartialWrite(rejections_message(&report)).into_response(),
        Err(e) => e.into_response(),
    }
}
