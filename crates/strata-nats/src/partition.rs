//! One partition this node owns: its durable consumer, started afresh at the partition's first
//! sequence for this owner, pulled while the lease is valid by this node's clock.
//!
//! Unlike an unpartitioned consumer (`jetstream.rs`), a partition never needs a catch-up by
//! sequence: its consumer is created anew at each claim (and after a broken pull) at the first
//! sequence not acknowledged, so it delivers in order with nothing pending before it. Every
//! write holds an ack guard (`Engine::write_lp_gated`) until the stream confirmed the
//! acknowledgement (a double ack) while the lease was still valid: only then may a checkpoint or
//! a tier hold the message. A confirmation that fails or comes too late raises the node's fatal
//! signal: the server exits, and its restart fences what it wrote and did not acknowledge.
//!
//! **Invariant:** a partition's message is written and acknowledged only while this node's
//! lease on the partition is valid (`lease_until - margin` by its clock), in sequence order.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use async_nats::jetstream::stream::Stream;
use strata::{Engine, StreamSequence, WriteOptions};
use tokio::sync::watch;

use crate::config::JetStreamConsumer;
use crate::deliver::{Outcome, Source, deliver};
use crate::pulls::{self, Next};
use crate::stats::NatsStats;

/// Unix time in milliseconds, by this node's clock.
pub(crate) fn now_ms() -> u64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

/// Until when this node may write a partition: its lease's end less the clock margin. Zero
/// once the partition is lost.
#[derive(Debug)]
pub(crate) struct Lease {
    valid_until_ms: AtomicU64,
}

impl Lease {
    pub(crate) fn new(valid_until_ms: u64) -> Lease {
        Lease { valid_until_ms: AtomicU64::new(valid_until_ms) }
    }

    pub(crate) fn valid(&self) -> bool {
        now_ms() < self.valid_until_ms.load(Ordering::SeqCst)
    }

    pub(crate) fn extend(&self, valid_until_ms: u64) {
        self.valid_until_ms.fetch_max(valid_until_ms, Ordering::SeqCst);
    }

    pub(crate) fn end(&self) {
        self.valid_until_ms.store(0, Ordering::SeqCst);
    }
}

/// The node's fatal signal: set once, with the reason; the server exits on it.
pub(crate) type Fatal = Arc<watch::Sender<Option<String>>>;

pub(crate) fn raise(fatal: &Fatal, reason: String) {
    fatal.send_if_modified(|slot| {
        if slot.is_none() {
            *slot = Some(reason);
            true
        } else {
            false
        }
    });
}

/// The durable consumer of a partition's epoch: `<consumer>-p<p>-e<epoch>`. A name per epoch,
/// so an acknowledgement a former owner sent late reaches a consumer nobody pulls any more.
pub(crate) fn durable_name(partition: &JetStreamConsumer, epoch: u64) -> String {
    format!("{}-e{epoch}", partition.consumer)
}

/// Deletes the durable consumer `durable` (if any) and creates it again delivering from
/// `start`, so nothing delivered earlier is pending in it.
pub(crate) async fn reset(
    stream: &Stream,
    config: &JetStreamConsumer,
    durable: &str,
    start: u64,
) -> Result<PullConsumer, String> {
    // A consumer that does not exist is what we want; any other failure shows in the create.
    let _ = stream.delete_consumer(durable).await;
    stream
        .create_consumer(pull::Config {
            durable_name: Some(durable.to_owned()),
            ack_policy: AckPolicy::Explicit,
            ack_wait: config.ack_wait.0,
            filter_subject: config.filter_subject.clone().unwrap_or_default(),
            deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: start.max(1) },
            max_ack_pending: i64::try_from(config.batch).unwrap_or(i64::MAX).saturating_mul(4),
            ..pull::Config::default()
        })
        .await
        .map_err(|e| e.to_string())
}

