//! The one TOML file of `strata serve`: a `[server]` section next to the engine's keys.
//!
//! The engine's [`strata::Config`] rejects keys it does not know, so the file is read as a
//! table, `[server]` is taken out and read here, and the rest goes to the engine's parser,
//! which checks it as `strata write --config` would. Every key is in `docs/CONFIG.md`.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
/// A config file that cannot be used: the engine's error type, whose message names the file
/// and the key.
pub use strata::ConfigError;
use strata::{ByteSize, Span};

/// `[server]`: how `strata serve` listens, limits and authenticates.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address and port to listen on (`"127.0.0.1:8081"`); port 0 picks a free one.
    pub listen: SocketAddr,
    /// The largest request body taken, after gzip decoding too; 413 past it.
    pub body_limit: ByteSize,
    /// How long a client may take to send a request's body; 408 past it.
    pub body_timeout: Span,
    /// How long a client may take to send a request's headers; the connection is closed past it.
    pub header_timeout: Span,
    /// Threads that run engine writes at once.
    pub write_workers: usize,
    /// Writes that may wait for a worker; one more is answered 503 with `Retry-After`.
    pub queue_depth: usize,
    /// The `Retry-After` a 503 answers with.
    pub retry_after: Span,
    /// Base64 of the raw 32-byte Ed25519 public key that signs JWTs; no auth when unset.
    pub jwt_public_key: Option<String>,
    /// The sampling frequency of metrics without `[metrics.<name>] frequency`.
    pub default_frequency: Span,
    /// A query may match at most this many series per selector; 422 past it.
    pub max_query_series: u64,
    /// A query may return at most this many values in all; 422 past it.
    pub max_query_points: u64,
    /// A query taking longer is abandoned with 504.
    pub query_timeout: Span,
    /// On SIGTERM or SIGINT, how long in-flight requests may take to finish.
    pub shutdown_timeout: Span,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
            body_limit: ByteSize(64 << 20),
            body_timeout: Span(Duration::from_secs(30)),
            header_timeout: Span(Duration::from_secs(10)),
            write_workers: 2,
            queue_depth: 64,
            retry_after: Span(Duration::from_secs(1)),
            jwt_public_key: None,
            default_frequency: Span(Duration::from_secs(60)),
            max_query_series: 100_000,
            max_query_points: 10_000_000,
            query_timeout: Span(Duration::from_secs(10)),
            shutdown_timeout: Span(Duration::from_secs(30)),
        }
    }
}

/// The whole file: the server's section and the engine's config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileConfig {
    pub server: ServerConfig,
    pub engine: strata::Config,
    /// `[nats]`: NATS and JetStream ingest, when configured.
    pub nats: Option<strata_nats::NatsConfig>,
}

impl FileConfig {
    /// Parses TOML text: `[server]` here, every other key by [`strata::Config::from_toml`].
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the key for an unknown key, a value of the wrong type
    /// or unit, or values that do not fit together.
    pub fn from_toml(text: &str) -> Result<FileConfig, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid { path: None, message };
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| invalid(e.to_string()))?;
        let server = match table.remove("server") {
            Some(section) => {
                section.try_into::<ServerConfig>().map_err(|e| invalid(format!("[server]: {e}")))?
            }
            None => ServerConfig::default(),
        };
        server.validate().map_err(invalid)?;
        let nats = match table.remove("nats") {
            Some(section) => {
                let nats: strata_nats::NatsConfig =
                    section.try_into().map_err(|e| invalid(format!("[nats]: {e}")))?;
                nats.validate().map_err(invalid)?;
                Some(nats)
            }
            None => None,
        };
        // The engine's parser reads the rest, so its checks and messages stay the one source.
        let rest = toml::to_string(&table).map_err(|e| invalid(e.to_string()))?;
        // Its errors name the key already; the path is added by `from_file`.
        let engine = strata::Config::from_toml(&rest)?;
        Ok(FileConfig { server, engine, nats })
    }

    /// Reads and parses a TOML file.
    ///
    /// # Errors
    /// [`ConfigError::Read`] when the file cannot be read, else as [`FileConfig::from_toml`]
    /// with the path named.
    pub fn from_file(path: &Path) -> Result<FileConfig, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        FileConfig::from_toml(&text).map_err(|e| match e {
            ConfigError::Invalid { message, .. } => {
                ConfigError::Invalid { path: Some(path.to_owned()), message }
            }
            other => other,
        })
    }

    /// The sampling frequency of `metric` in nanoseconds: its `[metrics.<name>] frequency`,
    /// else `server.default_frequency`.
    pub fn frequency(&self, metric: &str) -> i64 {
        frequency(&self.engine, &self.server, metric)
    }
}

