//! Pulling a JetStream consumer's messages: what the plain consumer (`jetstream.rs`) and a
//! partition's consumer (`partition.rs`) do alike. What they do with a broken pull and with a
//! message differs, and stays theirs.

use std::time::Duration;

use async_nats::jetstream::Message;
use async_nats::jetstream::consumer::{PullConsumer, pull};
use futures_util::StreamExt as _;
use tokio::sync::watch;

use crate::stats::NatsStats;

/// What came of waiting for the next message of a pull. Returned once per message and used
/// at once: the message is not worth a box.
#[expect(clippy::large_enum_variant, reason = "a value passed straight to a match, never stored")]
pub(crate) enum Next {
    Message(Message),
    /// Shutdown was asked for.
    Stop,
    /// A missed heartbeat, a reconnect or the end of the pull: pull again.
    Broken,
}

/// A pull of up to `batch` messages. `None` when it cannot start (the server may be
/// restarting): the cause is noted and a second has passed, or shutdown was asked for.
pub(crate) async fn start(
    consumer: &PullConsumer,
    batch: usize,
    name: &str,
    stats: &NatsStats,
    stop: &mut watch::Receiver<bool>,
) -> Option<pull::Stream> {
    match consumer.stream().max_messages_per_batch(batch).messages().await {
        Ok(messages) => Some(messages),
        Err(e) => {
            stats.note(format!("{name}: cannot pull ({e}); trying again"));
            let _ = tokio::time::timeout(Duration::from_secs(1), stop.changed()).await;
            None
        }
    }
}

/// The next message of `messages`, unless shutdown comes first.
pub(crate) async fn next(messages: &mut pull::Stream, stop: &mut watch::Receiver<bool>) -> Next {
    tokio::select! {
        biased;
        _ = stop.changed() => Next::Stop,
        message = messages.next() => match message {
            Some(Ok(message)) => Next::Message(message),
            Some(Err(_)) | None => Next::Broken,
        },
    }
}

/// The stream sequence of `message`; `None`, noted, for a message without JetStream metadata.
pub(crate) fn sequence(message: &Message, name: &str, stats: &NatsStats) -> Option<u64> {
    match message.info() {
        Ok(info) => Some(info.stream_sequence),
        Err(e) => {
            stats.note(format!("{name}: a message without JetStream metadata ({e})"));
            None
        }
    }
}
