//! A series' open window: its points coded as they arrive (`strata_codec::Stream`, a few bits
//! a point), with the few that arrive out of order kept aside until enough gather to rebuild
//! the stream with them.

use strata_codec::Stream;

/// Out-of-order points gathered before the stream takes them: one decode of the window and a
/// new coding of its tail from the oldest of them on, per this many.
const DISORDER: usize = 32;

/// The points of one open window. An empty window or one of a single point holds no
/// allocation: a series that reported once costs its 24 bytes here, not a coder's state.
#[derive(Debug, Clone, Default)]
pub(crate) struct OpenWindow(Points);

#[derive(Debug, Clone, Default)]
enum Points {
    #[default]
    Empty,
    One(i64, f64),
    Coded(Box<Coded>),
}

/// A window of two points or more.
#[derive(Debug, Clone, Default)]
struct Coded {
    /// Points in time order.
    stream: Stream,
    /// Points that arrived at or before the stream's newest time, sorted and unique by time.
    /// Each is newer than the stream's point at its time, if there is one.
    disorder: Aside,
}

/// The points aside: a pointer, null while there are none (almost always, now that a point
/// just behind the newest goes into the stream), so that a window's allocation is 8 bytes
/// smaller than with a `Vec` inline.
#[derive(Debug, Clone, Default)]
#[expect(clippy::box_collection, reason = "8 bytes in every open window instead of a Vec's 24")]
struct Aside(Option<Box<Vec<(i64, f64)>>>);

impl Aside {
    fn vec(&mut self) -> &mut Vec<(i64, f64)> {
        self.0.get_or_insert_default()
    }

    fn take(&mut self) -> Vec<(i64, f64)> {
        self.0.take().map(|v| *v).unwrap_or_default()
    }

    fn heap_bytes(&self) -> usize {
        self.0.as_ref().map_or(0, |v| size_of::<Vec<(i64, f64)>>() + v.capacity() * size_of::<(i64, f64)>())
    }
}

impl std::ops::Deref for Aside {
    type Target = [(i64, f64)];

    fn deref(&self) -> &[(i64, f64)] {
        self.0.as_deref().map(Vec::as_slice).unwrap_or_default()
    }
}

impl std::ops::DerefMut for Aside {
    fn deref_mut(&mut self) -> &mut [(i64, f64)] {
        self.0.as_deref_mut().map(Vec::as_mut_slice).unwrap_or_default()
    }
}

impl OpenWindow {
    /// A window of `times` (strictly increasing) and their `values`.
    pub(crate) fn from_points(times: &[i64], values: &[f64]) -> OpenWindow {
        match (times, values) {
            ([], _) | (_, []) => OpenWindow(Points::Empty),
            ([t], [v]) => OpenWindow(Points::One(*t, *v)),
            _ => OpenWindow(Points::Coded(Box::new(Coded {
                stream: Stream::from_points(times, values),
                disorder: Aside::default(),
            }))),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        match &self.0 {
            Points::Empty => true,
            Points::One(..) => false,
            Points::Coded(coded) => coded.stream.is_empty(),
        }
    }

    /// Points held. Decodes the window while points wait aside (for stats, not for writes).
    pub(crate) fn len(&self) -> usize {
        match &self.0 {
            Points::Empty => 0,
            Points::One(..) => 1,
            Points::Coded(coded) => coded.len(),
        }
    }

    /// At least the points held, without decoding.
    pub(crate) fn len_bound(&self) -> usize {
        match &self.0 {
            Points::Empty => 0,
            Points::One(..) => 1,
            Points::Coded(coded) => coded.stream.len() + coded.disorder.len(),
        }
    }

    /// The newest point's time.
    pub(crate) fn last_time(&self) -> Option<i64> {
        match &self.0 {
            Points::Empty => None,
            Points::One(t, _) => Some(*t),
            Points::Coded(coded) => coded.stream.last_time(),
        }
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        match &self.0 {
            Points::Empty | Points::One(..) => 0,
            Points::Coded(coded) => {
                size_of::<Coded>() + coded.stream.heap_bytes() + coded.disorder.heap_bytes()
            }
        }
    }

    /// Inserts a point; one at the time of an existing point replaces it. With `replaced`, the
    /// value it replaced is returned, which for a point before the newest costs a decode of
    /// the window; without, `None` (or the value, where it costs nothing).
    #[inline]
    pub(crate) fn insert(&mut self, t: i64, v: f64, replaced: bool) -> Option<f64> {
        match &mut self.0 {
            Points::Coded(coded) => coded.insert(t, v, replaced),
            Points::Empty => {
                self.0 = Points::One(t, v);
                None
            }
            Points::One(t0, v0) if *t0 == t => Some(std::mem::replace(v0, v)),
            Points::One(t0, v0) => {
                let (first, second) = if *t0 < t { ((*t0, *v0), (t, v)) } else { ((t, v), (*t0, *v0)) };
                let mut coded = Box::<Coded>::default();
                coded.push_after(first.0, first.1);
                coded.push_after(second.0, second.1);
                self.0 = Points::Coded(coded);
                None
            }
        }
    }

    /// Appends every point in time order.
    pub(crate) fn decode(&self, times: &mut Vec<i64>, values: &mut Vec<f64>) {
        match &self.0 {
            Points::Empty => {}
            Points::One(t, v) => {
                times.push(*t);
                values.push(*v);
            }
            Points::Coded(coded) => coded.decode(times, values),
        }
    }
}

impl Coded {
    fn len(&self) -> usize {
        if self.disorder.is_empty() {
            return self.stream.len();
        }
        let (mut times, mut values) = (Vec::new(), Vec::new());
        self.decode(&mut times, &mut values);
        times.len()
    }

