//! The engine's configuration, read from TOML. Every key, its default and unit are in
//! `docs/CONFIG.md`; unknown keys are rejected with their name.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::units::{ByteSize, Span};

mod metrics;
mod validate;

pub use metrics::{MetricConfig, MetricKind, ScopeAggregation};

/// Everything `Engine::open` needs. `Config::default()` is a working embedded setup in
/// `./strata-data`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the WAL, checkpoints and (later) local tiers live.
    pub data_dir: PathBuf,
    pub wal: WalConfig,
    pub hot: HotConfig,
    /// A section may give either key alone; the other keeps its warm default.
    #[serde(deserialize_with = "warm_section")]
    pub warm: TierConfig,
    /// A section may give either key alone; the other keeps its cold default.
    #[serde(deserialize_with = "cold_section")]
    pub cold: TierConfig,
    pub compactor: CompactorConfig,
    pub object_store: ObjectStoreConfig,
    pub limits: LimitsConfig,
    /// `[metrics.<name>]`: per-metric settings, as cc-metric-store's metric config.
    pub metrics: std::collections::BTreeMap<String, MetricConfig>,
    /// This node's name in a fleet of engines sharing one object store: its tier files and
    /// manifest live under `<object_store.url>/nodes/<node_id>/`, and no other node writes
    /// there. Unset: the tiers live at `object_store.url` itself (one engine per store).
    pub node_id: Option<String>,
}

/// The folder under an object store's root that holds one folder per node of a fleet.
pub const NODES_DIR: &str = "nodes";

/// `[wal]`: the write-ahead log.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WalConfig {
    /// `"sync"` (default), `"none"`, or an interval such as `"100ms"`: see [`strata_wal::Durability`].
    pub durability: DurabilityConfig,
    /// A segment is closed and a new one started past this size.
    pub segment_size: ByteSize,
    /// What opening does with damage to acknowledged WAL records: `"refuse"` (default) or
    /// `"truncate"`: see [`strata_wal::OnDamage`].
    pub on_damage: WalOnDamage,
}

/// `wal.on_damage`: what opening does with damage to acknowledged WAL records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WalOnDamage {
    /// Refuse to open, naming the segment and offset ([`crate::Error::WalDamaged`]).
    #[default]
    Refuse,
    /// Open anyway: cut the log at the damage, reporting the loss in `Recovery::damage`.
    Truncate,
}

/// How writes are made durable, as written in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurabilityConfig {
    Sync,
    Interval(Duration),
    None,
}

/// `[hot]`: full-resolution data in memory.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HotConfig {
    /// How far back points are accepted and kept at full resolution.
    pub retention: Span,
    /// The time window of one chunk; a chunk is sealed (compressed) once a later window starts.
    pub chunk_duration: Span,
    /// How often sealed chunks are checkpointed so a restart replays only the WAL's tail.
    pub checkpoint_interval: Span,
    /// Past this estimate of hot memory, the oldest hot data is evicted early (its warm rows
    /// are made durable first); counted in `Stats::tiers`.
    pub max_memory: ByteSize,
}

/// `[warm]` and `[cold]`: a downsampled tier in Parquet on the object store.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierConfig {
    /// The bucket length of a row.
    pub resolution: Span,
    /// How long rows are kept; files past it are deleted.
    pub retention: Span,
}

/// A `[warm]` or `[cold]` section as written: either key may be left out.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TierSection {
    resolution: Option<Span>,
    retention: Option<Span>,
}

impl TierSection {
    fn or(self, defaults: TierConfig) -> TierConfig {
        TierConfig {
            resolution: self.resolution.unwrap_or(defaults.resolution),
            retention: self.retention.unwrap_or(defaults.retention),
        }
    }
}

fn warm_section<'de, D: serde::Deserializer<'de>>(d: D) -> Result<TierConfig, D::Error> {
    Ok(TierSection::deserialize(d)?.or(TierConfig::warm()))
}

fn cold_section<'de, D: serde::Deserializer<'de>>(d: D) -> Result<TierConfig, D::Error> {
    Ok(TierSection::deserialize(d)?.or(TierConfig::cold()))
}

/// `[compactor]`: the background pass that writes tiers and applies retention.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CompactorConfig {
    /// How long a bucket waits for late points after it ends before it is written.
    pub lateness: Span,
    /// How often the background pass runs.
    pub interval: Span,
    /// Files of one tier, day and level that trigger a merge into one file of the next level.
    pub merge_fanin: u32,
    /// About the most memory one merge holds: it reads each input one row group at a time
    /// and cuts its output into files of at most half of this.
    pub merge_memory: ByteSize,
}

