//! The engine: opens a data directory, takes writes through the WAL into the hot store, and
//! answers raw queries.
//!
//! Write path, for every write:
//! 1. parse and check each line (numeric fields, time inside the kept range), resolve its
//!    series, creating new ones under the index's write lock within the limits;
//! 2. encode the accepted points, with the definitions of series no applied record has defined
//!    yet, as one WAL record and append it (group commit; returns once durable);
//! 3. wait for the record's turn and apply it to the hot store in log order, so memory always
//!    holds what a replay of the log would rebuild, duplicates included.
//!
//! **Invariant:** a point is visible to readers only after its record is durable.
//! **Invariant:** records are applied to the hot store in WAL order.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use rustc_hash::FxHashSet;
use strata_lp::{Line, ParseOptions, Parser};
use strata_wal::{FsStorage, Position, Truncation, Wal, WalOptions};

use crate::checkpoint::{self, Snapshot};
use crate::clock::{Clock, WallClock};
use crate::compactor::{CompactReport, Flush};
use crate::config::Config;
use crate::error::{Error, io};
use crate::hot::{HotStats, HotStore};
use crate::payload::Batch;
use crate::series::{SeriesId, SeriesIndex, SeriesKey};
use crate::tier::file::{RowFilter, Tier};
use crate::tier::state::TierState;
use crate::tier::{Agg, Store};
use crate::write::{Point, RejectReason, WriteOptions, WriteReport};

/// A strata engine over one data directory. Cheap to share: clone the `Arc` it lives in, or use
/// it by reference from many threads.
#[derive(Debug)]
pub struct Engine {
    inner: Arc<Inner>,
    checkpointer: Option<(mpsc::Sender<()>, JoinHandle<()>)>,
    compactor: Option<(mpsc::Sender<()>, JoinHandle<()>)>,
    recovery: Recovery,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) config: Config,
    clock: Arc<dyn Clock>,
    wal: Wal,
    index: RwLock<SeriesIndex>,
    pub(crate) hot: HotStore,
    pub(crate) order: Mutex<Applied>,
    turn: Condvar,
    poison: Mutex<Option<String>>,
    checkpoints: FsStorage,
    /// Serializes checkpoints (the background one and explicit calls).
    pub(crate) checkpointing: Mutex<()>,
    accepted: AtomicU64,
    rejected: [AtomicU64; RejectReason::ALL.len()],
    pub(crate) tiers: TierState,
    /// Serializes compaction passes.
    pub(crate) compacting: Mutex<()>,
    /// A warm flush cut from hot whose commit failed, retried by the next pass.
    pub(crate) inflight: Mutex<Option<Flush>>,
    /// Set from a warm flush's cut to its commit; no checkpoint is taken meanwhile.
    pub(crate) flush_open: AtomicBool,
    status: Mutex<TierStatus>,
    _lock: File,
}

/// How the background compactor is doing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TierStatus {
    /// Passes that ended well, and that failed, since open.
    pub passes: u64,
    pub failures: u64,
    /// Failures in a row; the background pass backs off while this grows.
    pub failing_for: u64,
    /// The last failure's message, cleared by a good pass.
    pub last_error: Option<String>,
    /// Orphan files (uploaded, never committed) removed at open.
    pub orphans_removed: u64,
    /// Points evicted from hot, and early because of `hot.max_memory`.
    pub evicted_points: u64,
    pub evicted_early: u64,
}

/// What the tiers hold, from the live manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TierStats {
    pub warm: TierSummary,
    pub cold: TierSummary,
    /// Warm buckets are written up to here (ns).
    pub warm_until: Option<i64>,
    /// Cold buckets are rolled up to here (ns).
    pub cold_until: Option<i64>,
    /// Late points (replacing a tiered point with another value) whose tier rows keep the old value.
    pub conflicts: u64,
    /// Files dropped from the manifest that a reader may still read.
    pub files_waiting_for_readers: u64,
    pub status: TierStatus,
}

/// One tier's files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TierSummary {
    pub files: u64,
    pub rows: u64,
    pub points: u64,
    pub bytes: u64,
    /// Earliest and latest bucket start (ns).
    pub min_time: Option<i64>,
    pub max_time: Option<i64>,
    /// The most files any one day holds.
    pub max_files_per_day: u64,
}

