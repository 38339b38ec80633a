//! JetStream durable pull consumers: exactly once.
//!
//! A message is acknowledged only once its points are durable in the engine's WAL, so a killed
//! server loses nothing: the stream delivers it again. The engine logs each message's stream
//! sequence with its points and skips a sequence it already holds
//! ([`Engine::write_lp_sequenced`]), so a redelivered message counts once, even after its
//! points moved to the tiers.
//!
//! That needs the messages of a consumer stored in sequence order: one at a time, and never
//! past a message that is not stored. While the engine refuses a write for hot memory, the
//! message in hand is retried in place (the stream is told work is in progress, so it does not
//! deliver it again meanwhile) and nothing after it is taken.
//!
//! **Invariant:** a message is acknowledged only after the engine holds it durably, and no
//! message is written while an earlier one of the same consumer is not stored.

use std::sync::Arc;

use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::PullConsumer;
use futures_util::StreamExt as _;
use strata::{Engine, StreamSequence, WriteOptions};
use tokio::sync::watch;

use crate::config::JetStreamConsumer;
use crate::deliver::{Outcome, deliver};
use crate::stats::NatsStats;

/// Pulls and stores the messages of one consumer until `stop`.
pub(crate) async fn run(
    engine: Arc<Engine>,
    config: JetStreamConsumer,
    consumer: PullConsumer,
    options: WriteOptions,
    stats: Arc<NatsStats>,
    mut stop: watch::Receiver<bool>,
) {
    let source = config.source_name();
    let name = format!("JetStream consumer {:?} on stream {:?}", config.consumer, config.stream);
    'pulls: while !*stop.borrow() {
        let messages = consumer.stream().max_messages_per_batch(config.batch).messages().await;
        let mut messages = match messages {
            Ok(messages) => messages,
            Err(e) => {
                // The server may be restarting: try again after a pause.
                stats.note(format!("{name}: cannot pull ({e}); trying again"));
                let _ = tokio::time::timeout(std::time::Duration::from_secs(1), stop.changed()).await;
                continue;
            }
        };
        loop {
            let next = tokio::select! {
                biased;
                _ = stop.changed() => break 'pulls,
                message = messages.next() => message,
            };
            let message = match next {
                Some(Ok(message)) => message,
                // A missed heartbeat or a reconnect: pull again.
                Some(Err(_)) | None => continue 'pulls,
            };
            NatsStats::add(&stats.received);
            let sequence = match message.info() {
                Ok(info) => info.stream_sequence,
                Err(e) => {
                    stats.note(format!("{name}: a message without JetStream metadata ({e})"));
                    continue;
                }
            };
            let sequenced = StreamSequence { stream: source.clone(), sequence };
            let progress = || async {
                let _ = message.ack_with(AckKind::Progress).await;
            };
            let outcome = deliver(
                &engine,
                message.payload.clone(),
                &options,
                Some(sequenced),
                &stats,
                &mut stop,
                progress,
            )
            .await;
            match outcome {
                Outcome::Stored => {
                    // An ack lost on the way is harmless: the redelivery is skipped.
                    let _ = message.ack().await;
                }
                Outcome::TooLarge(why) => {
                    // No retry can store it; the stream must not hold it (and what follows) forever.
                    stats.note(format!("{name}: message {sequence} dropped: {why}"));
                    let _ = message.ack_with(AckKind::Term).await;
                }
                Outcome::Stopped => break 'pulls,
                Outcome::EngineFailed { cause, durable } => {
                    if durable {
                        let _ = message.ack().await;
                    }
                    stats.note(format!("{name}: stopped at message {sequence}: the engine failed: {cause}"));
                    break 'pulls;
                }
            }
        }
    }
}
