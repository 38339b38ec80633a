//! `[metrics.<name>]`: what the config says of one metric (its kind, scope aggregation and
//! sampling frequency).

use serde::Deserialize;

use crate::units::Span;

/// `[metrics.<name>]`: how a metric is read. Every key may be left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricConfig {
    /// `"gauge"` (default) or `"counter"`: tier rows of a counter also keep its reset-corrected
    /// increase, so `increase` and `rate` are exact from every tier (docs/FORMATS.md).
    pub kind: MetricKind,
    /// How a query aggregates the matched series into one (scope aggregation): `"sum"` (e.g.
    /// flops_any over a node's hardware threads) or `"avg"` (e.g. cpu_user, the default).
    pub aggregation: ScopeAggregation,
    /// How often the metric is sampled, as cc-metric-store's `frequency`: the slot length a
    /// server answers "native resolution" with. The engine stores every point whatever it is;
    /// `None` leaves the choice to the reader (`strata serve` has a default).
    pub frequency: Option<Span>,
}

/// What a metric's values are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricKind {
    /// A value sampled as it is (a load, a temperature, memory used).
    #[default]
    Gauge,
    /// A monotonic count that only grows, except when its source restarts from 0 (interface
    /// octets, packets, file-system bytes): a drop is a reset.
    Counter,
}

/// Scope aggregation across series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScopeAggregation {
    Sum,
    #[default]
    Avg,
}
