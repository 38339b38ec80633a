//! Tests of `stream.rs`.

use proptest::prelude::*;

use super::*;

fn roundtrip(points: &[(i64, f64)]) -> Stream {
    let mut stream = Stream::default();
    for &(t, v) in points {
        stream.push(t, v).unwrap();
    }
    let (mut times, mut values) = (Vec::new(), Vec::new());
    stream.decode(&mut times, &mut values);
    assert_eq!(times, points.iter().map(|p| p.0).collect::<Vec<_>>());
    let bits: Vec<u64> = values.iter().map(|v| v.to_bits()).collect();
    assert_eq!(bits, points.iter().map(|p| p.1.to_bits()).collect::<Vec<_>>());
    let built = Stream::from_points(&times, &values);
    let (mut t2, mut v2) = (Vec::new(), Vec::new());
    built.decode(&mut t2, &mut v2);
    assert_eq!((t2, v2.iter().map(|v| v.to_bits()).collect::<Vec<_>>()), (times, bits));
    stream
}

#[test]
fn a_steady_series_of_short_decimals_takes_a_few_bits_a_point() {
    let points: Vec<(i64, f64)> = (0..720)
        .map(|i| (1_795_316_600_000_000_000 + i * 10_000_000_000, f64::from(4700 + (i % 13) as i32) / 100.0))
        .collect();
    let stream = roundtrip(&points);
    let bytes_per_point = stream.bit_len as f64 / 8.0 / 720.0;
    // 1 bit of timestamp and 7 of value change a point (the sealed codec takes less).
    assert!(bytes_per_point < 1.1, "{bytes_per_point} B/pt");
    assert!(
        stream.heap_bytes() <= stream.bytes.len() * 5 / 4 + 16,
        "{} for {}",
        stream.heap_bytes(),
        stream.bytes.len()
    );
}

#[test]
fn finer_units_and_scales_and_odd_values_rebuild_the_window() {
    roundtrip(&[
        (10_000_000_000, 1.0),
        (20_000_000_000, 2.5),
        (20_000_000_007, 2.25),
        (30_000_000_000, f64::NAN),
        (i64::MAX - 1, -0.0),
        (i64::MAX, f64::INFINITY),
    ]);
    roundtrip(&[(i64::MIN, 1e300), (0, -1e-300), (i64::MAX, 0.1 + 0.2)]);
    roundtrip(&[(5, 1.0)]);
    assert_eq!(Stream::default().push(1, 1.0), Ok(()));
}

#[test]
fn a_point_not_after_the_last_is_refused_and_changes_nothing() {
    let mut stream = roundtrip(&[(1, 1.0), (2, 2.0)]);
    let before = stream.clone();
    assert_eq!(stream.push(2, 3.0), Err(NotAfter { last: 2 }));
    assert_eq!(stream.push(-5, 3.0), Err(NotAfter { last: 2 }));
    assert_eq!(stream, before);
}

#[test]
fn a_stream_takes_96_bytes_beside_its_buffer() {
    // With hot's pointer to points kept aside, 104 bytes: one allocation per open window
    // (`hot/open.rs`).
    assert_eq!(size_of::<Stream>(), 96);
}

#[test]
fn a_point_just_behind_the_newest_goes_in_by_rewinding_one() {
    let mut stream = roundtrip(&[(10, 1.5), (20, 2.5), (40, 4.5)]);
    assert_eq!(stream.push_behind(30, 3.25), Ok(None));
    assert_eq!(stream.push_behind(40, 9.0), Ok(Some(4.5)));
    // Only between the point before the newest (now 30) and the newest.
    assert_eq!(stream.push_behind(25, 1.0), Err(NotAfter { last: 30 }));
    assert_eq!(stream.push_behind(41, 1.0), Err(NotAfter { last: 30 }));
    stream.push(50, f64::NAN).unwrap();
    assert_eq!(stream.push_behind(45, 0.1 + 0.2), Ok(None));
    let (mut times, mut values) = (Vec::new(), Vec::new());
    stream.decode(&mut times, &mut values);
    assert_eq!(times, [10, 20, 30, 40, 45, 50]);
    let bits: Vec<u64> = values.iter().map(|v| v.to_bits()).collect();
    let want: Vec<u64> = [1.5, 2.5, 3.25, 9.0, 0.1 + 0.2, f64::NAN].iter().map(|v| v.to_bits()).collect();
    assert_eq!(bits, want);
    let mut one = roundtrip(&[(10, 1.0)]);
    assert_eq!(one.push_behind(5, 1.0), Err(NotAfter { last: 10 }));
}