/// Everything one partition's pull needs.
pub(crate) struct Pull {
    pub(crate) engine: Arc<Engine>,
    /// The partition's consumer (`JetStreamConsumer::partition`).
    pub(crate) config: JetStreamConsumer,
    /// Its durable consumer for this owner's epoch (`durable_name`).
    pub(crate) durable: String,
    pub(crate) stream: Stream,
    pub(crate) consumer: PullConsumer,
    pub(crate) lease: Arc<Lease>,
    pub(crate) options: WriteOptions,
    pub(crate) stats: Arc<NatsStats>,
    pub(crate) fatal: Fatal,
}

/// Pulls and stores the partition's messages until `stop`, the lease ends, or a failure.
pub(crate) async fn pull(mut p: Pull, mut stop: watch::Receiver<bool>) {
    let source = p.config.source_name();
    let name = format!("JetStream partition consumer {:?} on stream {:?}", p.durable, p.config.stream);
    'pulls: while !*stop.borrow() && p.lease.valid() {
        let Some(mut messages) = pulls::start(&p.consumer, p.config.batch, &name, &p.stats, &mut stop).await
        else {
            continue;
        };
        loop {
            let message = match pulls::next(&mut messages, &mut stop).await {
                Next::Message(message) => message,
                Next::Stop => break 'pulls,
                Next::Broken => {
                    // Messages of the broken pull would come again only after ack_wait, behind
                    // newer ones: start the consumer afresh past what the engine holds.
                    let held = p.engine.stream_sequence(&source).unwrap_or(0);
                    match reset(&p.stream, &p.config, &p.durable, held + 1).await {
                        Ok(consumer) => p.consumer = consumer,
                        Err(e) => {
                            p.stats.note(format!("{name}: cannot start again after a broken pull ({e})"));
                            let _ = tokio::time::timeout(Duration::from_secs(1), stop.changed()).await;
                        }
                    }
                    continue 'pulls;
                }
            };
            if !p.lease.valid() {
                break 'pulls;
            }
            NatsStats::add(&p.stats.received);
            let Some(sequence) = pulls::sequence(&message, &name, &p.stats) else { continue };
            let sequenced = StreamSequence { stream: source.clone(), sequence };
            let progress = || async {
                let _ = message.ack_with(AckKind::Progress).await;
            };
            let outcome = deliver(
                &p.engine,
                message.payload.clone(),
                &p.options,
                Source::Gated(sequenced),
                &p.stats,
                &mut stop,
                progress,
            )
            .await;
            match outcome {
                Outcome::Stored(guard) => {
                    // An acknowledgement is sent only while the lease is valid: one sent later
                    // could reach the consumer the next owner creates under the same name.
                    let confirmed = if p.lease.valid() {
                        message.double_ack().await
                    } else {
                        Err(async_nats::Error::from("the lease ran out before the acknowledgement was sent"))
                    };
                    match (confirmed, p.lease.valid()) {
                        (Ok(()), true) => {
                            if let Some(guard) = guard {
                                guard.acknowledged();
                            }
                        }
                        (confirmed, _) => {
                            let why =
                                confirmed.err().map_or("after the lease ran out".into(), |e| e.to_string());
                            raise(
                                &p.fatal,
                                format!(
                                    "{name}: the acknowledgement of message {sequence} was not confirmed while this node held the partition ({why}); exiting so that the restart fences what was not acknowledged"
                                ),
                            );
                            drop(guard);
                            break 'pulls;
                        }
                    }
                }
                Outcome::TooLarge(why) => {
                    p.stats.note(format!("{name}: message {sequence} dropped: {why}"));
                    let _ = message.double_ack_with(AckKind::Term).await;
                }
                Outcome::Stopped => break 'pulls,
                Outcome::EngineFailed { cause, .. } => {
                    // Not acknowledged: the restart replays or fences it.
                    p.stats
                        .note(format!("{name}: stopped at message {sequence}: the engine failed: {cause}"));
                    raise(&p.fatal, format!("{name}: the engine failed at message {sequence}: {cause}"));
                    break 'pulls;
                }
            }
        }
    }
}
