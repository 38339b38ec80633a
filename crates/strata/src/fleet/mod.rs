//! The fleet view: every node's committed warm and cold tiers in one shared object store, read
//! together and answered as one.
//!
//! Nodes of a fleet share `object_store.url` and each has its own `node_id`: a node commits only
//! under `nodes/<node_id>/` (its tier files and its manifest, as a single engine does at the
//! store's root). The view lists `nodes/`, loads each node's live manifest and reads its files,
//! read-only: it takes no lock, writes nothing and never holds a node back. Each node's tiers
//! are what its last commit published, so the view holds buckets before that node's
//! `warm_until`; later points are in the node's hot store, which only the node itself reads.
//!
//! A series is normally held by one node (ingest is partitioned so that each series has one
//! owner at a time). When a partition moves, two nodes may hold rows of one series and
//! bucket: those merge exactly when their points are provably apart (one node's last point
//! before the other's first), and otherwise one node's row answers the bucket and the overlap
//! is reported in the answer's notes, never summed (`combine.rs`).

mod combine;
mod query;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::clock::{Clock, WallClock};
use crate::config::{Config, NODES_DIR};
use crate::error::Error;
use crate::query::{Query, QueryResult};
use crate::tier::manifest::Manifest;
use crate::tier::state::TierState;
use crate::tier::store::Store;
use crate::units::ByteSize;

/// A read-only view of every node's tiers under one object store.
#[derive(Debug)]
pub struct Fleet {
    config: Config,
    clock: Arc<dyn Clock>,
    store: Store,
    nodes: Vec<Node>,
}

#[derive(Debug)]
struct Node {
    id: String,
    tiers: TierState,
}

/// One node's committed tiers, as the view loaded them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetNode {
    /// The node's `node_id`.
    pub id: String,
    /// Where its tiers live.
    pub url: String,
    /// Its live manifest: the generation, its files and the tiers' bounds (a snapshot an
    /// outside reader can take, docs/FORMATS.md "Reading a snapshot").
    pub manifest: Manifest,
}

impl Fleet {
    /// Opens the view of every node under `config.object_store.url` (the default local store
    /// when unset: `<data_dir>/tiers`). The config's tier resolutions must be the nodes'.
    ///
    /// # Errors
    /// [`Error::Config`] for an invalid config; object store errors; a damaged manifest,
    /// named; [`Error::TierMismatch`] for a node whose resolutions differ from the config's.
    pub fn open(config: Config) -> Result<Fleet, Error> {
        Fleet::open_with_clock(config, Arc::new(WallClock))
    }

    /// Like [`Fleet::open`], reading "now" from `clock` (the planner's retention horizon).
    ///
    /// # Errors
    /// As [`Fleet::open`].
    pub fn open_with_clock(config: Config, clock: Arc<dyn Clock>) -> Result<Fleet, Error> {
        config.validate().map_err(|message| crate::ConfigError::Invalid { path: None, message })?;
        let store = Store::open_read_only(&config.object_store, &config.data_dir)?;
        let mut ids = store.list_folders(NODES_DIR)?;
        ids.sort();
        // The query caches' sizes are for the whole view: each node gets its share.
        let mut per_node = config.clone();
        let share = |size: ByteSize| ByteSize(size.0 / ids.len().max(1) as u64);
        per_node.object_store.cache_size = share(config.object_store.cache_size);
        per_node.object_store.decoded_cache_size = share(config.object_store.decoded_cache_size);
        let mut nodes = Vec::with_capacity(ids.len());
        for id in ids {
            let store = store.child(&format!("{NODES_DIR}/{id}"));
            let tiers = TierState::open_reader(store, &per_node, clock.clone())?;
            nodes.push(Node { id, tiers });
        }
        Ok(Fleet { config, clock, store, nodes })
    }

    /// Where the fleet's store is.
    pub fn url(&self) -> &str {
        self.store.url()
    }

    /// Every node found, in `node_id` order, with the manifest the view reads.
    pub fn nodes(&self) -> Vec<FleetNode> {
        self.nodes
            .iter()
            .map(|n| FleetNode {
                id: n.id.clone(),
                url: n.tiers.store.url().to_owned(),
                manifest: (*n.tiers.manifest()).clone(),
            })
            .collect()
    }

    /// Answers `query` from every node's warm and cold tiers, as [`crate::Engine::query`] does
    /// from one engine's; raw points (`Resolution::Raw`) are in the nodes' hot stores and are
    /// refused. The notes say up to when each node's tiers reach, and name any series and
    /// buckets two nodes both hold points of that could not be told apart. `served` lists the
    /// parts of every node, once each (nodes' warm and cold may meet at different times).
    ///
    /// # Errors
    /// As [`crate::Engine::query`]; [`Error::Query`] for a raw query, or when nodes' tiers
    /// would answer one bucket at two lengths (a resolution finer than cold's, over a range
    /// where nodes' rollups disagree: ask at a multiple of `cold.resolution`).
    pub fn query(&self, query: &Query) -> Result<QueryResult, Error> {
        self.query_cancellable(query, &AtomicBool::new(false))
    }

    /// [`Fleet::query`] that stops soon after `cancel` is set (looked at before each file).
    ///
    /// # Errors
    /// [`Error::Cancelled`] once `cancel` is seen set; otherwise as [`Fleet::query`].
    pub fn query_cancellable(&self, query: &Query, cancel: &AtomicBool) -> Result<QueryResult, Error> {
        query::run(self, query, cancel)
    }
}
