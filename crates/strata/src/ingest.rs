//! The write path: one path for line protocol ([`write_lp`]) and typed points ([`write`]).
//!
//! For every write:
//! 1. check each line or point (numbers only, a time inside the kept range, a valid key) and
//!    resolve its series: known series through the raw-key cache under the index's read lock,
//!    new ones under its write lock within the limits;
//! 2. encode the accepted points, with the definitions of series no applied record has defined
//!    yet, as one WAL record, append it (group commit; returns once durable) and apply it to
//!    the hot store at its turn in log order (`log.rs`);
//! 3. count what was accepted and rejected.
//!
//! From step 1 until its record is applied, a write holds `Core::writers` shared, so no series it
//! found retires meanwhile (`compactor/retire.rs`).

use rustc_hash::FxHashSet;
use strata_lp::{Line, ParseOptions, Parser};

use crate::ack_gate::AckGuard;
use crate::core::Core;
use crate::error::Error;
use crate::payload::Batch;
use crate::series::{KeyParts, SeriesId, SeriesIndex, canonical_tags, raw_base, raw_hash};
use crate::streams::StreamSequence;
use crate::units::{Span, format_time};
use crate::write::{Point, RejectReason, Sequenced, WriteOptions, WriteReport};

/// Lines of new series held (copied) at most before their series are created under the write
/// lock. A write whose every series is new (the first after start) would otherwise hold a copy
/// of every line at once: 17 MB for a 4 MB body of 50,000 lines, the peak of a whole
/// `strata write` of 7 M points.
const DEFERRED: usize = 1024;

/// Writes line protocol; see [`Engine::write_lp`](crate::Engine::write_lp) and
/// [`Engine::write_lp_sequenced`](crate::Engine::write_lp_sequenced) for `source`.
pub(crate) fn write_lp(
    core: &Core,
    body: &[u8],
    options: &WriteOptions,
    source: Option<&StreamSequence>,
) -> Result<Sequenced, Error> {
    admit(core)?;
    // Until applied: no series this write finds may retire before its record is in memory.
    let _writing = core.writing();
    if let Some(source) = source
        && let Some(last_applied) = core.streams.applied(&source.stream)
        && last_applied >= source.sequence
    {
        core.counters.count_duplicate();
        return Ok(Sequenced::Duplicate { last_applied });
    }
    let max = core.config.limits.max_write_size.0;
    if body.len() as u64 > max {
        return Err(Error::WriteTooLarge { size: body.len() as u64, max });
    }
    let window = TimeWindow::now(core);
    let default_time = options.default_time.unwrap_or(window.now);
    let cluster = options.default_cluster.as_deref();
    let mut parser =
        Parser::new(body, ParseOptions { precision: options.precision, default_time: Some(default_time) });
    let mut staged = Staged::default();
    staged.batch.source = source.cloned();
    let mut deferred: Vec<Line<'_>> = Vec::new();
    let mut line = Line::default();
    let mut ids: Vec<SeriesId> = Vec::new();
    // Forms of known series the cache does not hold yet (raw hash, id), kept once the read
    // lock is released: after a restart, the first line of each series.
    let mut remember: Vec<(u64, SeriesId)> = Vec::new();
    let mut parsed = false;
    while !parsed {
        parsed = true;
        {
            let index = core.read_index();
            'lines: while let Some(result) = parser.next_into(&mut line) {
                if let Err(e) = result {
                    staged.report.reject(e.line, e.column, RejectReason::Syntax, e.kind.to_string());
                    continue;
                }
                if let Err((reason, message)) = check_line(&line, &window, default_time) {
                    staged.report.reject(line.number, 0, reason, message);
                    continue;
                }
                // Known series by the text as written, no key built; a line with any new series
                // waits for the write lock.
                ids.clear();
                let base = raw_base(cluster, line.series_text);
                for field in &line.fields {
                    let hash = raw_hash(&base, &field.key);
                    if let Some(id) = index.get_raw(hash, cluster, &line, &field.key) {
                        ids.push(id);
                    } else if let Some(id) = index.find_line(cluster, &line, &field.key) {
                        if index.matches_line(id, cluster, &line, &field.key) {
                            remember.push((hash, id));
                        }
                        ids.push(id);
                    } else {
                        deferred.push(line.clone());
                        if deferred.len() >= DEFERRED {
                            parsed = false;
                            break 'lines;
                        }
                        continue 'lines;
                    }
                }
                let time = line.timestamp.unwrap_or(default_time);
                for (field, &id) in line.fields.iter().zip(&ids) {
                    staged.push(&index, id, time, field.value.as_f64().unwrap_or_default());
                }
            }
        }
        if !deferred.is_empty() || !remember.is_empty() {
            create_deferred(core, &mut staged, &deferred, &remember, cluster, default_time, &mut ids);
            deferred.clear();
            remember.clear();
        }
    }
    commit(core, staged)
}