/// Downsampled rows of one series from a tier, partial rows of a bucket merged.
#[derive(Debug, Clone, PartialEq)]
pub struct TierSeries {
    pub key: Arc<SeriesKey>,
    /// Bucket starts (ns), ascending.
    pub times: Vec<i64>,
    pub aggs: Vec<Agg>,
}

/// Where the apply sequence stands.
#[derive(Debug)]
pub(crate) struct Applied {
    /// Sequence number (from the WAL) of the next record to apply.
    next: u64,
    /// End of the last applied record: a checkpoint taken now covers the log up to here.
    pub(crate) position: Position,
}

/// What opening the engine found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// The checkpoint loaded, if any.
    pub checkpoint: Option<PathBuf>,
    /// WAL records replayed after it.
    pub records: u64,
    /// Points in those records.
    pub points: u64,
    /// A torn tail of the WAL that a crash left and opening cut off (never acknowledged data).
    pub truncated: Option<Truncation>,
}

/// Counters of what the engine has taken and refused, and what it holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub series: u64,
    pub points_accepted: u64,
    /// Rejected lines per reason, since the engine was opened.
    pub rejected: Vec<(RejectReason, u64)>,
    pub hot: HotStats,
    pub tiers: TierStats,
}

/// Which series a raw query reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    /// The measurement (cc-metric-store's metric name).
    pub metric: String,
    /// The field; any field when `None`.
    pub field: Option<String>,
    /// Tags that must be present with these values. `host` is read as `hostname` (by
    /// [`Engine::read`], whichever way the selector was built).
    pub tags: Vec<(String, String)>,
}

impl Selector {
    /// All series of a metric.
    pub fn metric(metric: &str) -> Selector {
        Selector { metric: metric.to_owned(), ..Selector::default() }
    }

    /// Adds a tag equality.
    pub fn tag(mut self, key: &str, value: &str) -> Selector {
        self.tags.push((key.to_owned(), value.to_owned()));
        self
    }
}

