//! Partition ownership, claimed in the object store the nodes share: each partition of a
//! JetStream consumer has at most one owner at a time, and a node that lost one knows it.
//!
//! Layout, under `<object_store.url>/partitions/<stream>/<consumer>/<partition>/`:
//! - `epoch-<20 digits>`: a claim, JSON [`Holder`], created once with a create-if-absent put.
//!   The highest epoch present is the partition's owner; two nodes that claim the same next
//!   epoch cannot both succeed. Epochs are never deleted (one per takeover).
//! - `epoch-<20 digits>.lease`: the lease of that epoch, written (replaced) only by its owner:
//!   renewals, the first sequence the owner takes (`from_sequence`, known once the claim
//!   succeeded), and a release. When present it supersedes the claim's own fields.
//!
//! Only create-if-absent is used as a condition, so the local file system (which lacks
//! `object_store`'s conditional update) and S3 behave alike.
//!
//! The rules, with `margin` the clock skew the nodes are assumed to stay within:
//! - a node may claim a partition with no claim, a released one, one it held itself, or one
//!   whose lease ended more than `margin` ago by its clock: epoch + 1;
//! - an owner renews by writing its lease and then reading the partition: if a higher epoch
//!   exists it lost. It may pull and write only until `lease_until - margin` by its clock
//!   unless a renewal confirmed a later lease before then.
//!
//! A renewal confirmed (lease written, then no higher epoch seen) before `lease_until - margin`
//! cannot overlap a takeover: the taker reads the lease after `lease_until + margin`, so it sees
//! the renewed one unless the clocks are more than `margin` apart.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use strata::tier::Store;

use crate::error::ClaimError;

/// Who holds a partition, from when, until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// The owning node's `node_id`.
    pub owner: String,
    pub epoch: u64,
    /// Unix time in milliseconds the lease runs to.
    pub lease_until: u64,
    /// The first stream sequence this owner takes: the consumer's ack floor + 1, read after
    /// its claim succeeded. Everything before it was acknowledged by earlier owners.
    #[serde(default)]
    pub from_sequence: Option<u64>,
    /// Given back: anyone may claim it at once.
    #[serde(default)]
    pub released: bool,
}

impl Holder {
    /// Whether `node` may claim the partition at `now_ms` over this holder.
    pub fn claimable_by(&self, node: &str, now_ms: u64, margin: Duration) -> bool {
        self.released || self.owner == node || now_ms > self.lease_until.saturating_add(millis(margin))
    }
}

/// The outcome of [`Claims::claim`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The partition is this node's, at the holder's epoch.
    Won(Holder),
    /// Another node holds it (or won the race for the next epoch).
    Held(Holder),
}

/// The outcome of [`Claims::renew`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Renewal {
    /// The lease now runs to the holder's `lease_until`.
    Renewed(Holder),
    /// A higher epoch holds the partition.
    Lost(Holder),
}

/// The claims of one consumer's partitions.
#[derive(Debug, Clone)]
pub struct Claims {
    store: Store,
    dir: String,
    margin: Duration,
}

impl Claims {
    /// The claims of `consumer` on `stream` in `store` (rooted at `object_store.url`).
    pub fn new(store: Store, stream: &str, consumer: &str, margin: Duration) -> Claims {
        Claims { store, dir: format!("partitions/{stream}/{consumer}"), margin }
    }

    fn claim_path(&self, partition: u32, epoch: u64) -> String {
        format!("{}/{partition}/epoch-{epoch:020}", self.dir)
    }

    fn lease_path(&self, partition: u32, epoch: u64) -> String {
        format!("{}.lease", self.claim_path(partition, epoch))
    }

    fn decode(&self, path: &str, bytes: &[u8]) -> Result<Holder, ClaimError> {
        serde_json::from_slice(bytes)
            .map_err(|e| ClaimError::Malformed { path: self.full(path), reason: e.to_string() })
    }

    fn full(&self, path: &str) -> String {
        format!("{}/{path}", self.store.url().trim_end_matches('/'))
    }

