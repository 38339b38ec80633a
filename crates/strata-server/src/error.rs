//! What a request can fail with, and how each failure is answered: the HTTP status, and the
//! JSON body in the shape the client's API expects (cc-metric-store's or InfluxDB's).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A request that cannot be served; the message names the input or the limit at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The request is malformed: bad JSON, a bad parameter, `from` after `to`.
    #[error("{0}")]
    BadRequest(String),
    /// Lines of a write were rejected; the others were stored.
    #[error("{0}")]
    PartialWrite(String),
    /// No token, or one that is not valid (signature, algorithm, expiry).
    #[error("{0}")]
    Unauthorized(String),
    #[error("the request body is larger than server.body_limit ({limit} bytes)")]
    BodyTooLarge { limit: u64 },
    #[error("the request body did not arrive within server.body_timeout ({seconds} s)")]
    BodyTimeout { seconds: u64 },
    #[error("{0}")]
    UnsupportedEncoding(String),
    /// The write queue is full: the client should retry after `retry_after` seconds.
    #[error(
        "the write queue is full (server.write_workers busy and server.queue_depth writes waiting); nothing of this write was stored, retry after {retry_after} s"
    )]
    QueueFull { retry_after: u64 },
    /// A query passed one of the server's query limits, named in the message.
    #[error("{0}")]
    QueryLimit(String),
    #[error("no such endpoint: {0}")]
    NotFound(String),
    #[error("the server is shutting down")]
    ShuttingDown,
    /// The engine refuses writes for hot memory (the object store is down): backpressure.
    #[error("{message}")]
    HotMemoryFull { message: String, retry_after: u64 },
    /// The engine failed; not the client's fault.
    #[error("{0}")]
    Engine(strata::Error),
}

impl From<strata::Error> for ApiError {
    fn from(e: strata::Error) -> Self {
        match e {
            strata::Error::Query(message) => ApiError::BadRequest(format!("invalid query: {message}")),
            strata::Error::Cancelled => ApiError::QueryLimit(
                "the query was cancelled: server.query_timeout passed or the client went away".into(),
            ),
            other => ApiError::Engine(other),
        }
    }
}

/// Which API's error shape a response takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `{"status":"Bad Request","error":"..."}`
    CcMetricStore,
    /// InfluxDB 1.x: `{"error":"..."}`
    InfluxV1,
    /// InfluxDB 2.x: `{"code":"invalid","message":"..."}`
    InfluxV2,
}

impl ApiError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::PartialWrite(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            ApiError::UnsupportedEncoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::QueueFull { .. } | ApiError::ShuttingDown | ApiError::HotMemoryFull { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::QueryLimit(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Engine(strata::Error::WriteTooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Engine(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The response in `shape`, with `Retry-After` on a full queue.
    pub fn into_response_shaped(self, shape: Shape) -> Response {
        let status = self.status();
        let message = self.to_string();
        let body = match shape {
            Shape::CcMetricStore => serde_json::json!({
                "status": status.canonical_reason().unwrap_or("Error"),
                "error": message,
            }),
            Shape::InfluxV1 => serde_json::json!({ "error": message }),
            Shape::InfluxV2 => serde_json::json!({ "code": influx_code(status), "message": message }),
        };
        let mut response = (status, axum::Json(body)).into_response();
        if matches!(self, ApiError::BodyTimeout { .. } | ApiError::BodyTooLarge { .. }) {
            // The rest of the body is still on its way: the connection cannot serve another request.
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if let ApiError::QueueFull { retry_after } | ApiError::HotMemoryFull { retry_after, .. } = self
            && let Ok(value) = HeaderValue::from_str(&retry_after.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// InfluxDB 2's error codes for the statuses this server answers.
fn influx_code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::PAYLOAD_TOO_LARGE => "request too large",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        StatusCode::NOT_FOUND => "not found",
        s if s.is_server_error() => "internal error",
        _ => "invalid",
    }
}

impl IntoResponse for ApiError {
    /// cc-metric-store's shape, the default of this server.
    fn into_response(self) -> Response {
        self.into_response_shaped(Shape::CcMetricStore)
    }
}
