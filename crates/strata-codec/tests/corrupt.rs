//! Damaged, truncated and hostile chunks are errors, never panics, and leave the caller's
//! vectors as they were.

use strata_codec::{CodecError, Decoder, MAX_POINTS};

/// A small chunk that exercises every section: jittered timestamps (integer column), values
/// with decimals and two exceptions.
fn sample() -> (Vec<i64>, Vec<f64>, Vec<u8>) {
    let ts: Vec<i64> = (0..40).map(|i| 1_000_000_000 * i + (i * 7919 % 13) * 1_000_000).collect();
    let mut vs: Vec<f64> = (0..40).map(|i| f64::from(i * 37 % 101) / 100.0).collect();
    vs[5] = -0.0;
    vs[31] = f64::NAN;
    let mut chunk = Vec::new();
    strata_codec::encode(&ts, &vs, &mut chunk).expect("valid chunk");
    (ts, vs, chunk)
}

/// Decodes after a sentinel point and checks the outcome is an error with the vectors
/// untouched, or a well-formed chunk.
fn decode_checked(bytes: &[u8]) -> Result<usize, CodecError> {
    let (mut ts, mut vs) = (vec![-1i64], vec![-1.0f64]);
    let result = Decoder::new().decode(bytes, &mut ts, &mut vs);
    match &result {
        Err(_) => {
            assert_eq!(ts, [-1]);
            assert_eq!(vs.len(), 1);
        }
        Ok(summary) => {
            assert_eq!(ts.len(), summary.points + 1);
            assert_eq!(vs.len(), summary.points + 1);
            assert!(ts[1..].windows(2).all(|w| w[0] < w[1]), "decoded timestamps must increase");
            assert_eq!((ts[1], ts[ts.len() - 1]), (summary.min_timestamp, summary.max_timestamp));
        }
    }
    result.map(|s| s.points)
}

#[test]
fn the_sample_decodes() {
    let (ts, vs, chunk) = sample();
    let (mut dts, mut dvs) = (Vec::new(), Vec::new());
    strata_codec::decode(&chunk, &mut dts, &mut dvs).expect("decodes");
    assert_eq!(dts, ts);
    assert!(dvs.iter().zip(&vs).all(|(a, b)| a.to_bits() == b.to_bits()));
}

#[test]
fn every_truncation_is_an_error() {
    let (_, _, chunk) = sample();
    for len in 0..chunk.len() {
        let result = decode_checked(&chunk[..len]);
        assert!(
            matches!(result, Err(CodecError::Truncated { .. } | CodecError::Corrupt { .. })),
            "prefix of {len} bytes gave {result:?}"
        );
    }
}

#[test]
fn trailing_bytes_are_an_error() {
    let (_, _, mut chunk) = sample();
    chunk.push(0);
    assert!(matches!(decode_checked(&chunk), Err(CodecError::Corrupt { section: "chunk end", .. })));
}

#[test]
fn flipped_bytes_decode_or_fail_but_never_panic() {
    let (_, _, chunk) = sample();
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut errors = 0;
    for _ in 0..20_000 {
        let mut damaged = chunk.clone();
        for _ in 0..=next() % 3 {
            let at = (next() % damaged.len() as u64) as usize;
            damaged[at] ^= 1 << (next() % 8);
            if next() % 4 == 0 {
                damaged[at] = next() as u8;
            }
        }
        errors += usize::from(decode_checked(&damaged).is_err());
    }
    // Most damage is caught by the structure alone (there is no checksum).
    assert!(errors > 10_000, "only {errors} of 20000 damaged chunks were rejected");
}

/// A header: version 1, the point count, first timestamp 0, the span.
fn header(points: u64, span: u64) -> Vec<u8> {
    let mut out = vec![1u8];
    put_varint(&mut out, points);
    out.extend_from_slice(&0i64.to_le_bytes());
    put_varint(&mut out, span);
    out
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[test]
fn a_header_claiming_2_pow_40_points_is_rejected_before_allocating() {
    let mut bytes = header(1 << 40, 1 << 41);
    bytes.extend_from_slice(&[0, 0, 0, 0, 1, 0, 0, 0, 0]);
    assert!(matches!(strata_codec::summary(&bytes), Err(CodecError::Corrupt { section: "header", .. })));
    assert!(matches!(decode_checked(&bytes), Err(CodecError::Corrupt { section: "header", .. })));
}

#[test]
fn the_largest_point_count_with_no_data_is_an_error() {
    // A header that is valid on its own, with nothing after it.
    let bytes = header(MAX_POINTS as u64, MAX_POINTS as u64 - 1);
    assert_eq!(strata_codec::summary(&bytes).map(|s| s.points), Ok(MAX_POINTS));
    assert!(matches!(decode_checked(&bytes), Err(CodecError::Truncated { section: "timestamps", .. })));
}

#[test]
fn another_version_is_named() {
    let (_, _, mut chunk) = sample();
    chunk[0] = 2;
    assert_eq!(decode_checked(&chunk), Err(CodecError::UnsupportedVersion { found: 2 }));
}

#[test]
fn bad_input_to_encode_is_an_error_and_writes_nothing() {
    let mut out = vec![9];
    assert_eq!(
        strata_codec::encode(&[1, 2], &[1.0], &mut out),
        Err(CodecError::LengthMismatch { timestamps: 2, values: 1 })
    );
    assert_eq!(strata_codec::encode(&[], &[], &mut out), Err(CodecError::Empty));
    assert_eq!(
        strata_codec::encode(&[1, 3, 3], &[0.0; 3], &mut out),
        Err(CodecError::NotIncreasing { index: 2, previous: 3, timestamp: 3 })
    );
    let many: Vec<i64> = (0..=MAX_POINTS as i64).collect();
    assert!(matches!(
        strata_codec::encode(&many, &vec![0.0; many.len()], &mut out),
        Err(CodecError::TooManyPoints { .. })
    ));
    assert_eq!(out, [9]);
}
