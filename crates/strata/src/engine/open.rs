//! Opening an engine: read-write (lock, engine id, orphans, recovery, background threads) or
//! read-only (a consistent view beside a live engine, nothing written), both built by
//! [`Engine::assemble`].

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use strata_wal::FsStorage;

use crate::access::Access;
use crate::ack_gate::AckGate;
use crate::checkpointer;
use crate::clock::{Clock, WallClock};
use crate::compactor::Compactor;
use crate::config::Config;
use crate::core::Core;
use crate::counters::Counters;
use crate::cut_guard::CutGate;
use crate::error::{Error, io};
use crate::memory_guard::MemoryGuard;
use crate::read_only;
use crate::recovery::{Recovered, recover};
use crate::streams::Streams;
use crate::tier::Store;
use crate::tier::state::TierState;

use super::data_dir::{Disks, ENGINE_ID, engine_id, lock_data_dir, read_engine_id};
use super::{CHECKPOINT_DIR, Engine, WAL_DIR};

impl Engine {
    /// Opens (or creates) the engine in `config.data_dir`, recovering what a previous run
    /// wrote: the newest checkpoint, then the WAL after it.
    ///
    /// # Errors
    /// An invalid config, a data directory in use by another engine, I/O errors naming the
    /// path, or damage in a checkpoint or in a WAL segment other than the newest.
    pub fn open(config: Config) -> Result<Engine, Error> {
        Engine::open_with_clock(config, Arc::new(WallClock))
    }

    /// Like [`Engine::open`], reading "now" from `clock`.
    ///
    /// # Errors
    /// As [`Engine::open`].
    pub fn open_with_clock(config: Config, clock: Arc<dyn Clock>) -> Result<Engine, Error> {
        Engine::open_fenced(config, clock, &BTreeMap::new())
    }

    /// Like [`Engine::open_with_clock`], with a *fence* per stream key: a logged message of
    /// `stream` with a sequence at or past `fences[stream]` is not applied at replay, and
    /// [`Recovery::fenced`](crate::Recovery::fenced) counts it. A node passes the first
    /// sequence of each partition another node took over: what this engine wrote of it and
    /// never acknowledged is the new owner's. Only messages written with
    /// [`Engine::write_lp_gated`] and not acknowledged may lie past a fence; they never reach
    /// a checkpoint or a tier (`ack_gate.rs`), so replay is the one place that holds them.
    /// An open that fenced a record checkpoints before it returns, so the fenced records are
    /// never replayed again (not even after a restart without the fence).
    ///
    /// # Errors
    /// As [`Engine::open`].
    pub fn open_fenced(
        config: Config,
        clock: Arc<dyn Clock>,
        fences: &BTreeMap<String, u64>,
    ) -> Result<Engine, Error> {
        // The store first: it refuses a path it cannot address before anything is created.
        let store = Store::open(&config.object_store, &config.data_dir)?;
        let disks = Disks::local(&config)?;
        Engine::open_inner(config, clock, disks, store, fences)
    }

    /// Like [`Engine::open_with_clock`], with the tiers in `store` under `prefix` instead of
    /// where `object_store.url` points: any `object_store` backend (GCS, Azure, a wrapper).
    /// With a `node_id`, under `prefix/nodes/<node_id>`.
    ///
    /// # Errors
    /// As [`Engine::open`].
    pub fn open_with_object_store(
        config: Config,
        clock: Arc<dyn Clock>,
        store: Arc<dyn object_store::ObjectStore>,
        prefix: &str,
    ) -> Result<Engine, Error> {
        let disks = Disks::local(&config)?;
        let url = format!("{store}/{prefix}");
        let store = Store::with_object_store(store, prefix, &url, config.object_store.timeout.0)?;
        Engine::open_inner(config, clock, disks, store, &BTreeMap::new())
    }

    /// Opens the engine with its WAL in `storage`, a simulated disk that tests crash and fail.
    /// Checkpoints and tiers still go to `data_dir`.
    ///
    /// # Errors
    /// As [`Engine::open`].
    #[cfg(feature = "sim")]
    pub fn open_with_wal_storage(
        config: Config,
        clock: Arc<dyn Clock>,
        storage: impl strata_wal::Storage,
    ) -> Result<Engine, Error> {
        let disks = Disks { wal: Box::new(storage), ..Disks::local(&config)? };
        let store = Store::open(&config.object_store, &config.data_dir)?;
        Engine::open_inner(config, clock, disks, store, &BTreeMap::new())
    }

    /// Opens the engine with its WAL and checkpoints on `wal` and `checkpoints` (simulated
    /// disks that tests crash and fail) and its tiers in `store` under `prefix`. Only the lock
    /// file and the engine's id (`ENGINE_ID`) go to `data_dir`.
    ///
    /// # Errors
    /// As [`Engine::open`].
    #[cfg(feature = "sim")]
    pub fn open_with_storage(
        config: Config,
        clock: Arc<dyn Clock>,
        wal: impl strata_wal::Storage,
        checkpoints: impl strata_wal::Storage,
        store: Arc<dyn object_store::ObjectStore>,
        prefix: &str,
    ) -> Result<Engine, Error> {
        let url = format!("{store}/{prefix}");
        let store = Store::with_object_store(store, prefix, &url, config.object_store.timeout.0)?;
        let disks = Disks { wal: Box::new(wal), checkpoints: Box::new(checkpoints) };
        Engine::open_inner(config, clock, disks, store, &BTreeMap::new())
    }

