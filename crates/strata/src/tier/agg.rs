//! The aggregate a downsampled row carries: count, sum, min, max, first and last, with the times
//! of first and last.
//!
//! Aggregates of disjoint point sets merge into the aggregate of their union (counts and sums
//! add, min of mins, the earliest first, the latest last), so a bucket written in parts (late
//! points, backfill) or rolled up from finer rows answers as if built from its points at once.
//!
//! Sums are kept as a double-double (`sum` plus `sum_lo`, the rounding error of `sum`), updated
//! with error-free transformations. While the exact sum of a bucket fits in 106 significant
//! bits, which holds for any data whose values span less than about 2^50 in magnitude, every
//! grouping of the same points gives the same `sum` to the last bit: hot, warm and cold answer
//! alike. Past that, groupings agree to about 1e-32 relative.
//!
//! A counter's row also keeps its [`Increase`]: the reset-corrected increase over consecutive
//! points of the row. Rows of adjacent time spans merge exactly (the pair across their
//! boundary is `first` of the later minus `last` of the earlier); how partial rows whose
//! points interleave merge is in [`IncreaseScope`] and docs/FORMATS.md.

/// Count, sum, min, max, first and last of the points of one series in one bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Agg {
    pub count: u64,
    /// The sum, correctly rounded from `sum + sum_lo`.
    pub sum: f64,
    /// What `sum` lacks of the exact sum (double-double low part).
    pub sum_lo: f64,
    pub min: f64,
    pub max: f64,
    /// The value of the earliest point, and its time (ns).
    pub first: f64,
    pub first_time: i64,
    /// The value of the latest point, and its time (ns).
    pub last: f64,
    pub last_time: i64,
    /// A counter's reset-corrected increase; `None` for a gauge, and for a counter's row that
    /// does not know it (written as a gauge, or by a strata before tier schema version 2).
    pub increase: Option<Increase>,
}

/// The reset-corrected increase of a counter's row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Increase {
    pub value: f64,
    pub scope: IncreaseScope,
}

/// What an [`Increase`] covers. Stored as the tier column `increase_scope` (its `u8` value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum IncreaseScope {
    /// The sum of [`step`] over consecutive points of this row: exact for its points.
    Own = 0,
    /// The increase of every point of the bucket written so far, those of rows of the bucket
    /// written before this one included: merged after them, it replaces their increase. The
    /// warm flush writes it for late points while hot still holds their whole bucket, the
    /// cold rollup for late warm rows while warm holds their whole hour.
    Bucket = 1,
    /// Merged from rows whose points interleave in time, none of them a `Bucket` row: the
    /// pairs of points between the rows are unknown, so this is the sum of the rows' own
    /// increases, which may be above or below the true one. Queries say so in their notes.
    Inexact = 2,
}

impl IncreaseScope {
    /// The scope of a stored `increase_scope` value.
    pub fn from_u8(value: u8) -> Option<IncreaseScope> {
        match value {
            0 => Some(IncreaseScope::Own),
            1 => Some(IncreaseScope::Bucket),
            2 => Some(IncreaseScope::Inexact),
            _ => None,
        }
    }
}

/// The reset-corrected increase from a counter value to the next: their difference, or, when
/// the value dropped (the counter restarted from 0), the new value. Wraps of fixed-width
/// counters are not told from resets.
#[inline]
pub fn step(from: f64, to: f64) -> f64 {
    if to >= from { to - from } else { to }
}

impl Agg {
    /// The aggregate of one point of a gauge.
    #[inline]
    pub fn point(time: i64, value: f64) -> Agg {
        Agg {
            count: 1,
            sum: value,
            sum_lo: 0.0,
            min: value,
            max: value,
            first: value,
            first_time: time,
            last: value,
            last_time: time,
            increase: None,
        }
    }

    /// The aggregate of one point of a counter: an increase of 0 so far.
    #[inline]
    pub fn counter_point(time: i64, value: f64) -> Agg {
        Agg { increase: Some(Increase { value: 0.0, scope: IncreaseScope::Own }), ..Agg::point(time, value) }
    }

    /// The aggregate of one point of a metric of `kind`.
    #[inline]
    pub fn point_of(kind: crate::config::MetricKind, time: i64, value: f64) -> Agg {
        match kind {
            crate::config::MetricKind::Gauge => Agg::point(time, value),
            crate::config::MetricKind::Counter => Agg::counter_point(time, value),
        }
    }

    /// Adds a point later than every point added so far (points in time order).
    #[inline]
    pub fn push_sorted(&mut self, time: i64, value: f64) {
        if let Some(increase) = &mut self.increase {
            increase.value += step(self.last, value);
        }
        self.count += 1;
        (self.sum, self.sum_lo) = dd_add(self.sum, self.sum_lo, value, 0.0);
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        self.last = value;
        self.last_time = time;
    }

