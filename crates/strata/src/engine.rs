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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use rustc_hash::FxHashSet;
use strata_lp::{Line, ParseOptions, Parser};
use strata_wal::{FsStorage, Position, Truncation, Wal, WalOptions};

use crate::checkpoint::{self, Snapshot};
use crate::clock::{Clock, WallClock};
use crate::config::Config;
use crate::error::{Error, io};
use crate::hot::{HotStats, HotStore};
use crate::payload::Batch;
use crate::series::{SeriesId, SeriesIndex, SeriesKey};
use crate::write::{Point, RejectReason, WriteOptions, WriteReport};

/// A strata engine over one data directory. Cheap to share: clone the `Arc` it lives in, or use
/// it by reference from many threads.
#[derive(Debug)]
pub struct Engine {
    inner: Arc<Inner>,
    checkpointer: Option<(mpsc::Sender<()>, JoinHandle<()>)>,
    recovery: Recovery,
}

#[derive(Debug)]
struct Inner {
    config: Config,
    clock: Arc<dyn Clock>,
    wal: Wal,
    index: RwLock<SeriesIndex>,
    hot: HotStore,
    order: Mutex<Applied>,
    turn: Condvar,
    poison: Mutex<Option<String>>,
    checkpoint_dir: PathBuf,
    /// Serializes checkpoints (the background one and explicit calls).
    checkpointing: Mutex<()>,
    accepted: AtomicU64,
    rejected: [AtomicU64; RejectReason::ALL.len()],
    _lock: File,
}

/// Where the apply sequence stands.
#[derive(Debug)]
struct Applied {
    /// Sequence number (from the WAL) of the next record to apply.
    next: u64,
    /// End of the last applied record: a checkpoint taken now covers the log up to here.
    position: Position,
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
        Engine::open_inner(config, clock, storage)
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
        Engine::open_inner(config, clock, storage)
    }

    fn open_inner(
        config: Config,
        clock: Arc<dyn Clock>,
        storage: impl strata_wal::Storage,
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

        let hot = HotStore::new(config.hot.chunk_duration.as_nanos_i64());
        let mut recovery = Recovery::default();
        let mut index = SeriesIndex::default();
        let mut from = Position::START;
        if let Some((path, snapshot)) = checkpoint::load_newest(&checkpoint_dir)? {
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
            recovery.checkpoint = Some(path);
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
            hot.apply(&batch).map_err(corrupt)?;
            recovery.records += 1;
            recovery.points += batch.len() as u64;
            position = end;
        }
        let (wal, report) = replay.finish()?;
        recovery.truncated = report.truncated;

        let inner = Arc::new(Inner {
            clock,
            wal,
            index: RwLock::new(index),
            hot,
            order: Mutex::new(Applied { next: 0, position }),
            turn: Condvar::new(),
            poison: Mutex::new(None),
            checkpoint_dir,
            checkpointing: Mutex::new(()),
            accepted: AtomicU64::new(0),
            rejected: Default::default(),
            _lock: lock,
            config,
        });
        let checkpointer = spawn_checkpointer(&inner)
            .map_err(io("start the checkpoint thread for", &inner.config.data_dir))?;
        Ok(Engine { inner, checkpointer: Some(checkpointer), recovery })
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
            let tags: Vec<(String, String)> = selector
                .tags
                .iter()
                .map(|(k, v)| (if k == "host" { "hostname".to_owned() } else { k.clone() }, v.clone()))
                .collect();
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
        }
    }

    /// Stops the background checkpointer, writes a final checkpoint so the next open replays
    /// nothing, and closes the WAL.
    ///
    /// # Errors
    /// I/O errors of the final checkpoint or of closing the WAL.
    pub fn close(mut self) -> Result<(), Error> {
        self.stop_checkpointer();
        if self.inner.poison.lock().unwrap_or_else(|p| p.into_inner()).is_none() {
            self.inner.checkpoint()?;
        }
        self.inner.wal.sync()?;
        Ok(())
    }

    fn stop_checkpointer(&mut self) {
        if let Some((stop, handle)) = self.checkpointer.take() {
            drop(stop);
            let _ = handle.join();
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop_checkpointer();
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
                    "timestamp {} is more than hot.retention ({}) before now ({})",
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

fn format_time(nanos: i64) -> String {
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
    fn read_index(&self) -> std::sync::RwLockReadGuard<'_, SeriesIndex> {
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
        let retention = self.config.hot.retention;
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
        // Hold the apply order while copying: the copy then holds exactly the records before
        // `position`. Sealed chunks are shared, so this is quick.
        let snapshot = {
            let applied = self.order.lock().unwrap_or_else(|p| p.into_inner());
            let index = self.read_index();
            let series =
                index.all().filter(|(id, _)| index.is_logged(*id)).map(|(id, k)| (id, k.clone())).collect();
            Snapshot { position: applied.position, series, chunks: self.hot.snapshot() }
        };
        let path = checkpoint::write(&self.checkpoint_dir, &snapshot)?;
        self.wal.remove_segments_before(snapshot.position)?;
        Ok(path)
    }
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