    /// Opens the engine in `config.data_dir` read-only: for queries beside a live engine that
    /// holds the directory (its `LOCK` is neither taken nor checked), or on a directory nobody
    /// may change. It writes nothing, ever: no lock file, no directory, no `ENGINE_ID`, no
    /// checkpoint, no cut of a torn WAL tail (replay stops there and
    /// [`Recovery::truncated`] reports it; damage is handled as `wal.on_damage` says, but
    /// reported instead of cut), no orphan removal, no manifest, and no background threads.
    ///
    /// What it answers is a consistent view as of the open: the manifest, the newest
    /// checkpoint and the WAL as a live engine had written them (what it had not written
    /// whole to the log yet is left out). Later writes of that engine are not seen; open
    /// again to see them. A tier file the live engine deletes afterwards (a merge, retention)
    /// makes a query that needs it fail naming the file, and a new open answers it.
    ///
    /// Queries ([`read`](Engine::read), [`read_batches`](Engine::read_batches),
    /// [`read_tier`](Engine::read_tier), [`query`](Engine::query), [`stats`](Engine::stats),
    /// [`manifest`](Engine::manifest)) work; writes, compactions and checkpoints are refused
    /// with [`Error::ReadOnly`], and [`close`](Engine::close) does nothing durable.
    ///
    /// ```
    /// use strata::{Config, Engine, Error, Selector, WriteOptions};
    ///
    /// # let dir = tempfile::tempdir()?;
    /// let writer = Engine::open(Config::with_data_dir(dir.path()))?;
    /// let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    /// writer.write_lp(format!("load,hostname=a value=1 {now}").as_bytes(), &WriteOptions::cc_metric_store("c"))?;
    ///
    /// // The writer still holds the directory; a reader opens beside it.
    /// let reader = Engine::open_read_only(Config::with_data_dir(dir.path()))?;
    /// assert_eq!(reader.read(&Selector::metric("load"), 0, i64::MAX)?[0].values, vec![1.0]);
    /// assert!(matches!(reader.write_lp(b"load value=2", &WriteOptions::default()), Err(Error::ReadOnly { .. })));
    /// reader.close()?;
    /// writer.close()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// An invalid config, a data directory that does not exist, I/O errors naming the path,
    /// damage in a checkpoint or (under `wal.on_damage = "refuse"`) in acknowledged WAL
    /// records, a tier store another engine owns, or [`Error::Unsettled`] when a live engine
    /// committed or checkpointed during every one of several tries.
    pub fn open_read_only(config: Config) -> Result<Engine, Error> {
        Engine::open_read_only_with_clock(config, Arc::new(WallClock))
    }

    /// Like [`Engine::open_read_only`], reading "now" from `clock`.
    ///
    /// # Errors
    /// As [`Engine::open_read_only`].
    pub fn open_read_only_with_clock(config: Config, clock: Arc<dyn Clock>) -> Result<Engine, Error> {
        let store = Store::open_read_only(&config.object_store, &config.data_dir)?;
        Engine::open_read_only_inner(config, clock, store)
    }

    /// Like [`Engine::open_read_only_with_clock`], with the tiers in `store` under `prefix`, as
    /// [`Engine::open_with_object_store`] has them. Nothing is written to `store`.
    ///
    /// # Errors
    /// As [`Engine::open_read_only`].
    pub fn open_read_only_with_object_store(
        config: Config,
        clock: Arc<dyn Clock>,
        store: Arc<dyn object_store::ObjectStore>,
        prefix: &str,
    ) -> Result<Engine, Error> {
        let url = format!("{store}/{prefix}");
        let store = Store::with_object_store(store, prefix, &url, config.object_store.timeout.0)?;
        Engine::open_read_only_inner(config, clock, store)
    }

    fn open_read_only_inner(config: Config, clock: Arc<dyn Clock>, store: Store) -> Result<Engine, Error> {
        config.validate().map_err(|message| crate::ConfigError::Invalid { path: None, message })?;
        read_only::check_data_dir(&config.data_dir)?;
        // Without an ENGINE_ID no engine ever opened this directory for writing, so a store
        // whose manifest names an owner belongs to another one: refused as a writable open
        // would be.
        let id = match read_engine_id(&config.data_dir)? {
            Some(id) => id,
            None => format!("none ({} has no {ENGINE_ID})", config.data_dir.display()),
        };
        let wal = FsStorage::read_only(config.data_dir.join(WAL_DIR));
        let checkpoints = FsStorage::read_only(config.data_dir.join(CHECKPOINT_DIR));
        let store = store.child(&config.node_prefix());
        let open_tiers = || TierState::open(store.clone(), id.clone(), &config, clock.clone());
        let (tiers, recovered) = read_only::open(&config, &wal, &checkpoints, &store, open_tiers)?;
        Ok(Engine::assemble(config, clock, recovered, tiers, Box::new(checkpoints), None, 0))
    }

