//! A decoded row group of a tier file: its rows as runs of one series each, the key of a run
//! built once from the dictionary-coded key columns (a run ends where any key column's
//! dictionary index changes), never per row. What the query cache keeps, and what a filter
//! selects from: a series is checked once per run, its time range found by binary search.

#![deny(clippy::indexing_slicing, clippy::unwrap_used)]

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float64Type, Int8Type, Int32Type, Int64Type, TimestampMicrosecondType, TimestampNanosecondType,
};
use arrow_array::{Array, ArrayRef, Int32Array, RecordBatch, StringArray};

use super::read::RowFilter;
use super::{TAG_COLUMNS, decode_other_tags};
use crate::series::SeriesKey;
use crate::tier::agg::{Agg, Increase, IncreaseScope};

/// One series' rows in a group: `start..end`, in time order, one row per bucket.
#[derive(Debug)]
struct Run {
    key: Arc<SeriesKey>,
    start: usize,
    end: usize,
}

/// The rows of one row group, decoded.
#[derive(Debug, Default)]
pub(crate) struct Group {
    runs: Vec<Run>,
    times: Vec<i64>,
    aggs: Vec<Agg>,
}

/// The rows a filter keeps of one run: the series, its bucket starts and their aggregates.
pub(crate) type Slice<'g> = (&'g Arc<SeriesKey>, &'g [i64], &'g [Agg]);