/// Creates the series of the lines that waited for the write lock, in their order, and stages
/// their points; remembers the raw forms of known series the cache lacked. The series of one
/// line keep their order against its other lines: no line of a new series was staged before.
fn create_deferred(
    core: &Core,
    staged: &mut Staged,
    deferred: &[Line<'_>],
    remember: &[(u64, SeriesId)],
    cluster: Option<&str>,
    default_time: i64,
    ids: &mut Vec<SeriesId>,
) {
    let mut index = core.write_index();
    for &(hash, id) in remember {
        index.remember_raw(hash, id);
    }
    // Buffers reused across lines: a write of many new series makes no allocation per line
    // beyond the series it keeps (short-lived ones between long-lived keys fragment the heap).
    let (mut tags, mut fields) = (Vec::new(), Vec::new());
    for line in deferred {
        tags.clear();
        tags.extend(line.tags.iter().map(|t| (t.key.as_ref(), t.value.as_ref())));
        fields.clear();
        fields.extend(line.fields.iter().map(|f| f.key.as_ref()));
        match create_series(core, &mut index, &line.measurement, &fields, &tags, cluster, ids) {
            Ok(()) => {
                let time = line.timestamp.unwrap_or(default_time);
                let base = raw_base(cluster, line.series_text);
                for ((field, &id), name) in line.fields.iter().zip(ids.iter()).zip(&fields) {
                    if index.matches_line(id, cluster, line, name) {
                        index.remember_raw(raw_hash(&base, name), id);
                    }
                    staged.push(&index, id, time, field.value.as_f64().unwrap_or_default());
                }
            }
            Err((reason, message)) => staged.report.reject(line.number, 0, reason, message),
        }
    }
}

/// Writes typed points; see [`Engine::write`](crate::Engine::write).
pub(crate) fn write(core: &Core, points: &[Point<'_>]) -> Result<WriteReport, Error> {
    admit(core)?;
    let _writing = core.writing();
    let window = TimeWindow::now(core);
    let mut staged = Staged::default();
    let mut index = core.write_index();
    let mut ids = Vec::new();
    for (n, point) in points.iter().enumerate() {
        let number = n + 1;
        let checked = check_point(point, &window).and_then(|()| {
            create_series(core, &mut index, point.measurement, &[point.field], point.tags, None, &mut ids)
        });
        match checked {
            Ok(()) => {
                for &id in &ids {
                    staged.push(&index, id, point.time, point.value);
                }
            }
            Err((reason, message)) => staged.report.reject(number, 0, reason, message),
        }
    }
    drop(index);
    match commit(core, staged)? {
        Sequenced::Applied(report) => Ok(report),
        Sequenced::Duplicate { .. } => Err(Error::Invariant("a write without a source was skipped".into())),
    }
}

/// Whether the engine takes a write at all: not poisoned, and hot memory not full.
fn admit(core: &Core) -> Result<(), Error> {
    core.log.check_poison()?;
    core.memory.check(core.counters.accepted(), core.config.hot.max_memory).inspect_err(|_| {
        core.counters.count_refused_write();
    })
}

type Refusal = (RejectReason, String);

/// A line's checks before its series are looked up: a time the engine keeps, numbers only.
fn check_line(line: &Line<'_>, window: &TimeWindow, default_time: i64) -> Result<(), Refusal> {
    window.check(line.timestamp.unwrap_or(default_time))?;
    if let Some(f) = line.fields.iter().find(|f| f.value.as_f64().is_none()) {
        return Err((
            RejectReason::NotNumeric,
            format!(
                "field \"{}\" is a {}: strata stores numbers (float, integer or unsigned fields) only",
                f.key,
                f.value.type_name()
            ),
        ));
    }
    Ok(())
}

/// A point's checks, the same as a line's (the parser refuses NaN and infinities in lines).
fn check_point(point: &Point<'_>, window: &TimeWindow) -> Result<(), Refusal> {
    if !point.value.is_finite() {
        return Err((RejectReason::Syntax, "the value is NaN or infinite".into()));
    }
    window.check(point.time)
}

/// The series of one line (one per field) into `ids`, created where new, all or none within
/// the limits.
fn create_series(
    core: &Core,
    index: &mut SeriesIndex,
    measurement: &str,
    fields: &[&str],
    tags: &[(&str, &str)],
    cluster: Option<&str>,
    ids: &mut Vec<SeriesId>,
) -> Result<(), Refusal> {
    ids.clear();
    if measurement.is_empty() || fields.iter().any(|f| f.is_empty()) {
        return Err((RejectReason::BadKey, "the measurement and field must not be empty".into()));
    }
    // Mapped, not copied: the items' lifetime may then shorten to the cluster's.
    let tags = canonical_tags(tags.iter().map(|&(k, v)| (k, v)), cluster)
        .map_err(|message| (RejectReason::BadKey, message))?;
    let limits = &core.config.limits;
    // All of a line's series share its measurement; check room for all before creating any.
    let new = fields
        .iter()
        .filter(|&&field| index.find(&KeyParts { measurement, field, tags: &tags }).is_none())
        .count() as u64;
    index
        .check_room(measurement, new, limits.max_series, limits.max_series_per_metric)
        .map_err(|hit| (RejectReason::SeriesLimit, format!("a new series would pass a limit: {hit}")))?;
    for &field in fields {
        let id = index
            .create(
                &KeyParts { measurement, field, tags: &tags },
                limits.max_series,
                limits.max_series_per_metric,
            )
            .map_err(|hit| (RejectReason::SeriesLimit, hit.to_string()))?;
        ids.push(id);
    }
    Ok(())
}

/// What a write has accepted so far, and its report.
#[derive(Debug, Default)]
struct Staged {
    batch: Batch,
    /// Series whose definition no applied record holds yet: the record carries it.
    undefined: FxHashSet<SeriesId>,
    report: WriteReport,
}

impl Staged {
    fn push(&mut self, index: &SeriesIndex, id: SeriesId, time: i64, value: f64) {
        if !index.is_logged(id) {
            self.undefined.insert(id);
        }
        self.batch.push(id, time, value);
    }
}

/// Logs the staged points, applies them in log order, and counts the outcome.
fn commit(core: &Core, staged: Staged) -> Result<Sequenced, Error> {
    let Staged { batch, undefined, mut report } = staged;
    core.counters.count_rejections(&report);
    // A sequenced write is logged even with no point: its sequence must be durable too.
    if batch.len() == 0 && batch.source.is_none() {
        return Ok(Sequenced::Applied(report));
    }
    // The definitions go from the index's interned form straight into the record's bytes.
    let (payload, defined) = {
        let index = core.read_index();
        let mut ids: Vec<SeriesId> = undefined.into_iter().filter(|&id| index.contains(id)).collect();
        ids.sort_unstable();
        let payload = batch.encode_defining(ids.len(), |out| {
            for &id in &ids {
                out.extend_from_slice(&id.to_le_bytes());
                index.encode_key(id, out);
            }
        });
        (payload, ids)
    };
    let mut applied = true;
    core.log.append_then_apply(payload, || {
        // In log order, as replay decides: a second writer of the same message may have come
        // first. The record's definitions count either way.
        applied = batch.source.as_ref().is_none_or(|source| core.streams.admit(source));
        let outcome = if applied { core.hot.apply(&batch) } else { Ok(()) };
        let index = core.read_index();
        for &id in &defined {
            index.mark_logged(id);
        }
        outcome
    })?;
    if !applied {
        core.counters.count_duplicate();
        let last_applied = batch.source.as_ref().and_then(|s| core.streams.applied(&s.stream)).unwrap_or(0);
        return Ok(Sequenced::Duplicate { last_applied });
    }
    core.counters.count_accepted(batch.len() as u64);
    report.accepted = batch.len() as u64;
    Ok(Sequenced::Applied(report))
}

/// [`Engine::write_lp_gated`](crate::Engine::write_lp_gated): the guard opens before the
/// write, and stays open only for a message that was applied.
pub(crate) fn write_lp_gated(
    core: &Core,
    body: &[u8],
    options: &WriteOptions,
    source: &StreamSequence,
) -> Result<(Sequenced, AckGuard), Error> {
    let guard = core.acks.enter(source);
    match write_lp(core, body, options, Some(source)) {
        Ok(outcome @ Sequenced::Applied(_)) => Ok((outcome, guard)),
        Ok(outcome @ Sequenced::Duplicate { .. }) => {
            guard.release();
            Ok((outcome, AckGuard::closed()))
        }
        Err(e) => {
            guard.release();
            Err(e)
        }
    }
}

/// The time range a write may land in, read from the clock once per write.
struct TimeWindow {
    now: i64,
    oldest: i64,
    newest: i64,
    retention: Span,
    tolerance: Span,
}

impl TimeWindow {
    fn now(core: &Core) -> TimeWindow {
        let now = core.now();
        // Older than hot but inside the tiers' retention is backfill: it goes to the tiers.
        let retention = core.config.cold.retention;
        let tolerance = core.config.limits.future_tolerance;
        TimeWindow {
            now,
            oldest: now.saturating_sub(retention.as_nanos_i64()),
            newest: now.saturating_add(tolerance.as_nanos_i64()),
            retention,
            tolerance,
        }
    }

    fn check(&self, time: i64) -> Result<(), Refusal> {
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
