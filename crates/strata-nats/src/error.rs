//! Why NATS ingest could not start.

/// Starting NATS ingest failed; each names what it was doing.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    #[error("invalid [nats] config: {0}")]
    Config(String),
    #[error("cannot connect to NATS at {url}: {cause}")]
    Connect { url: String, cause: String },
    #[error("cannot subscribe to NATS subject {subject:?}: {cause}")]
    Subscribe { subject: String, cause: String },
    #[error("JetStream stream {stream:?}: {cause}")]
    Stream { stream: String, cause: String },
    #[error("JetStream consumer {consumer:?} on stream {stream:?}: {cause}")]
    Consumer { stream: String, consumer: String, cause: String },
}
