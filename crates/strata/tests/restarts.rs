//! Restarts after backfill older than hot, checked against a model of every acknowledged point.
//!
//! A workload writes over several hours: regular points, late points for buckets a flush
//! already wrote, and backfill older than `hot.retention` (so older than what hot still holds,
//! once a pass has evicted it). Each step runs checkpoints, compaction passes and restarts (a
//! crash: `drop`, no final checkpoint; or `close`) in one of many orders, so the newest
//! checkpoint sometimes predates a pass that evicted, sometimes follows it, sometimes sits
//! inside one (after its warm flush's commit, before its eviction), sometimes there is none,
//! and backfill lands before or after the eviction it is older than. Some passes run ahead of
//! the clock, so the next regular points are late too. After every reopen:
//! - hot holds exactly the model's points from `hot_start` on (hot is authoritative there);
//! - the planner's count, sum, min and max per series and hour never exceed the model's (late
//!   points and backfill wait for the next pass), and never fall below what the engine
//!   answered before the restart, nor change across restarts with only checkpoints in between;
//! - a copy of the data directory and the tier store, reopened, after a pass at +3 h answers
//!   the model exactly, and its warm and cold tiers hold every bucket they cover exactly.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};

use strata::{Aggregate, Config, Engine, ManualClock, Query, Resolution, Selector, Tier, WriteOptions};
use support::{HOUR, MIN, Model, SEC, T0, assert_tier_matches, copy_dir};

const METRIC: &str = "cpu";
const HOSTS: [&str; 2] = ["n1", "n2"];
const STEP: i64 = 20 * MIN;
const STEPS: i64 = 12;
const SCENARIOS: usize = 16;

/// Hot keeps 30 minutes in 10-minute windows; nothing runs in the background.
fn config(data_dir: &Path) -> Config {
    Config::from_toml(&format!(
        "data_dir = {data_dir:?}\n\
         [hot]\nretention = \"30m\"\nchunk_duration = \"10m\"\ncheckpoint_interval = \"1000d\"\n\
         [wal]\nsegment_size = \"16KiB\"\n\
         [warm]\nresolution = \"1m\"\nretention = \"1d\"\n\
         [cold]\nresolution = \"1h\"\nretention = \"30d\"\n\
         [compactor]\ninterval = \"1000d\"\nlateness = \"1m\"\nmerge_fanin = 2\n"
    ))
    .unwrap()
}

/// A data directory and a local tier store.
struct Place {
    data: PathBuf,
    tiers: PathBuf,
    _dir: tempfile::TempDir,
}

impl Place {
    fn new() -> Place {
        let dir = tempfile::tempdir().unwrap();
        let (data, tiers) = (dir.path().join("data"), dir.path().join("tiers"));
        std::fs::create_dir_all(&data).unwrap();
        std::fs::create_dir_all(&tiers).unwrap();
        Place { data, tiers, _dir: dir }
    }

    fn open(&self, clock: &Arc<ManualClock>) -> Engine {
        let store = object_store::local::LocalFileSystem::new_with_prefix(&self.tiers).unwrap();
        Engine::open_with_object_store(config(&self.data), clock.clone(), Arc::new(store), "").unwrap()
    }

    /// A copy of both, as they are on disk now (the engine is idle: nothing in the background).
    fn copy(&self) -> Place {
        let place = Place::new();
        copy_dir(&self.data, &place.data);
        copy_dir(&self.tiers, &place.tiers);
        place
    }
}

/// One step of a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// Late points for buckets a flush wrote, and backfill older than `hot.retention` (70
    /// minutes back) and older than anything hot held (150 minutes back).
    Late,
    Checkpoint,
    Pass,
    /// A pass with a checkpoint inside it, after the warm flush's commit and before the same
    /// pass evicts (as the background checkpointer may take one).
    PassWithCheckpoint,
    /// A crash: the engine is dropped, no final checkpoint.
    Crash,
    /// A clean close: a final checkpoint.
    Close,
}

/// Per series and hour: count, sum, min, max.
type Hours = BTreeMap<(usize, i64), (u64, f64, f64, f64)>;

