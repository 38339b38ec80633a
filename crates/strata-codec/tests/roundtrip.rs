//! Property tests: any strictly increasing timestamps and any value bits come back exactly.

use proptest::prelude::*;
use strata_codec::{ChunkSummary, Decoder, Encoder};

/// Encodes, checks the summary, decodes (appending after existing points) and compares bits.
fn round_trip(timestamps: &[i64], values: &[f64]) -> Result<usize, TestCaseError> {
    let mut chunk = Vec::new();
    Encoder::new().encode(timestamps, values, &mut chunk).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let expected = ChunkSummary {
        points: timestamps.len(),
        min_timestamp: timestamps[0],
        max_timestamp: timestamps[timestamps.len() - 1],
    };
    prop_assert_eq!(strata_codec::summary(&chunk), Ok(expected));
    let (mut ts, mut vs) = (vec![7], vec![7.0]);
    prop_assert_eq!(Decoder::new().decode(&chunk, &mut ts, &mut vs), Ok(expected));
    prop_assert_eq!(&ts[1..], timestamps);
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    prop_assert_eq!(bits(&vs[1..]), bits(values));
    Ok(chunk.len())
}

/// Strictly increasing timestamps of several shapes.
fn timestamps(len: usize) -> BoxedStrategy<Vec<i64>> {
    let steady = (any::<i32>(), 1i64..=100_000_000_000, 0u8..=3, any::<u64>()).prop_map(
        move |(start, step, shape, seed)| {
            let mut rng = seed | 1;
            let mut next = move || {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng
            };
            let mut t = i64::from(start) * 1_000_000_000;
            (0..len)
                .map(|_| {
                    let this = t;
                    let delta = match shape {
                        0 => step,
                        // Jitter of up to a tenth of the step either way.
                        1 => step + (next() % (step as u64 / 5 + 1)) as i64 - step / 10,
                        // A gap now and then.
                        2 if next() % 50 == 0 => step * (2 + (next() % 100) as i64),
                        // A change of interval now and then.
                        _ if next() % 200 == 0 => step / 2 + 1,
                        _ => step,
                    };
                    t += delta.max(1);
                    this
                })
                .collect()
        },
    );
    // Anything at all, from i64::MIN to i64::MAX.
    let anywhere = prop::collection::btree_set(any::<i64>(), len).prop_map(|set| set.into_iter().collect());
    let extremes =
        Just((0..len as i64).map(|i| if i == len as i64 - 1 { i64::MAX } else { i64::MIN + i }).collect());
    prop_oneof![4 => steady, 2 => anywhere, 1 => extremes].boxed()
}

/// Values of several shapes: raw bits, short decimals as a walk, constants, mixed scales,
/// special values.
fn values(len: usize) -> BoxedStrategy<Vec<f64>> {
    let raw = prop::collection::vec(any::<u64>().prop_map(f64::from_bits), len);
    let walk = (0u32..=8, any::<i32>(), 1i64..1_000_000, any::<u64>()).prop_map(
        move |(scale, start, sigma, seed)| {
            let p = 10f64.powi(scale as i32);
            let mut rng = seed | 1;
            let mut x = i64::from(start);
            (0..len)
                .map(|_| {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    x += (rng % (2 * sigma as u64 + 1)) as i64 - sigma;
                    x as f64 / p
                })
                .collect()
        },
    );
    let constant = any::<u64>().prop_map(move |bits| vec![f64::from_bits(bits); len]);
    let mixed = prop::collection::vec((0u32..=12, -1_000_000i64..1_000_000), len)
        .prop_map(|v| v.into_iter().map(|(scale, i)| i as f64 / 10f64.powi(scale as i32)).collect());
    let specials = [
        0.0,
        -0.0,
        f64::MIN_POSITIVE,
        f64::from_bits(1),
        -f64::from_bits(0x000f_ffff_ffff_ffff),
        f64::MAX,
        f64::MIN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::from_bits(0x7ff8_0000_0000_0001),
        f64::from_bits(0xfff0_0000_dead_beef),
        1e300,
        1e-300,
        0.1 + 0.2,
        47.3,
        9_007_199_254_740_993.0,
    ];
    let special = prop::collection::vec(prop::sample::select(specials.to_vec()), len);
    // Mostly decimal with a few specials sprinkled in: exceptions in the decimal scheme.
    let sprinkled = (
        prop::collection::vec(-100_000i64..100_000, len),
        prop::collection::vec((any::<prop::sample::Index>(), prop::sample::select(specials.to_vec())), 0..4),
    )
        .prop_map(|(ints, specials)| {
            let mut v: Vec<f64> = ints.into_iter().map(|i| i as f64 / 100.0).collect();
            for (at, value) in specials {
                let i = at.index(v.len());
                v[i] = value;
            }
            v
        });
    prop_oneof![raw, walk, constant, mixed, special, sprinkled].boxed()
}

fn chunk() -> impl Strategy<Value = (Vec<i64>, Vec<f64>)> {
    prop_oneof![1usize..=5, 6usize..=400, Just(2160)].prop_flat_map(|len| (timestamps(len), values(len)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn every_chunk_round_trips((ts, vs) in chunk()) {
        round_trip(&ts, &vs)?;
    }
}

#[test]
fn steady_timestamps_and_constant_values_cost_next_to_nothing() {
    let ts: Vec<i64> = (0..2160).map(|i| 1_763_769_600_000_000_000 + i * 10_000_000_000).collect();
    let len = round_trip(&ts, &vec![2400.0; ts.len()]).expect("round trip");
    // Header (about 16 bytes), one timestamp scheme byte, a value column with empty codes.
    assert!(len < 32, "{len} bytes");
}

#[test]
fn a_gap_in_steady_timestamps_costs_a_few_bytes() {
    let mut ts: Vec<i64> = (0..720).map(|i| i * 10_000_000_000).collect();
    ts.drain(300..310);
    let values = vec![1.0; ts.len()];
    let len = round_trip(&ts, &values).expect("round trip");
    // Three runs of (length, step) instead of 720 steps.
    assert!(len < 56, "{len} bytes");
}

#[test]
fn one_decimal_walk_costs_about_its_entropy() {
    // Steps of -5..=5 tenths, uniform: log2(11) = 3.46 bits of entropy a point.
    let mut x = 473i64;
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let values: Vec<f64> = (0..720)
        .map(|_| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            x += (rng % 11) as i64 - 5;
            x as f64 / 10.0
        })
        .collect();
    let ts: Vec<i64> = (0..720).map(|i| i * 10_000_000_000).collect();
    let len = round_trip(&ts, &values).expect("round trip");
    let bits_per_point = len as f64 * 8.0 / 720.0;
    // Headers and code tables take about 0.35 bits a point of a 720-point chunk.
    assert!(bits_per_point < 3.46 + 0.7, "{bits_per_point:.2} bits a point");
}