/// See [`FileConfig::frequency`].
pub(crate) fn frequency(engine: &strata::Config, server: &ServerConfig, metric: &str) -> i64 {
    engine
        .metrics
        .get(metric)
        .and_then(|m| m.frequency)
        .unwrap_or(server.default_frequency)
        .as_nanos_i64()
        .max(1)
}

impl ServerConfig {
    fn validate(&self) -> Result<(), String> {
        let positive = [
            ("server.body_timeout", self.body_timeout.0),
            ("server.header_timeout", self.header_timeout.0),
            ("server.default_frequency", self.default_frequency.0),
            ("server.query_timeout", self.query_timeout.0),
        ];
        for (key, value) in positive {
            if value.is_zero() {
                return Err(format!("{key} must be greater than zero"));
            }
        }
        let at_least_one = [
            ("server.body_limit", self.body_limit.0),
            ("server.write_workers", self.write_workers as u64),
            ("server.max_query_series", self.max_query_series),
            ("server.max_query_points", self.max_query_points),
        ];
        for (key, value) in at_least_one {
            if value == 0 {
                return Err(format!("{key} must be at least 1"));
            }
        }
        if let Some(key) = &self.jwt_public_key {
            crate::auth::decode_public_key(key).map_err(|e| format!("server.jwt_public_key: {e}"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nats_section_is_read_and_checked() {
        let config = FileConfig::from_toml(
            r#"
            data_dir = "/tmp/x"
            [nats]
            url = "nats://127.0.0.1:4222"
            [[nats.jetstream]]
            stream = "METRICS"
            consumer = "strata"
            "#,
        )
        .unwrap();
        let nats = config.nats.unwrap();
        assert_eq!((nats.jetstream[0].batch, nats.precision), (64, strata::Precision::Seconds));
        let err =
            FileConfig::from_toml("[nats]\nurl = \"nats://x\"\nsubjects = 1\n").unwrap_err().to_string();
        assert!(err.contains("[nats]") && err.contains("subjects"), "{err}");
        let err = FileConfig::from_toml("[nats]\nurl = \"nats://x\"\n").unwrap_err().to_string();
        assert!(err.contains("neither [[nats.subscriptions]] nor [[nats.jetstream]]"), "{err}");
        assert_eq!(FileConfig::from_toml("").unwrap().nats, None);
    }

    #[test]
    fn server_and_engine_keys_in_one_file() {
        let config = FileConfig::from_toml(
            r#"
            data_dir = "/tmp/x"
            [server]
            listen = "0.0.0.0:9000"
            body_limit = "1MiB"
            queue_depth = 3
            default_frequency = "10s"
            [metrics.flops_any]
            aggregation = "sum"
            frequency = "30s"
            [metrics.ib_xmit]
            kind = "counter"
            frequency = "10s"
            "#,
        )
        .unwrap();
        assert_eq!(config.server.listen.port(), 9000);
        assert_eq!(config.server.body_limit, ByteSize(1 << 20));
        assert_eq!(config.server.queue_depth, 3);
        assert_eq!(config.engine.data_dir, std::path::PathBuf::from("/tmp/x"));
        assert_eq!(config.frequency("flops_any"), 30_000_000_000);
        assert_eq!(config.frequency("cpu_load"), 10_000_000_000);
        // The engine's key and the server's meet in one `[metrics.<name>]` section.
        assert_eq!(config.engine.kind("ib_xmit"), strata::MetricKind::Counter);
        assert_eq!(config.engine.kind("flops_any"), strata::MetricKind::Gauge);
        assert_eq!(config.frequency("ib_xmit"), 10_000_000_000);
        assert_eq!(FileConfig::from_toml("").unwrap(), FileConfig::default());
    }

    #[test]
    fn errors_name_the_key() {
        let bad = |text: &str| FileConfig::from_toml(text).unwrap_err().to_string();
        let err = bad("[server]\nlisen = \"x\"");
        assert!(err.contains("unknown field `lisen`"), "{err}");
        let err = bad("[server]\nwrite_workers = 0");
        assert!(err.contains("server.write_workers must be at least 1"), "{err}");
        let err = bad("[server]\njwt_public_key = \"abc\"");
        assert!(err.contains("server.jwt_public_key"), "{err}");
        let err = bad("[hot]\nretension = \"2h\"");
        assert!(err.contains("unknown field `retension`"), "{err}");
        let err = bad("[metrics.x]\nkind = \"meter\"");
        assert!(err.contains("unknown variant `meter`"), "{err}");
        let err = bad("[metrics.x]\nfrequency = \"0s\"");
        assert!(err.contains("metrics.x.frequency must be greater than zero"), "{err}");
    }
}