/// `[object_store]`: where tier files live.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ObjectStoreConfig {
    /// `file:///path` or `s3://bucket/prefix`; `file://<data_dir>/tiers` when unset.
    pub url: Option<String>,
    /// An S3-compatible server's URL (MinIO, Ceph RGW, Garage...); AWS when unset.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// Credentials; the usual `AWS_*` environment variables when unset.
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// Allows `http://` endpoints.
    pub allow_http: bool,
    /// How long one request may take before it counts as failed (and the pass is retried).
    pub timeout: Span,
    /// Tier files kept in memory (with their parsed footers) for queries, least recently used
    /// out first. Files never change, so the cache is never stale.
    pub cache_size: ByteSize,
    /// How long a file a commit dropped (merged, expired) stays in the store, so that a reader
    /// outside strata holding an earlier manifest's file list can still read it. 0: deleted
    /// at the end of the pass (once no reader in this process holds it).
    pub snapshot_retention: Span,
    /// Row groups of tier files kept decoded for queries (about 100 bytes a row), least
    /// recently used out first: a repeated query neither decompresses nor decodes again.
    pub decoded_cache_size: ByteSize,
}

impl Default for ObjectStoreConfig {
    fn default() -> Self {
        ObjectStoreConfig {
            url: None,
            endpoint: None,
            region: None,
            access_key_id: None,
            secret_access_key: None,
            allow_http: false,
            timeout: Span(Duration::from_secs(60)),
            cache_size: ByteSize(256 << 20),
            snapshot_retention: Span(Duration::from_secs(3600)),
            decoded_cache_size: ByteSize(256 << 20),
        }
    }
}

impl std::fmt::Debug for ObjectStoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStoreConfig")
            .field("url", &self.url)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &self.secret_access_key.as_ref().map(|_| "<redacted>"))
            .field("allow_http", &self.allow_http)
            .field("timeout", &self.timeout)
            .field("cache_size", &self.cache_size)
            .field("snapshot_retention", &self.snapshot_retention)
            .field("decoded_cache_size", &self.decoded_cache_size)
            .finish()
    }
}

/// `[limits]`: explicit limits; passing one is an error that names it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Series in the whole engine.
    pub max_series: u64,
    /// Series of one metric (measurement).
    pub max_series_per_metric: u64,
    /// How far ahead of the engine's clock a point may be.
    pub future_tolerance: Span,
    /// The largest line protocol body one write may carry.
    pub max_write_size: ByteSize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("strata-data"),
            wal: WalConfig::default(),
            hot: HotConfig::default(),
            warm: TierConfig::warm(),
            cold: TierConfig::cold(),
            compactor: CompactorConfig::default(),
            object_store: ObjectStoreConfig::default(),
            limits: LimitsConfig::default(),
            metrics: Default::default(),
            node_id: None,
        }
    }
}

impl Default for WalConfig {
    fn default() -> Self {
        WalConfig {
            durability: DurabilityConfig::Sync,
            segment_size: ByteSize(64 << 20),
            on_damage: WalOnDamage::Refuse,
        }
    }
}

impl Default for HotConfig {
    fn default() -> Self {
        HotConfig {
            retention: Span(Duration::from_secs(6 * 3600)),
            chunk_duration: Span(Duration::from_secs(2 * 3600)),
            checkpoint_interval: Span(Duration::from_secs(10 * 60)),
            max_memory: ByteSize(4 << 30),
        }
    }
}

const DAY: u64 = 24 * 3600;

impl TierConfig {
    fn warm() -> TierConfig {
        TierConfig {
            resolution: Span(Duration::from_secs(60)),
            retention: Span(Duration::from_secs(30 * DAY)),
        }
    }

    fn cold() -> TierConfig {
        TierConfig {
            resolution: Span(Duration::from_secs(3600)),
            retention: Span(Duration::from_secs(365 * DAY)),
        }
    }
}

impl Default for CompactorConfig {
    fn default() -> Self {
        CompactorConfig {
            lateness: Span(Duration::from_secs(5 * 60)),
            interval: Span(Duration::from_secs(60)),
            merge_fanin: 8,
            merge_memory: ByteSize(512 << 20),
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_series: 10_000_000,
            max_series_per_metric: 2_000_000,
            future_tolerance: Span(Duration::from_secs(10 * 60)),
            max_write_size: ByteSize(64 << 20),
        }
    }
}

/// A config that cannot be used; the message names the file, the key and what is wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid config{}: {message}", path.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default())]
    Invalid { path: Option<PathBuf>, message: String },
}

