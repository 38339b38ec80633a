//! NATS ingest for strata: line protocol from core NATS subjects (as cc-metric-store takes it)
//! and from JetStream durable consumers, exactly once.
//!
//! [`NatsIngest::start`] connects, subscribes every `[[nats.subscriptions]]` and pulls every
//! `[[nats.jetstream]]` consumer, each on its own task, writing into an [`Engine`]:
//! - core subjects are at most once, as NATS itself: a message the server drops because this
//!   client is slow (counted in [`NatsCounts::slow_consumer_events`]), or one in flight when the
//!   process dies, is gone;
//! - JetStream messages are acknowledged once durable and stored in sequence order, and the
//!   engine skips a sequence it already holds: a killed server loses nothing and counts nothing
//!   twice (`jetstream.rs`).
//!
//! While the engine refuses writes for hot memory, the message in hand waits and is retried:
//! nothing more is taken from that subscription or consumer (backpressure, never a silent drop).

pub mod claims;
mod config;
mod core_subject;
mod deliver;
mod error;
mod jetstream;
mod ownership;
mod partition;
mod pulls;
mod stats;

use std::sync::Arc;

use async_nats::jetstream::consumer::{AckPolicy, PullConsumer, pull};
use strata::{Engine, WriteOptions};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{JetStreamConsumer, NatsConfig, Subscription};
pub use error::{ClaimError, NatsError};
pub use ownership::{claims_of, fences};
pub use stats::{MAX_NOTES, NatsCounts, NatsStats};

/// NATS ingest running on the current tokio runtime.
#[derive(Debug)]
pub struct NatsIngest {
    client: async_nats::Client,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    stats: Arc<NatsStats>,
    fatal: watch::Receiver<Option<String>>,
}

impl NatsIngest {
    /// Connects to `config.url` and starts every subscription and consumer.
    ///
    /// # Errors
    /// [`NatsError`] naming the server, subject, stream or consumer that failed; nothing is
    /// left running then.
    pub async fn start(engine: Arc<Engine>, config: &NatsConfig) -> Result<NatsIngest, NatsError> {
        config.validate().map_err(NatsError::Config)?;
        let stats = Arc::new(NatsStats::default());
        let client = connect(config, stats.clone()).await?;
        let (stop, stopped) = watch::channel(false);
        let (fatal, fatal_rx) = watch::channel(None);
        let fatal = Arc::new(fatal);
        let mut tasks = Vec::new();
        let options = |cluster: &Option<String>| WriteOptions {
            precision: config.precision,
            default_cluster: cluster.clone(),
            default_time: None,
        };
        for subscription in &config.subscriptions {
            let subject = subscription.subject.clone();
            let subscribed = match &subscription.queue_group {
                Some(group) => client.queue_subscribe(subject.clone(), group.clone()).await,
                None => client.subscribe(subject.clone()).await,
            };
            let subscriber = subscribed
                .map_err(|e| NatsError::Subscribe { subject: subject.clone(), cause: e.to_string() })?;
            tasks.push(tokio::spawn(core_subject::run(
                engine.clone(),
                subscription.clone(),
                subscriber,
                options(&subscription.cluster),
                stats.clone(),
                stopped.clone(),
            )));
        }
        let context = async_nats::jetstream::new(client.clone());
        for c in &config.jetstream {
            let stream = context
                .get_stream(&c.stream)
                .await
                .map_err(|e| NatsError::Stream { stream: c.stream.clone(), cause: e.to_string() })?;
            if c.partitions.is_some() {
                let claims = ownership::claims_of(engine.config(), c)?;
                let supervisor = ownership::Supervisor {
                    engine: engine.clone(),
                    config: c.clone(),
                    stream,
                    claims,
                    node: engine.config().node_id.clone().unwrap_or_default(),
                    options: options(&c.cluster),
                    stats: stats.clone(),
                    fatal: fatal.clone(),
                };
                tasks.push(tokio::spawn(supervisor.run(stopped.clone())));
                continue;
            }
            let consumer: PullConsumer = stream
                .get_or_create_consumer(
                    &c.consumer,
                    pull::Config {
                        durable_name: Some(c.consumer.clone()),
                        ack_policy: AckPolicy::Explicit,
                        ack_wait: c.ack_wait.0,
                        filter_subject: c.filter_subject.clone().unwrap_or_default(),
                        max_ack_pending: i64::try_from(c.batch).unwrap_or(i64::MAX).saturating_mul(4),
                        ..pull::Config::default()
                    },
                )
                .await
                .map_err(|e| NatsError::Consumer {
                    stream: c.stream.clone(),
                    consumer: c.consumer.clone(),
                    cause: e.to_string(),
                })?;
            tasks.push(tokio::spawn(jetstream::run(
                engine.clone(),
                c.clone(),
                stream,
                consumer,
                options(&c.cluster),
                stats.clone(),
                stopped.clone(),
            )));
        }
        // The server has every subscription once this returns: a message published after it
        // is not missed.
        client
            .flush()
            .await
            .map_err(|e| NatsError::Connect { url: config.url.clone(), cause: e.to_string() })?;
        Ok(NatsIngest { client, stop, tasks, stats, fatal: fatal_rx })
    }

    /// Set once this node must exit without a clean close: it lost a partition while it held
    /// a message it had written but not acknowledged (`partition.rs`). Its restart fences it.
    pub fn fatal(&self) -> watch::Receiver<Option<String>> {
        self.fatal.clone()
    }

    /// The counters, shared with the running tasks.
    pub fn stats(&self) -> Arc<NatsStats> {
        self.stats.clone()
    }

    /// Stops taking messages: each task finishes the message in hand (stored and
    /// acknowledged, or left for redelivery), then the connection is flushed and closed.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        let _ = self.client.flush().await;
    }
}

pub(crate) async fn connect(
    config: &NatsConfig,
    stats: Arc<NatsStats>,
) -> Result<async_nats::Client, NatsError> {
    let mut options = async_nats::ConnectOptions::new().event_callback(move |event| {
        let stats = stats.clone();
        async move {
            if let async_nats::Event::SlowConsumer(_) = event {
                NatsStats::add(&stats.slow_consumer_events);
            }
        }
    });
    if let (Some(user), Some(password)) = (&config.user, &config.password) {
        options = options.user_and_password(user.clone(), password.clone());
    }
    if let Some(token) = &config.token {
        options = options.token(token.clone());
    }
    options
        .connect(config.url.as_str())
        .await
        .map_err(|e| NatsError::Connect { url: config.url.clone(), cause: e.to_string() })
}