fn value(step: i64, k: i64, host: usize) -> f64 {
    // Eighths: exact in binary, so sums compare bit for bit.
    ((step * 1000 + k) * 8 + host as i64) as f64 / 8.0
}

struct Run {
    name: String,
    place: Place,
    clock: Arc<ManualClock>,
    engine: Option<Arc<Engine>>,
    model: Model,
    /// The planner's answer after the last reopen, if only checkpoints and restarts came since.
    settled: Option<Hours>,
    reopens: u32,
    /// Reopens whose hot started earlier than before the restart (the newest checkpoint
    /// predated an eviction), and the points they showed that the engine did not before.
    regressions: u32,
    shown: u64,
}

impl Run {
    fn engine(&self) -> &Engine {
        self.engine.as_ref().unwrap()
    }

    fn write(&mut self, points: &[(usize, i64, f64)]) {
        let body: String = points
            .iter()
            .map(|&(h, t, v)| format!("{METRIC},hostname={} value={v} {t}\n", HOSTS[h]))
            .collect();
        let options = WriteOptions { precision: strata::Precision::Nanoseconds, ..WriteOptions::default() };
        let report = self.engine().write_lp(body.as_bytes(), &options).unwrap();
        assert_eq!(report.accepted as usize, points.len(), "{}: {:?}", self.name, report.rejections.first());
        for &(h, t, v) in points {
            self.model.insert(METRIC, HOSTS[h], t, v);
        }
        self.settled = None;
    }

    fn restart(&mut self, clean: bool, what: &str) {
        let engine = self.engine.take().unwrap();
        let before = hours(&engine, &format!("{what}, before"));
        let hot_before = engine.hot_start();
        if clean {
            Arc::into_inner(engine).unwrap().close().unwrap();
        } else {
            drop(engine);
        }
        self.engine = Some(Arc::new(self.place.open(&self.clock)));
        self.reopens += 1;
        let what = format!("{what}, reopened after {}", if clean { "close" } else { "a crash" });
        let engine = self.engine();
        check_hot(engine, &self.model, &what);
        let after = hours(engine, &what);
        check_hours(&after, &self.model, false, &what);
        for (key, was) in &before {
            let now = after.get(key).map_or(0, |a| a.0);
            assert!(
                now >= was.0,
                "{what}: hour {key:?} counted {} points before the restart and {now} after",
                was.0
            );
        }
        let hot_after = engine.hot_start();
        if hot_after < hot_before {
            self.regressions += 1;
        }
        self.shown += after.values().map(|a| a.0).sum::<u64>() - before.values().map(|b| b.0).sum::<u64>();
        if let Some(settled) = &self.settled {
            assert_eq!(
                &after, settled,
                "{what}: the answer changed across restarts with only checkpoints in between"
            );
        }
        self.settled = Some(after);
        // Everything down the tiers, on a copy: every point exactly once.
        let copy = self.place.copy();
        let clock = Arc::new(ManualClock::new(now(&self.clock) + 3 * HOUR));
        let forked = copy.open(&clock);
        check_moved_down(&forked, &self.model, &format!("{what}, copy after a pass at +3h"));
        forked.close().unwrap();
    }
}

fn now(clock: &ManualClock) -> i64 {
    use strata::Clock as _;
    clock.now_nanos()
}

/// Hot holds exactly the model's points from `hot_start` on, and none before.
fn check_hot(engine: &Engine, model: &Model, what: &str) {
    let start = engine.hot_start();
    let mut got: BTreeMap<(String, i64), u64> = BTreeMap::new();
    for s in engine.read(&Selector::metric(METRIC), i64::MIN, i64::MAX).unwrap() {
        let host = s.key.tag("hostname").unwrap().to_owned();
        for (&t, &v) in s.times.iter().zip(&s.values) {
            got.insert((host.clone(), t), v.to_bits());
        }
    }
    let mut want: BTreeMap<(String, i64), u64> = BTreeMap::new();
    for ((_, host), points) in &model.0 {
        for (&t, &v) in points.range(start..) {
            want.insert((host.clone(), t), v.to_bits());
        }
    }
    let extra: Vec<_> = got.keys().filter(|k| !want.contains_key(*k)).take(5).collect();
    let missing: Vec<_> = want.keys().filter(|k| !got.contains_key(*k)).take(5).collect();
    assert!(
        extra.is_empty() && missing.is_empty() && got == want,
        "{what}: hot from {start} holds {} points, the model {}; extra {extra:?}, missing {missing:?}",
        got.len(),
        want.len()
    );
}

