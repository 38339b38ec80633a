//! The engine, top floor: opens a data directory, wires the parts together, runs the
//! background checkpointer and compactor, and hands each call to the module that does it
//! (`ingest`, `read`, `query`, `checkpointer`, `compactor`, `stats`).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use arrow_array::RecordBatch;
use strata_wal::FsStorage;

use crate::access::Access;
use crate::checkpointer;
use crate::clock::{Clock, WallClock};
use crate::compactor::{CompactReport, Compactor};
use crate::core::Core;
use crate::counters::Counters;
use crate::cut_guard::CutGate;
use crate::error::{Error, io};
use crate::memory_guard::MemoryGuard;
use crate::query::{Query, QueryResult};
use crate::read::{Selector, SeriesPoints, TierSeries};
use crate::recovery::{Recovered, Recovery, recover};
use crate::series::SeriesKey;
use crate::stats::Stats;
use crate::streams::{StreamSequence, Streams};
use crate::tier::state::TierState;
use crate::tier::{Manifest, Store, Tier};
use crate::write::{Point, Sequenced, WriteOptions, WriteReport};
use crate::{config::Config, ingest, read, read_only, stats};

/// A strata engine over one data directory. Cheap to share: clone the `Arc` it lives in, or use
/// it by reference from many threads.
#[derive(Debug)]
pub struct Engine {
    core: Arc<Core>,
    compactor: Arc<Compactor>,
    threads: Vec<(mpsc::Sender<()>, JoinHandle<()>)>,
    recovery: Recovery,
}

