//! The engine's configuration, read from TOML. Every key, its default and unit are in
//! `docs/CONFIG.md`; unknown keys are rejected with their name.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::units::{ByteSize, Span};

/// Everything `Engine::open` needs. `Config::default()` is a working embedded setup in
/// `./strata-data`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the WAL, checkpoints and (later) local tiers live.
    pub data_dir: PathBuf,
    pub wal: WalConfig,
    pub hot: HotConfig,
    pub limits: LimitsConfig,
}

/// `[wal]`: the write-ahead log.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WalConfig {
    /// `"sync"` (default), `"none"`, or an interval such as `"100ms"`: see [`strata_wal::Durability`].
    pub durability: DurabilityConfig,
    /// A segment is closed and a new one started past this size.
    pub segment_size: ByteSize,
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
            limits: LimitsConfig::default(),
        }
    }
}

impl Default for WalConfig {
    fn default() -> Self {
        WalConfig { durability: DurabilityConfig::Sync, segment_size: ByteSize(64 << 20) }
    }
}

impl Default for HotConfig {
    fn default() -> Self {
        HotConfig {
            retention: Span(Duration::from_secs(6 * 3600)),
            chunk_duration: Span(Duration::from_secs(2 * 3600)),
            checkpoint_interval: Span(Duration::from_secs(10 * 60)),
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

    /// Checks what a single key's type cannot express.
    pub(crate) fn validate(&self) -> Result<(), String> {
        let positive = [
            ("hot.retention", self.hot.retention.0),
            ("hot.chunk_duration", self.hot.chunk_duration.0),
            ("hot.checkpoint_interval", self.hot.checkpoint_interval.0),
        ];
        for (key, value) in positive {
            if value.is_zero() {
                return Err(format!("{key} must be greater than zero"));
            }
        }
        if self.hot.chunk_duration.0 > self.hot.retention.0 {
            return Err(format!(
                "hot.chunk_duration ({}) must not exceed hot.retention ({})",
                self.hot.chunk_duration, self.hot.retention
            ));
        }
        if self.wal.segment_size.0 < 4096 {
            return Err(format!("wal.segment_size ({}) must be at least 4KiB", self.wal.segment_size));
        }
        if self.limits.max_series == 0 || self.limits.max_series_per_metric == 0 {
            return Err("limits.max_series and limits.max_series_per_metric must be at least 1".to_owned());
        }
        if self.limits.max_write_size.0 == 0 {
            return Err("limits.max_write_size must be greater than zero".to_owned());
        }
        Ok(())
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
    }
}