impl Group {
    /// The rows `filter` keeps, per run, in file order.
    pub(crate) fn select(&self, filter: &RowFilter<'_>) -> Vec<Slice<'_>> {
        let mut out = Vec::new();
        for run in &self.runs {
            if !filter.keeps_key(&run.key) {
                continue;
            }
            let (Some(times), Some(aggs)) =
                (self.times.get(run.start..run.end), self.aggs.get(run.start..run.end))
            else {
                continue;
            };
            let lo = times.partition_point(|&t| t < filter.from);
            let hi = times.partition_point(|&t| t < filter.to);
            if let (Some(t), Some(a)) = (times.get(lo..hi), aggs.get(lo..hi))
                && !t.is_empty()
            {
                out.push((&run.key, t, a));
            }
        }
        out
    }

    /// About what the group takes in memory: what the query cache counts.
    pub(crate) fn bytes(&self) -> usize {
        let keys: usize = self
            .runs
            .iter()
            .map(|r| {
                let k = &r.key;
                96 + k.measurement.len()
                    + k.field.len()
                    + k.tags.iter().map(|(a, b)| 48 + a.len() + b.len()).sum::<usize>()
            })
            .sum();
        self.times.len() * (size_of::<i64>() + size_of::<Agg>()) + keys
    }

    /// Starts a run for `key` at the next row, unless the last run has the same key (a run
    /// that goes on in the next record batch, or a dictionary that holds a value twice).
    fn start_run(&mut self, key: SeriesKey) {
        if self.runs.last().is_some_and(|r| *r.key == key) {
            return;
        }
        self.close_run();
        let at = self.times.len();
        self.runs.push(Run { key: Arc::new(key), start: at, end: at });
    }

    /// Ends the last run. Rows of a run are in time order, one per bucket, in every file strata
    /// writes; a run that is not (a file from elsewhere) is sorted and its equal buckets merged
    /// here, so readers can rely on it.
    fn close_run(&mut self) {
        let Some(run) = self.runs.last_mut() else { return };
        let rows = self.times.get(run.start..).unwrap_or_default();
        if !rows.windows(2).all(|w| matches!(w, [a, b] if a < b)) {
            let times = self.times.split_off(run.start);
            let aggs = self.aggs.split_off(run.start);
            merge_rows(&[(times.as_slice(), aggs.as_slice())], &mut self.times, &mut self.aggs);
        }
        run.end = self.times.len();
    }

    fn push(&mut self, time: i64, agg: Agg) {
        self.times.push(time);
        self.aggs.push(agg);
        if let Some(run) = self.runs.last_mut() {
            run.end = self.times.len();
        }
    }
}

/// Appends the rows of `parts` to `times` and `aggs` in time order, rows of one time merged in
/// the order given (parts in order, then rows in order): what one series' rows of files of
/// several flushes become. Parts that are each sorted and do not overlap in time (the usual
/// case: a day per file) are copied as they are.
pub(crate) fn merge_rows(parts: &[(&[i64], &[Agg])], times: &mut Vec<i64>, aggs: &mut Vec<Agg>) {
    let start = times.len();
    let mut order: Vec<&(&[i64], &[Agg])> = parts.iter().filter(|(t, _)| !t.is_empty()).collect();
    order.sort_by_key(|(t, _)| t.first().copied());
    let mut previous: Option<i64> = None;
    let disjoint = order.iter().all(|(t, _)| {
        let sorted = t.windows(2).all(|w| matches!(w, [a, b] if a < b));
        let after = previous.is_none_or(|last| t.first().is_some_and(|&first| first > last));
        previous = t.last().copied();
        sorted && after
    });
    if disjoint {
        for (t, a) in order {
            times.extend_from_slice(t);
            aggs.extend_from_slice(a);
        }
        return;
    }
    // (time, part, row): sorting these keeps the given order among rows of one time.
    let mut rows: Vec<(i64, usize, usize)> = parts
        .iter()
        .enumerate()
        .flat_map(|(p, (t, _))| t.iter().enumerate().map(move |(i, &time)| (time, p, i)))
        .collect();
    rows.sort_unstable();
    for (time, p, i) in rows {
        let Some(agg) = parts.get(p).and_then(|(_, a)| a.get(i)) else { continue };
        match (times.len() > start, times.last(), aggs.last_mut()) {
            (true, Some(&last), Some(merged)) if last == time => merged.merge(agg),
            _ => {
                times.push(time);
                aggs.push(*agg);
            }
        }
    }
}

/// Decodes the record batches of one row group, in order.
///
/// # Errors
/// What is wrong with the rows: a missing or mistyped column, a null where none may be, a
/// negative count, an unknown increase scope, a tag named twice.
pub(crate) fn decode(batches: impl Iterator<Item = Result<RecordBatch, String>>) -> Result<Group, String> {
    let mut group = Group::default();
    for batch in batches {
        decode_batch(&batch?, &mut group)?;
    }
    group.close_run();
    Ok(group)
}

/// The `time` column in nanoseconds: as stored before schema version 3, scaled from the
/// microseconds of version 3 on. Scaled once per batch, so the row loop and the binary searches
/// of [`Group::select`] see nanoseconds whatever the file's version.
fn bucket_starts(array: &ArrayRef) -> Result<std::borrow::Cow<'_, [i64]>, String> {
    if array.null_count() > 0 {
        return Err("column \"time\" has nulls".to_owned());
    }
    if let Some(t) = array.as_primitive_opt::<TimestampNanosecondType>() {
        return Ok(std::borrow::Cow::Borrowed(t.values().as_ref()));
    }
    let micros = array
        .as_primitive_opt::<TimestampMicrosecondType>()
        .ok_or("column \"time\" is not a timestamp of nanoseconds or microseconds")?;
    let ns: Option<Vec<i64>> = micros.values().iter().map(|&us| us.checked_mul(1_000)).collect();
    ns.map(std::borrow::Cow::Owned)
        .ok_or_else(|| "column \"time\" holds a time past 2262 (i64 nanoseconds)".to_owned())
}

/// A key column as the reader hands it out: dictionary indices into UTF-8 values.
struct KeyColumn<'a> {
    keys: &'a Int32Array,
    values: &'a StringArray,
}

