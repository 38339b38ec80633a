//! Filling the tiers as time passes: the engine runs on a manual clock that starts where the
//! full metric set starts. The backfill is imported first, three weeks at a time with a
//! compaction pass after each; then the full metric set is written an hour at a time, the
//! clock moved to the hour's end, and a compaction pass run every three hours, as the
//! background compactor would have done.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use strata::{Config, Engine, ManualClock, WriteOptions};
use strata_gen::{GenConfig, Generator};

use super::backfill::{Backfill, Spike};
use super::{DAY, HOUR, LIVE_HOURS, SEC, Timeline};
use crate::blocks::split_lines;

/// The backfill is written in pieces of this span (ns), a pass after each.
const BACKFILL_PIECE: i64 = 21 * DAY;
/// Live hours between two passes. The background compactor would run every minute; a pass is
/// dominated by its fsyncs (files, directories, the manifest), so the demo runs fewer, larger
/// ones.
const PASS_EVERY_HOURS: i64 = 3;

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    pub(crate) hosts: usize,
    pub(crate) hwthreads: usize,
    /// Between two points of the full metric set, and of the backfill (ns).
    pub(crate) interval: i64,
    pub(crate) backfill_interval: i64,
    pub(crate) timeline: Timeline,
}

/// The engine, filled, and what it took.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) engine: Engine,
    pub(crate) timeline: Timeline,
    pub(crate) spike: Spike,
    /// The hosts' names, in order.
    pub(crate) hosts: Vec<String>,
    pub(crate) backfill_points: u64,
    pub(crate) live_points: u64,
    pub(crate) passes: u64,
    pub(crate) elapsed: Duration,
    /// Of `elapsed`, the time spent in compaction passes.
    pub(crate) compacting: Duration,
}

pub(crate) fn run(config: &Config, shape: &Shape) -> anyhow::Result<Loaded> {
    let started = Instant::now();
    let timeline = shape.timeline;
    let clock = Arc::new(ManualClock::new(timeline.live_start));
    let engine = Engine::open_with_clock(config.clone(), clock.clone())
        .with_context(|| format!("cannot open the engine in {}", config.data_dir.display()))?;
    let mut generator = Generator::new(GenConfig {
        hosts: shape.hosts,
        start: timeline.live_start / SEC,
        duration_secs: u64::try_from(LIVE_HOURS * HOUR / SEC)?,
        interval_secs: u64::try_from(shape.interval / SEC)?,
        hwthreads: shape.hwthreads,
        // The one spike is the backfill's.
        spike_rate: 0.0,
        ..GenConfig::default()
    })?;
    let live_total = generator.config().lines();
    let hosts: Vec<String> =
        (0..shape.hosts).map(|h| format!("f{:02}{:02}", h / 64 + 1, h % 64 + 1)).collect();
    let mut first = Vec::new();
    generator.next_step(&mut first);
    let (backfill, spike) = Backfill::new(&first, &timeline, shape.backfill_interval)?;

    let progress = ProgressBar::new(backfill.points() + live_total);
    progress.set_style(
        ProgressStyle::with_template("{msg:34} [{bar:30}] {percent:>3}% {elapsed}")?.progress_chars("=> "),
    );
    let options = WriteOptions::cc_metric_store("fritz");
    let mut passes = 0;
    let mut compacting = Duration::ZERO;
    let mut compact = |engine: &Engine| -> anyhow::Result<()> {
        let started = Instant::now();
        engine.compact()?;
        compacting += started.elapsed();
        passes += 1;
        Ok(())
    };

    // The backfill, `BACKFILL_PIECE` at a time, each followed by a pass at the clock's time.
    let (from, to) = backfill.range();
    let pieces = (to - from + BACKFILL_PIECE - 1) / BACKFILL_PIECE;
    let mut backfill_points = 0;
    for piece in 0..pieces {
        progress.set_message(format!("backfill: {} of {pieces} parts", piece + 1));
        let lines = backfill.lines(from + piece * BACKFILL_PIECE, from + (piece + 1) * BACKFILL_PIECE);
        backfill_points += write(&engine, &lines, &options, &progress)?;
        compact(&engine)?;
    }

    // The full metric set, an hour at a time, generated on its own thread meanwhile.
    let steps_per_hour = usize::try_from(HOUR / shape.interval)?.max(1);
    let (send, receive) = mpsc::sync_channel::<Vec<u8>>(1);
    let mut live_points = 0;
    std::thread::scope(|scope| -> anyhow::Result<()> {
        scope.spawn(move || {
            let mut hour = first;
            let mut steps = 1;
            loop {
                let more = generator.next_step(&mut hour);
                steps += usize::from(more);
                if (steps == steps_per_hour || !more) && !hour.is_empty() {
                    if send.send(std::mem::take(&mut hour)).is_err() {
                        return;
                    }
                    steps = 0;
                }
                if !more {
                    return;
                }
            }
        });
        for (hour, lines) in receive.into_iter().enumerate() {
            let hour = i64::try_from(hour)?;
            let until = (timeline.live_start + (hour + 1) * HOUR).min(timeline.end);
            clock.set(until);
            progress.set_message(format!("live: hour {} of {LIVE_HOURS}", hour + 1));
            live_points += write(&engine, &lines, &options, &progress)?;
            if (hour + 1) % PASS_EVERY_HOURS == 0 {
                compact(&engine)?;
            }
        }
        Ok(())
    })?;
    clock.set(timeline.end);
    compact(&engine)?;
    progress.finish_and_clear();
    Ok(Loaded {
        engine,
        timeline,
        spike,
        hosts,
        backfill_points,
        live_points,
        passes,
        elapsed: started.elapsed(),
        compacting,
    })
}

/// Writes line protocol in blocks of 2 MiB from two threads (the WAL commits their fsyncs as
/// groups); returns the points stored. A rejected line is an error: the demo writes none.
fn write(
    engine: &Engine,
    data: &[u8],
    options: &WriteOptions,
    progress: &ProgressBar,
) -> anyhow::Result<u64> {
    let blocks = split_lines(data, 2 << 20);
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<u64> {
                    let mut accepted = 0;
                    while let Some(block) = blocks.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let report = engine.write_lp(block, options)?;
                        if let Some(rejection) = report.rejections.first() {
                            anyhow::bail!("the engine rejected a generated line: {rejection}");
                        }
                        accepted += report.accepted;
                        progress.inc(report.accepted);
                    }
                    Ok(accepted)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|_| Err(anyhow::anyhow!("a writer thread panicked"))))
            .sum::<anyhow::Result<u64>>()
    })
}
