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
//! The stream itself does not keep that order across a restart: messages delivered to a
//! client that died (or to a pull that failed) come again only after `ack_wait`, while newer
//! ones flow at once. Storing a newer one first would make the older ones look stored. So
//! before every pull, [`catch_up`] reads the consumer's state and fetches, by sequence and in
//! order, every message it delivered past what the engine holds; only then are new deliveries
//! taken, and the old deliveries, when they come again, are skipped and acknowledged.
//!
//! **Invariant:** a message is acknowledged only after the engine holds it durably, and no
//! message is written while an earlier one of the same consumer is not stored.

use std::sync::Arc;

use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::stream::{RawMessageErrorKind, Stream};
use strata::{Engine, StreamSequence, WriteOptions};
use tokio::sync::watch;

use crate::config::JetStreamConsumer;
use crate::deliver::{Outcome, Source, deliver};
use crate::pulls::{self, Next};
use crate::stats::NatsStats;

/// Pulls and stores the messages of one consumer until `stop`.
pub(crate) async fn run(
    engine: Arc<Engine>,
    config: JetStreamConsumer,
    stream: Stream,
    consumer: PullConsumer,
    options: WriteOptions,
    stats: Arc<NatsStats>,
    mut stop: watch::Receiver<bool>,
) {
    let source = config.source_name();
    let name = format!("JetStream consumer {:?} on stream {:?}", config.consumer, config.stream);
    'pulls: while !*stop.borrow() {
        match catch_up(&engine, &config, &stream, &consumer, &options, &stats, &mut stop).await {
            Ok(true) => {}
            Ok(false) => break 'pulls,
            Err(e) => {
                stats.note(format!("{name}: cannot catch up on earlier deliveries ({e}); trying again"));
                let _ = tokio::time::timeout(std::time::Duration::from_secs(1), stop.changed()).await;
                continue;
            }
        }
        let Some(mut messages) = pulls::start(&consumer, config.batch, &name, &stats, &mut stop).await else {
            continue;
        };
        loop {
            let message = match pulls::next(&mut messages, &mut stop).await {
                Next::Message(message) => message,
                Next::Stop => break 'pulls,
                Next::Broken => continue 'pulls,
            };
            NatsStats::add(&stats.received);
            let Some(sequence) = pulls::sequence(&message, &name, &stats) else { continue };
            let sequenced = StreamSequence { stream: source.clone(), sequence };
            let progress = || async {
                let _ = message.ack_with(AckKind::Progress).await;
            };
            let outcome = deliver(
                &engine,
                message.payload.clone(),
                &options,
                Source::Sequenced(sequenced),
                &stats,
                &mut stop,
                progress,
            )
            .await;
            match outcome {
                Outcome::Stored(_) => {
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

/// Stores, in sequence order, the messages the consumer delivered before (to a client that
/// died, or to a pull that failed) past the last one the engine holds, fetching them from the
/// stream by sequence. `Ok(false)` when the engine failed or shutdown came meanwhile.
async fn catch_up(
    engine: &Arc<Engine>,
    config: &JetStreamConsumer,
    stream: &Stream,
    consumer: &PullConsumer,
    options: &WriteOptions,
    stats: &Arc<NatsStats>,
    stop: &mut watch::Receiver<bool>,
) -> Result<bool, String> {
    let info = consumer.get_info().await.map_err(|e| e.to_string())?;
    let source = config.source_name();
    // Acknowledged means stored: nothing at or below the ack floor is fetched again.
    let held = engine.stream_sequence(&source).unwrap_or(0).max(info.ack_floor.stream_sequence);
    for sequence in held.saturating_add(1)..=info.delivered.stream_sequence {
        let message = match stream.get_raw_message(sequence).await {
            Ok(message) => message,
            // Removed by the stream's limits: nothing to store.
            Err(e) if e.kind() == RawMessageErrorKind::NoMessageFound => continue,
            Err(e) => return Err(e.to_string()),
        };
        if !config.filter_subject.as_deref().is_none_or(|filter| subject_matches(filter, &message.subject)) {
            continue;
        }
        NatsStats::add(&stats.received);
        let sequenced = StreamSequence { stream: source.clone(), sequence };
        match deliver(engine, message.payload, options, Source::Sequenced(sequenced), stats, stop, || async {
        })
        .await
        {
            Outcome::Stored(_) => {}
            Outcome::TooLarge(why) => {
                stats.note(format!("message {sequence} of stream {:?} dropped: {why}", config.stream))
            }
            Outcome::Stopped => return Ok(false),
            Outcome::EngineFailed { cause, .. } => {
                stats.note(format!(
                    "stopped at message {sequence} of stream {:?}: the engine failed: {cause}",
                    config.stream
                ));
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// Whether `subject` matches the NATS subject `filter`: tokens split at `.`, `*` matches one
/// token, a final `>` one or more.
fn subject_matches(filter: &str, subject: &str) -> bool {
    let mut tokens = subject.split('.');
    for part in filter.split('.') {
        match (part, tokens.next()) {
            (">", Some(_)) => return true,
            ("*", Some(_)) => {}
            (part, Some(token)) if part == token => {}
            _ => return false,
        }
    }
    tokens.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::subject_matches;

    #[test]
    fn subjects_match_as_nats_matches_them() {
        for (filter, subject, want) in [
            ("metrics.>", "metrics.a", true),
            ("metrics.>", "metrics.a.b", true),
            ("metrics.>", "metrics", false),
            ("metrics.*", "metrics.a", true),
            ("metrics.*", "metrics.a.b", false),
            ("metrics.*.x", "metrics.a.x", true),
            ("metrics.a", "metrics.a", true),
            ("metrics.a", "metrics.b", false),
            ("metrics.a", "metrics.a.b", false),
            ("metrics.a.b", "metrics.a", false),
        ] {
            assert_eq!(subject_matches(filter, subject), want, "{filter} against {subject}");
        }
    }
}