/// The planner's count, sum, min and max per series and hour.
fn hours(engine: &Engine, what: &str) -> Hours {
    let mut got = Hours::new();
    for (h, host) in HOSTS.iter().enumerate() {
        let mut query = Query::new(METRIC, T0 - 4 * HOUR, T0 + 6 * HOUR, Resolution::Every(HOUR));
        query.selector = Selector::metric(METRIC).tag("hostname", host);
        query.aggregates = vec![Aggregate::Count, Aggregate::Sum, Aggregate::Min, Aggregate::Max];
        let result = engine.query(&query).unwrap_or_else(|e| panic!("{what}: query failed: {e}"));
        for s in &result.series {
            for (i, &t) in s.times.iter().enumerate() {
                let col = |a: Aggregate| s.columns.iter().find(|(x, _)| *x == a).and_then(|(_, v)| v[i]);
                if let Some(count) = col(Aggregate::Count) {
                    let (sum, min, max) = (
                        col(Aggregate::Sum).unwrap(),
                        col(Aggregate::Min).unwrap(),
                        col(Aggregate::Max).unwrap(),
                    );
                    assert!(got.insert((h, t), (count as u64, sum, min, max)).is_none());
                }
            }
        }
    }
    got
}

fn model_hours(model: &Model) -> Hours {
    let mut want = Hours::new();
    for (h, host) in HOSTS.iter().enumerate() {
        let Some(points) = model.0.get(&(METRIC.to_owned(), (*host).to_owned())) else { continue };
        for (&t, &v) in points {
            let e = want.entry((h, t.div_euclid(HOUR) * HOUR)).or_insert((
                0,
                0.0,
                f64::INFINITY,
                f64::NEG_INFINITY,
            ));
            e.0 += 1;
            e.1 += v;
            e.2 = e.2.min(v);
            e.3 = e.3.max(v);
        }
    }
    want
}

/// `exactly`: the planner answers the model; otherwise no hour counts more than the model.
fn check_hours(got: &Hours, model: &Model, exactly: bool, what: &str) {
    let want = model_hours(model);
    if exactly {
        assert_eq!(got, &want, "{what}: per series and hour (count, sum, min, max)");
        return;
    }
    for (key, (count, ..)) in got {
        let want = want.get(key).map_or(0, |w| w.0);
        assert!(*count <= want, "{what}: hour {key:?} counts {count} points, but {want} were written");
    }
}

/// A pass at the engine's now: every point exactly once in the planner's answer, warm and cold
/// exact over what they cover, hot exact from its start.
fn check_moved_down(engine: &Engine, model: &Model, what: &str) {
    engine.compact().unwrap_or_else(|e| panic!("{what}: the pass failed: {e}"));
    check_hours(&hours(engine, what), model, true, what);
    check_hot(engine, model, what);
    let manifest = engine.manifest();
    let from = T0 - 6 * HOUR;
    if let Some(warm_until) = manifest.warm_until {
        assert_tier_matches(engine, Tier::Warm, METRIC, model, MIN, from, warm_until);
    }
    if let Some(cold_until) = manifest.cold_until {
        assert_tier_matches(engine, Tier::Cold, METRIC, model, HOUR, from, cold_until);
    }
}

/// The `index`-th permutation of `items` (Lehmer code).
fn permutation<T: Copy>(items: &[T], mut index: usize) -> Vec<T> {
    let mut rest = items.to_vec();
    let mut out = Vec::with_capacity(items.len());
    while !rest.is_empty() {
        let n = rest.len();
        out.push(rest.remove(index % n));
        index /= n;
    }
    out
}

