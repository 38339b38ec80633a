//! Backpressure on hot memory: writes are refused while hot memory is past `hot.max_memory`
//! and the compactor cannot bring it down.
//!
//! Past `hot.max_memory` a compaction pass flushes the oldest hot window early and evicts it
//! (`compactor/`). That needs the object store: while it is down, nothing can leave memory, so
//! every write accepted would grow it without bound. The guard then refuses writes with
//! [`Error::HotMemoryFull`], which names the limit and the compactor's error (the server
//! answers 503 with `Retry-After`; a client retries). Writes resume with the first pass that
//! succeeds.
//!
//! Measuring the hot store walks every series, too slow for each write: the guard keeps the
//! measure of the last compaction pass and adds an estimate for each point accepted since
//! ([`POINT_BYTES`], what an open window takes per point).
//!
//! **Invariant:** while the compactor's last pass failed, hot memory grows past
//! `hot.max_memory` by at most one write.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::Error;
use crate::units::ByteSize;

/// What a point takes in an open window: time and value.
const POINT_BYTES: u64 = 16;

#[derive(Debug, Default)]
pub(crate) struct MemoryGuard {
    state: Mutex<Measure>,
    /// Whether the last pass failed, read without the lock: every write checks it.
    failing: AtomicBool,
}

#[derive(Debug, Default)]
struct Measure {
    /// Hot memory as the last pass measured it.
    bytes: u64,
    /// Points accepted (the engine's counter) when it was measured.
    accepted: u64,
    /// The last pass's error, while it failed: nothing can be evicted.
    failing: Option<String>,
}

impl MemoryGuard {
    /// Records a pass's outcome and the hot memory measured after it.
    pub(crate) fn measured(&self, bytes: u64, accepted: u64, failing: Option<String>) {
        let mut measure = self.lock();
        self.failing.store(failing.is_some(), Ordering::Relaxed);
        *measure = Measure { bytes, accepted, failing };
    }

    /// Refuses a write while the estimate is past `limit` and the last pass failed.
    ///
    /// # Errors
    /// [`Error::HotMemoryFull`] naming the estimate, the limit and the compactor's error.
    pub(crate) fn check(&self, accepted: u64, limit: ByteSize) -> Result<(), Error> {
        // The common case, a healthy compactor, takes no lock on the write path.
        if !self.failing.load(Ordering::Relaxed) {
            return Ok(());
        }
        let measure = self.lock();
        let Some(cause) = &measure.failing else { return Ok(()) };
        let estimate = estimate(&measure, accepted);
        if estimate <= limit.0 {
            return Ok(());
        }
        Err(Error::HotMemoryFull { estimate: ByteSize(estimate), limit, cause: cause.clone() })
    }

    /// Whether writes are refused now, as of `accepted` points.
    pub(crate) fn refusing(&self, accepted: u64, limit: ByteSize) -> bool {
        self.check(accepted, limit).is_err()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Measure> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn estimate(measure: &Measure, accepted: u64) -> u64 {
    let since = accepted.saturating_sub(measure.accepted);
    measure.bytes.saturating_add(since.saturating_mul(POINT_BYTES))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests may panic")]
mod tests {
    use super::*;

    #[test]
    fn refuses_only_past_the_limit_while_the_compactor_fails() {
        let guard = MemoryGuard::default();
        let limit = ByteSize(1000);
        guard.measured(2000, 10, None);
        assert!(guard.check(10, limit).is_ok(), "a healthy compactor evicts at its next pass");
        guard.measured(900, 10, Some("object store down".into()));
        assert!(guard.check(10, limit).is_ok());
        assert!(guard.check(16, limit).is_ok(), "900 + 6 x 16 bytes");
        let err = guard.check(17, limit).unwrap_err().to_string();
        assert!(err.contains("hot.max_memory (1000B)") && err.contains("object store down"), "{err}");
        assert!(guard.refusing(17, limit));
        guard.measured(2000, 17, None);
        assert!(!guard.refusing(1000, limit), "the first pass that succeeds lets writes in");
    }
}
