//! Which partitions of a partitioned consumer this node pulls: it claims every partition that is
//! free, released or past its lease (`claims.rs`), renews its leases every third of a lease,
//! starts a pull (`partition.rs`) for each partition it won, and raises the fatal signal when it
//! loses one while running (crash-only: the restart fences what it had not acknowledged).
//! At shutdown it stops the pulls and releases its claims, so another node takes over at once.
//!
//! [`fences`] is what a node reads before it opens its engine: for each partition another node
//! holds, the first sequence of that node's claim.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::context::ConsumerInfoErrorKind;
use async_nats::jetstream::stream::Stream;
use strata::tier::Store;
use strata::{Engine, WriteOptions};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::claims::{Claim, Claims, Holder, Renewal};
use crate::config::{JetStreamConsumer, NatsConfig};
use crate::error::{ClaimError, NatsError};
use crate::partition::{Fatal, Lease, Pull, durable_name, now_ms, pull, raise, reset};
use crate::stats::NatsStats;

/// The claims of `config`'s partitions, in the object store `engine_config` names.
///
/// # Errors
/// [`NatsError::Config`] without `node_id` or `object_store.url`, or a store that does not open.
pub fn claims_of(engine_config: &strata::Config, config: &JetStreamConsumer) -> Result<Claims, NatsError> {
    if engine_config.node_id.is_none() {
        return Err(NatsError::Config(format!(
            "nats.jetstream consumer {:?} has partitions, which needs node_id (the name its claims carry)",
            config.consumer
        )));
    }
    if engine_config.object_store.url.is_none() {
        return Err(NatsError::Config(format!(
            "nats.jetstream consumer {:?} has partitions, which needs object_store.url (where the nodes' claims meet)",
            config.consumer
        )));
    }
    let store = Store::open(&engine_config.object_store, &engine_config.data_dir)
        .map_err(|e| NatsError::Config(e.to_string()))?;
    Ok(Claims::new(store, &config.stream, &config.consumer, config.lease_margin()))
}

/// The fence of every partition, by stream key, for this node's open
/// ([`strata::Engine::open_fenced`]): what it logged of a partition from that sequence on was
/// never acknowledged, so it is not applied.
/// - A partition another node holds: that node's first sequence (what this node wrote from there
///   on, the other node stores). Waits (up to two leases) for a node that just claimed it to
///   record it.
/// - A partition this node held last: the first sequence its next claim would take (its own
///   consumer's ack floor + 1). Another node may claim the partition before this node does again,
///   starting at that same sequence; if this node claims it, the stream delivers those messages
///   again.
///
/// # Errors
/// [`NatsError::Claims`] naming the claim that could not be read, or the stream's or a
/// consumer's error.
pub async fn fences(
    engine_config: &strata::Config,
    config: &NatsConfig,
) -> Result<BTreeMap<String, u64>, NatsError> {
    let mut fences = BTreeMap::new();
    let Some(node) = engine_config.node_id.clone() else { return Ok(fences) };
    let partitioned: Vec<JetStreamConsumer> =
        config.jetstream.iter().filter(|c| c.partitions.is_some()).cloned().collect();
    if partitioned.is_empty() {
        return Ok(fences);
    }
    let client = crate::connect(config, Arc::default()).await?;
    let context = async_nats::jetstream::new(client);
    for consumer in partitioned {
        let stream = context
            .get_stream(&consumer.stream)
            .await
            .map_err(|e| NatsError::Stream { stream: consumer.stream.clone(), cause: e.to_string() })?;
        let claims = claims_of(engine_config, &consumer)?;
        for p in 0..consumer.partitions.unwrap_or(0) {
            let partition = consumer.partition(p);
            let read = claims.clone();
            let holder = blocking(move || read.holder(p))
                .await
                .ok_or_else(|| NatsError::Config("the claim reader stopped".into()))?
                .map_err(NatsError::Claims)?;
            let fence = match holder {
                None => None,
                Some(holder) if holder.owner == node => {
                    let next = first_sequence(&stream, &claims, &partition, p, holder.epoch + 1).await;
                    Some(next.map_err(|cause| NatsError::Consumer {
                        stream: consumer.stream.clone(),
                        consumer: partition.consumer.clone(),
                        cause,
                    })?)
                }
                Some(_) => {
                    let (read, node) = (claims.clone(), node.clone());
                    let wait = 2 * u64::try_from(consumer.lease.0.as_millis()).unwrap_or(u64::MAX / 4);
                    let fence = blocking(move || {
                        let deadline = now_ms() + wait;
                        loop {
                            match read.fence(p, &node) {
                                Err(ClaimError::FromSequencePending { .. }) if now_ms() < deadline => {
                                    std::thread::sleep(Duration::from_millis(200));
                                }
                                other => return other,
                            }
                        }
                    });
                    fence
                        .await
                        .ok_or_else(|| NatsError::Config("the claim reader stopped".into()))?
                        .map_err(NatsError::Claims)?
                }
            };
            if let Some(fence) = fence {
                fences.insert(partition.source_name(), fence);
            }
        }
    }
    Ok(fences)
}