    fn open_inner(
        config: Config,
        clock: Arc<dyn Clock>,
        disks: Disks,
        store: Store,
        fences: &BTreeMap<String, u64>,
    ) -> Result<Engine, Error> {
        config.validate().map_err(|message| crate::ConfigError::Invalid { path: None, message })?;
        let lock = lock_data_dir(&config.data_dir)?;
        let id = engine_id(&config.data_dir)?;
        if config.node_id.is_some() {
            refuse_tiers_left_at_the_root(&store, &id)?;
        }
        let tiers = TierState::open(store.child(&config.node_prefix()), id, &config, clock.clone())?;
        let orphans = tiers.remove_orphans()?;
        let recovered = recover(
            &config,
            disks.checkpoints.as_ref(),
            disks.wal,
            &tiers.manifest(),
            Access::ReadWrite,
            fences,
        )?;
        let mut engine =
            Engine::assemble(config, clock, recovered, tiers, disks.checkpoints, Some(lock), orphans);
        // Fenced records stay in the WAL; a checkpoint past them keeps any later replay (one
        // with no fence, after this node took the partition back) from applying them.
        if engine.recovery.fenced > 0 {
            checkpointer::checkpoint(&engine.core)?;
        }
        engine.start_threads()?;
        Ok(engine)
    }

    /// The engine over what opening recovered, without its background threads: the one place
    /// that builds a `Core`, for the read-write and the read-only open alike.
    fn assemble(
        config: Config,
        clock: Arc<dyn Clock>,
        recovered: Recovered,
        tiers: TierState,
        checkpoints: Box<dyn strata_wal::Storage>,
        lock: Option<File>,
        orphans_removed: u64,
    ) -> Engine {
        let core = Arc::new(Core {
            clock,
            log: recovered.log,
            index: RwLock::new(recovered.index),
            writers: RwLock::default(),
            retiring: Mutex::default(),
            hot: recovered.hot,
            tiers,
            gate: Arc::new(CutGate::default()),
            acks: Arc::new(AckGate::default()),
            checkpoints,
            counters: Counters::default(),
            memory: MemoryGuard::default(),
            streams: Streams::new(recovered.streams),
            _lock: lock,
            config,
        });
        Engine {
            core,
            compactor: Arc::new(Compactor::new(orphans_removed)),
            threads: Vec::new(),
            recovery: recovered.recovery,
        }
    }

    /// Starts the background checkpointer and compactor; each holds the engine weakly and
    /// stops when its channel closes.
    fn start_threads(&mut self) -> Result<(), Error> {
        let every = self.core.config.hot.checkpoint_interval.0;
        let core = Arc::downgrade(&self.core);
        let checkpoints = spawn("strata-checkpoint", &self.core.config.data_dir, move |stopped| {
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                let Some(core) = core.upgrade() else { return };
                // A failed checkpoint loses nothing (the WAL still holds the data); the next
                // interval tries again.
                let _ = checkpointer::checkpoint(&core);
            }
        })?;
        self.threads.push(checkpoints);
        let every = self.core.config.compactor.interval.0;
        let (core, compactor) = (Arc::downgrade(&self.core), Arc::downgrade(&self.compactor));
        let compactions = spawn("strata-compactor", &self.core.config.data_dir, move |stopped| {
            let mut waited = Duration::ZERO;
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                let (Some(core), Some(compactor)) = (core.upgrade(), compactor.upgrade()) else { return };
                waited += every;
                // The status records a failure; the passes back off while they fail.
                if compactor.due(&core, waited, every) {
                    let _ = compactor.run(&core, core.now());
                    waited = Duration::ZERO;
                }
            }
        })?;
        self.threads.push(compactions);
        Ok(())
    }
}

/// An engine given a `node_id` after it committed tiers at the store's root would start an
/// empty tier store in its node folder, and its WAL cut and checkpoints would no longer match
/// its tiers: refused, naming what to move.
fn refuse_tiers_left_at_the_root(store: &Store, engine: &str) -> Result<(), Error> {
    match crate::tier::manifest::load(store)? {
        Some(root) if root.owner.as_deref() == Some(engine) => Err(crate::ConfigError::Invalid {
            path: None,
            message: format!(
                "node_id: this engine's tiers are at {} itself (its manifest there names this engine); with a node_id they live under nodes/<node_id>/: stop the engine and move the objects there first",
                store.url()
            ),
        }
        .into()),
        _ => Ok(()),
    }
}

/// Starts a named background thread that runs `body` with its stop channel.
fn spawn(
    name: &str,
    data_dir: &Path,
    body: impl FnOnce(mpsc::Receiver<()>) + Send + 'static,
) -> Result<(mpsc::Sender<()>, JoinHandle<()>), Error> {
    let (stop, stopped) = mpsc::channel::<()>();
    let handle = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || body(stopped))
        .map_err(io("start a background thread for", data_dir))?;
    Ok((stop, handle))
}
