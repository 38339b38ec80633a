//! `[nats]`: the server to connect to, core subjects to subscribe and JetStream consumers to
//! pull from.

use serde::{Deserialize, Deserializer};
use strata::{Precision, Span};

/// `[nats]` of the server's config file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsConfig {
    /// The server (or servers, comma-separated), e.g. `nats://127.0.0.1:4222`.
    pub url: String,
    /// User and password, or a token, when the server asks for them.
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub token: Option<String>,
    /// The unit of the timestamps in the messages; cc-metric-collector sends seconds.
    #[serde(default = "seconds", deserialize_with = "precision")]
    pub precision: Precision,
    /// Core NATS subjects: at most once (a message the server drops for a slow consumer, or
    /// one in flight when the process dies, is gone; see `jetstream` for no loss).
    #[serde(default)]
    pub subscriptions: Vec<Subscription>,
    /// JetStream durable pull consumers: exactly once.
    #[serde(default)]
    pub jetstream: Vec<JetStreamConsumer>,
}

/// `[[nats.subscriptions]]`, as cc-metric-store has them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    /// The subject (wildcards allowed).
    pub subject: String,
    /// The `cluster` tag of lines that carry none.
    #[serde(default)]
    pub cluster: Option<String>,
    /// A queue group: several servers on one subject share its messages instead of each
    /// getting all of them.
    #[serde(default)]
    pub queue_group: Option<String>,
}

/// `[[nats.jetstream]]`: a durable pull consumer on an existing stream.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JetStreamConsumer {
    /// The stream, which must exist.
    pub stream: String,
    /// The durable consumer's name; created when missing (explicit acks, from the first message).
    pub consumer: String,
    /// Only the stream's messages on this subject (all when absent).
    #[serde(default)]
    pub filter_subject: Option<String>,
    /// The `cluster` tag of lines that carry none.
    #[serde(default)]
    pub cluster: Option<String>,
    /// Messages asked for per pull.
    #[serde(default = "batch")]
    pub batch: usize,
    /// How long the stream waits for an acknowledgement before it delivers a message again.
    #[serde(default = "ack_wait")]
    pub ack_wait: Span,
    /// Split the stream into this many partitions, each owned by one node at a time
    /// (`claims.rs`): partition `p` is pulled through the durable consumer
    /// `<consumer>-p<p>-e<epoch>` filtered to `<filter_subject>.<p>` (the server's subject
    /// mapping appends the partition token).
    #[serde(default)]
    pub partitions: Option<u32>,
    /// How long a partition claim lasts without renewal (renewed every third of it).
    #[serde(default = "lease")]
    pub lease: Span,
}

impl JetStreamConsumer {
    /// The name under which the engine records the last stored sequence of this consumer.
    pub fn source_name(&self) -> String {
        format!("nats:{}/{}", self.stream, self.consumer)
    }

    /// Partition `p` of a partitioned consumer: `<consumer>-p<p>` on the partition's subject,
    /// its own stream key in the engine (sequences stay in order per key) and the prefix of its
    /// durable consumers, one per epoch (`partition.rs`).
    pub fn partition(&self, p: u32) -> JetStreamConsumer {
        JetStreamConsumer {
            consumer: format!("{}-p{p}", self.consumer),
            filter_subject: Some(format!("{}.{p}", self.filter_subject.as_deref().unwrap_or(">"))),
            partitions: None,
            ..self.clone()
        }
    }

    /// The clock skew between nodes that the leases allow for: a quarter of the lease.
    pub fn lease_margin(&self) -> std::time::Duration {
        self.lease.0 / 4
    }
}

fn lease() -> Span {
    Span(std::time::Duration::from_secs(10))
}

fn seconds() -> Precision {
    Precision::Seconds
}

fn batch() -> usize {
    64
}

fn ack_wait() -> Span {
    Span(std::time::Duration::from_secs(30))
}

fn precision<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Precision, D::Error> {
    let text = String::deserialize(deserializer)?;
    text.parse().map_err(serde::de::Error::custom)
}

impl NatsConfig {
    /// Checks what serde cannot.
    ///
    /// # Errors
    /// A message naming the key at fault.
    pub fn validate(&self) -> Result<(), String> {
        if self.subscriptions.is_empty() && self.jetstream.is_empty() {
            return Err("nats: neither [[nats.subscriptions]] nor [[nats.jetstream]] is configured".into());
        }
        for (i, c) in self.jetstream.iter().enumerate() {
            if c.batch == 0 || c.batch > 10_000 {
                return Err(format!("nats.jetstream[{i}].batch ({}) must be between 1 and 10000", c.batch));
            }
            if c.ack_wait.0 < std::time::Duration::from_secs(1) {
                return Err(format!("nats.jetstream[{i}].ack_wait ({}) must be at least 1s", c.ack_wait));
            }
            if let Some(n) = c.partitions {
                if n == 0 || n > 1024 {
                    return Err(format!("nats.jetstream[{i}].partitions ({n}) must be between 1 and 1024"));
                }
                if c.filter_subject.as_deref().is_none_or(|f| f.ends_with('>')) {
                    return Err(format!(
                        "nats.jetstream[{i}].partitions needs filter_subject, the subjects before the partition token (e.g. \"metrics.*\", not ending in '>')"
                    ));
                }
                if c.lease.0 < std::time::Duration::from_secs(1) {
                    return Err(format!("nats.jetstream[{i}].lease ({}) must be at least 1s", c.lease));
                }
                let plain = |s: &str| {
                    !s.is_empty() && s.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
                };
                if !plain(&c.stream) || !plain(&c.consumer) {
                    return Err(format!(
                        "nats.jetstream[{i}]: a partitioned consumer's stream and consumer names ({:?}, {:?}) must be letters, digits, '_' and '-' (they name objects under partitions/)",
                        c.stream, c.consumer
                    ));
                }
            }
        }
        Ok(())
    }
}
