//! What NATS ingest has done since it started, for `/metrics`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// How many notes [`NatsCounts::notes`] keeps.
pub const MAX_NOTES: usize = 100;

/// Counters of NATS ingest, shared by every subscription and consumer.
#[derive(Debug, Default)]
pub struct NatsStats {
    pub(crate) received: AtomicU64,
    pub(crate) stored: AtomicU64,
    pub(crate) duplicates: AtomicU64,
    pub(crate) too_large: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) backpressure_waits: AtomicU64,
    pub(crate) slow_consumer_events: AtomicU64,
    pub(crate) notes: Mutex<Vec<String>>,
}

/// A copy of the counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NatsCounts {
    /// Messages taken from NATS.
    pub received: u64,
    /// Messages whose points are durable in the engine (their rejected lines counted there).
    pub stored: u64,
    /// JetStream messages skipped as stored before (redeliveries).
    pub duplicates: u64,
    /// Messages over `limits.max_write_size`: never storable, terminated on JetStream.
    pub too_large: u64,
    /// Core NATS messages lost because the engine failed (a JetStream message is left for
    /// redelivery instead).
    pub failed: u64,
    /// Times a write was refused for hot memory and retried after a pause.
    pub backpressure_waits: u64,
    /// Times the NATS server reported this client too slow (it dropped core messages).
    pub slow_consumer_events: u64,
    /// What went wrong (a consumer that stopped, a message dropped, a pull retried), newest
    /// last; the last [`MAX_NOTES`] are kept.
    pub notes: Vec<String>,
}

impl NatsStats {
    pub(crate) fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn note(&self, what: String) {
        let mut notes = self.notes.lock().unwrap_or_else(|p| p.into_inner());
        if notes.len() == MAX_NOTES {
            notes.remove(0);
        }
        notes.push(what);
    }

    /// The counters now.
    pub fn counts(&self) -> NatsCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        NatsCounts {
            received: get(&self.received),
            stored: get(&self.stored),
            duplicates: get(&self.duplicates),
            too_large: get(&self.too_large),
            failed: get(&self.failed),
            backpressure_waits: get(&self.backpressure_waits),
            slow_consumer_events: get(&self.slow_consumer_events),
            notes: self.notes.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }
}