    /// Merges the aggregate of another, disjoint set of points. For first and last, a tie in
    /// time keeps `other`'s value: the part merged later is the one written later.
    ///
    /// Increases: when one part's points all precede the other's, the pair across them is
    /// added and the merge is exact; an `other` of scope [`IncreaseScope::Bucket`] replaces
    /// the increase (it was computed from every point of the bucket, so rows of a bucket must
    /// be merged in the order they were written); parts that interleave otherwise give an
    /// [`IncreaseScope::Inexact`] sum. A part without an increase makes it unknown.
    #[inline]
    pub fn merge(&mut self, other: &Agg) {
        self.increase = match (self.increase, other.increase) {
            (Some(a), Some(b)) => Some(self.merged_increase(a, other, b)),
            _ => None,
        };
        self.count += other.count;
        (self.sum, self.sum_lo) = dd_add(self.sum, self.sum_lo, other.sum, other.sum_lo);
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        if other.first_time <= self.first_time {
            self.first = other.first;
            self.first_time = other.first_time;
        }
        if other.last_time >= self.last_time {
            self.last = other.last;
            self.last_time = other.last_time;
        }
    }

    /// Once every row of its bucket is merged, a [`IncreaseScope::Bucket`] increase is the
    /// bucket's own: settled, it chains with other buckets like any other.
    #[inline]
    pub fn settle(&mut self) {
        if let Some(increase) = &mut self.increase
            && increase.scope == IncreaseScope::Bucket
        {
            increase.scope = IncreaseScope::Own;
        }
    }

    fn merged_increase(&self, a: Increase, other: &Agg, b: Increase) -> Increase {
        use IncreaseScope::{Bucket, Inexact, Own};
        if b.scope == Bucket {
            return Increase { value: b.value, scope: Own };
        }
        let mut inexact = a.scope == Inexact || b.scope == Inexact;
        let value = if self.last_time < other.first_time {
            a.value + step(self.last, other.first) + b.value
        } else if other.last_time < self.first_time {
            b.value + step(other.last, self.first) + a.value
        } else {
            inexact = true;
            a.value + b.value
        };
        Increase { value, scope: if inexact { Inexact } else { Own } }
    }

    /// The mean, from the double-double sum.
    pub fn avg(&self) -> f64 {
        if self.count == 0 { f64::NAN } else { (self.sum + self.sum_lo) / self.count as f64 }
    }
}

/// The aggregate of points in time order, or `None` for no points.
pub fn of_sorted(times: &[i64], values: &[f64]) -> Option<Agg> {
    of_sorted_as(crate::config::MetricKind::Gauge, times, values)
}

/// The aggregate of points of a metric of `kind` in time order, or `None` for no points.
pub fn of_sorted_as(kind: crate::config::MetricKind, times: &[i64], values: &[f64]) -> Option<Agg> {
    let (&t0, &v0) = (times.first()?, values.first()?);
    let mut agg = Agg::point_of(kind, t0, v0);
    for (&t, &v) in times.iter().zip(values).skip(1) {
        agg.push_sorted(t, v);
    }
    Some(agg)
}

/// Double-double addition: `(a_hi + a_lo) + (b_hi + b_lo)`, renormalized so the high part is
/// the correctly rounded sum. Exact while the result fits in 106 significant bits.
#[inline]
fn dd_add(a_hi: f64, a_lo: f64, b_hi: f64, b_lo: f64) -> (f64, f64) {
    let (s, e) = two_sum(a_hi, b_hi);
    let e = e + (a_lo + b_lo);
    let hi = s + e;
    let lo = e - (hi - s);
    (hi, lo)
}

