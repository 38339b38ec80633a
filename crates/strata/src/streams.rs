//! Exactly-once ingest from a stream (NATS JetStream): the sequence of the last message of each
//! stream whose points are in the log.
//!
//! A message redelivered after a crash (its acknowledgement never reached the stream) must not
//! count twice. "The later write wins" does not cover it: once a window is evicted, a point
//! written again becomes a second partial tier row. So a sequenced write carries its stream
//! and sequence in its WAL record, in the same atomic append as its points; a record applies
//! only if its sequence is past the stream's last applied one, live and at replay alike (the
//! rule runs in log order, so both decide the same). Checkpoints carry the table.
//!
//! A stream's messages must be written in order (one at a time, or in order): the table keeps
//! one number per stream, not a set.
//!
//! **Invariant:** a record applies its points iff its sequence is greater than every earlier
//! applied record's sequence of the same stream.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

/// Where a write comes from: a stream's name (for JetStream, the stream and consumer) and the
/// message's sequence in it, starting at 1.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StreamSequence {
    pub stream: String,
    pub sequence: u64,
}

/// The last applied sequence per stream.
#[derive(Debug, Default)]
pub(crate) struct Streams {
    applied: Mutex<BTreeMap<String, u64>>,
}

impl Streams {
    pub(crate) fn new(applied: BTreeMap<String, u64>) -> Streams {
        Streams { applied: Mutex::new(applied) }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, u64>> {
        self.applied.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The last applied sequence of `stream`.
    pub(crate) fn applied(&self, stream: &str) -> Option<u64> {
        self.lock().get(stream).copied()
    }

    /// Whether a record of `source` applies, and if so records it. Called in log order.
    pub(crate) fn admit(&self, source: &StreamSequence) -> bool {
        let mut applied = self.lock();
        match applied.get_mut(&source.stream) {
            Some(last) if *last >= source.sequence => false,
            Some(last) => {
                *last = source.sequence;
                true
            }
            None => {
                applied.insert(source.stream.clone(), source.sequence);
                true
            }
        }
    }

    /// A copy of the table, for a checkpoint (taken with the apply order held).
    pub(crate) fn snapshot(&self) -> BTreeMap<String, u64> {
        self.lock().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sequence_applies_once_and_only_forward() {
        let streams = Streams::default();
        let at = |sequence| StreamSequence { stream: "s".into(), sequence };
        assert!(streams.admit(&at(1)));
        assert!(!streams.admit(&at(1)), "redelivered");
        assert!(streams.admit(&at(3)));
        assert!(!streams.admit(&at(2)), "older than the last applied");
        assert!(streams.admit(&StreamSequence { stream: "t".into(), sequence: 1 }), "streams are apart");
        assert_eq!((streams.applied("s"), streams.applied("u")), (Some(3), None));
    }
}
