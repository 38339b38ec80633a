//! What a write takes and what it reports.

use strata_lp::Precision;

/// How a line protocol body is read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// Unit of the timestamps in the body.
    pub precision: Precision,
    /// The `cluster` tag of lines that carry none (cc-metric-store's `?cluster=`).
    pub default_cluster: Option<String>,
    /// Nanoseconds given to lines without a timestamp; the engine's clock when `None`.
    pub default_time: Option<i64>,
}

impl WriteOptions {
    /// Options for cc-metric-collector output: second precision and a default cluster.
    pub fn cc_metric_store(cluster: &str) -> WriteOptions {
        WriteOptions {
            precision: Precision::Seconds,
            default_cluster: Some(cluster.to_owned()),
            default_time: None,
        }
    }
}

/// The outcome of [`Engine::write_lp_sequenced`](crate::Engine::write_lp_sequenced).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sequenced {
    /// The message was new: its points are durable and applied (its rejections counted).
    Applied(WriteReport),
    /// The stream's message was applied before (a redelivery): nothing was stored again.
    Duplicate {
        /// The stream's last applied sequence.
        last_applied: u64,
    },
}

/// A point for [`Engine::write`](crate::Engine::write), for applications that hold values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point<'a> {
    pub measurement: &'a str,
    pub field: &'a str,
    pub tags: &'a [(&'a str, &'a str)],
    /// Nanoseconds since the Unix epoch.
    pub time: i64,
    pub value: f64,
}

/// Why points were rejected, for the engine's counters.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectReason {
    /// The line is not valid line protocol.
    Syntax,
    /// A boolean or string field: strata stores numbers.
    NotNumeric,
    /// Older than the engine keeps.
    TooOld,
    /// Further ahead of the clock than `limits.future_tolerance`.
    TooNew,
    /// A new series would pass `limits.max_series` or `limits.max_series_per_metric`.
    SeriesLimit,
    /// Tags that do not make a series key (`host` and `hostname` both given), or an empty name.
    BadKey,
}

impl RejectReason {
    pub const ALL: [RejectReason; 6] = [
        RejectReason::Syntax,
        RejectReason::NotNumeric,
        RejectReason::TooOld,
        RejectReason::TooNew,
        RejectReason::SeriesLimit,
        RejectReason::BadKey,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::Syntax => "syntax",
            RejectReason::NotNumeric => "not_numeric",
            RejectReason::TooOld => "too_old",
            RejectReason::TooNew => "too_new",
            RejectReason::SeriesLimit => "series_limit",
            RejectReason::BadKey => "bad_key",
        }
    }
}

/// One rejected line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// 1-based line number (for typed writes, the 1-based index of the point).
    pub line: usize,
    /// 1-based byte column, or 0 when the whole line is at fault.
    pub column: usize,
    pub reason: RejectReason,
    /// What is wrong, in words an operator understands.
    pub message: String,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.column > 0 {
            write!(f, "line {}, column {}: {}", self.line, self.column, self.message)
        } else {
            write!(f, "line {}: {}", self.line, self.message)
        }
    }
}

/// The outcome of a write: its valid lines are stored even when others are rejected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteReport {
    /// Points stored (one per numeric field of each accepted line).
    pub accepted: u64,
    /// Lines rejected.
    pub rejected: u64,
    /// The first [`WriteReport::MAX_DETAILS`] rejections in detail.
    pub rejections: Vec<Rejection>,
    /// Rejected lines per reason, indexed like [`RejectReason::ALL`].
    counts: [u64; RejectReason::ALL.len()],
}

impl WriteReport {
    /// How many rejections a report lists in detail; all are counted.
    pub const MAX_DETAILS: usize = 100;

    /// Lines rejected for `reason`.
    pub fn rejected_for(&self, reason: RejectReason) -> u64 {
        self.counts.get(reason as usize).copied().unwrap_or(0)
    }

    pub(crate) fn reject(&mut self, line: usize, column: usize, reason: RejectReason, message: String) {
        self.rejected += 1;
        if let Some(count) = self.counts.get_mut(reason as usize) {
            *count += 1;
        }
        if self.rejections.len() < Self::MAX_DETAILS {
            self.rejections.push(Rejection { line, column, reason, message });
        }
    }
}
