//! The ack gate: checkpoints and warm flush cuts hold only messages their source acknowledged.
//!
//! A partitioned stream (`crates/strata-nats`, partitions with leases) can move to another node
//! between a write and its acknowledgement: the stream then redelivers the message to the new
//! owner, and the old owner must forget its copy. It does so at its next open, where a *fence*
//! (`recovery.rs`) drops the records of a stream key from the new owner's first sequence on.
//! Dropping at replay is only sound if such a record never left the WAL for a checkpoint or a
//! tier file. So a sequenced write that asks for it ([`Engine::write_lp_gated`]) holds an
//! [`AckGuard`] from before its append until the caller says the message was acknowledged, and
//! a checkpoint copy or a warm cut first makes the gate quiet: it holds new guards back and
//! waits for the open ones to close.
//!
//! A guard dropped without [`AckGuard::acknowledged`] leaves an applied message that its source
//! may give to another node: the gate then refuses every later checkpoint and cut (the WAL keeps
//! everything, the fence at the next open decides), and says which message in its error.
//!
//! **Invariant:** a checkpoint and a warm flush hold no record of a gated write whose guard was
//! not closed by an acknowledgement.
//!
//! [`Engine::write_lp_gated`]: crate::Engine::write_lp_gated

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::streams::StreamSequence;

/// How long a checkpoint or a cut waits for open guards to close before it gives up (and is
/// tried again later). A guard lives for one write and one acknowledgement round trip.
pub(crate) const QUIET_WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
pub(crate) struct AckGate {
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct GateState {
    /// Guards not yet closed, by ticket.
    open: BTreeMap<u64, StreamSequence>,
    next: u64,
    /// Checkpoints and cuts that hold the gate quiet (or wait to): no guard opens meanwhile.
    quieting: u32,
    /// A message applied and then given up without an acknowledgement.
    abandoned: Option<StreamSequence>,
}

/// An applied (or about to be applied) message whose acknowledgement is not confirmed yet.
#[derive(Debug)]
#[must_use = "a guard dropped without `acknowledged` stops checkpoints and flushes until the engine reopens"]
pub struct AckGuard {
    gate: Option<Arc<AckGate>>,
    ticket: u64,
}

/// The gate held quiet: no gated message is open while it lives.
#[derive(Debug)]
pub(crate) struct QuietPermit<'a> {
    gate: &'a AckGate,
}

impl AckGate {
    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens a guard for `source`, waiting while a checkpoint or a cut holds the gate quiet.
    pub(crate) fn enter(self: &Arc<Self>, source: &StreamSequence) -> AckGuard {
        let mut state = self.lock();
        while state.quieting > 0 {
            state = self.changed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        let ticket = state.next;
        state.next += 1;
        state.open.insert(ticket, source.clone());
        AckGuard { gate: Some(self.clone()), ticket }
    }

    /// Holds new guards back and waits up to `wait` for the open ones to close.
    ///
    /// # Errors
    /// [`Error::AckPending`] naming the oldest open message if they did not close in time;
    /// [`Error::Unacknowledged`] once a guard was dropped without an acknowledgement.
    pub(crate) fn quiet(&self, wait: Duration) -> Result<QuietPermit<'_>, Error> {
        let deadline = Instant::now() + wait;
        let mut state = self.lock();
        state.quieting += 1;
        let refused = loop {
            if let Some(message) = &state.abandoned {
                break Error::Unacknowledged { stream: message.stream.clone(), sequence: message.sequence };
            }
            let Some(oldest) = state.open.values().next() else {
                return Ok(QuietPermit { gate: self });
            };
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break Error::AckPending {
                    stream: oldest.stream.clone(),
                    sequence: oldest.sequence,
                    waited: wait,
                };
            }
            state = self.changed.wait_timeout(state, left).unwrap_or_else(|p| p.into_inner()).0;
        };
        state.quieting -= 1;
        drop(state);
        self.changed.notify_all();
        Err(refused)
    }

    /// Whether a guard was dropped unacknowledged (no checkpoint until the engine reopens).
    pub(crate) fn is_abandoned(&self) -> bool {
        self.lock().abandoned.is_some()
    }

    fn close(&self, ticket: u64, acknowledged: bool) {
        let mut state = self.lock();
        if let Some(message) = state.open.remove(&ticket)
            && !acknowledged
            && state.abandoned.is_none()
        {
            state.abandoned = Some(message);
        }
        drop(state);
        self.changed.notify_all();
    }
}

impl AckGuard {
    /// A guard for a message that holds nothing to acknowledge (a duplicate, a failed write).
    pub(crate) fn closed() -> AckGuard {
        AckGuard { gate: None, ticket: 0 }
    }

    /// The message's source confirmed the acknowledgement: checkpoints and flushes may hold it.
    pub fn acknowledged(mut self) {
        if let Some(gate) = self.gate.take() {
            gate.close(self.ticket, true);
        }
    }

    /// Closes the guard of a write that was not applied (nothing to protect): as an
    /// acknowledged one, since nothing of it can reach a checkpoint.
    pub(crate) fn release(self) {
        self.acknowledged();
    }
}

impl Drop for AckGuard {
    fn drop(&mut self) {
        if let Some(gate) = self.gate.take() {
            gate.close(self.ticket, false);
        }
    }
}

impl Drop for QuietPermit<'_> {
    fn drop(&mut self) {
        let mut state = self.gate.lock();
        state.quieting = state.quieting.saturating_sub(1);
        drop(state);
        self.gate.changed.notify_all();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests may panic")]
mod tests {
    use super::*;

    fn at(sequence: u64) -> StreamSequence {
        StreamSequence { stream: "nats:s/c-p0".into(), sequence }
    }

    #[test]
    fn quiet_waits_for_open_guards_and_holds_new_ones_back() {
        let gate = Arc::new(AckGate::default());
        let guard = gate.enter(&at(1));
        assert!(matches!(gate.quiet(Duration::from_millis(20)), Err(Error::AckPending { sequence: 1, .. })));
        let acker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            guard.acknowledged();
        });
        let permit = gate.quiet(Duration::from_secs(10)).unwrap();
        acker.join().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let entering = {
            let gate = gate.clone();
            std::thread::spawn(move || tx.send(gate.enter(&at(2))).unwrap())
        };
        assert!(rx.recv_timeout(Duration::from_millis(50)).is_err(), "no guard opens while quiet");
        drop(permit);
        rx.recv_timeout(Duration::from_secs(10)).unwrap().acknowledged();
        entering.join().unwrap();
        assert!(gate.quiet(Duration::ZERO).is_ok());
    }

    #[test]
    fn a_guard_dropped_unacknowledged_stops_checkpoints_naming_it() {
        let gate = Arc::new(AckGate::default());
        gate.enter(&at(1)).release();
        AckGuard::closed().acknowledged();
        drop(gate.enter(&at(7)));
        let err = gate.quiet(Duration::ZERO).unwrap_err();
        assert!(matches!(err, Error::Unacknowledged { sequence: 7, .. }), "{err}");
        assert!(err.to_string().contains("nats:s/c-p0"), "{err}");
    }
}