    /// The current holder of `partition`, if it was ever claimed.
    ///
    /// # Errors
    /// The store's error, or a claim that does not decode (naming its path).
    pub fn holder(&self, partition: u32) -> Result<Option<Holder>, ClaimError> {
        let dir = format!("{}/{partition}", self.dir);
        let listed = self.store.list(&dir).map_err(ClaimError::Store)?;
        let epoch = listed
            .iter()
            .filter_map(|(path, _)| path.rsplit('/').next()?.strip_prefix("epoch-")?.parse::<u64>().ok())
            .max();
        let Some(epoch) = epoch else { return Ok(None) };
        let lease = self.lease_path(partition, epoch);
        if let Some(bytes) = self.store.get_if_exists(&lease).map_err(ClaimError::Store)? {
            return self.decode(&lease, &bytes).map(Some);
        }
        let claim = self.claim_path(partition, epoch);
        let bytes = self.store.get(&claim).map_err(ClaimError::Store)?;
        self.decode(&claim, &bytes).map(Some)
    }

    /// The holder of `partition` at `epoch` (its lease, or its claim), if that epoch exists.
    ///
    /// # Errors
    /// As [`Claims::holder`].
    pub fn holder_at(&self, partition: u32, epoch: u64) -> Result<Option<Holder>, ClaimError> {
        for path in [self.lease_path(partition, epoch), self.claim_path(partition, epoch)] {
            if let Some(bytes) = self.store.get_if_exists(&path).map_err(ClaimError::Store)? {
                return self.decode(&path, &bytes).map(Some);
            }
        }
        Ok(None)
    }

    /// Claims `partition` for `node` at `now_ms` with a lease of `lease`, if the rules allow.
    ///
    /// # Errors
    /// As [`Claims::holder`].
    pub fn claim(
        &self,
        partition: u32,
        node: &str,
        now_ms: u64,
        lease: Duration,
    ) -> Result<Claim, ClaimError> {
        let current = self.holder(partition)?;
        if let Some(holder) = &current
            && !holder.claimable_by(node, now_ms, self.margin)
        {
            return Ok(Claim::Held(holder.clone()));
        }
        let epoch = current.as_ref().map_or(1, |h| h.epoch + 1);
        let mine = Holder {
            owner: node.to_owned(),
            epoch,
            lease_until: now_ms.saturating_add(millis(lease)),
            from_sequence: None,
            released: false,
        };
        let path = self.claim_path(partition, epoch);
        if self.store.put_new(&path, encode(&mine)).map_err(ClaimError::Store)? {
            return Ok(Claim::Won(mine));
        }
        // Another node took this epoch first.
        match self.holder(partition)? {
            Some(holder) => Ok(Claim::Held(holder)),
            None => Err(ClaimError::Malformed {
                path: self.full(&path),
                reason: "exists but is not listed".into(),
            }),
        }
    }

    /// Writes `mine` (this node's holder: a later `lease_until`, its `from_sequence`, or
    /// `released`) as its epoch's lease, then checks no higher epoch took the partition.
    ///
    /// # Errors
    /// As [`Claims::holder`].
    pub fn renew(&self, partition: u32, mine: &Holder) -> Result<Renewal, ClaimError> {
        self.store.put(&self.lease_path(partition, mine.epoch), encode(mine)).map_err(ClaimError::Store)?;
        match self.holder(partition)? {
            Some(holder) if holder.epoch > mine.epoch => Ok(Renewal::Lost(holder)),
            _ => Ok(Renewal::Renewed(mine.clone())),
        }
    }

    /// The fence of `partition` for `node` at its open: the first sequence of another node's
    /// claim, past which what `node` logged is not its own. `None` when `node` holds it or
    /// nobody ever claimed it.
    ///
    /// # Errors
    /// [`ClaimError::FromSequencePending`] while the other node has not recorded its first
    /// sequence yet (try again in a moment); otherwise as [`Claims::holder`].
    pub fn fence(&self, partition: u32, node: &str) -> Result<Option<u64>, ClaimError> {
        match self.holder(partition)? {
            None => Ok(None),
            Some(holder) if holder.owner == node => Ok(None),
            Some(holder) => match holder.from_sequence {
                Some(from) => Ok(Some(from)),
                None => Err(ClaimError::FromSequencePending {
                    path: self.full(&self.claim_path(partition, holder.epoch)),
                    owner: holder.owner,
                }),
            },
        }
    }
}

fn encode(holder: &Holder) -> bytes::Bytes {
    // A struct of strings, numbers and booleans always serializes.
    bytes::Bytes::from(serde_json::to_vec(holder).unwrap_or_default())
}

fn millis(span: Duration) -> u64 {
    u64::try_from(span.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
#[path = "claims_tests.rs"]
mod tests;