impl Config {
    /// Parses TOML text.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the key and the reason for an unknown key, a value of the
    /// wrong type or unit, or values that do not fit together.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let config: Config =
            toml::from_str(text).map_err(|e| ConfigError::Invalid { path: None, message: e.to_string() })?;
        config.validate().map_err(|message| ConfigError::Invalid { path: None, message })?;
        Ok(config)
    }

    /// Reads and parses a TOML file.
    ///
    /// # Errors
    /// [`ConfigError::Read`] when the file cannot be read, else as [`Config::from_toml`].
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Config::from_toml(&text).map_err(|e| match e {
            ConfigError::Invalid { message, .. } => {
                ConfigError::Invalid { path: Some(path.to_owned()), message }
            }
            other => other,
        })
    }

    /// A default config with its data in `dir`.
    pub fn with_data_dir(dir: impl Into<PathBuf>) -> Config {
        Config { data_dir: dir.into(), ..Config::default() }
    }

    /// Where this node's tiers live below the object store's root: `nodes/<node_id>`, or the
    /// root itself (`""`) without a `node_id`.
    pub fn node_prefix(&self) -> String {
        self.node_id.as_ref().map_or_else(String::new, |id| format!("{NODES_DIR}/{id}"))
    }

    /// The kind of `metric` (a measurement): its `[metrics.<name>] kind`, else a gauge.
    pub fn kind(&self, metric: &str) -> MetricKind {
        self.metrics.get(metric).map_or(MetricKind::Gauge, |m| m.kind)
    }

    pub(crate) fn wal_durability(&self) -> strata_wal::Durability {
        match self.wal.durability {
            DurabilityConfig::Sync => strata_wal::Durability::Sync,
            DurabilityConfig::Interval(every) => strata_wal::Durability::Interval(every),
            DurabilityConfig::None => strata_wal::Durability::None,
        }
    }
}

