//! The engine's shared parts: what the write path, the readers, the checkpointer and the
//! compactor all work on. Plain state with no logic of its own; each path lives in its own
//! module and takes a `&Core`.

use std::fs::File;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::ack_gate::AckGate;
use crate::clock::Clock;
use crate::config::Config;
use crate::counters::Counters;
use crate::cut_guard::CutGate;
use crate::hot::HotStore;
use crate::log::Log;
use crate::memory_guard::MemoryGuard;
use crate::series::SeriesIndex;
use crate::streams::Streams;
use crate::tier::state::TierState;

#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) config: Config,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) log: Log,
    pub(crate) index: RwLock<SeriesIndex>,
    /// Held shared by every write from looking its series up until it is applied, and
    /// exclusively while series retire (`compactor/retire.rs`): no write then holds an id
    /// it found before the series left the index.
    pub(crate) writers: RwLock<()>,
    /// Held by a checkpoint from its copy until its series table is encoded, and by a
    /// retirement: a key the checkpoint encodes after its copy is still the one it copied.
    pub(crate) retiring: Mutex<()>,
    pub(crate) hot: HotStore,
    pub(crate) tiers: TierState,
    /// No checkpoint between a warm flush's cut and its commit.
    pub(crate) gate: Arc<CutGate>,
    /// Gated stream messages not yet acknowledged (`ack_gate.rs`).
    pub(crate) acks: Arc<AckGate>,
    /// The checkpoint directory (a simulated disk in crash tests).
    pub(crate) checkpoints: Box<dyn strata_wal::Storage>,
    pub(crate) counters: Counters,
    /// Refuses writes while hot memory is full and the compactor cannot evict.
    pub(crate) memory: MemoryGuard,
    /// The last applied sequence of each stream, for exactly-once ingest.
    pub(crate) streams: Streams,
    /// The data directory's lock, held while the engine is open; `None` for a read-only
    /// engine, which never takes it.
    pub(crate) _lock: Option<File>,
}

impl Core {
    pub(crate) fn read_index(&self) -> RwLockReadGuard<'_, SeriesIndex> {
        self.index.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn write_index(&self) -> RwLockWriteGuard<'_, SeriesIndex> {
        self.index.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Shared by a write from looking its series up until it is applied.
    pub(crate) fn writing(&self) -> RwLockReadGuard<'_, ()> {
        self.writers.read().unwrap_or_else(|p| p.into_inner())
    }

    /// How many times a read of hot by id that met a retirement reads again before it holds
    /// retirements off for its last try.
    const READ_RETRIES: usize = 3;

    /// Runs `read` (which finds series by id and reads hot) until no retirement came between
    /// its start and its end, and returns what it read with the index as it stood then: a
    /// retirement may move a series to another id, or lend a retired id to a new series
    /// (`compactor/retire.rs`). Retirements come at most once a compaction pass; a read that
    /// keeps meeting them holds them off (`writers` shared, as a write does) for its last try,
    /// so it cannot starve under steady churn.
    pub(crate) fn read_without_retirement<T>(
        &self,
        mut read: impl FnMut() -> T,
    ) -> (T, RwLockReadGuard<'_, SeriesIndex>) {
        let mut held = None;
        for tries in 0.. {
            if tries == Self::READ_RETRIES {
                held = Some(self.writing());
            }
            let before = self.read_index().retirements();
            let value = read();
            let index = self.read_index();
            if index.retirements() == before || held.is_some() {
                return (value, index);
            }
        }
        unreachable!("the loop returns once retirements are held off")
    }

    /// Waits for every write in flight to be applied, and holds off new ones.
    pub(crate) fn quiet_writers(&self) -> RwLockWriteGuard<'_, ()> {
        self.writers.write().unwrap_or_else(|p| p.into_inner())
    }

    /// No series retires while this is held.
    pub(crate) fn hold_retirements(&self) -> MutexGuard<'_, ()> {
        self.retiring.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The engine's clock, now (ns).
    pub(crate) fn now(&self) -> i64 {
        self.clock.now_nanos()
    }
}
