//! Rows into file order: by series key (see [`cmp_keys`]), then time, one row per (series,
//! bucket).

use std::cmp::Ordering;
use std::sync::Arc;

use super::{Row, TAG_COLUMNS, cmp_keys, other_tags};
use crate::series::SeriesKey;

/// Puts runs of rows into file order, merging rows of the same series and bucket: the runs
/// returned, concatenated, are the rows in file order.
///
/// A run is rows already in file order, such as one series' rows from the downsampling. When
/// the runs, ordered by their first rows, do not overlap (each one ends before the next one
/// starts), only the runs are ordered: a key comparison per run instead of per row, and no row
/// moves (a copy of every row into one vector cost about as much as the sort it replaced).
/// Otherwise every row is sorted by [`sort_and_merge`], into one run.
pub fn sort_runs(mut runs: Vec<Vec<Row>>) -> Vec<Vec<Row>> {
    runs.retain(|run| !run.is_empty());
    if let Some(order) = disjoint_order(&runs) {
        let mut runs: Vec<Option<Vec<Row>>> = runs.into_iter().map(Some).collect();
        return order.into_iter().filter_map(|i| runs.get_mut(i).and_then(Option::take)).collect();
    }
    let mut rows: Vec<Row> = runs.into_iter().flatten().collect();
    sort_and_merge(&mut rows);
    vec![rows]
}

/// The order of `runs` (none empty) that concatenates them into file order, if there is one:
/// each run in order, and, ordered by their first rows, each ending before the next starts.
fn disjoint_order(runs: &[Vec<Row>]) -> Option<Vec<usize>> {
    if !runs.iter().all(|run| run.windows(2).all(|w| matches!(w, [a, b] if cmp_rows(a, b).is_lt()))) {
        return None;
    }
    // Each run's first and last keys spelled out once, so sorting and the overlap check compare
    // fields instead of searching tags.
    let firsts: Vec<_> = runs.iter().map(|run| ends(run.first())).collect();
    let lasts: Vec<_> = runs.iter().map(|run| ends(run.last())).collect();
    let mut order: Vec<usize> = (0..runs.len()).collect();
    order.sort_unstable_by(|&a, &b| firsts.get(a).cmp(&firsts.get(b)).then(a.cmp(&b)));
    let disjoint = order.windows(2).all(|w| match (w.first(), w.get(1)) {
        (Some(&a), Some(&b)) => {
            matches!((lasts.get(a), firsts.get(b)), (Some(Some(last)), Some(Some(first))) if last < first)
        }
        _ => false,
    });
    disjoint.then_some(order)
}

/// A row's place in file order, spelled out: key, then time.
fn ends(row: Option<&Row>) -> Option<(SortKey<'_>, i64)> {
    row.map(|row| (SortKey::of(&row.key), row.time))
}

fn cmp_rows(a: &Row, b: &Row) -> Ordering {
    cmp_keys(&a.key, &b.key).then(a.time.cmp(&b.time))
}

/// A series key as [`cmp_keys`] orders it, field by field (the derived order is that order).
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct SortKey<'a> {
    measurement: &'a str,
    field: &'a str,
    columns: [Option<&'a str>; TAG_COLUMNS.len()],
    other: Vec<&'a (String, String)>,
}