/// Knuth's TwoSum: `s + e == a + b` exactly, `s = fl(a + b)`.
#[inline]
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    let e = (a - (s - bb)) + (b - bb);
    (s, e)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests may panic")]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Values as metrics carry them: decimals with a few digits, over a wide but bounded range.
    fn value() -> impl Strategy<Value = f64> {
        (-1_000_000_000i64..1_000_000_000, 0u32..5).prop_map(|(m, d)| m as f64 / 10f64.powi(d as i32))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]
        /// Any split of the points, merged in any order, gives the aggregate of all of them,
        /// bit for bit.
        #[test]
        fn merging_parts_equals_the_whole(
            values in proptest::collection::vec(value(), 1..300),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
            reverse in any::<bool>(),
        ) {
            let times: Vec<i64> = (0..values.len() as i64).map(|i| i * 10).collect();
            let whole = of_sorted(&times, &values).unwrap();
            let mut bounds: Vec<usize> = cuts.iter().map(|c| c.index(values.len())).collect();
            bounds.extend([0, values.len()]);
            bounds.sort_unstable();
            bounds.dedup();
            let mut parts: Vec<Agg> = bounds
                .windows(2)
                .filter_map(|w| of_sorted(&times[w[0]..w[1]], &values[w[0]..w[1]]))
                .collect();
            if reverse {
                parts.reverse();
            }
            let mut merged = parts[0];
            for part in &parts[1..] {
                merged.merge(part);
            }
            prop_assert_eq!(merged.count, whole.count);
            prop_assert_eq!(merged.sum.to_bits(), whole.sum.to_bits());
            prop_assert_eq!(merged.sum_lo.to_bits(), whole.sum_lo.to_bits());
            prop_assert_eq!((merged.min, merged.max), (whole.min, whole.max));
            prop_assert_eq!((merged.first, merged.first_time), (whole.first, whole.first_time));
            prop_assert_eq!((merged.last, merged.last_time), (whole.last, whole.last_time));
        }
    }

    /// A counter's values: growing by random steps, restarting from a small value now and then.
    fn counter(steps: &[(u32, bool)]) -> Vec<f64> {
        let mut v = 0.0;
        steps
            .iter()
            .map(|&(step, reset)| {
                v = if reset { f64::from(step % 7) } else { v + f64::from(step) * 0.5 };
                v
            })
            .collect()
    }

    /// The reset-corrected increase over consecutive values, straight from its definition.
    fn increase_of(values: &[f64]) -> f64 {
        values.windows(2).map(|w| if w[1] >= w[0] { w[1] - w[0] } else { w[1] }).sum()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// A counter split into parts of consecutive points, merged in any order, has the
        /// increase of the whole, exactly (the values are multiples of 0.5).
        #[test]
        fn counter_parts_in_time_merge_exactly(
            steps in proptest::collection::vec((0u32..1000, proptest::bool::weighted(0.1)), 1..200),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
            order in any::<prop::sample::Index>(),
        ) {
            let values = counter(&steps);
            let times: Vec<i64> = (0..values.len() as i64).map(|i| i * 10).collect();
            let kind = crate::config::MetricKind::Counter;
            let whole = of_sorted_as(kind, &times, &values).unwrap();
            prop_assert_eq!(whole.increase.unwrap().value, increase_of(&values));
            let mut bounds: Vec<usize> = cuts.iter().map(|c| c.index(values.len())).collect();
            bounds.extend([0, values.len()]);
            bounds.sort_unstable();
            bounds.dedup();
            let mut parts: Vec<Agg> = bounds
                .windows(2)
                .filter_map(|w| of_sorted_as(kind, &times[w[0]..w[1]], &values[w[0]..w[1]]))
                .collect();
            // Adjacent parts merge into one another, in any order of adjacent pairs.
            while parts.len() > 1 {
                let i = order.index(parts.len() - 1);
                let later = parts.remove(i + 1);
                parts[i].merge(&later);
            }
            prop_assert_eq!(parts[0].increase, whole.increase);
        }
    }

    #[test]
    fn a_reset_counts_the_new_value() {
        let kind = crate::config::MetricKind::Counter;
        let agg = of_sorted_as(kind, &[1, 2, 3, 4], &[10.0, 15.0, 4.0, 6.0]).unwrap();
        assert_eq!(agg.increase, Some(Increase { value: 5.0 + 4.0 + 2.0, scope: IncreaseScope::Own }));
        assert_eq!(of_sorted(&[1, 2], &[1.0, 2.0]).unwrap().increase, None, "a gauge keeps none");
        // Across a boundary: the later part's first against the earlier part's last.
        let mut a = of_sorted_as(kind, &[1, 2], &[10.0, 15.0]).unwrap();
        a.merge(&of_sorted_as(kind, &[3, 4], &[4.0, 6.0]).unwrap());
        assert_eq!(a.increase.unwrap().value, 11.0);
    }

    #[test]
    fn interleaved_parts_are_inexact_unless_a_bucket_row_replaces() {
        let kind = crate::config::MetricKind::Counter;
        let old = of_sorted_as(kind, &[1, 3], &[10.0, 30.0]).unwrap();
        let late = of_sorted_as(kind, &[2], &[20.0]).unwrap();
        let mut merged = old;
        merged.merge(&late);
        assert_eq!(merged.increase, Some(Increase { value: 20.0, scope: IncreaseScope::Inexact }));
        assert_eq!(merged.count, 3);
        // The same late point written as a bucket row (hot held the bucket): exact.
        let whole = of_sorted_as(kind, &[1, 2, 3], &[10.0, 20.0, 30.0]).unwrap();
        let bucket = Agg {
            increase: Some(Increase { value: whole.increase.unwrap().value, scope: IncreaseScope::Bucket }),
            ..late
        };
        let mut merged = old;
        merged.merge(&bucket);
        assert_eq!(merged, whole);
        // A part that knows no increase (a row written as a gauge) makes it unknown.
        let mut merged = old;
        merged.merge(&of_sorted(&[5], &[50.0]).unwrap());
        assert_eq!(merged.increase, None);
    }

    #[test]
    fn sums_do_not_lose_small_terms() {
        // A naive f64 sum of these is 1e16; the exact sum is 1e16 + 4.
        let values = [1e16, 1.0, 1.0, 1.0, 1.0];
        let agg = of_sorted(&[1, 2, 3, 4, 5], &values).unwrap();
        assert_eq!(agg.sum + agg.sum_lo, 1e16 + 4.0);
        assert_eq!(agg.sum, 1e16 + 4.0);
    }
}