/// The first sequence the owner of `epoch` takes: the ack floor + 1 of the newest earlier
/// epoch's consumer; an epoch whose owner never created its consumer never pulled, so the first
/// sequence it recorded holds. From 1 when no earlier epoch says.
async fn first_sequence(
    stream: &Stream,
    claims: &Claims,
    partition: &JetStreamConsumer,
    p: u32,
    epoch: u64,
) -> Result<u64, String> {
    for earlier in (1..epoch).rev() {
        match stream.consumer_info(durable_name(partition, earlier)).await {
            Ok(info) => return Ok(info.ack_floor.stream_sequence + 1),
            Err(e) if e.kind() == ConsumerInfoErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot read the consumer of epoch {earlier}: {e}")),
        }
        let claims = claims.clone();
        match blocking(move || claims.holder_at(p, earlier)).await {
            Some(Ok(Some(Holder { from_sequence: Some(from), .. }))) => return Ok(from),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("the claim reader stopped".into()),
        }
    }
    Ok(1)
}

/// What one supervisor needs.
pub(crate) struct Supervisor {
    pub(crate) engine: Arc<Engine>,
    pub(crate) config: JetStreamConsumer,
    pub(crate) stream: Stream,
    pub(crate) claims: Claims,
    pub(crate) node: String,
    pub(crate) options: WriteOptions,
    pub(crate) stats: Arc<NatsStats>,
    pub(crate) fatal: Fatal,
}

struct Owned {
    holder: Holder,
    lease: Arc<Lease>,
    task: JoinHandle<()>,
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(f).await.ok()
}

impl Supervisor {
    fn lease_ms(&self) -> u64 {
        u64::try_from(self.config.lease.0.as_millis()).unwrap_or(u64::MAX / 4)
    }

    fn margin_ms(&self) -> u64 {
        u64::try_from(self.config.lease_margin().as_millis()).unwrap_or(u64::MAX / 4)
    }

    fn name(&self, p: u32) -> String {
        format!(
            "partition {p} of JetStream consumer {:?} on stream {:?}",
            self.config.consumer, self.config.stream
        )
    }

