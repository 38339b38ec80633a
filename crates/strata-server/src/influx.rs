//! InfluxDB's write API: `POST /write?db=&precision=` (1.x) and
//! `POST /api/v2/write?bucket=&org=&precision=` (2.x), bodies plain or gzip. 204 when every
//! line was stored; a partial write answers 400 in the version's error shape
//! (`{"error":"partial write: ..."}` for 1.x, `{"code":"invalid","message":"partial write: ..."}`
//! for 2.x), the valid lines stored. `db`, `bucket` and `org` are accepted and not used: strata
//! has one namespace, and a line's tags (e.g. `cluster`) say where it belongs.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use strata::{Precision, WriteOptions};

use crate::error::{ApiError, Shape};
use crate::ingest::{ingest, rejections_message};
use crate::router::AppState;

/// `POST /write` (InfluxDB 1.x).
pub(crate) async fn write_v1(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    write(state, params, headers, body, Shape::InfluxV1, "influx_v1").await
}

/// `POST /api/v2/write` (InfluxDB 2.x).
pub(crate) async fn write_v2(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    write(state, params, headers, body, Shape::InfluxV2, "influx_v2").await
}

async fn write(
    state: AppState,
    params: HashMap<String, String>,
    headers: HeaderMap,
    body: Body,
    shape: Shape,
    api: &'static str,
) -> Response {
    let precision = match precision(params.get("precision").map(String::as_str)) {
        Ok(p) => p,
        Err(e) => return e.into_response_shaped(shape),
    };
    let options = WriteOptions { precision, default_cluster: None, default_time: None };
    match ingest(&state, api, &headers, body, options).await {
        Ok(report) if report.rejected == 0 => StatusCode::NO_CONTENT.into_response(),
        Ok(report) => ApiError::PartialWrite(format!("partial write: {}", rejections_message(&report)))
            .into_response_shaped(shape),
        Err(e) => e.into_response_shaped(shape),
    }
}

/// `precision=`: InfluxDB 2's `ns`, `us`, `ms`, `s`, and 1.x's `n`, `u`; nanoseconds when absent.
fn precision(word: Option<&str>) -> Result<Precision, ApiError> {
    match word {
        None | Some("" | "ns" | "n") => Ok(Precision::Nanoseconds),
        Some("us" | "u" | "µ") => Ok(Precision::Microseconds),
        Some("ms") => Ok(Precision::Milliseconds),
        Some("s") => Ok(Precision::Seconds),
        Some(other) => Err(ApiError::BadRequest(format!(
            "precision {other:?} is not one of ns, us, ms, s (minutes and hours are not supported)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precisions_of_both_versions() {
        assert_eq!(precision(None).unwrap(), Precision::Nanoseconds);
        assert_eq!(precision(Some("u")).unwrap(), Precision::Microseconds);
        assert_eq!(precision(Some("s")).unwrap(), Precision::Seconds);
        let err = precision(Some("h")).unwrap_err().to_string();
        assert!(err.contains("precision \"h\" is not one of"), "{err}");
    }
}