const WAL_DIR: &str = "wal";
const CHECKPOINT_DIR: &str = "checkpoints";

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
        // The store first: it refuses a path it cannot address before anything is created.
        let store = Store::open(&config.object_store, &config.data_dir)?;
        let disks = Disks::local(&config)?;
        Engine::open_inner(config, clock, disks, store)
    }

    /// Like [`Engine::open_with_clock`], with the tiers in `store` under `prefix` instead of
    /// where `object_store.url` points: any `object_store` backend (GCS, Azure, a wrapper).
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
        Engine::open_inner(config, clock, disks, store)
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
        Engine::open_inner(config, clock, disks, store)
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
        Engine::open_inner(config, clock, disks, store)
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
        let open_tiers = || {
            TierState::open(
                store.clone(),
                id.clone(),
                Tier::Warm.resolution(&config),
                Tier::Cold.resolution(&config),
                config.object_store.cache_size.0,
            )
        };
        let (tiers, recovered) = read_only::open(&config, &wal, &checkpoints, &store, open_tiers)?;
        Ok(Engine::assemble(config, clock, recovered, tiers, Box::new(checkpoints), None, 0))
    }

    fn open_inner(
        config: Config,
        clock: Arc<dyn Clock>,
        disks: Disks,
        store: Store,
    ) -> Result<Engine, Error> {
        config.validate().map_err(|message| crate::ConfigError::Invalid { path: None, message })?;
        let lock = lock_data_dir(&config.data_dir)?;
        let id = engine_id(&config.data_dir)?;
        let tiers = TierState::open(
            store,
            id,
            Tier::Warm.resolution(&config),
            Tier::Cold.resolution(&config),
            config.object_store.cache_size.0,
        )?;
        let orphans = tiers.remove_orphans()?;
        let recovered =
            recover(&config, disks.checkpoints.as_ref(), disks.wal, &tiers.manifest(), Access::ReadWrite)?;
        let mut engine =
            Engine::assemble(config, clock, recovered, tiers, disks.checkpoints, Some(lock), orphans);
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
            hot: recovered.hot,
            tiers,
            gate: Arc::new(CutGate::default()),
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

    /// Whether the engine was opened read-only ([`Engine::open_read_only`]).
    pub fn is_read_only(&self) -> bool {
        self.core.log.is_read_only()
    }

    /// What opening found: the checkpoint loaded, the records replayed, a torn tail cut.
    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    /// The configuration the engine runs with.
    pub fn config(&self) -> &Config {
        &self.core.config
    }

    /// The data directory's path.
    pub fn data_dir(&self) -> &Path {
        &self.core.config.data_dir
    }

    /// Writes line protocol. Valid lines are stored even when others are rejected; the report
    /// says how many points were stored and why each rejected line was refused. Returns once
    /// the accepted points are durable as `[wal] durability` says.
    ///
    /// # Errors
    /// [`Error::WriteTooLarge`] for a body over `limits.max_write_size` (nothing is stored);
    /// [`Error::Poisoned`] or [`Error::Wal`] when the log cannot be written (nothing of this
    /// write is acknowledged); [`Error::ApplyFailed`] when the write is durable but memory
    /// could not take it (it is replayed at the next open); [`Error::HotMemoryFull`] while hot
    /// memory is full and the compactor cannot evict (nothing is stored; retry later).
    pub fn write_lp(&self, body: &[u8], options: &WriteOptions) -> Result<WriteReport, Error> {
        self.core.log.check_writable("write")?;
        match ingest::write_lp(&self.core, body, options, None)? {
            Sequenced::Applied(report) => Ok(report),
            Sequenced::Duplicate { .. } => {
                Err(Error::Invariant("a write without a source was skipped".into()))
            }
        }
    }

    /// Writes one message of a stream exactly once: a message whose sequence is not past the
    /// stream's last applied one (a redelivery after a crash) is skipped, whole, and
    /// [`Sequenced::Duplicate`] says so. The stream and sequence are logged with the points in
    /// one record and kept by checkpoints, so this holds across crashes and after the points
    /// moved to the tiers. A stream's messages must be written in sequence order; a message
    /// with no valid line still records its sequence. NATS JetStream ingest acknowledges a
    /// message once this returns.
    ///
    /// # Errors
    /// As [`Engine::write_lp`]; on an error the sequence is not recorded (write it again).
    pub fn write_lp_sequenced(
        &self,
        body: &[u8],
        options: &WriteOptions,
        source: &StreamSequence,
    ) -> Result<Sequenced, Error> {
        self.core.log.check_writable("write")?;
        ingest::write_lp(&self.core, body, options, Some(source))
    }

    /// The last sequence of `stream` whose message is stored: a stream consumer resumes after it.
    pub fn stream_sequence(&self, stream: &str) -> Option<u64> {
        self.core.streams.applied(stream)
    }

    /// Writes points an application already holds. Each point is checked as a line would be;
    /// `Rejection::line` is the 1-based index of the point.
    ///
    /// # Errors
    /// As [`Engine::write_lp`].
    pub fn write(&self, points: &[Point<'_>]) -> Result<WriteReport, Error> {
        self.core.log.check_writable("write")?;
        ingest::write(&self.core, points)
    }

    /// The raw points of every series matching `selector` with a time in `[from, to)` (ns), per
    /// series in time order. Series without points in the range are left out.
    ///
    /// # Errors
    /// [`Error::DamagedChunk`] if a chunk in memory cannot be decoded.
    pub fn read(&self, selector: &Selector, from: i64, to: i64) -> Result<Vec<SeriesPoints>, Error> {
        read::read(&self.core, selector, from, to)
    }

    /// Like [`Engine::read`], as Arrow record batches: one per series, in the one output schema
    /// of strata (`time`, the series key columns, `value`). Empty when nothing matches.
    ///
    /// # Errors
    /// As [`Engine::read`].
    pub fn read_batches(&self, selector: &Selector, from: i64, to: i64) -> Result<Vec<RecordBatch>, Error> {
        read::read_batches(&self.core, selector, from, to)
    }

    /// The downsampled rows of `tier` (warm or cold) for every series matching `selector`,
    /// buckets starting in `[from, to)`, partial rows of a bucket merged. Series without rows
    /// are left out.
    ///
    /// # Errors
    /// Object store errors, a damaged tier file (named), or [`Error::Query`] for the hot tier.
    pub fn read_tier(
        &self,
        tier: Tier,
        selector: &Selector,
        from: i64,
        to: i64,
    ) -> Result<Vec<TierSeries>, Error> {
        read::read_tier(&self.core, tier, selector, from, to)
    }

    /// Answers `query` from whichever tiers hold its range: hot, warm and cold stitched by the
    /// planner.
    ///
    /// # Errors
    /// [`Error::Query`] for an empty range, a zero resolution or no aggregate; object store
    /// errors and damaged files, named.
    pub fn query(&self, query: &Query) -> Result<QueryResult, Error> {
        crate::query::run(&self.core, query)
    }

    /// Writes a checkpoint now and removes the WAL segments it covers.
    ///
    /// # Errors
    /// I/O errors naming the path, or [`Error::FlushPending`] while a warm flush is cut but not
    /// encoded yet; the engine goes on, its data still in the WAL. A flush waiting for its
    /// commit (an object store outage) does not stop checkpoints: they record its late points.
    pub fn checkpoint(&self) -> Result<PathBuf, Error> {
        self.core.log.check_writable("checkpoint")?;
        checkpointer::checkpoint(&self.core)
    }

    /// Runs one compaction pass now, as of the engine's clock.
    ///
    /// # Errors
    /// Object store and I/O errors; what the pass committed before stays committed, and a
    /// warm flush that could not be committed is retried by the next pass.
    pub fn compact(&self) -> Result<CompactReport, Error> {
        self.compact_at(self.core.now())
    }

    /// Runs one compaction pass as of `now` (ns): `strata compact --now`, backfills, tests.
    ///
    /// # Errors
    /// As [`Engine::compact`].
    pub fn compact_at(&self, now: i64) -> Result<CompactReport, Error> {
        self.core.log.check_writable("compact")?;
        self.compactor.run(&self.core, now)
    }

    /// Counters and sizes.
    pub fn stats(&self) -> Stats {
        stats::collect(&self.core, self.compactor.status())
    }

    /// Every series the engine knows, with the time (ns) of its newest point in memory, if it
    /// has one: series per metric, and per-host ingest lag (`strata serve`'s `/metrics`).
    /// Walks every series: for telemetry, not for a hot path.
    pub fn series_newest(&self) -> Vec<(Arc<SeriesKey>, Option<i64>)> {
        let newest: rustc_hash::FxHashMap<_, _> = self.core.hot.newest_points().into_iter().collect();
        let index = self.core.read_index();
        index.all().map(|(id, key)| (key.clone(), newest.get(&id).copied())).collect()
    }

    /// Where the hot store's data starts: every point from here on is in hot.
    pub fn hot_start(&self) -> i64 {
        self.core.hot.evicted_until()
    }

    /// The engine's clock, now (ns).
    pub fn now(&self) -> i64 {
        self.core.now()
    }

    /// The live manifest: files per tier and how far each tier is written.
    pub fn manifest(&self) -> Arc<Manifest> {
        self.core.tiers.manifest()
    }

    /// Stops the background threads, writes a final checkpoint so the next open replays
    /// nothing, and closes the WAL. A read-only engine has none of these, and only lets go
    /// of its memory.
    ///
    /// # Errors
    /// I/O errors of the final checkpoint or of closing the WAL.
    pub fn close(mut self) -> Result<(), Error> {
        self.stop_threads();
        if self.core.log.is_read_only() {
            return Ok(());
        }
        // A cut that could not be encoded keeps the WAL that holds it: the next open replays it.
        if !self.core.log.is_poisoned() && !self.core.gate.is_cutting() {
            checkpointer::checkpoint(&self.core)?;
        }
        self.core.log.sync()
    }

    fn stop_threads(&mut self) {
        for (stop, handle) in self.threads.drain(..) {
            drop(stop);
            let _ = handle.join();
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop_threads();
    }
}

/// Where the WAL and the checkpoints live.
struct Disks {
    wal: Box<dyn strata_wal::Storage>,
    checkpoints: Box<dyn strata_wal::Storage>,
}

impl Disks {
    /// `data_dir/wal` and `data_dir/checkpoints`, created (durably) if needed.
    fn local(config: &Config) -> Result<Disks, Error> {
        let (wal, checkpoints) = (config.data_dir.join(WAL_DIR), config.data_dir.join(CHECKPOINT_DIR));
        Ok(Disks {
            wal: Box::new(FsStorage::new(&wal).map_err(io("open", &wal))?),
            checkpoints: Box::new(FsStorage::new(&checkpoints).map_err(io("open", &checkpoints))?),
        })
    }
}

/// Takes the data directory's lock file: one engine per directory.
fn lock_data_dir(dir: &Path) -> Result<File, Error> {
    std::fs::create_dir_all(dir).map_err(io("create directory", dir))?;
    let path = dir.join("LOCK");
    let lock = File::create(&path).map_err(io("create", &path))?;
    if lock.try_lock().is_err() {
        return Err(Error::Locked { path: dir.to_owned() });
    }
    Ok(lock)
}

const ENGINE_ID: &str = "ENGINE_ID";

/// This data directory's engine id, the owner a tier store's manifest names: read from
/// `<data_dir>/ENGINE_ID`, or created there once (128 random bits as 32 lowercase hex digits and
/// a newline), durably, before anything can commit it as an owner. Called under the lock.
fn engine_id(dir: &Path) -> Result<String, Error> {
    match read_engine_id(dir)? {
        Some(id) => Ok(id),
        None => {
            use std::hash::{BuildHasher, Hasher};
            let path = dir.join(ENGINE_ID);
            use std::io::Write as _;
            // `RandomState` is seeded from the operating system's random source.
            let mut id = String::with_capacity(32);
            for half in 0..2u8 {
                let mut h = std::collections::hash_map::RandomState::new().build_hasher();
                h.write_u8(half);
                h.write_u128(
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap_or_default()
                        .as_nanos(),
                );
                h.write_u32(std::process::id());
                id.push_str(&format!("{:016x}", h.finish()));
            }
            // Written whole or not at all: a temporary file, synced, renamed, the directory
            // synced (an id that a power loss took back would make the store refuse its owner).
            let tmp = dir.join("ENGINE_ID.tmp");
            let mut file = File::create(&tmp).map_err(io("create", &tmp))?;
            file.write_all(format!("{id}\n").as_bytes()).map_err(io("write", &tmp))?;
            file.sync_all().map_err(io("sync", &tmp))?;
            std::fs::rename(&tmp, &path).map_err(io("rename", &tmp))?;
            // Syncs the directory, and its parent in case the directory is new too.
            strata_wal::create_dir_durably(dir).map_err(io("sync directory", dir))?;
            Ok(id)
        }
    }
}

/// The engine id in `<data_dir>/ENGINE_ID`, or `None` when there is no such file.
fn read_engine_id(dir: &Path) -> Result<Option<String>, Error> {
    let path = dir.join(ENGINE_ID);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let id = std::str::from_utf8(&bytes).unwrap_or_default().trim_end_matches('\n');
            if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                return Err(Error::Corrupt { path, reason: "not 32 lowercase hex digits".into() });
            }
            Ok(Some(id.to_owned()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io("read", &path)(e)),
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
