//! `GET /metrics`: the server's and the engine's telemetry in Prometheus' text format, encoded
//! by the `prometheus-client` crate.
//!
//! The server counts what only it sees (requests and lines refused before the engine, bytes
//! received, how long engine writes take); the engine's figures are read from
//! [`strata::Engine::stats`] at each scrape by a collector, so they are never stale and never
//! double-counted.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use strata::Engine;

type Labels = Vec<(&'static str, String)>;

/// The server's counters and the registry that encodes them with the engine's.
#[derive(Debug)]
pub struct Telemetry {
    registry: Registry,
    requests_rejected: Family<Labels, Counter>,
    lines_rejected: Family<Labels, Counter>,
    received_bytes: Family<Labels, Counter>,
    write_seconds: Histogram,
}

impl Telemetry {
    /// Telemetry of `engine` and of the server around it.
    pub fn new(engine: Arc<Engine>, nats: Option<Arc<strata_nats::NatsStats>>) -> Telemetry {
        let mut registry = Registry::default();
        let requests_rejected = Family::<Labels, Counter>::default();
        registry.register(
            "strata_server_requests_rejected",
            "Requests refused before reaching the engine, by reason",
            requests_rejected.clone(),
        );
        let lines_rejected = Family::<Labels, Counter>::default();
        registry.register(
            "strata_server_lines_rejected",
            "Lines of writes refused whole before reaching the engine (queue full, body too large after reading, shutting down), by reason",
            lines_rejected.clone(),
        );
        let received_bytes = Family::<Labels, Counter>::default();
        registry.register(
            "strata_server_received_bytes",
            "Request body bytes received by write endpoints, as sent (before gzip decoding), by API",
            received_bytes.clone(),
        );
        let write_seconds = Histogram::new(exponential_buckets(0.0001, 4.0, 10));
        registry.register(
            "strata_server_write_seconds",
            "Time from queueing a write to its acknowledgement: the wait for a write worker, then the engine write with its WAL sync (the engine does not time the sync alone)",
            write_seconds.clone(),
        );
        registry.register_collector(Box::new(EngineCollector { engine }));
        if let Some(stats) = nats {
            registry.register_collector(Box::new(NatsCollector { stats }));
        }
        Telemetry { registry, requests_rejected, lines_rejected, received_bytes, write_seconds }
    }

    /// Counts a request refused before the engine saw it.
    pub fn count_request_rejected(&self, reason: &'static str) {
        self.requests_rejected.get_or_create(&vec![("reason", reason.to_owned())]).inc();
    }

    /// Counts the lines of a write refused whole.
    pub fn count_lines_rejected(&self, reason: &'static str, lines: u64) {
        self.lines_rejected.get_or_create(&vec![("reason", reason.to_owned())]).inc_by(lines);
    }

    /// Counts body bytes received by `api` (`ccms`, `influx_v1`, `influx_v2`).
    pub fn count_received(&self, api: &'static str, bytes: u64) {
        self.received_bytes.get_or_create(&vec![("api", api.to_owned())]).inc_by(bytes);
    }

    /// Records the time of one write, from queueing it to its acknowledgement.
    pub fn observe_write(&self, took: Duration) {
        self.write_seconds.observe(took.as_secs_f64());
    }

    /// The text exposition format.
    ///
    /// # Errors
    /// Only if formatting fails, which writing to a `String` does not.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// Reads the engine's stats at each scrape.
#[derive(Debug)]
struct EngineCollector {
    engine: Arc<Engine>,
}

impl EngineCollector {
    /// Series per metric, and per host the engine's time minus its newest point in memory.
    fn encode_series(&self, e: &mut DescriptorEncoder<'_>, now: i64) -> Result<(), std::fmt::Error> {
        let mut per_metric: BTreeMap<String, u64> = BTreeMap::new();
        let mut per_host: BTreeMap<(String, String), i64> = BTreeMap::new();
        for (key, newest) in self.engine.series_newest() {
            *per_metric.entry(key.measurement.clone()).or_default() += 1;
            if let (Some(host), Some(t)) = (key.tag("hostname"), newest) {
                let cluster = key.tag("cluster").unwrap_or_default().to_owned();
                let at = per_host.entry((cluster, host.to_owned())).or_insert(t);
                *at = (*at).max(t);
            }
        }
        {
            let mut family = e.encode_descriptor(
                "strata_series_per_metric",
                "Series the engine knows, per metric",
                None,
                MetricType::Gauge,
            )?;
            for (metric, count) in &per_metric {
                ConstGauge::new(*count as f64)
                    .encode(family.encode_family(&[("metric", metric.as_str())])?)?;
            }
        }
        let mut family = e.encode_descriptor(
            "strata_host_ingest_lag_seconds",
            "Engine time minus the newest timestamp in memory from each host (hostname tag), per cluster: a skewed clock shows negative, a stalled node grows",
            None,
            MetricType::Gauge,
        )?;
        for ((cluster, host), newest) in &per_host {
            let lag = now.saturating_sub(*newest) as f64 / 1e9;
            ConstGauge::new(lag)
                .encode(family.encode_family(&[("cluster", cluster.as_str()), ("host", host.as_str())])?)?;
        }
        Ok(())
    }
}

/// The WAL's sync latency as a Prometheus histogram (the engine keeps cumulative buckets; the
/// encoder wants them per bucket, with the rest above the last bound in `+Inf`).
struct SyncSeconds<'a>(&'a strata::SyncLatency);

impl EncodeMetric for SyncSeconds<'_> {
    fn encode(&self, mut encoder: MetricEncoder<'_>) -> Result<(), std::fmt::Error> {
        let mut below = 0;
        let mut buckets: Vec<(f64, u64)> = self
            .0
            .buckets
            .iter()
            .map(|&(bound, cumulative)| {
                let here = cumulative.saturating_sub(below);
                below = cumulative;
                (bound.as_secs_f64(), here)
            })
            .collect();
        buckets.push((f64::MAX, self.0.count.saturating_sub(below)));
        encoder.encode_histogram::<NoLabelSet>(self.0.sum.as_secs_f64(), self.0.count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

fn counter(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    ConstCounter::new(value).encode(encoder.encode_descriptor(name, help, None, MetricType::Counter)?)
}

fn gauge(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: f64,
) -> Result<(), std::fmt::Error> {
    ConstGauge::new(value).encode(encoder.encode_descriptor(name, help, None, MetricType::Gauge)?)
}

impl Collector for EngineCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let stats = self.engine.stats();
        let now = self.engine.now();
        let e = &mut encoder;
        counter(
            e,
            "strata_points_accepted",
            "Points stored by the engine since it was opened",
            stats.points_accepted,
        )?;
        {
            let mut family = e.encode_descriptor(
                "strata_lines_rejected",
                "Lines the engine rejected since it was opened, by reason",
                None,
                MetricType::Counter,
            )?;
            for (reason, count) in &stats.rejected {
                ConstCounter::new(*count).encode(family.encode_family(&[("reason", reason.as_str())])?)?;
            }
        }
        gauge(e, "strata_series", "Series the engine knows", stats.series as f64)?;
        gauge(e, "strata_hot_series", "Series with points in memory", stats.hot.series as f64)?;
        gauge(
            e,
            "strata_hot_points",
            "Points in memory (open and sealed chunks)",
            (stats.hot.open_points + stats.hot.sealed_points) as f64,
        )?;
        gauge(
            e,
            "strata_hot_memory_bytes",
            "Estimated memory of the hot store",
            stats.hot.memory_bytes as f64,
        )?;
        gauge(
            e,
            "strata_hot_late_points",
            "Late points and backfill waiting for the next warm flush",
            stats.hot.late_points as f64,
        )?;
        {
            let mut family = e.encode_descriptor(
                "strata_compaction_lag_seconds",
                "Engine time minus how far each tier is written (warm: flushed buckets, cold: rolled-up buckets); absent until the tier is first written",
                None,
                MetricType::Gauge,
            )?;
            for (tier, until) in [("warm", stats.tiers.warm_until), ("cold", stats.tiers.cold_until)] {
                if let Some(until) = until {
                    let lag = now.saturating_sub(until) as f64 / 1e9;
                    ConstGauge::new(lag).encode(family.encode_family(&[("tier", tier)])?)?;
                }
            }
        }
        {
            let mut family =
                e.encode_descriptor("strata_tier_files", "Live files per tier", None, MetricType::Gauge)?;
            for (tier, summary) in [("warm", &stats.tiers.warm), ("cold", &stats.tiers.cold)] {
                ConstGauge::new(summary.files as f64).encode(family.encode_family(&[("tier", tier)])?)?;
            }
        }
        {
            let mut family = e.encode_descriptor(
                "strata_tier_bytes",
                "Bytes of live files per tier",
                None,
                MetricType::Gauge,
            )?;
            for (tier, summary) in [("warm", &stats.tiers.warm), ("cold", &stats.tiers.cold)] {
                ConstGauge::new(summary.bytes as f64).encode(family.encode_family(&[("tier", tier)])?)?;
            }
        }
        self.encode_series(e, now)?;
        counter(
            e,
            "strata_compaction_failures",
            "Compaction passes that failed (strata_object_store_errors counts the object store calls that failed)",
            stats.tiers.status.failures,
        )?;
        counter(
            e,
            "strata_writes_refused",
            "Writes refused whole because hot memory was past hot.max_memory while the compactor could not evict (HTTP answers 503)",
            stats.writes_refused,
        )?;
        counter(
            e,
            "strata_stream_duplicates",
            "Stream messages skipped as stored before (JetStream redeliveries)",
            stats.stream_duplicates,
        )?;
        SyncSeconds(&stats.wal_syncs).encode(e.encode_descriptor(
            "strata_wal_sync_seconds",
            "How long each sync of the write-ahead log took (each acknowledges a group of writes)",
            None,
            MetricType::Histogram,
        )?)?;
        {
            let mut family = e.encode_descriptor(
                "strata_object_store_errors",
                "Object store calls that failed or got no answer within object_store.timeout, by operation",
                None,
                MetricType::Counter,
            )?;
            // Every operation from the first scrape on, so rate() has a start.
            let mut per_op: BTreeMap<&str, u64> = ["put", "get", "delete", "list"].map(|op| (op, 0)).into();
            per_op.extend(stats.object_store_errors.iter().copied());
            for (op, count) in per_op {
                ConstCounter::new(count).encode(family.encode_family(&[("op", op)])?)?;
            }
        }
        gauge(
            e,
            "strata_compaction_failing_for",
            "Compaction passes failed in a row (0 when the last pass was good)",
            stats.tiers.status.failing_for as f64,
        )?;
        Ok(())
    }
}

/// Reads NATS ingest's counters at each scrape.
#[derive(Debug)]
struct NatsCollector {
    stats: Arc<strata_nats::NatsStats>,
}

impl Collector for NatsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let c = self.stats.counts();
        let e = &mut encoder;
        {
            let mut family = e.encode_descriptor(
                "strata_nats_messages",
                "NATS messages by outcome: received, stored, duplicate (a JetStream redelivery skipped), too_large (terminated), lost (core NATS, the engine failed)",
                None,
                MetricType::Counter,
            )?;
            for (outcome, value) in [
                ("received", c.received),
                ("stored", c.stored),
                ("duplicate", c.duplicates),
                ("too_large", c.too_large),
                ("lost", c.failed),
            ] {
                ConstCounter::new(value).encode(family.encode_family(&[("outcome", outcome)])?)?;
            }
        }
        counter(
            e,
            "strata_nats_backpressure_waits",
            "Times a NATS message waited and was retried because hot memory was full",
            c.backpressure_waits,
        )?;
        counter(
            e,
            "strata_nats_slow_consumer_events",
            "Times the NATS server reported strata too slow (it drops core NATS messages then)",
            c.slow_consumer_events,
        )?;
        Ok(())
    }
}
