//! Core NATS subjects, as cc-metric-store subscribes them: line protocol in each message, at
//! most once.

use std::sync::Arc;

use async_nats::Subscriber;
use futures_util::StreamExt as _;
use strata::{Engine, WriteOptions};
use tokio::sync::watch;

use crate::config::Subscription;
use crate::deliver::{Outcome, Source, deliver};
use crate::stats::NatsStats;

/// Takes the messages of one subscription until `stop`, then drains it.
pub(crate) async fn run(
    engine: Arc<Engine>,
    subscription: Subscription,
    mut subscriber: Subscriber,
    options: WriteOptions,
    stats: Arc<NatsStats>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let next = tokio::select! {
            biased;
            _ = stop.changed() => None,
            message = subscriber.next() => message,
        };
        let Some(message) = next else { break };
        NatsStats::add(&stats.received);
        match deliver(&engine, message.payload, &options, Source::Plain, &stats, &mut stop, || async {}).await
        {
            Outcome::Stored(_) => {}
            Outcome::TooLarge(_) => {}
            Outcome::Stopped => {
                NatsStats::add(&stats.failed);
                break;
            }
            Outcome::EngineFailed { cause, durable } => {
                if !durable {
                    NatsStats::add(&stats.failed);
                }
                stats.note(format!("subject {:?}: the engine failed: {cause}", subscription.subject));
                break;
            }
        }
    }
    // Messages the server already sent are taken no more; a queue group's other members get
    // the rest.
    let _ = subscriber.unsubscribe().await;
}
