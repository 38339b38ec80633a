//! Combining the nodes' buckets of one series.
//!
//! A series is normally held by one node, whose buckets pass through untouched. When two or
//! more nodes hold a bucket of the same series (a partition that moved between them), their
//! rows merge exactly only if their points are provably apart: ordered by their first points,
//! each row's last point comes before the next row's first. Otherwise they may hold the same
//! points, which a sum would count twice: the bucket is answered from the row with the most
//! points alone, and the overlap is reported in the notes.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::query::execute::Buckets;
use crate::series::SeriesKey;
use crate::tier::Agg;
use crate::units::format_time;

/// Every series' buckets over all nodes; a note per series whose nodes overlap.
pub(super) fn combine(
    per_node: Vec<(&str, BTreeMap<Arc<SeriesKey>, Buckets>)>,
    notes: &mut Vec<String>,
) -> BTreeMap<Arc<SeriesKey>, Buckets> {
    let mut held: BTreeMap<Arc<SeriesKey>, Vec<(&str, Buckets)>> = BTreeMap::new();
    for (node, series) in per_node {
        for (key, buckets) in series {
            held.entry(key).or_default().push((node, buckets));
        }
    }
    held.into_iter()
        .map(|(key, mut holders)| {
            if holders.len() == 1
                && let Some((_, buckets)) = holders.pop()
            {
                return (key, buckets);
            }
            let (buckets, overlap) = merge_holders(&holders);
            if let Some(overlap) = overlap {
                let nodes: Vec<&str> = holders.iter().map(|(node, _)| *node).collect();
                notes.push(format!(
                    "{key}: nodes {} hold points of {} bucket(s) from {} to {} that may be the same points; each such bucket is answered from one node's row (the one with the most points), not summed",
                    nodes.join(", "),
                    overlap.buckets,
                    format_time(overlap.first),
                    format_time(overlap.last),
                ));
            }
            (key, buckets)
        })
        .collect()
}

/// Buckets where nodes' rows could not be told apart.
#[derive(Debug, PartialEq)]
struct Overlap {
    buckets: usize,
    first: i64,
    last: i64,
}

/// One series' buckets from several nodes, merged bucket by bucket.
fn merge_holders(holders: &[(&str, Buckets)]) -> (Buckets, Option<Overlap>) {
    let mut by_time: BTreeMap<i64, Vec<Agg>> = BTreeMap::new();
    for (_, buckets) in holders {
        for (&t, agg) in buckets.times.iter().zip(&buckets.aggs) {
            by_time.entry(t).or_default().push(*agg);
        }
    }
    let mut merged = Buckets::default();
    let mut overlap: Option<Overlap> = None;
    for (t, mut rows) in by_time {
        rows.sort_by_key(|a| a.first_time);
        let apart = rows.windows(2).all(|pair| matches!(pair, [a, b] if a.last_time < b.first_time));
        let agg = if apart {
            let mut rows = rows.into_iter();
            let Some(mut agg) = rows.next() else { continue };
            rows.for_each(|r| agg.merge(&r));
            agg
        } else {
            let o = overlap.get_or_insert(Overlap { buckets: 0, first: t, last: t });
            o.buckets += 1;
            o.last = t;
            let Some(most) = rows.into_iter().reduce(|a, b| if b.count > a.count { b } else { a }) else {
                continue;
            };
            most
        };
        merged.times.push(t);
        merged.aggs.push(agg);
    }
    (merged, overlap)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests may panic")]
mod tests {
    use super::*;

    fn row(points: &[(i64, f64)]) -> Agg {
        let mut agg = Agg::point(points[0].0, points[0].1);
        for &(t, v) in &points[1..] {
            agg.merge(&Agg::point(t, v));
        }
        agg
    }

    fn buckets(rows: Vec<(i64, Agg)>) -> Buckets {
        let (times, aggs) = rows.into_iter().unzip();
        Buckets { times, aggs }
    }

    #[test]
    fn rows_whose_points_are_apart_merge_exactly() {
        let a = buckets(vec![(0, row(&[(0, 1.0), (10, 2.0)])), (60, row(&[(60, 5.0)]))]);
        let b = buckets(vec![(60, row(&[(70, 7.0), (80, 3.0)])), (120, row(&[(120, 4.0)]))]);
        let (merged, overlap) = merge_holders(&[("a", a), ("b", b)]);
        assert_eq!(overlap, None);
        assert_eq!(merged.times, [0, 60, 120]);
        assert_eq!(merged.aggs[1], row(&[(60, 5.0), (70, 7.0), (80, 3.0)]));
    }

    #[test]
    fn rows_that_may_share_points_are_not_summed_and_are_reported() {
        // Node b holds a copy of a's point at 10 and one more: one row answers, b's.
        let a = buckets(vec![(0, row(&[(0, 1.0), (10, 2.0)]))]);
        let b = buckets(vec![(0, row(&[(10, 2.0), (20, 3.0), (30, 4.0)])), (60, row(&[(60, 1.0)]))]);
        let (merged, overlap) = merge_holders(&[("a", a), ("b", b)]);
        assert_eq!(overlap, Some(Overlap { buckets: 1, first: 0, last: 0 }));
        assert_eq!(merged.aggs[0].count, 3);
        assert_eq!(merged.times, [0, 60]);
        let mut notes = Vec::new();
        let key: Arc<SeriesKey> = Arc::new(SeriesKey {
            measurement: "cpu".into(),
            field: "value".into(),
            tags: vec![("hostname".into(), "n1".into())],
        });
        let nodes = vec![
            ("a", BTreeMap::from([(key.clone(), buckets(vec![(0, row(&[(0, 1.0), (10, 2.0)]))]))])),
            ("b", BTreeMap::from([(key, buckets(vec![(0, row(&[(5, 1.0)]))]))])),
        ];
        let combined = combine(nodes, &mut notes);
        assert_eq!(combined.len(), 1);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("nodes a, b hold points of 1 bucket(s)"), "{notes:?}");
    }
}
