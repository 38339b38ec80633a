//! The rule that ties a warm flush to checkpoints: between a flush's cut of the hot store and
//! the manifest commit that holds it, no checkpoint is taken.
//!
//! A cut moves the hot store on (late points go into the flush; points before the cut's end
//! count as late from then on). A checkpoint taken before the commit would record that moved-on
//! state while the tiers do not yet hold what moved: a crash then loses those points. The WAL
//! still holds them as long as no checkpoint lets it go, so the rule is enforced here, in one
//! type: [`CutGate::cut`] hands out a [`CutGuard`] that lives exactly from cut to commit (it
//! travels inside the flush, also while a failed flush waits for its retry), and
//! [`CutGate::checkpoint`] refuses while one lives.
//!
//! **Invariant:** no checkpoint is written while a `CutGuard` lives.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::Error;

#[derive(Debug, Default)]
pub(crate) struct CutGate {
    /// Whether a cut is open; the mutex also serializes checkpoints with each other and with cuts.
    open: Mutex<bool>,
}

/// A cut not yet committed. Dropping it (after the commit) lets checkpoints resume.
#[derive(Debug)]
pub(crate) struct CutGuard {
    gate: Arc<CutGate>,
}

/// A checkpoint in progress: no cut starts while it lives.
#[derive(Debug)]
pub(crate) struct CheckpointPermit<'a> {
    _no_cut: MutexGuard<'a, bool>,
}

impl CutGate {
    fn lock(&self) -> MutexGuard<'_, bool> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `cut` and opens the gate, atomically with respect to checkpoints.
    ///
    /// # Errors
    /// [`Error::FlushPending`] if another cut is still open (the compactor runs one flush at a
    /// time, so this means a bug).
    pub(crate) fn cut<R>(self: &Arc<Self>, cut: impl FnOnce() -> R) -> Result<(CutGuard, R), Error> {
        let mut open = self.lock();
        if *open {
            return Err(Error::FlushPending);
        }
        let taken = cut();
        *open = true;
        Ok((CutGuard { gate: self.clone() }, taken))
    }

    /// Permission to write a checkpoint, held while it is written.
    ///
    /// # Errors
    /// [`Error::FlushPending`] while a cut is open.
    pub(crate) fn checkpoint(&self) -> Result<CheckpointPermit<'_>, Error> {
        let open = self.lock();
        if *open {
            return Err(Error::FlushPending);
        }
        Ok(CheckpointPermit { _no_cut: open })
    }

    /// Whether a cut is open now.
    pub(crate) fn is_open(&self) -> bool {
        *self.lock()
    }
}

impl Drop for CutGuard {
    fn drop(&mut self) {
        *self.gate.lock() = false;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests may panic")]
mod tests {
    use super::*;

    #[test]
    fn no_checkpoint_from_cut_to_commit() {
        let gate = Arc::new(CutGate::default());
        assert!(gate.checkpoint().is_ok());
        let (guard, value) = gate.cut(|| 7).unwrap();
        assert_eq!(value, 7);
        assert!(matches!(gate.checkpoint(), Err(Error::FlushPending)));
        assert!(matches!(gate.cut(|| ()), Err(Error::FlushPending)));
        assert!(gate.is_open());
        drop(guard);
        assert!(!gate.is_open());
        assert!(gate.checkpoint().is_ok());
    }
}
