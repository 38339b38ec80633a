//! What the engine has taken and refused since it was opened.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::write::{RejectReason, WriteReport};

/// Points accepted and lines rejected per reason; shared by every writer.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    accepted: AtomicU64,
    /// Writes refused whole because hot memory was full (`memory_guard.rs`).
    refused_writes: AtomicU64,
    /// Stream messages skipped as already applied (`streams.rs`).
    duplicates: AtomicU64,
    rejected: [AtomicU64; RejectReason::ALL.len()],
}

impl Counters {
    /// Counts the rejections of a report.
    pub(crate) fn count_rejections(&self, report: &WriteReport) {
        for reason in RejectReason::ALL {
            if let Some(counter) = self.rejected.get(reason as usize) {
                counter.fetch_add(report.rejected_for(reason), Ordering::Relaxed);
            }
        }
    }

    pub(crate) fn count_accepted(&self, points: u64) {
        self.accepted.fetch_add(points, Ordering::Relaxed);
    }

    pub(crate) fn count_refused_write(&self) {
        self.refused_writes.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_duplicate(&self) {
        self.duplicates.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn duplicates(&self) -> u64 {
        self.duplicates.load(Ordering::Relaxed)
    }

    pub(crate) fn refused_writes(&self) -> u64 {
        self.refused_writes.load(Ordering::Relaxed)
    }

    pub(crate) fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Rejected lines per reason, every reason listed.
    pub(crate) fn rejected(&self) -> Vec<(RejectReason, u64)> {
        RejectReason::ALL
            .into_iter()
            .filter_map(|r| Some((r, self.rejected.get(r as usize)?.load(Ordering::Relaxed))))
            .collect()
    }
}
