//! Downsampling: one series' points in time order become one row per bucket with points.

use std::sync::Arc;

use super::agg::Agg;
use super::bucket;
use super::file::Row;
use crate::config::MetricKind;
use crate::series::SeriesKey;

/// Rows of one series' points in time order: one per bucket of `res` nanoseconds with points;
/// a counter's rows keep their increase. The compactor's inner loop; public for benchmarks.
pub fn downsample(
    key: &Arc<SeriesKey>,
    kind: MetricKind,
    times: &[i64],
    values: &[f64],
    res: i64,
) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut current: Option<(i64, Agg)> = None;
    for (&t, &v) in times.iter().zip(values) {
        let b = bucket(t, res);
        match &mut current {
            Some((start, agg)) if *start == b => agg.push_sorted(t, v),
            _ => {
                if let Some((time, agg)) = current.take() {
                    rows.push(Row { key: key.clone(), time, agg });
                }
                current = Some((b, Agg::point_of(kind, t, v)));
            }
        }
    }
    if let Some((time, agg)) = current {
        rows.push(Row { key: key.clone(), time, agg });
    }
    rows
}
