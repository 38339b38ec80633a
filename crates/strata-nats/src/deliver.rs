//! Handing one message to the engine: on its blocking pool, retried in place while hot
//! memory is full, and classified for the caller to acknowledge or not.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use strata::{Engine, Error, Sequenced, StreamSequence, WriteOptions};
use tokio::sync::watch;

use crate::stats::NatsStats;

/// What became of a message.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Durable in the engine (or stored before): acknowledge it.
    Stored,
    /// Over `limits.max_write_size`: it can never be stored.
    TooLarge(String),
    /// The engine failed: stop taking messages. `durable` when the message is in the log
    /// anyway (memory missed it; the next open replays it).
    EngineFailed { cause: String, durable: bool },
    /// Shutting down while waiting for room: not stored.
    Stopped,
}

/// Pauses between tries while hot memory is full: from 100 ms, doubling to 5 s.
const FIRST_PAUSE: Duration = Duration::from_millis(100);
const LONGEST_PAUSE: Duration = Duration::from_secs(5);

/// Writes `body`, retrying while the engine refuses it for hot memory. `progress` runs before
/// each pause (a JetStream message's "still working", so it is not delivered again meanwhile).
pub(crate) async fn deliver<F, Fut>(
    engine: &Arc<Engine>,
    body: Bytes,
    options: &WriteOptions,
    source: Option<StreamSequence>,
    stats: &NatsStats,
    stop: &mut watch::Receiver<bool>,
    mut progress: F,
) -> Outcome
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut pause = FIRST_PAUSE;
    loop {
        let (engine, body, options, source) = (engine.clone(), body.clone(), options.clone(), source.clone());
        let written = tokio::task::spawn_blocking(move || match &source {
            Some(source) => engine.write_lp_sequenced(&body, &options, source),
            None => engine.write_lp(&body, &options).map(Sequenced::Applied),
        })
        .await;
        let result = match written {
            Ok(result) => result,
            Err(join) => return Outcome::EngineFailed { cause: join.to_string(), durable: false },
        };
        match result {
            Ok(Sequenced::Applied(_)) => {
                NatsStats::add(&stats.stored);
                return Outcome::Stored;
            }
            Ok(Sequenced::Duplicate { .. }) => {
                NatsStats::add(&stats.duplicates);
                return Outcome::Stored;
            }
            Err(Error::HotMemoryFull { .. }) => {
                NatsStats::add(&stats.backpressure_waits);
                progress().await;
                if *stop.borrow() {
                    return Outcome::Stopped;
                }
                // Wakes early when shutdown is asked for.
                let _ = tokio::time::timeout(pause, stop.changed()).await;
                if *stop.borrow() {
                    return Outcome::Stopped;
                }
                pause = (pause * 2).min(LONGEST_PAUSE);
            }
            Err(e @ Error::WriteTooLarge { .. }) => {
                NatsStats::add(&stats.too_large);
                return Outcome::TooLarge(e.to_string());
            }
            Err(e @ Error::ApplyFailed { .. }) => {
                return Outcome::EngineFailed { cause: e.to_string(), durable: true };
            }
            Err(e) => return Outcome::EngineFailed { cause: e.to_string(), durable: false },
        }
    }
}
