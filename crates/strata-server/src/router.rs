//! Which path goes where, and the state every handler shares.
//!
//! Every path also answers with a trailing slash, as cc-metric-store's do. `/health` and
//! `/metrics` need no token (load balancers and Prometheus call them); every other path
//! does when `server.jwt_public_key` is set.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use strata::Engine;

use crate::auth::{self, Auth};
use crate::backpressure::IngestQueue;
use crate::ccms;
use crate::config::FileConfig;
use crate::error::{ApiError, Shape};
use crate::influx;
use crate::metrics::Telemetry;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    pub(crate) engine: Arc<Engine>,
    pub(crate) config: Arc<FileConfig>,
    pub(crate) queue: IngestQueue,
    pub(crate) telemetry: Arc<Telemetry>,
    pub(crate) auth: Option<Arc<Auth>>,
}

impl AppState {
    /// The shared state of a server over `engine`.
    pub fn new(
        engine: Arc<Engine>,
        config: FileConfig,
        auth: Option<Auth>,
        nats: Option<Arc<strata_nats::NatsStats>>,
    ) -> AppState {
        let queue = IngestQueue::new(engine.clone(), config.server.write_workers, config.server.queue_depth);
        let telemetry = Arc::new(Telemetry::new(engine.clone(), nats));
        AppState { engine, config: Arc::new(config), queue, telemetry, auth: auth.map(Arc::new) }
    }

    /// The write queue (a NATS subscriber would feed it too).
    pub fn queue(&self) -> &IngestQueue {
        &self.queue
    }
}

/// The error shape of a path: InfluxDB's for its write paths, cc-metric-store's otherwise.
pub(crate) fn shape_of(path: &str) -> Shape {
    if path.starts_with("/api/v2/") {
        Shape::InfluxV2
    } else if path.starts_with("/write") {
        Shape::InfluxV1
    } else {
        Shape::CcMetricStore
    }
}

/// The router of every endpoint.
pub fn router(state: AppState) -> Router {
    let protected: [(&str, MethodRouter<AppState>); 6] = [
        ("/api/write", post(ccms::write::write)),
        ("/api/query", get(ccms::query).post(ccms::query)),
        ("/api/free", post(ccms::health::free)),
        ("/api/healthcheck", get(ccms::health::healthcheck).post(ccms::health::healthcheck)),
        ("/write", post(influx::write_v1)),
        ("/api/v2/write", post(influx::write_v2)),
    ];
    let mut api = Router::new();
    for (path, route) in protected {
        api = api.route(path, route.clone()).route(&format!("{path}/"), route);
    }
    let api = api.route_layer(middleware::from_fn_with_state(state.clone(), auth::require));
    let open: [(&str, MethodRouter<AppState>); 2] = [("/health", get(health)), ("/metrics", get(metrics))];
    let mut router = api;
    for (path, route) in open {
        router = router.route(path, route.clone()).route(&format!("{path}/"), route);
    }
    router.fallback(not_found).with_state(state)
}

/// `GET /health`: 200 while the server runs.
async fn health() -> Response {
    axum::Json(serde_json::json!({ "status": "pass" })).into_response()
}

/// `GET /metrics`: OpenMetrics text (what `prometheus-client` encodes; Prometheus scrapes it).
async fn metrics(State(state): State<AppState>) -> Response {
    let telemetry = state.telemetry.clone();
    match tokio::task::spawn_blocking(move || telemetry.encode()).await {
        Ok(Ok(text)) => {
            ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text)
                .into_response()
        }
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "cannot encode the metrics").into_response(),
    }
}

async fn not_found(uri: Uri) -> Response {
    let shape = shape_of(uri.path());
    ApiError::NotFound(uri.path().to_owned()).into_response_shaped(shape)
}