    /// Claims, renews and pulls until `stop`; then stops the pulls and releases the claims.
    pub(crate) async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut owned: BTreeMap<u32, Owned> = BTreeMap::new();
        let every = self.config.lease.0 / 3;
        while !*stop.borrow() {
            for p in 0..self.config.partitions.unwrap_or(0) {
                if *stop.borrow() {
                    break;
                }
                match owned.remove(&p) {
                    Some(mine) => {
                        if let Some(mine) = self.renew(p, mine).await {
                            owned.insert(p, mine);
                        }
                    }
                    None => {
                        if let Some(mine) = self.try_claim(p, &stop).await {
                            owned.insert(p, mine);
                        }
                    }
                }
            }
            let _ = tokio::time::timeout(every, stop.changed()).await;
        }
        for (p, mine) in owned {
            let _ = mine.task.await;
            let mut released = mine.holder.clone();
            released.released = true;
            let claims = self.claims.clone();
            if !matches!(blocking(move || claims.renew(p, &released)).await, Some(Ok(Renewal::Renewed(_)))) {
                self.stats.note(format!(
                    "{}: could not release the claim; it expires with its lease",
                    self.name(p)
                ));
            }
        }
    }

    /// Renews the lease of `p`; `None` (and the fatal signal) once it is lost or lapsed.
    async fn renew(&self, p: u32, mut mine: Owned) -> Option<Owned> {
        let valid_until = mine.holder.lease_until.saturating_sub(self.margin_ms());
        let mut next = mine.holder.clone();
        next.lease_until = now_ms() + self.lease_ms();
        let claims = self.claims.clone();
        let renewed = blocking(move || claims.renew(p, &next)).await;
        let lost = match renewed {
            Some(Ok(Renewal::Renewed(holder))) if now_ms() < valid_until => {
                mine.lease.extend(holder.lease_until.saturating_sub(self.margin_ms()));
                mine.holder = holder;
                None
            }
            Some(Ok(Renewal::Lost(holder))) => {
                Some(format!("it was taken over by node {:?} at epoch {}", holder.owner, holder.epoch))
            }
            Some(Err(e)) => {
                self.stats.note(format!("{}: cannot renew the lease ({e})", self.name(p)));
                None
            }
            Some(Ok(Renewal::Renewed(_))) | None => None,
        };
        if lost.is_none() && mine.lease.valid() && !mine.task.is_finished() {
            return Some(mine);
        }
        mine.lease.end();
        let why =
            lost.unwrap_or_else(|| "its lease could not be renewed in time, or its pull stopped".into());
        raise(
            &self.fatal,
            format!(
                "{}: this node lost the partition: {why}; exiting so that the restart fences what was not acknowledged",
                self.name(p)
            ),
        );
        None
    }

    /// [`first_sequence`], noting a failure.
    async fn first_sequence(&self, p: u32, partition: &JetStreamConsumer, epoch: u64) -> Option<u64> {
        match first_sequence(&self.stream, &self.claims, partition, p, epoch).await {
            Ok(from) => Some(from),
            Err(e) => {
                self.stats.note(format!("{}: cannot find its first sequence ({e})", self.name(p)));
                None
            }
        }
    }

    /// Claims `p` if the rules allow, records its first sequence and starts its pull.
    async fn try_claim(&self, p: u32, stop: &watch::Receiver<bool>) -> Option<Owned> {
        let (claims, node, lease) = (self.claims.clone(), self.node.clone(), self.config.lease.0);
        let mut holder = match blocking(move || claims.claim(p, &node, now_ms(), lease)).await? {
            Ok(Claim::Won(holder)) => holder,
            Ok(Claim::Held(_)) => return None,
            Err(e) => {
                self.stats.note(format!("{}: cannot claim ({e})", self.name(p)));
                return None;
            }
        };
        let partition = self.config.partition(p);
        // Read after the claim won: earlier owners acknowledged exactly what lies below it.
        let from = self.first_sequence(p, &partition, holder.epoch).await?;
        holder.from_sequence = Some(from);
        let claims = self.claims.clone();
        let recorded = holder.clone();
        if !matches!(blocking(move || claims.renew(p, &recorded)).await, Some(Ok(Renewal::Renewed(_)))) {
            return None;
        }
        let durable = durable_name(&partition, holder.epoch);
        let consumer = match reset(&self.stream, &partition, &durable, from).await {
            Ok(consumer) => consumer,
            Err(e) => {
                self.stats.note(format!("{}: cannot create its consumer ({e})", self.name(p)));
                return None;
            }
        };
        // The former owner's consumer is done with; one that is gone already is fine.
        if holder.epoch > 1 {
            let _ = self.stream.delete_consumer(&durable_name(&partition, holder.epoch - 1)).await;
        }
        let lease = Arc::new(Lease::new(holder.lease_until.saturating_sub(self.margin_ms())));
        let task = tokio::spawn(pull(
            Pull {
                engine: self.engine.clone(),
                config: partition,
                durable,
                stream: self.stream.clone(),
                consumer,
                lease: lease.clone(),
                options: self.options.clone(),
                stats: self.stats.clone(),
                fatal: self.fatal.clone(),
            },
            stop.clone(),
        ));
        self.stats.note(format!("{}: claimed at epoch {} from sequence {from}", self.name(p), holder.epoch));
        Some(Owned { holder, lease, task })
    }
}