/// The points of one series.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesPoints {
    pub key: Arc<SeriesKey>,
    pub times: Vec<i64>,
    pub values: Vec<f64>,
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
        let wal_dir = config.data_dir.join(WAL_DIR);
        // Creates the directory if needed.
        let storage = FsStorage::new(&wal_dir).map_err(io("open", &wal_dir))?;
        Engine::open_inner(config, clock, storage, None)
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
        let wal_dir = config.data_dir.join(WAL_DIR);
        let storage = FsStorage::new(&wal_dir).map_err(io("open", &wal_dir))?;
        let url = format!("{store}/{prefix}");
        let store = Store::with_object_store(store, prefix, &url, config.object_store.timeout.0)?;
        Engine::open_inner(config, clock, storage, Some(store))
    }

    /// Opens the engine with its WAL in `storage`, a simulated disk that tests crash and fail.
    /// Checkpoints still go to `data_dir`.
    ///
    /// # Errors
    /// As [`Engine::open`].
    #[cfg(feature = "sim")]
    pub fn open_with_wal_storage(
        config: Config,
        clock: Arc<dyn Clock>,
        storage: impl strata_wal::Storage,
    ) -> Result<Engine, Error> {
        Engine::open_inner(config, clock, storage, None)
    }

    fn open_inner(
        config: Config,
        clock: Arc<dyn Clock>,
        storage: impl strata_wal::Storage,
        store: Option<Store>,
    ) -> Result<Engine, Error> {
        config.validate().map_err(|message| crate::ConfigError::Invalid { path: None, message })?;
        let dir = config.data_dir.clone();
        let wal_dir = dir.join(WAL_DIR);
        let checkpoint_dir = dir.join(CHECKPOINT_DIR);
        for d in [&dir, &checkpoint_dir] {
            std::fs::create_dir_all(d).map_err(io("create directory", d))?;
        }
        let lock_path = dir.join("LOCK");
        let lock = File::create(&lock_path).map_err(io("create", &lock_path))?;
        if lock.try_lock().is_err() {
            return Err(Error::Locked { path: dir });
        }

        let store = match store {
            Some(store) => store,
            None => Store::open(&config.object_store, &config.data_dir)?,
        };
        let (tiers, orphans) = TierState::open(
            store,
            config.warm.resolution.as_nanos_i64(),
            config.cold.resolution.as_nanos_i64(),
            config.object_store.cache_size.0,
        )?;
        let manifest = tiers.manifest();
        let cut = manifest.wal_cut.map(|(segment, offset)| Position { segment, offset });
        let warm_until = manifest.warm_until.unwrap_or(i64::MIN);

        let hot = HotStore::new(config.hot.chunk_duration.as_nanos_i64());
        let mut recovery = Recovery::default();
        let mut index = SeriesIndex::default();
        let mut from = Position::START;
        let mut evicted_until = i64::MIN;
        let checkpoints = FsStorage::new(&checkpoint_dir).map_err(io("open", &checkpoint_dir))?;
        if let Some((path, snapshot)) = checkpoint::load_newest(&checkpoints)? {
            let corrupt = |reason: String| Error::Corrupt { path: path.clone(), reason };
            for (id, key) in snapshot.series {
                index.define(id, key).map_err(corrupt)?;
            }
            for (id, chunks) in snapshot.chunks {
                for chunk in chunks {
                    hot.load(id, chunk);
                }
            }
            from = snapshot.position;
            evicted_until = snapshot.evicted_until;
            // Late points the checkpoint holds went into the last committed flush if the
            // checkpoint is older than that flush's cut.
            if cut.is_none_or(|cut| snapshot.position >= cut) {
                hot.load_late(snapshot.late);
            }
            recovery.checkpoint = Some(path);
        }
        // Records before the last flush's cut are in the tiers as far as they are late: replay
        // them as plain hot points (the hot store starts with no tier state). From the cut on,
        // points before warm_until are late again.
        let before_cut = |position: Position| cut.is_some_and(|cut| position <= cut);
        let catch_up = || {
            hot.set_tiered_until(warm_until);
            hot.set_evicted_until(evicted_until);
        };
        let mut caught_up = !before_cut(from);
        if caught_up {
            catch_up();
        }

        let options = WalOptions {
            durability: config.wal_durability(),
            segment_size: config.wal.segment_size.0,
            ..WalOptions::default()
        };
        let mut replay = Wal::open(storage, options, from)?;
        let mut position = from;
        while let Some((end, payload)) = replay.next_record()? {
            let corrupt = |reason: String| Error::Corrupt {
                path: wal_dir.clone(),
                reason: format!("record ending at {end}: {reason}"),
            };
            let batch = Batch::decode(payload).map_err(corrupt)?;
            for (id, key) in &batch.definitions {
                index.define(*id, key.clone()).map_err(corrupt)?;
            }
            if !caught_up && !before_cut(end) {
                caught_up = true;
                catch_up();
            }
            hot.apply(&batch).map_err(corrupt)?;
            recovery.records += 1;
            recovery.points += batch.len() as u64;
            position = end;
        }
        let (wal, report) = replay.finish()?;
        recovery.truncated = report.truncated;
        catch_up();
        // Replay before the cut may have put back windows that were evicted.
        hot.evict(evicted_until);

        let inner = Arc::new(Inner {
            clock,
            wal,
            index: RwLock::new(index),
            hot,
            order: Mutex::new(Applied { next: 0, position }),
            turn: Condvar::new(),
            poison: Mutex::new(None),
            checkpoints,
            checkpointing: Mutex::new(()),
            accepted: AtomicU64::new(0),
            rejected: Default::default(),
            tiers,
            compacting: Mutex::new(()),
            inflight: Mutex::new(None),
            flush_open: AtomicBool::new(false),
            status: Mutex::new(TierStatus { orphans_removed: orphans, ..TierStatus::default() }),
            _lock: lock,
            config,
        });
        let checkpointer = spawn_checkpointer(&inner)
            .map_err(io("start the checkpoint thread for", &inner.config.data_dir))?;
        let mut engine = Engine { inner, checkpointer: Some(checkpointer), compactor: None, recovery };
        let compactor = spawn_compactor(&engine.inner)
            .map_err(io("start the compactor thread for", &engine.inner.config.data_dir))?;
        engine.compactor = Some(compactor);
        Ok(engine)
    }

    /// What opening found: the checkpoint loaded, the records replayed, a torn tail cut.
    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    /// The configuration the engine runs with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The data directory's path.
    pub fn data_dir(&self) -> &Path {
        &self.inner.config.data_dir
    }

    /// Writes line protocol. Valid lines are stored even when others are rejected; the report
    /// says how many points were stored and why each rejected line was refused. Returns once
    /// the accepted points are durable as `[wal] durability` says.
    ///
    /// # Errors
    /// [`Error::WriteTooLarge`] for a body over `limits.max_write_size` (nothing is stored);
    /// [`Error::Poisoned`] or [`Error::Wal`] when the log cannot be written (nothing of this
    /// write is acknowledged).
    pub fn write_lp(&self, body: &[u8], options: &WriteOptions) -> Result<WriteReport, Error> {
        let inner = &self.inner;
        inner.check_poison()?;
        let max = inner.config.limits.max_write_size.0;
        if body.len() as u64 > max {
            return Err(Error::WriteTooLarge { size: body.len() as u64, max });
        }
        let window = inner.window();
        let default_time = options.default_time.unwrap_or(window.now);
        let mut parser = Parser::new(
            body,
            ParseOptions { precision: options.precision, default_time: Some(default_time) },
        );
        let mut report = WriteReport::default();
        let mut batch = Batch::default();
        let mut undefined: FxHashSet<SeriesId> = FxHashSet::default();
        let mut deferred: Vec<Line<'_>> = Vec::new();
        let mut line = Line::default();
        let mut raw = Vec::new();
        let mut ids: Vec<SeriesId> = Vec::new();
        {
            let index = inner.read_index();
            'lines: while let Some(result) = parser.next_into(&mut line) {
                if let Err(e) = result {
                    report.reject(e.line, e.column, RejectReason::Syntax, e.kind.to_string());
                    continue;
                }
                let time = line.timestamp.unwrap_or(default_time);
                if let Err((reason, message)) = window.check(time) {
                    report.reject(line.number, 0, reason, message);
                    continue;
                }
                if let Some(f) = line.fields.iter().find(|f| f.value.as_f64().is_none()) {
                    let message = format!(
                        "field \"{}\" is a {}: strata stores numbers (float, integer or unsigned fields) only",
                        f.key,
                        f.value.type_name()
                    );
                    report.reject(line.number, 0, RejectReason::NotNumeric, message);
                    continue;
                }
                ids.clear();
                for field in &line.fields {
                    raw_key(&mut raw, options.default_cluster.as_deref(), line.series_text, &field.key);
                    match index.get_raw(&raw) {
                        Some(id) => ids.push(id),
                        None => {
                            deferred.push(line.clone());
                            continue 'lines;
                        }
                    }
                }
                for (field, &id) in line.fields.iter().zip(&ids) {
                    if !index.is_logged(id) {
                        undefined.insert(id);
                    }
                    batch.push(id, time, field.value.as_f64().unwrap_or_default());
                }
            }
        }
        if !deferred.is_empty() {
            self.create_series(&deferred, options, default_time, &mut batch, &mut undefined, &mut report);
        }
        self.commit(batch, undefined, report)
    }

    /// Writes points an application already holds. Each point is checked as a line would be;
    /// `Rejection::line` is the 1-based index of the point.
    ///
    /// # Errors
    /// As [`Engine::write_lp`].
    pub fn write(&self, points: &[Point<'_>]) -> Result<WriteReport, Error> {
        let inner = &self.inner;
        inner.check_poison()?;
        let window = inner.window();
        let mut report = WriteReport::default();
        let mut batch = Batch::default();
        let mut undefined = FxHashSet::default();
        let limits = &inner.config.limits;
        let mut index = inner.write_index();
        for (n, point) in points.iter().enumerate() {
            let line = n + 1;
            if !point.value.is_finite() {
                report.reject(line, 0, RejectReason::Syntax, "the value is NaN or infinite".into());
                continue;
            }
            if let Err((reason, message)) = window.check(point.time) {
                report.reject(line, 0, reason, message);
                continue;
            }
            if point.measurement.is_empty() || point.field.is_empty() {
                report.reject(
                    line,
                    0,
                    RejectReason::BadKey,
                    "the measurement and field must not be empty".into(),
                );
                continue;
            }
            let key =
                match SeriesKey::from_parts(point.measurement, point.field, point.tags.iter().copied(), None)
                {
                    Ok(key) => key,
                    Err(message) => {
                        report.reject(line, 0, RejectReason::BadKey, message);
                        continue;
                    }
                };
            match index.create(key, limits.max_series, limits.max_series_per_metric) {
                Ok(id) => {
                    if !index.is_logged(id) {
                        undefined.insert(id);
                    }
                    batch.push(id, point.time, point.value);
                }
                Err(hit) => report.reject(line, 0, RejectReason::SeriesLimit, hit.to_string()),
            }
        }
        drop(index);
        self.commit(batch, undefined, report)
    }

    /// Resolves lines with at least one series not seen before, creating series within the limits.
    fn create_series(
        &self,
        lines: &[Line<'_>],
        options: &WriteOptions,
        default_time: i64,
        batch: &mut Batch,
        undefined: &mut FxHashSet<SeriesId>,
        report: &mut WriteReport,
    ) {
        let limits = &self.inner.config.limits;
        let mut index = self.inner.write_index();
        let mut raw = Vec::new();
        'lines: for line in lines {
            let mut keys = Vec::with_capacity(line.fields.len());
            for field in &line.fields {
                let tags = line.tags.iter().map(|t| (t.key.as_ref(), t.value.as_ref()));
                match SeriesKey::from_parts(
                    &line.measurement,
                    &field.key,
                    tags,
                    options.default_cluster.as_deref(),
                ) {
                    Ok(key) => keys.push(key),
                    Err(message) => {
                        report.reject(line.number, 0, RejectReason::BadKey, message);
                        continue 'lines;
                    }
                }
            }
            // All of a line's series share its measurement; check room for all before creating any.
            let new = keys.iter().filter(|k| index.get(k).is_none()).count() as u64;
            if let Err(hit) =
                index.check_room(&line.measurement, new, limits.max_series, limits.max_series_per_metric)
            {
                report.reject(
                    line.number,
                    0,
                    RejectReason::SeriesLimit,
                    format!("a new series would pass a limit: {hit}"),
                );
                continue;
            }
            let time = line.timestamp.unwrap_or(default_time);
            for (key, field) in keys.into_iter().zip(&line.fields) {
                let Ok(id) = index.create(key, limits.max_series, limits.max_series_per_metric) else {
                    continue; // room was checked above
                };
                raw_key(&mut raw, options.default_cluster.as_deref(), line.series_text, &field.key);
                index.remember_raw(&raw, id);
                if !index.is_logged(id) {
                    undefined.insert(id);
                }
                batch.push(id, time, field.value.as_f64().unwrap_or_default());
            }
        }
    }

    /// Logs the batch, applies it in log order, and counts the outcome.
    fn commit(
        &self,
        mut batch: Batch,
        undefined: FxHashSet<SeriesId>,
        mut report: WriteReport,
    ) -> Result<WriteReport, Error> {
        let inner = &self.inner;
        for reason in RejectReason::ALL {
            if let Some(counter) = inner.rejected.get(reason as usize) {
                counter.fetch_add(report.rejected_for(reason), Ordering::Relaxed);
            }
        }
        if batch.len() == 0 {
            return Ok(report);
        }
        {
            let index = inner.read_index();
            let mut ids: Vec<SeriesId> = undefined.into_iter().collect();
            ids.sort_unstable();
            batch.definitions = ids.into_iter().filter_map(|id| Some((id, index.key(id)?.clone()))).collect();
        }
        let payload = batch.encode();
        let (end, sequence) = match inner.wal.append_sequenced(&payload) {
            Ok(appended) => appended,
            Err(e) => {
                let mut poison = inner.poison.lock().unwrap_or_else(|p| p.into_inner());
                poison.get_or_insert_with(|| e.to_string());
                return Err(Error::Wal(e));
            }
        };
        // Apply in log order: wait for the records before this one.
        let mut applied = inner.order.lock().unwrap_or_else(|p| p.into_inner());
        while applied.next != sequence {
            applied = inner.turn.wait(applied).unwrap_or_else(|p| p.into_inner());
        }
        let outcome = inner.hot.apply(&batch);
        {
            let index = inner.read_index();
            for (id, _) in &batch.definitions {
                index.mark_logged(*id);
            }
        }
        applied.next += 1;
        applied.position = end;
        drop(applied);
        inner.turn.notify_all();
        outcome.map_err(|reason| Error::Corrupt { path: inner.config.data_dir.clone(), reason })?;
        inner.accepted.fetch_add(batch.len() as u64, Ordering::Relaxed);
        report.accepted = batch.len() as u64;
        Ok(report)
    }

    /// The raw points of every series matching `selector` with a time in `[from, to)` (ns), per
    /// series in time order. Series without points in the range are left out.
    ///
    /// # Errors
    /// [`Error::Corrupt`] if a chunk in memory cannot be decoded.
    pub fn read(&self, selector: &Selector, from: i64, to: i64) -> Result<Vec<SeriesPoints>, Error> {
        let keys: Vec<(SeriesId, Arc<SeriesKey>)> = {
            let index = self.inner.read_index();
            let tags = selector_tags(selector);
            index
                .select(&selector.metric, selector.field.as_deref(), &tags)
                .into_iter()
                .filter_map(|id| Some((id, index.key(id)?.clone())))
                .collect()
        };
        let mut out = Vec::with_capacity(keys.len());
        for (id, key) in keys {
            let (mut times, mut values) = (Vec::new(), Vec::new());
            self.inner
                .hot
                .read(id, from, to, &mut times, &mut values)
                .map_err(|reason| Error::Corrupt { path: self.inner.config.data_dir.clone(), reason })?;
            if !times.is_empty() {
                out.push(SeriesPoints { key, times, values });
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// Like [`Engine::read`], as Arrow record batches: one per series, all with one schema
    /// (series key columns, `time`, `value`; see the `batches` module). Empty when nothing matches.
    ///
    /// # Errors
    /// As [`Engine::read`].
    pub fn read_batches(
        &self,
        selector: &Selector,
        from: i64,
        to: i64,
    ) -> Result<Vec<arrow_array::RecordBatch>, Error> {
        let series = self.read(selector, from, to)?;
        let schema = crate::batches::schema(&series);
        series.iter().map(|s| crate::batches::batch(&schema, s)).collect()
    }

    /// Writes a checkpoint now and removes the WAL segments it covers.
    ///
    /// # Errors
    /// I/O errors naming the path; the engine goes on, its data still in the WAL.
    pub fn checkpoint(&self) -> Result<PathBuf, Error> {
        self.inner.checkpoint()
    }

    /// Counters and sizes.
    pub fn stats(&self) -> Stats {
        let inner = &self.inner;
        Stats {
            series: inner.read_index().len() as u64,
            points_accepted: inner.accepted.load(Ordering::Relaxed),
            rejected: RejectReason::ALL
                .into_iter()
                .filter_map(|r| Some((r, inner.rejected.get(r as usize)?.load(Ordering::Relaxed))))
                .collect(),
            hot: inner.hot.stats(),
            tiers: inner.tier_stats(),
        }
    }

    /// Stops the background checkpointer, writes a final checkpoint so the next open replays
    /// nothing, and closes the WAL.
    ///
    /// # Errors
    /// I/O errors of the final checkpoint or of closing the WAL.
    pub fn close(mut self) -> Result<(), Error> {
        self.stop_threads();
        // With a warm flush not committed, the WAL keeps what it cut: the next open replays it.
        let open_flush = self.inner.flush_open.load(Ordering::SeqCst);
        if self.inner.poison.lock().unwrap_or_else(|p| p.into_inner()).is_none() && !open_flush {
            self.inner.checkpoint()?;
        }
        self.inner.wal.sync()?;
        Ok(())
    }

    fn stop_threads(&mut self) {
        for (stop, handle) in [self.compactor.take(), self.checkpointer.take()].into_iter().flatten() {
            drop(stop);
            let _ = handle.join();
        }
    }

    /// Runs one compaction pass now, as of the engine's clock.
    ///
    /// # Errors
    /// Object store and I/O errors; what the pass committed before stays committed, and a
    /// warm flush that could not be committed is retried by the next pass.
    pub fn compact(&self) -> Result<CompactReport, Error> {
        self.compact_at(self.inner.clock.now_nanos())
    }

    /// Runs one compaction pass as of `now` (ns): `strata compact --now`, backfills, tests.
    ///
    /// # Errors
    /// As [`Engine::compact`].
    pub fn compact_at(&self, now: i64) -> Result<CompactReport, Error> {
        self.inner.run_pass(now)
    }

    /// The downsampled rows of `tier` for every series matching `selector`, buckets starting
    /// in `[from, to)`, partial rows of a bucket merged. Series without rows are left out.
    ///
    /// # Errors
    /// Object store errors, or a damaged tier file (named).
    pub fn read_tier(
        &self,
        tier: Tier,
        selector: &Selector,
        from: i64,
        to: i64,
    ) -> Result<Vec<TierSeries>, Error> {
        use rayon::prelude::*;
        let guard = self.inner.tiers.read();
        let tags = selector_tags(selector);
        let filter = RowFilter {
            metric: Some(&selector.metric),
            from,
            to,
            field: selector.field.as_deref(),
            tags: &tags,
        };
        let files: Vec<_> =
            guard.manifest.files(tier).filter(|f| f.max_time >= from && f.min_time < to).collect();
        let per_file: Vec<Vec<crate::tier::Row>> = files
            .par_iter()
            .map(|f| self.inner.tiers.read_cached(f, &filter))
            .collect::<Result<_, Error>>()?;
        // One file's rows are sorted and unique already; rows of several files are merged.
        let several = per_file.iter().filter(|rows| !rows.is_empty()).count() > 1;
        let mut rows: Vec<crate::tier::Row> = per_file.into_iter().flatten().collect();
        if several {
            crate::tier::file::sort_and_merge(&mut rows);
        }
        let mut out: Vec<TierSeries> = Vec::new();
        for group in rows.chunk_by(|a, b| a.key == b.key) {
            let Some(first) = group.first() else { continue };
            out.push(TierSeries {
                key: first.key.clone(),
                times: group.iter().map(|r| r.time).collect(),
                aggs: group.iter().map(|r| r.agg).collect(),
            });
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// Where the hot store's data starts: every point from here on is in hot.
    pub fn hot_start(&self) -> i64 {
        self.inner.hot.evicted_until()
    }

    /// The engine's clock, now (ns).
    pub fn now(&self) -> i64 {
        self.inner.clock.now_nanos()
    }

    /// The live manifest: files per tier and how far each tier is written.
    pub fn manifest(&self) -> Arc<crate::tier::Manifest> {
        self.inner.tiers.manifest()
    }
}

fn selector_tags(selector: &Selector) -> Vec<(String, String)> {
    selector
        .tags
        .iter()
        .map(|(k, v)| (if k == "host" { "hostname".to_owned() } else { k.clone() }, v.clone()))
        .collect()
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop_threads();
    }
}

/// The time range a write may land in, read from the clock once per write.
struct TimeWindow {
    now: i64,
    oldest: i64,
    newest: i64,
    retention: crate::units::Span,
    tolerance: crate::units::Span,
}

impl TimeWindow {
    fn check(&self, time: i64) -> Result<(), (RejectReason, String)> {
        if time < self.oldest {
            Err((
                RejectReason::TooOld,
                format!(
                    "timestamp {} is more than cold.retention ({}) before now ({}): no tier keeps it",
                    format_time(time),
                    self.retention,
                    format_time(self.now)
                ),
            ))
        } else if time > self.newest {
            Err((
                RejectReason::TooNew,
                format!(
                    "timestamp {} is more than limits.future_tolerance ({}) after now ({})",
                    format_time(time),
                    self.tolerance,
                    format_time(self.now)
                ),
            ))
        } else {
            Ok(())
        }
    }
}

pub(crate) fn format_time(nanos: i64) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    match u64::try_from(secs) {
        Ok(secs) => {
            humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + Duration::from_secs(secs)).to_string()
        }
        Err(_) => format!("{nanos} ns"),
    }
}

/// The cache key of a series as written: default cluster, measurement and tags, field.
fn raw_key(out: &mut Vec<u8>, cluster: Option<&str>, series_text: &str, field: &str) {
    out.clear();
    out.extend_from_slice(cluster.unwrap_or_default().as_bytes());
    out.push(0);
    out.extend_from_slice(series_text.as_bytes());
    out.push(0);
    out.extend_from_slice(field.as_bytes());
}

impl Inner {
    pub(crate) fn read_index(&self) -> std::sync::RwLockReadGuard<'_, SeriesIndex> {
        self.index.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_index(&self) -> std::sync::RwLockWriteGuard<'_, SeriesIndex> {
        self.index.write().unwrap_or_else(|p| p.into_inner())
    }

    fn check_poison(&self) -> Result<(), Error> {
        match &*self.poison.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(cause) => Err(Error::Poisoned { cause: cause.clone() }),
            None => Ok(()),
        }
    }

    fn window(&self) -> TimeWindow {
        let now = self.clock.now_nanos();
        // Older than hot but inside the tiers' retention is backfill: it goes to the tiers.
        let retention = self.config.cold.retention;
        let tolerance = self.config.limits.future_tolerance;
        TimeWindow {
            now,
            oldest: now.saturating_sub(retention.as_nanos_i64()),
            newest: now.saturating_add(tolerance.as_nanos_i64()),
            retention,
            tolerance,
        }
    }

    fn checkpoint(&self) -> Result<PathBuf, Error> {
        let _one_at_a_time = self.checkpointing.lock().unwrap_or_else(|p| p.into_inner());
        if self.flush_open.load(Ordering::SeqCst) {
            return Err(Error::FlushPending);
        }
        // Hold the apply order while copying: the copy then holds exactly the records before
        // `position`. Sealed chunks are shared, so this is quick.
        let snapshot = {
            let applied = self.order.lock().unwrap_or_else(|p| p.into_inner());
            let index = self.read_index();
            let series =
                index.all().filter(|(id, _)| index.is_logged(*id)).map(|(id, k)| (id, k.clone())).collect();
            Snapshot {
                position: applied.position,
                series,
                chunks: self.hot.snapshot(),
                evicted_until: self.hot.evicted_until(),
                late: self.hot.late_points(),
            }
        };
        let path = checkpoint::write(&self.checkpoints, &snapshot)?;
        self.wal.remove_segments_before(snapshot.position)?;
        Ok(path)
    }
}

