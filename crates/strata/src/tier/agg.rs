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
}

impl Agg {
    /// The aggregate of one point.
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
        }
    }

    /// Adds a point later than every point added so far (points in time order).
    #[inline]
    pub fn push_sorted(&mut self, time: i64, value: f64) {
        self.count += 1;
        (self.sum, self.sum_lo) = dd_add(self.sum, self.sum_lo, value, 0.0);
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        self.last = value;
        self.last_time = time;
    }

    /// Merges the aggregate of another, disjoint set of points. For first and last, a tie in
    /// time keeps `other`'s value: the part merged later is the one written later.
    #[inline]
    pub fn merge(&mut self, other: &Agg) {
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

    /// The mean, from the double-double sum.
    pub fn avg(&self) -> f64 {
        if self.count == 0 { f64::NAN } else { (self.sum + self.sum_lo) / self.count as f64 }
    }
}

/// The aggregate of points in time order, or `None` for no points.
pub fn of_sorted(times: &[i64], values: &[f64]) -> Option<Agg> {
    let (&t0, &v0) = (times.first()?, values.first()?);
    let mut agg = Agg::point(t0, v0);
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

    #[test]
    fn sums_do_not_lose_small_terms() {
        // A naive f64 sum of these is 1e16; the exact sum is 1e16 + 4.
        let values = [1e16, 1.0, 1.0, 1.0, 1.0];
        let agg = of_sorted(&[1, 2, 3, 4, 5], &values).unwrap();
        assert_eq!(agg.sum + agg.sum_lo, 1e16 + 4.0);
        assert_eq!(agg.sum, 1e16 + 4.0);
    }
}
