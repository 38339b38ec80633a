//! How long the log's syncs take: a fixed-bucket histogram the log thread fills and any thread
//! reads, for an operator's dashboard (`strata_wal_sync_seconds`). A slow or failing disk shows
//! here before writes time out.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets: 50 µs (a battery-backed cache) to 1 s (a stalled disk).
/// Everything above the last lands only in the count.
pub const SYNC_BUCKETS: [Duration; 12] = [
    Duration::from_micros(50),
    Duration::from_micros(100),
    Duration::from_micros(250),
    Duration::from_micros(500),
    Duration::from_millis(1),
    Duration::from_micros(2_500),
    Duration::from_millis(5),
    Duration::from_millis(10),
    Duration::from_millis(25),
    Duration::from_millis(50),
    Duration::from_millis(250),
    Duration::from_secs(1),
];

/// The syncs of a log so far: what [`Wal::sync_latency`](crate::Wal::sync_latency) returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncLatency {
    /// Syncs of segment data made since the log was opened (each acknowledges a group).
    pub count: u64,
    /// Their total time.
    pub sum: Duration,
    /// `(upper bound, syncs that took at most that long)`, cumulative, one per
    /// [`SYNC_BUCKETS`] entry.
    pub buckets: Vec<(Duration, u64)>,
}

/// The live histogram: lock-free, written by the log thread only.
#[derive(Debug, Default)]
pub(crate) struct SyncHistogram {
    count: AtomicU64,
    sum_nanos: AtomicU64,
    /// Per bucket, not cumulative.
    buckets: [AtomicU64; SYNC_BUCKETS.len()],
}

impl SyncHistogram {
    pub(crate) fn record(&self, took: Duration) {
        if let Some(i) = SYNC_BUCKETS.iter().position(|&bound| took <= bound)
            && let Some(bucket) = self.buckets.get(i)
        {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> SyncLatency {
        let mut total = 0;
        let buckets = SYNC_BUCKETS
            .iter()
            .zip(&self.buckets)
            .map(|(&bound, n)| {
                total += n.load(Ordering::Relaxed);
                (bound, total)
            })
            .collect();
        SyncLatency {
            count: self.count.load(Ordering::Relaxed),
            sum: Duration::from_nanos(self.sum_nanos.load(Ordering::Relaxed)),
            buckets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_slow_syncs_only_count() {
        let h = SyncHistogram::default();
        h.record(Duration::from_micros(30));
        h.record(Duration::from_micros(700));
        h.record(Duration::from_secs(2));
        let s = h.snapshot();
        assert_eq!(s.count, 3);
        assert_eq!(s.sum, Duration::from_micros(2_000_730));
        assert_eq!(s.buckets.first(), Some(&(Duration::from_micros(50), 1)));
        let ms = Duration::from_millis(1);
        assert_eq!(s.buckets.iter().find(|(b, _)| *b == ms), Some(&(ms, 2)));
        assert_eq!(s.buckets.last(), Some(&(Duration::from_secs(1), 2)));
    }
}
