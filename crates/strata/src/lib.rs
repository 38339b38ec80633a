//! strata: a columnar time-series storage engine with retention tiers, embedded as a library.
//!
//! Writes arrive as InfluxDB line protocol (or typed points), are logged to a write-ahead log
//! and kept at full resolution in memory, compressed per series. `docs/ARCHITECTURE.md` is
//! the map; `docs/CONFIG.md` lists every configuration key.
//!
//! ```
//! use strata::{Config, Engine, Selector, WriteOptions};
//!
//! # let dir = tempfile::tempdir()?;
//! let engine = Engine::open(Config::with_data_dir(dir.path()))?;
//! let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
//! let body = format!(
//!     "cpu_load,hostname=f0101,type=node value=4.25 {now}\n\
//!      cpu_load,hostname=f0102,type=node value=true {now}\n"
//! );
//! let report = engine.write_lp(body.as_bytes(), &WriteOptions::cc_metric_store("fritz"))?;
//! assert_eq!(report.accepted, 1);
//! assert_eq!(report.rejections[0].to_string(), "line 2: field \"value\" is a boolean: strata stores numbers (float, integer or unsigned fields) only");
//!
//! let selector = Selector::metric("cpu_load").tag("cluster", "fritz").tag("host", "f0101");
//! let series = engine.read(&selector, 0, i64::MAX)?;
//! assert_eq!(series[0].values, vec![4.25]);
//! engine.close()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod access;
mod ack_gate;
mod appliers;
mod arrow;
mod checkpoint;
mod checkpointer;
mod clock;
mod compactor;
mod config;
mod contents;
mod core;
mod counters;
mod cut_guard;
mod decode;
mod engine;
mod error;
mod failpoint;
mod fleet;
mod hot;
mod ingest;
mod log;
mod memory_guard;
mod payload;
mod piecewise;
mod query;
mod read;
mod read_only;
mod recovery;
mod release;
mod series;
mod stats;
mod streams;
pub mod tier;
mod units;
mod write;

pub use ack_gate::AckGuard;
pub use clock::{Clock, ManualClock, WallClock};
pub use compactor::{CompactReport, TierStatus};
pub use config::{
    CompactorConfig, Config, ConfigError, DurabilityConfig, HotConfig, LimitsConfig, MetricConfig,
    MetricKind, NODES_DIR, ObjectStoreConfig, ScopeAggregation, TierConfig, WalConfig, WalOnDamage,
};
pub use contents::{MetricContents, TagKeyContents, TierContents};
pub use engine::Engine;
pub use error::Error;
pub use fleet::{Fleet, FleetNode};
pub use hot::HotStats;
pub use query::{Aggregate, Query, QueryResult, QuerySeries, RangeStats, Resolution, Scope, Served};
pub use read::{Selector, SeriesPoints, TierSeries};
pub use recovery::Recovery;
pub use series::SeriesKey;
pub use stats::{Resident, Stats, TierStats, TierSummary};
pub use strata_lp::Precision;
pub use strata_wal::SyncLatency;
pub use streams::StreamSequence;
pub use tier::{Agg, Tier};
pub use units::{ByteSize, Span};
pub use write::{Point, RejectReason, Rejection, Sequenced, WriteOptions, WriteReport};
