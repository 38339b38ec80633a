//! The rule that ties a warm flush to checkpoints.
//!
//! A cut moves the hot store on: late points go into the flush, and points before the cut's
//! end count as late from then on. Until the flush's manifest commit, the flush is the only
//! place outside the WAL that holds those late points. So:
//! - from the cut until the flush is encoded, no checkpoint is taken (a short time: the cut
//!   is downsampled and encoded in memory);
//! - once encoded, the flush may wait for its commit as long as the object store is down.
//!   Checkpoints go on meanwhile and record the pending flush's late points with its number
//!   ([`Pending`]): a later open loads them again only if the manifest does not hold that
//!   flush. The WAL can then be trimmed whatever the object store does.
//!
//! [`CutGate::cut`] hands out a [`CutGuard`] that lives from cut to commit (it travels inside
//! the flush, also while a failed flush waits for its retry); [`CutGuard::encoded`] turns it
//! pending; [`CutGate::checkpoint`] refuses while a cut is not encoded and otherwise tells
//! the checkpoint what is pending.
//!
//! **Invariant:** every checkpoint holds each late point that is neither in the WAL after it
//! nor in a committed flush: in its own late points, or in the pending flush it records.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::Error;
use crate::hot::LatePoint;

#[derive(Debug, Default)]
pub(crate) struct CutGate {
    /// What is cut and not committed; the mutex also serializes checkpoints with each other
    /// and with cuts.
    state: Mutex<GateState>,
}

#[derive(Debug, Default)]
enum GateState {
    /// No cut waits for its commit.
    #[default]
    Closed,
    /// A cut is being encoded, or could not be (then for good): no checkpoint.
    Cutting,
    /// An encoded flush waits for its commit.
    Pending(Arc<Pending>),
}

/// The late points of a warm flush not yet committed, as a checkpoint records them.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Pending {
    /// The flush's number: the manifest holds it once `warm_flushes` reaches it.
    pub(crate) flush: u64,
    pub(crate) late: Vec<LatePoint>,
}

/// A cut not yet committed. Dropping it (after the commit) closes the gate.
#[derive(Debug)]
pub(crate) struct CutGuard {
    gate: Arc<CutGate>,
}

/// A checkpoint in progress: no cut starts while it lives.
#[derive(Debug)]
pub(crate) struct CheckpointPermit<'a> {
    state: MutexGuard<'a, GateState>,
}

impl CutGate {
    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `cut` and opens the gate, atomically with respect to checkpoints.
    ///
    /// # Errors
    /// [`Error::FlushPending`] if another cut is still open (the compactor runs one flush at a
    /// time, so this means a bug).
    pub(crate) fn cut<R>(self: &Arc<Self>, cut: impl FnOnce() -> R) -> Result<(CutGuard, R), Error> {
        let mut state = self.lock();
        if !matches!(*state, GateState::Closed) {
            return Err(Error::FlushPending);
        }
        let taken = cut();
        *state = GateState::Cutting;
        Ok((CutGuard { gate: self.clone() }, taken))
    }

    /// Permission to write a checkpoint, held while it is written.
    ///
    /// # Errors
    /// [`Error::FlushPending`] while a cut is not encoded yet (or could not be).
    pub(crate) fn checkpoint(&self) -> Result<CheckpointPermit<'_>, Error> {
        let state = self.lock();
        if matches!(*state, GateState::Cutting) {
            return Err(Error::FlushPending);
        }
        Ok(CheckpointPermit { state })
    }

    /// Whether a checkpoint would be refused now.
    pub(crate) fn is_cutting(&self) -> bool {
        matches!(*self.lock(), GateState::Cutting)
    }
}

impl CutGuard {
    /// The flush is encoded: checkpoints resume, recording `pending` until the commit.
    pub(crate) fn encoded(&self, pending: Pending) {
        *self.gate.lock() = GateState::Pending(Arc::new(pending));
    }
}

impl CheckpointPermit<'_> {
    /// The encoded flush waiting for its commit, if any.
    pub(crate) fn pending(&self) -> Option<Arc<Pending>> {
        match &*self.state {
            GateState::Pending(pending) => Some(pending.clone()),
            GateState::Closed | GateState::Cutting => None,
        }
    }
}

impl Drop for CutGuard {
    fn drop(&mut self) {
        *self.gate.lock() = GateState::Closed;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests may panic")]
mod tests {
    use super::*;

    #[test]
    fn no_checkpoint_from_cut_to_encoded_then_checkpoints_record_the_pending_flush() {
        let gate = Arc::new(CutGate::default());
        assert_eq!(gate.checkpoint().unwrap().pending(), None);
        let (guard, value) = gate.cut(|| 7).unwrap();
        assert_eq!(value, 7);
        assert!(matches!(gate.checkpoint(), Err(Error::FlushPending)));
        assert!(matches!(gate.cut(|| ()), Err(Error::FlushPending)));
        assert!(gate.is_cutting());
        let pending = Pending { flush: 3, late: vec![(1, 2, 3.0)] };
        guard.encoded(pending.clone());
        assert!(!gate.is_cutting());
        assert_eq!(gate.checkpoint().unwrap().pending().as_deref(), Some(&pending));
        assert!(matches!(gate.cut(|| ()), Err(Error::FlushPending)), "one flush at a time");
        drop(guard);
        assert_eq!(gate.checkpoint().unwrap().pending(), None);
        assert!(gate.cut(|| ()).is_ok());
    }
}
