//! The write path every write endpoint shares: read the body within the limits, hand it to
//! the bounded queue, count what was refused and why.

use std::time::Instant;

use axum::body::Body;
use axum::http::HeaderMap;
use strata::{WriteOptions, WriteReport};

use crate::backpressure::IngestError;
use crate::body::{self, BodyLimits};
use crate::error::ApiError;
use crate::router::AppState;

/// Reads `body` and writes it through the queue. `api` labels the server's counters.
pub(crate) async fn ingest(
    state: &AppState,
    api: &'static str,
    headers: &HeaderMap,
    body: Body,
    options: WriteOptions,
) -> Result<WriteReport, ApiError> {
    let limits = BodyLimits {
        max_bytes: state.config.server.body_limit.0,
        timeout: state.config.server.body_timeout.0,
    };
    let mut received = 0;
    let read = body::read(body, headers, limits, &mut received).await;
    state.telemetry.count_received(api, received);
    let bytes = read.inspect_err(|e| state.telemetry.count_request_rejected(reason(e)))?;
    let lines = count_lines(&bytes);
    let started = Instant::now();
    match state.queue.try_write(bytes, options).await {
        Ok(report) => {
            state.telemetry.observe_write(started.elapsed());
            Ok(report)
        }
        Err(IngestError::Full) => {
            state.telemetry.count_request_rejected("queue_full");
            state.telemetry.count_lines_rejected("queue_full", lines);
            Err(ApiError::QueueFull { retry_after: state.config.server.retry_after.0.as_secs().max(1) })
        }
        Err(IngestError::Closed) => {
            state.telemetry.count_request_rejected("shutting_down");
            state.telemetry.count_lines_rejected("shutting_down", lines);
            Err(ApiError::ShuttingDown)
        }
        Err(IngestError::Engine(e @ strata::Error::HotMemoryFull { .. })) => {
            state.telemetry.count_request_rejected("hot_memory_full");
            state.telemetry.count_lines_rejected("hot_memory_full", lines);
            let retry_after = state.config.server.retry_after.0.as_secs().max(1);
            Err(ApiError::HotMemoryFull { message: e.to_string(), retry_after })
        }
        Err(IngestError::Engine(e)) => {
            let e = ApiError::from(e);
            state.telemetry.count_request_rejected(reason(&e));
            state.telemetry.count_lines_rejected(reason(&e), lines);
            Err(e)
        }
        Err(IngestError::Task(message)) => {
            state.telemetry.count_request_rejected("internal");
            Err(ApiError::Engine(strata::Error::Invariant(message)))
        }
    }
}

/// The counter label of a refused request.
fn reason(e: &ApiError) -> &'static str {
    match e {
        ApiError::BodyTooLarge { .. } => "body_too_large",
        ApiError::BodyTimeout { .. } => "body_timeout",
        ApiError::UnsupportedEncoding(_) => "bad_encoding",
        ApiError::Engine(strata::Error::WriteTooLarge { .. }) => "body_too_large",
        ApiError::Engine(_) => "engine_error",
        _ => "bad_request",
    }
}

/// Lines in a body (a last line without `\n` counts).
fn count_lines(body: &[u8]) -> u64 {
    let newlines = memchr::memchr_iter(b'\n', body).count() as u64;
    newlines + u64::from(body.last().is_some_and(|&b| b != b'\n'))
}

/// The message of a write whose lines were partly rejected: counts, then the first rejections.
pub(crate) fn rejections_message(report: &WriteReport) -> String {
    const SHOWN: usize = 10;
    let mut message = format!("{} line(s) rejected, {} point(s) stored", report.rejected, report.accepted);
    for rejection in report.rejections.iter().take(SHOWN) {
        message.push_str("; ");
        message.push_str(&rejection.to_string());
    }
    if report.rejected > SHOWN as u64 {
        message.push_str("; ...");
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_counted_with_or_without_a_last_newline() {
        assert_eq!(count_lines(b""), 0);
        assert_eq!(count_lines(b"a\nb\n"), 2);
        assert_eq!(count_lines(b"a\nb"), 2);
    }
}