impl<'a> KeyColumn<'a> {
    fn of(batch: &'a RecordBatch, name: &str) -> Result<KeyColumn<'a>, String> {
        let array = column(batch, name)?;
        let dictionary = array
            .as_dictionary_opt::<Int32Type>()
            .ok_or_else(|| format!("column {name:?} is not UTF-8 text"))?;
        let values = dictionary
            .values()
            .as_string_opt::<i32>()
            .ok_or_else(|| format!("column {name:?} is not UTF-8"))?;
        Ok(KeyColumn { keys: dictionary.keys(), values })
    }

    /// Marks the rows whose value differs from the row before's (by index; a value held twice
    /// in the dictionary only costs a needless key comparison).
    fn mark_changes(&self, changes: &mut [bool]) {
        let keys = self.keys.values();
        if self.keys.null_count() == 0 {
            for (i, w) in keys.windows(2).enumerate() {
                if let ([a, b], Some(change)) = (w, changes.get_mut(i + 1))
                    && a != b
                {
                    *change = true;
                }
            }
            return;
        }
        for i in 1..keys.len() {
            let same = match (self.keys.is_valid(i - 1), self.keys.is_valid(i)) {
                (true, true) => keys.get(i - 1) == keys.get(i),
                (a, b) => a == b,
            };
            if let (false, Some(change)) = (same, changes.get_mut(i)) {
                *change = true;
            }
        }
    }

    fn get(&self, i: usize) -> Option<&'a str> {
        if i >= self.keys.len() || !self.keys.is_valid(i) {
            return None;
        }
        let k = usize::try_from(*self.keys.values().get(i)?).ok()?;
        (k < self.values.len() && self.values.is_valid(k)).then(|| self.values.value(k))
    }
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef, String> {
    batch.column_by_name(name).ok_or_else(|| format!("no column {name:?}"))
}

fn key_at(
    metric: &KeyColumn<'_>,
    field: &KeyColumn<'_>,
    tag_columns: &[KeyColumn<'_>],
    other: &KeyColumn<'_>,
    i: usize,
) -> Result<SeriesKey, String> {
    let mut tags = Vec::new();
    for ((_, name), col) in TAG_COLUMNS.iter().zip(tag_columns) {
        if let Some(v) = col.get(i) {
            tags.push(((*name).to_owned(), v.to_owned()));
        }
    }
    if let Some(text) = other.get(i) {
        decode_other_tags(text, &mut tags)?;
    }
    tags.sort();
    if tags.windows(2).any(|w| matches!(w, [a, b] if a.0 == b.0)) {
        return Err(format!("row {i} names a tag twice"));
    }
    Ok(SeriesKey {
        measurement: metric.get(i).ok_or_else(|| format!("row {i}: null metric"))?.to_owned(),
        field: field.get(i).ok_or_else(|| format!("row {i}: null field"))?.to_owned(),
        tags,
    })
}

fn decode_batch(batch: &RecordBatch, group: &mut Group) -> Result<(), String> {
    let n = batch.num_rows();
    let metric = KeyColumn::of(batch, "metric")?;
    let field = KeyColumn::of(batch, "field")?;
    let tag_columns: Vec<KeyColumn<'_>> =
        TAG_COLUMNS.iter().map(|(name, _)| KeyColumn::of(batch, name)).collect::<Result<_, _>>()?;
    let other = KeyColumn::of(batch, "tags")?;
    let mut changes = vec![false; n];
    if let Some(first) = changes.first_mut() {
        *first = true;
    }
    for key_column in [&metric, &field, &other].into_iter().chain(&tag_columns) {
        key_column.mark_changes(&mut changes);
    }
    let ints = |name: &str| -> Result<&[i64], String> {
        let array = column(batch, name)?;
        if array.null_count() > 0 {
            return Err(format!("column {name:?} has nulls"));
        }
        if let Some(t) = array.as_primitive_opt::<TimestampNanosecondType>() {
            return Ok(t.values());
        }
        array
            .as_primitive_opt::<Int64Type>()
            .map(|a| a.values().as_ref())
            .ok_or_else(|| format!("column {name:?} is not a 64-bit integer"))
    };
    let floats = |name: &str| -> Result<&[f64], String> {
        let array = column(batch, name)?;
        if array.null_count() > 0 {
            return Err(format!("column {name:?} has nulls"));
        }
        array
            .as_primitive_opt::<Float64Type>()
            .map(|a| a.values().as_ref())
            .ok_or_else(|| format!("column {name:?} is not a double"))
    };
    let time = bucket_starts(column(batch, "time")?)?;
    let (count, first_time, last_time) = (ints("count")?, ints("first_time")?, ints("last_time")?);
    // (v2) A counter's increase; a version 1 file has neither column.
    let increase = match batch.column_by_name("increase") {
        None => None,
        Some(array) => {
            Some(array.as_primitive_opt::<Float64Type>().ok_or("column \"increase\" is not a double")?)
        }
    };
    let increase_scope = match batch.column_by_name("increase_scope") {
        None => None,
        Some(array) => Some(
            array
                .as_primitive_opt::<Int8Type>()
                .ok_or("column \"increase_scope\" is not an 8-bit integer")?,
        ),
    };
    let (sum, sum_lo, min, max, first, last) = (
        floats("sum")?,
        floats("sum_lo")?,
        floats("min")?,
        floats("max")?,
        floats("first")?,
        floats("last")?,
    );
    group.times.reserve(n);
    group.aggs.reserve(n);
    for (i, &change) in changes.iter().enumerate() {
        if change {
            group.start_run(key_at(&metric, &field, &tag_columns, &other, i)?);
        }
        let at = |column: &[f64]| column.get(i).copied().unwrap_or(f64::NAN);
        let increase = match (increase, increase_scope) {
            (Some(v), Some(s)) if i < v.len() && i < s.len() && v.is_valid(i) && s.is_valid(i) => {
                let scope = u8::try_from(s.value(i))
                    .ok()
                    .and_then(IncreaseScope::from_u8)
                    .ok_or_else(|| format!("row {i}: increase_scope {} is not 0, 1 or 2", s.value(i)))?;
                Some(Increase { value: v.value(i), scope })
            }
            (Some(v), Some(s)) if i < v.len() && i < s.len() && v.is_valid(i) != s.is_valid(i) => {
                return Err(format!("row {i}: increase and increase_scope are not both null or both set"));
            }
            _ => None,
        };
        let agg = Agg {
            count: count.get(i).and_then(|c| u64::try_from(*c).ok()).ok_or("negative count")?,
            sum: at(sum),
            sum_lo: at(sum_lo),
            min: at(min),
            max: at(max),
            first: at(first),
            first_time: first_time.get(i).copied().unwrap_or_default(),
            last: at(last),
            last_time: last_time.get(i).copied().unwrap_or_default(),
            increase,
        };
        group.push(time.get(i).copied().ok_or("short time column")?, agg);
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests may panic")]
mod tests {
    use super::*;

    fn agg(v: f64) -> Agg {
        Agg::point(0, v)
    }

    #[test]
    fn disjoint_parts_are_copied_in_time_order() {
        let (a_t, a_a) = (vec![120, 180], vec![agg(3.0), agg(4.0)]);
        let (b_t, b_a) = (vec![0, 60], vec![agg(1.0), agg(2.0)]);
        let (mut t, mut a) = (Vec::new(), Vec::new());
        merge_rows(&[(&a_t[..], &a_a[..]), (&b_t[..], &b_a[..])], &mut t, &mut a);
        assert_eq!(t, [0, 60, 120, 180]);
        assert_eq!(a.iter().map(|g| g.sum).collect::<Vec<_>>(), [1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn overlapping_parts_merge_equal_buckets_in_the_order_given() {
        let mut later = Agg::point(5, 9.0);
        later.last_time = 5;
        let (a_t, a_a) = (vec![0, 60], vec![Agg::point(1, 1.0), agg(2.0)]);
        let (b_t, b_a) = (vec![0], vec![later]);
        let (mut t, mut a) = (Vec::new(), Vec::new());
        merge_rows(&[(&a_t[..], &a_a[..]), (&b_t[..], &b_a[..])], &mut t, &mut a);
        assert_eq!(t, [0, 60]);
        assert_eq!((a[0].count, a[0].sum, a[0].last), (2, 10.0, 9.0));
    }
}