impl<'de> Deserialize<'de> for DurabilityConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        match text.as_str() {
            "sync" => Ok(DurabilityConfig::Sync),
            "none" => Ok(DurabilityConfig::None),
            other => match humantime::parse_duration(other) {
                Ok(every) if !every.is_zero() => Ok(DurabilityConfig::Interval(every)),
                _ => Err(serde::de::Error::custom(format!(
                    "durability {other:?} is not \"sync\", \"none\" or a sync interval such as \"100ms\""
                ))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_a_full_file() {
        assert_eq!(Config::from_toml("").unwrap(), Config::default());
        let config = Config::from_toml(
            r#"
            data_dir = "/var/lib/strata"
            [wal]
            durability = "250ms"
            segment_size = "16MiB"
            [hot]
            retention = "2h"
            chunk_duration = "30m"
            [limits]
            max_series = 5000
            max_series_per_metric = 100
            future_tolerance = "1m"
            "#,
        )
        .unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/var/lib/strata"));
        assert_eq!(config.wal.durability, DurabilityConfig::Interval(Duration::from_millis(250)));
        assert_eq!(config.wal.segment_size, ByteSize(16 << 20));
        assert_eq!(config.hot.retention, Span(Duration::from_secs(7200)));
        assert_eq!(config.limits.max_series_per_metric, 100);
    }

    #[test]
    fn tiers_from_the_issue_and_their_checks() {
        let config = Config::from_toml(
            r#"
            [hot]
            retention = "6h"
            max_memory = "2GiB"
            [warm]
            resolution = "1m"
            retention = "30d"
            [cold]
            resolution = "1h"
            retention = "365d"
            [compactor]
            lateness = "5m"
            [object_store]
            url = "s3://bucket/prefix"
            endpoint = "http://127.0.0.1:9000"
            region = "us-east-1"
            access_key_id = "AK"
            secret_access_key = "SECRET"
            allow_http = true
            "#,
        )
        .unwrap();
        assert_eq!(config.cold.resolution, Span(Duration::from_secs(3600)));
        assert_eq!(config.object_store.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert!(!format!("{config:?}").contains("SECRET"), "the secret must not be printed");
        let bad = |text: &str| Config::from_toml(text).unwrap_err().to_string();
        let err = bad("[warm]\nresolution = \"7m\"\nretention = \"30d\"");
        assert!(
            err.contains("hot.chunk_duration (2h) must be a whole multiple of warm.resolution (7m)"),
            "{err}"
        );
        let err = bad(
            "[hot]\nretention = \"7h\"\nchunk_duration = \"7h\"\n[warm]\nresolution = \"7m\"\nretention = \"30d\"",
        );
        assert!(
            err.contains("cold.resolution (1h) must be a whole multiple of warm.resolution (7m)"),
            "{err}"
        );
        let err = bad("[warm]\nresolution = \"1500ns\"");
        assert!(err.contains("warm.resolution (1us 500ns) must be a whole number of microseconds"), "{err}");
        let err = bad("[warm]\nresolution = \"1m\"\nretention = \"1h\"");
        assert!(err.contains("warm.retention (1h) must be at least hot.retention (6h)"), "{err}");
        let err = bad("[cold]\nresolution = \"1h\"\nretention = \"7d\"");
        assert!(err.contains("cold.retention (7d) must be at least warm.retention (30d)"), "{err}");
        // A section with one key keeps the other's default (a_tier_section_may_give_one_key).
        let err = bad("[object_store]\nurl = \"ftp://x\"");
        assert!(err.contains("object_store.url \"ftp://x\" is neither"), "{err}");
        let err = bad("[compactor]\nlatenes = \"5m\"");
        assert!(err.contains("unknown field `latenes`"), "{err}");
    }

    #[test]
    fn errors_name_the_key() {
        let err = Config::from_toml("[hot]\nretension = \"2h\"").unwrap_err().to_string();
        assert!(err.contains("unknown field `retension`"), "{err}");
        let err = Config::from_toml("[hot]\nretention = \"two hours\"").unwrap_err().to_string();
        assert!(err.contains("retention"), "{err}");
        let err = Config::from_toml("[wal]\ndurability = \"always\"").unwrap_err().to_string();
        assert!(err.contains("durability \"always\" is not"), "{err}");
        let err =
            Config::from_toml("[hot]\nretention = \"1h\"\nchunk_duration = \"2h\"").unwrap_err().to_string();
        assert!(err.contains("hot.chunk_duration (2h) must not exceed hot.retention (1h)"), "{err}");
        let err = Config::from_toml("[wal]\nsegment_size = \"12 parsecs\"").unwrap_err().to_string();
        assert!(err.contains("segment_size"), "{err}");
        let err = Config::from_toml("data_dir = \"\"").unwrap_err().to_string();
        assert!(err.contains("data_dir must not be empty"), "{err}");
        let err = Config::from_toml("[object_store]\ntimeout = \"0s\"").unwrap_err().to_string();
        assert!(err.contains("object_store.timeout must be greater than zero"), "{err}");
        let err = Config::from_toml("[cold]\nresolutoin = \"2h\"").unwrap_err().to_string();
        assert!(err.contains("unknown field `resolutoin`"), "{err}");
        for bad in ["", "Node-1", "a/b", &"n".repeat(65)] {
            let err = Config::from_toml(&format!("node_id = {bad:?}")).unwrap_err().to_string();
            assert!(err.contains("node_id") && err.contains("a-z, 0-9"), "{err}");
        }
        assert_eq!(Config::from_toml("node_id = \"rack-1_a\"").unwrap().node_id.as_deref(), Some("rack-1_a"));
    }

    #[test]
    fn metrics_take_aggregation_and_frequency() {
        let config = Config::from_toml(
            "[metrics.flops_any]\naggregation = \"sum\"\nfrequency = \"10s\"\n[metrics.cpu_load]\nfrequency = \"1m\"",
        )
        .unwrap();
        let flops = &config.metrics["flops_any"];
        assert_eq!(flops.aggregation, ScopeAggregation::Sum);
        assert_eq!(flops.frequency, Some(Span(Duration::from_secs(10))));
        let load = &config.metrics["cpu_load"];
        assert_eq!(load.aggregation, ScopeAggregation::Avg);
        assert_eq!(load.frequency, Some(Span(Duration::from_secs(60))));
        let err = Config::from_toml("[metrics.x]\nfrequency = \"0s\"").unwrap_err().to_string();
        assert!(err.contains("metrics.x.frequency must be greater than zero"), "{err}");
        let err = Config::from_toml("[metrics.x]\nfrequncy = \"10s\"").unwrap_err().to_string();
        assert!(err.contains("unknown field `frequncy`"), "{err}");
    }

    #[test]
    fn metrics_take_a_kind() {
        let config = Config::from_toml(
            "[metrics.ib_recv]\nkind = \"counter\"\n[metrics.cpu_load]\nkind = \"gauge\"\naggregation = \"sum\"",
        )
        .unwrap();
        assert_eq!(config.kind("ib_recv"), MetricKind::Counter);
        assert_eq!(config.kind("cpu_load"), MetricKind::Gauge);
        assert_eq!(config.kind("not_configured"), MetricKind::Gauge);
        let err = Config::from_toml("[metrics.ib_recv]\nkind = \"countr\"").unwrap_err().to_string();
        assert!(err.contains("kind = \"countr\"") && err.contains("unknown variant `countr`"), "{err}");
        assert!(err.contains("`gauge`") && err.contains("`counter`"), "{err}");
    }

    #[test]
    fn a_tier_section_may_give_one_key() {
        let config = Config::from_toml("[warm]\nretention = \"14d\"\n[cold]\nresolution = \"2h\"").unwrap();
        assert_eq!(config.warm.retention.0, Duration::from_secs(14 * DAY));
        assert_eq!(config.warm.resolution, TierConfig::warm().resolution);
        assert_eq!(config.cold.resolution.0, Duration::from_secs(2 * 3600));
        assert_eq!(config.cold.retention, TierConfig::cold().retention);
    }
}
