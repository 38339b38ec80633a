//! The timestamp column. The chunk header already holds the first timestamp and the span to
//! the last, so a steady series costs one byte here; others store their steps.
//!
//! Layout, `n` timestamps, after the header's `first` and `span`:
//!
//! | bytes | field |
//! |---|---|
//! | 1 | scheme: 0 regular, 1 runs, 2 column |
//! | *regular:* nothing | `t[i] = first + i * span / (n - 1)` |
//! | *runs:* varint `r` | runs of equal steps, then `r` × (varint length, varint step) |
//! | *column:* column | the `n - 1` steps `t[i] - t[i-1]` as an integer column (`column.rs`) |
//!
//! Runs suit a steady series with a few gaps or a change of interval (a handful of runs);
//! the column suits jitter, where the median step is its bias and each step costs the few
//! bits of its deviation. Steps are unsigned (`u64`) differences, so any strictly increasing
//! `i64` sequence, even from `i64::MIN` to `i64::MAX`, round-trips.

use crate::column::{self, Scratch as ColumnScratch};
use crate::cursor::Cursor;
use crate::error::CodecError;
use crate::huffman::Table;
use crate::varint;

const SECTION: &str = "timestamps";
const REGULAR: u8 = 0;
const RUNS: u8 = 1;
const COLUMN: u8 = 2;

/// Buffers reused between chunks.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    steps: Vec<i64>,
    runs: Vec<(u64, u64)>,
    column: ColumnScratch,
}

/// Appends the timestamp column of `ts`, which holds at least one strictly increasing value.
pub(crate) fn write(ts: &[i64], scratch: &mut Scratch, out: &mut Vec<u8>) {
    let Scratch { steps, runs, column } = scratch;
    steps.clear();
    steps.extend(ts.iter().zip(ts.iter().skip(1)).map(|(&a, &b)| (b as u64).wrapping_sub(a as u64) as i64));
    runs.clear();
    for &step in steps.iter() {
        match runs.last_mut() {
            Some((len, s)) if *s == step as u64 => *len += 1,
            _ => runs.push((1, step as u64)),
        }
    }
    if runs.len() <= 1 {
        out.push(REGULAR);
        return;
    }
    let runs_len = 1
        + varint::len_u64(runs.len() as u64)
        + runs.iter().map(|&(len, step)| varint::len_u64(len) + varint::len_u64(step)).sum::<usize>();
    let plan = column::plan(steps, column);
    if runs_len <= 1 + plan.len {
        out.push(RUNS);
        varint::put_u64(out, runs.len() as u64);
        for &(len, step) in runs.iter() {
            varint::put_u64(out, len);
            varint::put_u64(out, step);
        }
    } else {
        out.push(COLUMN);
        column::write(steps, &plan, column, out);
    }
}

/// Reads the timestamp column of a chunk of `n >= 1` points whose header says `first` and
/// `span` (already checked: `first + span` fits an `i64`, `span >= n - 1`).
pub(crate) fn read(
    cur: &mut Cursor<'_>,
    n: usize,
    first: i64,
    span: u64,
    table: &mut Table,
    steps: &mut Vec<i64>,
    out: &mut Vec<i64>,
) -> Result<(), CodecError> {
    let at = |offset: u64| first.wrapping_add(offset as i64);
    let gaps = (n - 1) as u64;
    match cur.u8(SECTION)? {
        REGULAR => {
            if n == 1 {
                out.push(first);
                return Ok(());
            }
            if span.checked_rem(gaps) != Some(0) {
                return Err(cur.corrupt(SECTION, "regular span is not a multiple of the point count"));
            }
            let step = span / gaps;
            let mut t = first;
            out.extend((0..n).map(|_| {
                let this = t;
                t = t.wrapping_add(step as i64);
                this
            }));
        }
        RUNS => {
            let count = cur.varint_at_most(gaps, SECTION, "more runs than steps")?;
            out.push(first);
            let (mut offset, mut points) = (0u64, 0u64);
            for _ in 0..count {
                let len =
                    cur.varint_at_most(gaps - points, SECTION, "runs hold more steps than the chunk")?;
                let step = cur.varint(SECTION)?;
                let end = (len as u64)
                    .checked_mul(step)
                    .and_then(|d| d.checked_add(offset))
                    .filter(|&end| end <= span && step > 0)
                    .ok_or_else(|| cur.corrupt(SECTION, "run steps past the chunk's span or by zero"))?;
                out.extend((1..=len as u64).map(|i| at(offset + i * step)));
                offset = end;
                points += len as u64;
            }
            if points != gaps || offset != span {
                return Err(cur.corrupt(SECTION, "runs do not end at the chunk's last timestamp"));
            }
        }
        COLUMN if n > 1 => {
            steps.clear();
            column::read(cur, n - 1, table, steps)?;
            out.push(first);
            let mut offset = 0u64;
            let mut bad = false;
            out.extend(steps.iter().map(|&step| {
                // Each step at least 1 and the sum at most `span` keeps the timestamps
                // strictly increasing and in range.
                let step = step as u64;
                match offset.checked_add(step) {
                    Some(next) if step > 0 => offset = next,
                    _ => bad = true,
                }
                at(offset)
            }));
            if bad || offset != span {
                return Err(
                    cur.corrupt(SECTION, "steps are zero or do not end at the chunk's last timestamp")
                );
            }
        }
        _ => return Err(cur.corrupt(SECTION, "unknown timestamp scheme")),
    }
    Ok(())
}
