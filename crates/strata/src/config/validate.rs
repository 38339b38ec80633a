//! The checks of a parsed config that a single key's type cannot express (ranges, keys that
//! must fit together), each failure naming the key.

use super::Config;

impl Config {
    /// Checks what a single key's type cannot express.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.data_dir.as_os_str().is_empty() {
            return Err("data_dir must not be empty (it would scatter the engine's files into the \
                        current directory); give a directory such as \"strata-data\""
                .into());
        }
        if let Some(id) = &self.node_id {
            check_node_id(id)?;
        }
        let positive = [
            ("hot.retention", self.hot.retention.0),
            ("hot.chunk_duration", self.hot.chunk_duration.0),
            ("hot.checkpoint_interval", self.hot.checkpoint_interval.0),
            ("warm.resolution", self.warm.resolution.0),
            ("warm.retention", self.warm.retention.0),
            ("cold.resolution", self.cold.resolution.0),
            ("cold.retention", self.cold.retention.0),
            ("compactor.interval", self.compactor.interval.0),
            ("object_store.timeout", self.object_store.timeout.0),
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
        let (warm, cold) = (self.warm.resolution.as_nanos_i64(), self.cold.resolution.as_nanos_i64());
        if warm > 0 && self.hot.chunk_duration.as_nanos_i64() % warm != 0 {
            return Err(format!(
                "hot.chunk_duration ({}) must be a whole multiple of warm.resolution ({}): hot hands whole windows to warm",
                self.hot.chunk_duration, self.warm.resolution
            ));
        }
        // Tier files store bucket starts in microseconds (tier schema version 3).
        if warm % 1_000 != 0 {
            return Err(format!(
                "warm.resolution ({}) must be a whole number of microseconds: tier files store bucket starts in microseconds",
                self.warm.resolution
            ));
        }
        if warm == 0 || cold % warm != 0 {
            return Err(format!(
                "cold.resolution ({}) must be a whole multiple of warm.resolution ({})",
                self.cold.resolution, self.warm.resolution
            ));
        }
        let chain = [
            ("hot.retention", self.hot.retention, "warm.retention", self.warm.retention),
            ("warm.retention", self.warm.retention, "cold.retention", self.cold.retention),
        ];
        for (short, short_value, long, long_value) in chain {
            if long_value < short_value {
                return Err(format!(
                    "{long} ({long_value}) must be at least {short} ({short_value}): no tier would keep the time between them"
                ));
            }
        }
        for (key, retention, resolution) in [
            ("warm", self.warm.retention, self.warm.resolution),
            ("cold", self.cold.retention, self.cold.resolution),
        ] {
            if retention < resolution {
                return Err(format!(
                    "{key}.retention ({retention}) must be at least {key}.resolution ({resolution})"
                ));
            }
        }
        if self.compactor.merge_memory.0 < 64 << 10 {
            return Err(format!(
                "compactor.merge_memory ({}) must be at least 64KiB",
                self.compactor.merge_memory
            ));
        }
        if self.compactor.merge_fanin < 2 {
            return Err(format!("compactor.merge_fanin ({}) must be at least 2", self.compactor.merge_fanin));
        }
        if self.hot.max_memory.0 < (1 << 20) {
            return Err(format!("hot.max_memory ({}) must be at least 1MiB", self.hot.max_memory));
        }
        if let Some(url) = &self.object_store.url
            && !(url.starts_with("file://") || url.starts_with("s3://"))
        {
            return Err(format!("object_store.url {url:?} is neither file:///path nor s3://bucket/prefix"));
        }
        if self.wal.segment_size.0 < 4096 {
            return Err(format!("wal.segment_size ({}) must be at least 4KiB", self.wal.segment_size));
        }
        if self.limits.max_series == 0 || self.limits.max_series_per_metric == 0 {
            return Err("limits.max_series and limits.max_series_per_metric must be at least 1".to_owned());
        }
        for (name, metric) in &self.metrics {
            if metric.frequency.is_some_and(|f| f.0.is_zero()) {
                return Err(format!("metrics.{name}.frequency must be greater than zero"));
            }
        }
        if self.limits.max_write_size.0 == 0 {
            return Err("limits.max_write_size must be greater than zero".to_owned());
        }
        Ok(())
    }
}

/// A node id names a folder in the object store and a node in messages: 1 to 64 of `a-z`,
/// `0-9`, `_` and `-`, so it is never a path of its own (`..`, `/`), needs no escaping, and
/// two ids never name one folder on a case-insensitive file system.
pub(crate) fn check_node_id(id: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-';
    if (1..=64).contains(&id.len()) && id.chars().all(allowed) {
        Ok(())
    } else {
        Err(format!(
            "node_id {id:?} must be 1 to 64 characters of a-z, 0-9, '_' and '-' (it names the node's folder in the object store)"
        ))
    }
}