proptest! {
    /// Points pushed in any order, each one that is not after the newest put in behind it
    /// where it can be, come back as a map of the last value per time keeps them.
    #[test]
    fn pushes_and_pushes_behind_keep_the_last_value_per_time(
        points in prop::collection::vec((0i64..60, -500i32..500, any::<bool>()), 1..200),
    ) {
        let mut stream = Stream::default();
        let mut model = std::collections::BTreeMap::new();
        for (t, v, odd) in points {
            let (t, v) = (t * 1_000_000_000 + i64::from(odd) * 7, f64::from(v) / 8.0);
            if stream.push(t, v).is_ok() {
                model.insert(t, v);
            } else if let Ok(old) = stream.push_behind(t, v) {
                prop_assert_eq!(old, model.insert(t, v));
            }
        }
        let (mut times, mut values) = (Vec::new(), Vec::new());
        stream.decode(&mut times, &mut values);
        prop_assert_eq!(times, model.keys().copied().collect::<Vec<_>>());
        prop_assert_eq!(values, model.values().copied().collect::<Vec<_>>());
    }

    /// Splitting at any time and pushing the tail back gives the same points, and the
    /// stream takes appends after a split as before.
    #[test]
    fn split_off_then_push_back_keeps_every_point(
        len in 1usize..200,
        at in 0usize..220,
        jitter in prop::collection::vec(0i64..3, 200),
        values in prop::collection::vec((-5000i64..5000).prop_map(|i| i as f64 / 100.0), 200),
    ) {
        let points: Vec<(i64, f64)> =
            (0..len).map(|i| (i as i64 * 10_000_000_000 + jitter[i] * 1_000_000_000, values[i])).collect();
        let mut stream = roundtrip(&points);
        let from = points.get(at).map_or(i64::MAX, |p| p.0);
        let (mut tail_t, mut tail_v) = (Vec::new(), Vec::new());
        stream.split_off(from, &mut tail_t, &mut tail_v);
        prop_assert_eq!(stream.len(), at.min(len));
        prop_assert_eq!(tail_t.clone(), points.iter().skip(at).map(|p| p.0).collect::<Vec<_>>());
        for (&t, &v) in tail_t.iter().zip(&tail_v) {
            stream.push(t, v).unwrap();
        }
        stream.push(i64::MAX, 1.5).unwrap();
        let (mut times, mut vals) = (Vec::new(), Vec::new());
        stream.decode(&mut times, &mut vals);
        let mut want = points.clone();
        want.push((i64::MAX, 1.5));
        prop_assert_eq!(times, want.iter().map(|p| p.0).collect::<Vec<_>>());
        prop_assert_eq!(vals, want.iter().map(|p| p.1).collect::<Vec<_>>());
    }

    #[test]
    fn any_increasing_points_come_back_bit_for_bit(
        start in any::<i64>(),
        steps in prop::collection::vec(prop_oneof![Just(10_000_000_000u64), 1u64..3_000_000_000, any::<u64>()], 0..300),
        values in prop::collection::vec(prop_oneof![
            (-100_000i64..100_000).prop_map(|i| i as f64 / 100.0),
            any::<f64>(),
            Just(f64::NAN),
        ], 301),
    ) {
        let mut points = vec![(start, values[0])];
        for (i, step) in steps.iter().enumerate() {
            let last = points.last().unwrap().0;
            let Some(t) = last.checked_add_unsigned(*step) else { break };
            points.push((t, values[i + 1]));
        }
        roundtrip(&points);
    }
}