/// The operations of step `step` of scenario `scenario`, after the step's regular writes.
fn ops(scenario: usize, step: usize) -> Vec<Op> {
    let restart = if (scenario + step).is_multiple_of(3) { Op::Close } else { Op::Crash };
    let pass = if (scenario + 2 * step) % 3 == 1 { Op::PassWithCheckpoint } else { Op::Pass };
    let mut items = vec![Op::Late, pass, restart];
    // Sometimes no checkpoint at all in a step, sometimes two restarts in a row.
    if (scenario + step) % 4 != 3 {
        items.push(Op::Checkpoint);
    }
    let mut out = permutation(&items, scenario * 7 + step * 11);
    if (scenario * (step + 1)) % 5 == 1 {
        let at = out.iter().position(|o| matches!(o, Op::Crash | Op::Close)).unwrap();
        out.insert(at + 1, Op::Crash);
    }
    out
}

fn run(scenario: usize) -> (u32, u32, u64) {
    let place = Place::new();
    let clock = Arc::new(ManualClock::new(T0));
    let engine = place.open(&clock);
    let mut run = Run {
        name: format!("scenario {scenario}"),
        place,
        clock,
        engine: Some(Arc::new(engine)),
        model: Model::default(),
        settled: None,
        reopens: 0,
        regressions: 0,
        shown: 0,
    };
    for step in 0..STEPS {
        let start = T0 + step * STEP;
        run.clock.set(start + STEP);
        // Every 30 s for each host (times on the 30 s grid; late points and backfill are off
        // it, each kind at its own offset, so no time is written twice).
        let regular: Vec<_> = (0..STEP / (30 * SEC))
            .flat_map(|k| (0..HOSTS.len()).map(move |h| (h, start + k * 30 * SEC, value(step, k, h))))
            .collect();
        run.write(&regular);
        let ops = ops(scenario, step as usize);
        for (i, op) in ops.iter().enumerate() {
            let what = format!("{}, step {step} {ops:?}, op {i}", run.name);
            match op {
                Op::Late => {
                    let mut points = Vec::new();
                    for h in 0..HOSTS.len() {
                        let hf = h as f64;
                        points.push((h, start - 13 * MIN + (3 + h as i64) * SEC, -1.5 - hf));
                        points.push((h, start - 70 * MIN + (11 + h as i64) * SEC, 1000.25 + hf));
                        points.push((h, start - 150 * MIN + (21 + h as i64) * SEC, 2000.5 + hf));
                    }
                    run.write(&points);
                }
                Op::Checkpoint => {
                    // A checkpoint changes nothing a restart after it answers.
                    run.engine().checkpoint().unwrap();
                }
                Op::Pass | Op::PassWithCheckpoint => {
                    // Now and then a pass ahead of the clock: the next step's regular points
                    // are then late points too.
                    let ahead = if (scenario + step as usize) % 5 == 2 { 25 * MIN } else { 0 };
                    if *op == Op::PassWithCheckpoint {
                        *INSIDE.lock().unwrap() = Arc::downgrade(run.engine.as_ref().unwrap());
                    }
                    run.engine().compact_at(now(&run.clock) + ahead).unwrap();
                    *INSIDE.lock().unwrap() = Weak::new();
                    run.settled = None;
                }
                Op::Crash => run.restart(false, &what),
                Op::Close => run.restart(true, &what),
            }
        }
    }
    let what = format!("{}, at the end", run.name);
    check_moved_down(run.engine(), &run.model, &what);
    Arc::into_inner(run.engine.take().unwrap()).unwrap().close().unwrap();
    (run.reopens, run.regressions, run.shown)
}

/// The engine a pass checkpoints from inside, between its warm flush's commit and its eviction.
static INSIDE: Mutex<Weak<Engine>> = Mutex::new(Weak::new());
/// The failpoint callback is process-wide: the tests of this file run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());
/// Checkpoints taken inside a pass.
static INSIDE_TAKEN: AtomicU32 = AtomicU32::new(0);

