//! The log and the order of applying it: a write is appended to the WAL, and once durable it
//! is applied to the hot store at its turn in log order.
//!
//! **Invariant:** records are applied in WAL order, so memory always holds what replaying the
//! log would rebuild, duplicates included.
//! **Invariant:** a point is visible to readers only after its record is durable.
//! **Invariant:** after a failed append, or an apply that failed after its record was durable,
//! the log is poisoned: memory may no longer be what a replay rebuilds, so every later write
//! is refused until the engine is reopened (which replays the log).

use std::path::PathBuf;
use std::sync::{Condvar, Mutex, MutexGuard};

use strata_wal::{Position, SyncLatency, Wal};

use crate::decode::Malformed;
use crate::error::Error;

#[derive(Debug)]
pub(crate) struct Log {
    writer: Writer,
    order: Mutex<Applied>,
    turn: Condvar,
    poison: Mutex<Option<String>>,
}

/// Where records go: the WAL, or nowhere for a read-only engine.
#[derive(Debug)]
enum Writer {
    Wal(Wal),
    /// The data directory of a read-only engine, named in its refusals.
    ReadOnly(PathBuf),
}

/// Where the apply sequence stands.
#[derive(Debug)]
struct Applied {
    /// Sequence number (from the WAL) of the next record to apply.
    next: u64,
    /// End of the last applied record.
    position: Position,
}

/// The apply order, held: no record is applied while it lives.
#[derive(Debug)]
pub(crate) struct Held<'a>(MutexGuard<'a, Applied>);

impl Held<'_> {
    /// The end of the last applied record: a copy of memory taken now holds exactly the
    /// records before it.
    pub(crate) fn position(&self) -> Position {
        self.0.position
    }
}

impl Log {
    /// The log `wal`, every record up to `position` applied (by replay).
    pub(crate) fn new(wal: Wal, position: Position) -> Log {
        Log::with(Writer::Wal(wal), position)
    }

    /// The log of a read-only engine on `data_dir`, every record up to `position` applied (by
    /// a read-only replay): it refuses every append, sync and removal.
    pub(crate) fn read_only(data_dir: PathBuf, position: Position) -> Log {
        Log::with(Writer::ReadOnly(data_dir), position)
    }

    fn with(writer: Writer, position: Position) -> Log {
        Log {
            writer,
            order: Mutex::new(Applied { next: 0, position }),
            turn: Condvar::new(),
            poison: Mutex::new(None),
        }
    }

    /// # Errors
    /// [`Error::Poisoned`] once a write to the log, or an apply after it, failed.
    pub(crate) fn check_poison(&self) -> Result<(), Error> {
        match &*self.poison.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(cause) => Err(Error::Poisoned { cause: cause.clone() }),
            None => Ok(()),
        }
    }

    /// # Errors
    /// [`Error::ReadOnly`] naming `operation` when the engine is read-only.
    pub(crate) fn check_writable(&self, operation: &'static str) -> Result<(), Error> {
        self.wal(operation).map(|_| ())
    }

    pub(crate) fn is_read_only(&self) -> bool {
        matches!(self.writer, Writer::ReadOnly(_))
    }

    fn wal(&self, operation: &'static str) -> Result<&Wal, Error> {
        match &self.writer {
            Writer::Wal(wal) => Ok(wal),
            Writer::ReadOnly(path) => Err(Error::ReadOnly { operation, path: path.clone() }),
        }
    }

    /// How long the WAL's syncs took since the engine was opened (nothing for a read-only one).
    pub(crate) fn sync_latency(&self) -> SyncLatency {
        match &self.writer {
            Writer::Wal(wal) => wal.sync_latency(),
            Writer::ReadOnly(_) => SyncLatency::default(),
        }
    }

    pub(crate) fn is_poisoned(&self) -> bool {
        self.check_poison().is_err()
    }

    fn poison(&self, cause: String) {
        self.poison.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(cause);
    }

    /// Appends `payload` (returns once durable as configured), then at the record's turn in
    /// log order runs `apply` with the order held.
    ///
    /// # Errors
    /// [`Error::Wal`] when the append fails (nothing acknowledged); [`Error::ApplyFailed`]
    /// when `apply` fails after the record was durable: the write is kept by the log and
    /// replayed at the next open, but memory misses it until then.
    pub(crate) fn append_then_apply(
        &self,
        payload: Vec<u8>,
        apply: impl FnOnce() -> Result<(), Malformed>,
    ) -> Result<Position, Error> {
        let (end, sequence) = match self.wal("write")?.append_sequenced_owned(payload) {
            Ok(appended) => appended,
            Err(e) => {
                self.poison(e.to_string());
                return Err(Error::Wal(e));
            }
        };
        let mut applied = self.order.lock().unwrap_or_else(|p| p.into_inner());
        while applied.next != sequence {
            applied = self.turn.wait(applied).unwrap_or_else(|p| p.into_inner());
        }
        let outcome = apply();
        applied.next += 1;
        applied.position = end;
        drop(applied);
        self.turn.notify_all();
        outcome.map_err(|reason| {
            let cause = format!("applying the record ending at {end} to memory failed: {reason}");
            self.poison(cause.clone());
            Error::ApplyFailed { cause }
        })?;
        Ok(end)
    }

    /// Holds the apply order (writers wait; readers do not).
    pub(crate) fn hold(&self) -> Held<'_> {
        Held(self.order.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Removes the WAL segments wholly before `position`, which a durable checkpoint covers.
    pub(crate) fn remove_segments_before(&self, position: Position) -> Result<usize, Error> {
        Ok(self.wal("remove WAL segments")?.remove_segments_before(position)?)
    }

    /// Makes every appended record durable.
    pub(crate) fn sync(&self) -> Result<(), Error> {
        Ok(self.wal("sync the WAL")?.sync()?)
    }
}
