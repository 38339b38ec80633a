//! Handing one message to the engine: on its blocking pool, retried in place while hot
//! memory is full, and classified for the caller to acknowledge or not.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use strata::{AckGuard, Engine, Error, Sequenced, StreamSequence, WriteOptions};
use tokio::sync::watch;

use crate::stats::NatsStats;

/// What became of a message.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Durable in the engine (or stored before): acknowledge it. A gated write's guard
    /// (`Engine::write_lp_gated`) waits for the acknowledgement.
    Stored(Option<AckGuard>),
    /// Over `limits.max_write_size`: it can never be stored.
    TooLarge(String),
    /// The engine failed: stop taking messages. `durable` when the message is in the log
    /// anyway (memory missed it; the next open replays it).
    EngineFailed { cause: String, durable: bool },
    /// Shutting down while waiting for room: not stored.
    Stopped,
}

/// Where a message comes from, which says how the engine takes it.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// A core NATS subject: no sequence, at most once.
    Plain,
    /// A JetStream message: skipped if its sequence was applied before.
    Sequenced(StreamSequence),
    /// A partitioned consumer's message: sequenced, and the write holds an ack guard until its
    /// acknowledgement is confirmed (`Engine::write_lp_gated`).
    Gated(StreamSequence),
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
    source: Source,
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
            Source::Gated(source) => {
                engine.write_lp_gated(&body, &options, source).map(|(o, g)| (o, Some(g)))
            }
            Source::Sequenced(source) => {
                engine.write_lp_sequenced(&body, &options, source).map(|o| (o, None))
            }
            Source::Plain => engine.write_lp(&body, &options).map(|r| (Sequenced::Applied(r), None)),
        })
        .await;
        let result = match written {
            Ok(result) => result,
            Err(join) => return Outcome::EngineFailed { cause: join.to_string(), durable: false },
        };
        match result {
            Ok((Sequenced::Applied(_), guard)) => {
                NatsStats::add(&stats.stored);
                return Outcome::Stored(guard);
            }
            Ok((Sequenced::Duplicate { .. }, guard)) => {
                NatsStats::add(&stats.duplicates);
                return Outcome::Stored(guard);
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