impl<'a> SortKey<'a> {
    fn of(key: &'a SeriesKey) -> SortKey<'a> {
        SortKey {
            measurement: &key.measurement,
            field: &key.field,
            columns: TAG_COLUMNS.map(|(_, tag)| key.tag(tag)),
            other: other_tags(key).collect(),
        }
    }
}

/// Sorts rows into file order and merges rows of the same series and bucket.
pub fn sort_and_merge(rows: &mut Vec<Row>) {
    // Rank each distinct key once (comparing keys is the costly part), then sort rows by
    // (rank, time) as integers. Rows of one series mostly come together: the pointer check
    // skips the hash lookup for them.
    let mut keys: Vec<Arc<SeriesKey>> = Vec::new();
    let mut ids: rustc_hash::FxHashMap<Arc<SeriesKey>, u32> = rustc_hash::FxHashMap::default();
    let mut row_ids: Vec<u32> = Vec::with_capacity(rows.len());
    let mut last: Option<(*const SeriesKey, u32)> = None;
    for row in rows.iter() {
        let id = match last {
            Some((ptr, id)) if std::ptr::eq(ptr, Arc::as_ptr(&row.key)) => id,
            _ => {
                let next = u32::try_from(keys.len()).unwrap_or(u32::MAX);
                let id = *ids.entry(row.key.clone()).or_insert_with(|| {
                    keys.push(row.key.clone());
                    next
                });
                last = Some((Arc::as_ptr(&row.key), id));
                id
            }
        };
        row_ids.push(id);
    }
    let mut by_key: Vec<u32> = (0..u32::try_from(keys.len()).unwrap_or(u32::MAX)).collect();
    by_key.sort_by(|&a, &b| match (keys.get(a as usize), keys.get(b as usize)) {
        (Some(a), Some(b)) => cmp_keys(a, b),
        _ => Ordering::Equal,
    });
    let mut rank = vec![0u32; keys.len()];
    for (r, &k) in by_key.iter().enumerate() {
        if let Some(slot) = rank.get_mut(k as usize) {
            *slot = u32::try_from(r).unwrap_or(u32::MAX);
        }
    }
    let mut order: Vec<(u32, i64, u32)> = row_ids
        .iter()
        .zip(rows.iter())
        .enumerate()
        .map(|(i, (&id, row))| {
            (
                rank.get(id as usize).copied().unwrap_or(u32::MAX),
                row.time,
                u32::try_from(i).unwrap_or(u32::MAX),
            )
        })
        .collect();
    // Stable within equal (rank, time) by the original index: partial rows merge in order.
    order.sort_unstable();
    let mut taken: Vec<Option<Row>> = std::mem::take(rows).into_iter().map(Some).collect();
    let mut previous: Option<(u32, i64)> = None;
    for (r, time, i) in order {
        let Some(row) = taken.get_mut(i as usize).and_then(Option::take) else { continue };
        match (previous, rows.last_mut()) {
            (Some(p), Some(kept)) if p == (r, time) => kept.agg.merge(&row.agg),
            _ => {
                // Rows of one key share one Arc, which keeps later grouping by pointer cheap.
                let key = keys
                    .get(by_key.get(r as usize).copied().unwrap_or(0) as usize)
                    .cloned()
                    .unwrap_or(row.key);
                rows.push(Row { key, ..row });
            }
        }
        previous = Some((r, time));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests may panic")]
mod tests {
    use super::*;
    use crate::tier::agg::Agg;

    const M: i64 = 60_000_000_000;

    fn key(host: &str, extra: &[(&str, &str)]) -> Arc<SeriesKey> {
        let mut tags: Vec<(String, String)> = [("hostname", host), ("type", "node")]
            .iter()
            .chain(extra)
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        tags.sort();
        Arc::new(SeriesKey { measurement: "cpu".into(), field: "value".into(), tags })
    }

    /// A run of `key` over minutes `from..to`, values from `value`.
    fn run(key: &Arc<SeriesKey>, from: i64, to: i64, value: f64) -> Vec<Row> {
        (from..to)
            .map(|t| Row { key: key.clone(), time: t * M, agg: Agg::point(t * M + 1, value + t as f64) })
            .collect()
    }

    fn by_rows(runs: &[Vec<Row>]) -> Vec<Row> {
        let mut rows: Vec<Row> = runs.iter().flatten().cloned().collect();
        sort_and_merge(&mut rows);
        rows
    }

    fn sorted(runs: Vec<Vec<Row>>) -> Vec<Row> {
        sort_runs(runs).into_iter().flatten().collect()
    }

    #[test]
    fn series_runs_in_any_order_are_concatenated_in_file_order() {
        // Tags outside the tag columns, an absent tag column, and two runs of one series.
        let (a, b, c) = (key("h1", &[("rack", "r2")]), key("h1", &[]), key("h0", &[("type-id", "3")]));
        let runs = vec![run(&a, 0, 5, 1.0), run(&c, 0, 3, 2.0), run(&b, 4, 6, 3.0), run(&b, 0, 2, 4.0)];
        let expected = by_rows(&runs);
        // h0 first; of h1, no other tags before `rack`; b's runs by time.
        assert_eq!(disjoint_order(&runs), Some(vec![1, 3, 2, 0]));
        assert_eq!(sorted(runs), expected);
    }

    #[test]
    fn overlapping_runs_merge_their_rows_of_one_bucket() {
        let a = key("h1", &[]);
        // Minutes 3 and 4 in both runs: partial rows that merge, in the order given.
        let runs = vec![run(&a, 3, 8, 1.0), run(&a, 0, 5, 10.0)];
        assert!(disjoint_order(&runs).is_none());
        let expected = by_rows(&runs);
        let rows = sorted(runs);
        assert_eq!(rows, expected);
        assert_eq!(rows.len(), 8);
        assert_eq!(rows[3].agg.count, 2);
    }

    #[test]
    fn a_run_out_of_order_is_sorted() {
        let (a, b) = (key("h1", &[]), key("h0", &[]));
        let mut mixed = run(&a, 0, 3, 1.0);
        mixed.extend(run(&b, 0, 3, 2.0));
        let runs = vec![mixed];
        assert!(disjoint_order(&runs).is_none());
        let expected = by_rows(&runs);
        assert_eq!(sorted(runs), expected);
    }

    #[test]
    fn one_run_of_many_series_in_file_order_stays_as_it_is() {
        let (a, b) = (key("h0", &[]), key("h1", &[]));
        let mut rows = run(&a, 0, 3, 1.0);
        rows.extend(run(&b, 0, 3, 2.0));
        assert_eq!(sort_runs(vec![Vec::new(), rows.clone(), Vec::new()]), vec![rows]);
        assert!(sort_runs(Vec::new()).is_empty());
    }
}
