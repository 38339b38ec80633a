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
    #[error(transparent)]
    Claims(ClaimError),
}

/// Reading or writing a partition claim failed (`claims.rs`); each names the object at fault.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// The object store refused or did not answer; its error names the path.
    #[error("partition claims: {0}")]
    Store(strata::Error),
    #[error("the partition claim {path} does not decode: {reason}")]
    Malformed { path: String, reason: String },
    /// The partition's owner claimed it but has not yet recorded the first sequence it takes.
    #[error(
        "the partition claim {path} of node {owner:?} does not name its first sequence yet; try again in a moment"
    )]
    FromSequencePending { path: String, owner: String },
}