    #[inline]
    fn insert(&mut self, t: i64, v: f64, replaced: bool) -> Option<f64> {
        if self.stream.push(t, v).is_ok() {
            return None;
        }
        // Just behind the newest point (two writers' records logged in the other order than
        // their data): two appends, no point aside. Only while no point aside is at or after
        // it, which would then be older than it and yet win at decode.
        if self.disorder.last().is_none_or(|&(at, _)| at < t)
            && let Ok(old) = self.stream.push_behind(t, v)
        {
            return old;
        }
        match self.disorder.binary_search_by_key(&t, |&(x, _)| x) {
            Ok(i) => self.disorder.get_mut(i).map(|slot| std::mem::replace(&mut slot.1, v)),
            Err(i) => {
                let old = if replaced { self.stream_value_at(t) } else { None };
                self.disorder.vec().insert(i, (t, v));
                if self.disorder.len() >= DISORDER {
                    self.rebuild();
                }
                old
            }
        }
    }

    fn decode(&self, times: &mut Vec<i64>, values: &mut Vec<f64>) {
        if self.disorder.is_empty() {
            self.stream.decode(times, values);
            return;
        }
        let (mut st, mut sv) = (Vec::new(), Vec::new());
        self.stream.decode(&mut st, &mut sv);
        let bound = self.stream.len() + self.disorder.len();
        times.reserve(bound);
        values.reserve(bound);
        let mut aside = self.disorder.iter().peekable();
        for (t, v) in st.into_iter().zip(sv) {
            let mut replaced = false;
            while let Some(&(at, av)) = aside.next_if(|&&(at, _)| at <= t) {
                times.push(at);
                values.push(av);
                // A point aside at the same time is the newer one.
                replaced = at == t;
            }
            if !replaced {
                times.push(t);
                values.push(v);
            }
        }
        for &(at, av) in aside {
            times.push(at);
            values.push(av);
        }
    }

    fn stream_value_at(&self, t: i64) -> Option<f64> {
        let (mut times, mut values) = (Vec::new(), Vec::new());
        self.stream.decode(&mut times, &mut values);
        times.binary_search(&t).ok().and_then(|i| values.get(i).copied())
    }

    /// Puts the points aside into the stream: its points from the first one aside on are cut
    /// off, merged with them, and coded again; older points stay as coded.
    fn rebuild(&mut self) {
        let aside = self.disorder.take();
        let Some(&(from, _)) = aside.first() else { return };
        let (mut times, mut values) = (Vec::new(), Vec::new());
        self.stream.split_off(from, &mut times, &mut values);
        let mut aside = aside.into_iter().peekable();
        for (t, v) in times.into_iter().zip(values) {
            let mut replaced = false;
            while let Some((at, av)) = aside.next_if(|&(at, _)| at <= t) {
                self.push_after(at, av);
                // A point aside at the same time is the newer one.
                replaced = at == t;
            }
            if !replaced {
                self.push_after(t, v);
            }
        }
        for (at, av) in aside {
            self.push_after(at, av);
        }
    }

    /// Appends a point known to follow the stream's newest.
    fn push_after(&mut self, t: i64, v: f64) {
        let pushed = self.stream.push(t, v);
        debug_assert!(pushed.is_ok(), "points are merged in time order");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests may panic")]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    /// A window of two points or more is one allocation of 104 bytes (112 with malloc's
    /// header) beside its stream's bytes.
    #[test]
    fn a_coded_window_takes_104_bytes() {
        assert_eq!(size_of::<Coded>(), 104);
        assert_eq!(size_of::<OpenWindow>(), 24);
    }

    proptest! {
        /// Any order of inserts, duplicates included, holds what a map keeps: the last value
        /// per time, and each insert returns the value it replaced.
        #[test]
        fn any_insert_order_keeps_the_last_value_per_time(
            points in prop::collection::vec((0i64..200, -50i32..50), 0..400),
        ) {
            let (mut window, mut model) = (OpenWindow::default(), BTreeMap::new());
            for (t, v) in points {
                let (t, v) = (t * 1_000_000_000, f64::from(v) / 4.0);
                prop_assert_eq!(window.insert(t, v, true), model.insert(t, v));
                prop_assert_eq!(window.len(), model.len());
            }
            let (mut times, mut values) = (Vec::new(), Vec::new());
            window.decode(&mut times, &mut values);
            prop_assert_eq!(times, model.keys().copied().collect::<Vec<_>>());
            prop_assert_eq!(values, model.values().copied().collect::<Vec<_>>());
        }

        /// Without asking for replaced values, the window holds the same.
        #[test]
        fn inserts_that_do_not_ask_for_replaced_values_keep_the_same_points(
            points in prop::collection::vec((0i64..200, -50i32..50), 0..400),
        ) {
            let (mut window, mut model) = (OpenWindow::default(), BTreeMap::new());
            for (t, v) in points {
                let (t, v) = (t * 1_000_000_000, f64::from(v) / 4.0);
                window.insert(t, v, false);
                model.insert(t, v);
            }
            prop_assert_eq!(window.len(), model.len());
            prop_assert!(window.len_bound() >= model.len());
            let (mut times, mut values) = (Vec::new(), Vec::new());
            window.decode(&mut times, &mut values);
            prop_assert_eq!(times, model.keys().copied().collect::<Vec<_>>());
            prop_assert_eq!(values, model.values().copied().collect::<Vec<_>>());
        }
    }
}