#[test]
fn restarts_after_backfill_keep_every_point_exactly_once() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let scenario = fail::FailScenario::setup();
    fail::cfg_callback("warm-committed", || {
        let engine = INSIDE.lock().unwrap().upgrade();
        if let Some(engine) = engine {
            engine.checkpoint().unwrap();
            INSIDE_TAKEN.fetch_add(1, Ordering::Relaxed);
        }
    })
    .unwrap();
    let (mut reopens, mut regressions, mut shown) = (0, 0, 0);
    for n in 0..SCENARIOS {
        let (r, g, s) = run(n);
        println!("scenario {n}: {r} reopens, {g} with hot starting earlier, {s} points shown");
        (reopens, regressions, shown) = (reopens + r, regressions + g, shown + s);
    }
    println!(
        "restarts: {reopens} reopens checked, {regressions} with hot starting earlier, {shown} more points shown"
    );
    let inside = INSIDE_TAKEN.load(Ordering::Relaxed);
    println!("{inside} checkpoints taken inside a pass, before its eviction");
    assert!(inside > 0);
    fail::remove("warm-committed");
    drop(scenario);
}

/// The reported case, step by step: the newest checkpoint predates a pass that evicted, and
/// backfill older than what hot still holds arrives after that pass. Live, the backfill waits
/// in the late list only (no query counts it until the next pass). After a crash, hot starts
/// where the checkpoint says (earlier than before) and is rebuilt whole from there (the
/// checkpoint's chunks and the WAL after it), so the backfill is in hot, and in the late list
/// for the next pass: counted once, by hot; the warm rows of those buckets are below hot's
/// start no more, and the planner does not read them. Nothing is lost, and the answer stays
/// the same across further restarts until a pass writes the late points and evicts again.
#[test]
fn backfill_after_an_eviction_the_checkpoint_predates_is_counted_once_after_restarts() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let place = Place::new();
    let clock = Arc::new(ManualClock::new(T0 + 2 * HOUR));
    let mut run = Run {
        name: "reported case".to_owned(),
        place,
        clock: clock.clone(),
        engine: None,
        model: Model::default(),
        settled: None,
        reopens: 0,
        regressions: 0,
        shown: 0,
    };
    run.engine = Some(Arc::new(run.place.open(&clock)));
    let regular: Vec<_> =
        (0..2 * HOUR / (30 * SEC)).map(|k| (0, T0 + k * 30 * SEC, value(0, k, 0))).collect();
    run.write(&regular);
    // The newest checkpoint: nothing evicted yet.
    run.engine().checkpoint().unwrap();
    run.engine().compact().unwrap();
    let evicted = run.engine().hot_start();
    assert_eq!(evicted, T0 + 90 * MIN, "the pass evicted what is older than hot.retention");
    // Backfill older than hot's start, after the eviction: late only.
    let backfill = T0 + HOUR + 7 * SEC;
    run.write(&[(0, backfill, 1000.25), (0, T0 - 2 * HOUR + 9 * SEC, 2000.5)]);
    let in_hot =
        |engine: &Engine| !engine.read(&Selector::metric(METRIC), backfill, backfill + 1).unwrap().is_empty();
    assert!(!in_hot(run.engine()), "live, the backfill is in the late list only");
    let hour = (0, T0 + HOUR);
    assert_eq!(hours(run.engine(), "live")[&hour].0, 120, "live, no query counts the backfill yet");

    run.restart(false, "first crash");
    assert!(run.engine().hot_start() < evicted, "hot starts where the checkpoint says");
    assert!(in_hot(run.engine()), "after the crash, the backfill is in hot");
    assert_eq!(hours(run.engine(), "first crash")[&hour].0, 121, "and counted once");
    run.restart(false, "second crash");
    run.restart(true, "close");
    assert_eq!(run.regressions, 1);
    // A pass writes the late points and evicts again; restarts then answer alike. (The deep
    // backfill, two hours before the rest, is in hot too, but its hour is cold's: the planner
    // counts it once the pass has rolled it up.)
    run.engine().compact().unwrap();
    run.settled = None;
    assert_eq!(run.engine().hot_start(), evicted);
    assert!(!in_hot(run.engine()));
    assert_eq!(hours(run.engine(), "after the pass")[&hour].0, 121);
    run.restart(false, "crash after the pass");
    check_moved_down(run.engine(), &run.model, "at the end");
    Arc::into_inner(run.engine.take().unwrap()).unwrap().close().unwrap();
}