impl Inner {
    /// One compaction pass, recorded in the status.
    fn run_pass(&self, now: i64) -> Result<CompactReport, Error> {
        let outcome = self.compact(now);
        let mut status = self.status.lock().unwrap_or_else(|p| p.into_inner());
        match &outcome {
            Ok(report) => {
                status.passes += 1;
                status.failing_for = 0;
                status.last_error = None;
                status.evicted_points += report.evicted_points;
                status.evicted_early += report.evicted_early;
            }
            Err(e) => {
                status.failures += 1;
                status.failing_for += 1;
                status.last_error = Some(e.to_string());
            }
        }
        outcome
    }

    fn tier_stats(&self) -> TierStats {
        let manifest = self.tiers.manifest();
        let summary = |tier: Tier| {
            let mut s = TierSummary::default();
            let mut per_day: std::collections::BTreeMap<&str, u64> = Default::default();
            for f in manifest.files(tier) {
                s.files += 1;
                s.rows += f.rows;
                s.points += f.points;
                s.bytes += f.bytes;
                s.min_time = Some(s.min_time.map_or(f.min_time, |t| t.min(f.min_time)));
                s.max_time = Some(s.max_time.map_or(f.max_time, |t| t.max(f.max_time)));
                *per_day.entry(&f.day).or_default() += 1;
            }
            s.max_files_per_day = per_day.values().copied().max().unwrap_or(0);
            s
        };
        TierStats {
            warm: summary(Tier::Warm),
            cold: summary(Tier::Cold),
            warm_until: manifest.warm_until,
            cold_until: manifest.cold_until,
            conflicts: self.hot.conflicts(),
            files_waiting_for_readers: self.tiers.doomed() as u64,
            status: self.status.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }
}

/// Runs a compaction pass every `compactor.interval`, backing off while passes fail (the
/// status records why).
fn spawn_compactor(inner: &Arc<Inner>) -> std::io::Result<(mpsc::Sender<()>, JoinHandle<()>)> {
    let (stop, stopped) = mpsc::channel::<()>();
    let every = inner.config.compactor.interval.0;
    let weak = Arc::downgrade(inner);
    let handle = std::thread::Builder::new().name("strata-compactor".into()).spawn(move || {
        let mut wait = every;
        while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(wait) {
            let Some(inner) = weak.upgrade() else { return };
            wait = match inner.run_pass(inner.clock.now_nanos()) {
                Ok(_) => every,
                // Double the wait per failure in a row, up to 32 intervals or an hour.
                Err(_) => {
                    let failing = inner.status.lock().unwrap_or_else(|p| p.into_inner()).failing_for;
                    every.saturating_mul(1 << failing.min(5)).min(Duration::from_secs(3600).max(every))
                }
            };
        }
    })?;
    Ok((stop, handle))
}

fn spawn_checkpointer(inner: &Arc<Inner>) -> std::io::Result<(mpsc::Sender<()>, JoinHandle<()>)> {
    let (stop, stopped) = mpsc::channel::<()>();
    let every = inner.config.hot.checkpoint_interval.0;
    let weak = Arc::downgrade(inner);
    let handle = std::thread::Builder::new().name("strata-checkpoint".into()).spawn(move || {
        while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
            let Some(inner) = weak.upgrade() else { return };
            // A failed checkpoint loses nothing (the WAL still holds the data); the next
            // interval tries again.
            let _ = inner.checkpoint();
        }
    })?;
    Ok((stop, handle))
}
