//! Format fixtures: chunks written by format version 1, kept under `testdata/`. Today's
//! encoder must write them byte for byte (a changed layout fails here, and needs a new
//! version) and today's decoder must read them.
//!
//! `STRATA_CODEC_BLESS=1 cargo test -p strata-codec --test fixtures` rewrites them, for a
//! deliberate format change only.

use std::path::PathBuf;

/// Timestamps and values of one chunk.
type Columns = (Vec<i64>, Vec<f64>);

/// A fixture's file name and the columns it holds.
type Fixture = (&'static str, fn() -> Columns);

/// A steady 10 s series with one gap (timestamp runs) and a one-decimal walk.
fn steady_gauge() -> Columns {
    let mut ts: Vec<i64> = (0..360).map(|i| 1_763_769_600_000_000_000 + i * 10_000_000_000).collect();
    ts.drain(100..103);
    let values = walk(ts.len(), 473, 20, 10.0);
    (ts, values)
}

/// Jittered timestamps (integer column) and three-decimal values with exceptions.
fn jittered_with_exceptions() -> Columns {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut t = 1_000_000_000_000i64;
    let ts: Vec<i64> = (0..200)
        .map(|_| {
            t += 1_000_000_000 + (rng.next() % 2_000_000) as i64 - 1_000_000;
            t
        })
        .collect();
    let mut values = walk(ts.len(), 1234, 50, 1000.0);
    values[3] = -0.0;
    values[77] = f64::from_bits(0x7ff8_dead_beef_0001);
    values[150] = 1.0 / 3.0;
    (ts, values)
}

/// Values that are no short decimals: the raw-bits scheme.
fn raw_bits() -> Columns {
    let ts: Vec<i64> = (0..100).map(|i| i * 7).collect();
    let values = (0..100).map(|i| (f64::from(i) * 0.37).sin() * 1e-3).collect();
    (ts, values)
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn walk(len: usize, start: i64, sigma: u64, scale: f64) -> Vec<f64> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut x = start;
    (0..len)
        .map(|_| {
            x += (rng.next() % (2 * sigma + 1)) as i64 - sigma as i64;
            x as f64 / scale
        })
        .collect()
}

#[test]
fn version_1_fixtures_are_written_and_read_unchanged() {
    let cases: [Fixture; 3] = [
        ("v1-steady-gauge.chunk", steady_gauge),
        ("v1-jittered-with-exceptions.chunk", jittered_with_exceptions),
        ("v1-raw-bits.chunk", raw_bits),
    ];
    let bless = std::env::var_os("STRATA_CODEC_BLESS").is_some();
    for (name, make) in cases {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata").join(name);
        let (ts, vs) = make();
        let mut encoded = Vec::new();
        strata_codec::encode(&ts, &vs, &mut encoded).expect("valid chunk");
        if bless {
            std::fs::write(&path, &encoded).expect("write fixture");
        }
        let fixture = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(encoded, fixture, "{name}: the encoder no longer writes the version 1 fixture");
        let (mut dts, mut dvs) = (Vec::new(), Vec::new());
        strata_codec::decode(&fixture, &mut dts, &mut dvs).expect("fixture decodes");
        assert_eq!(dts, ts, "{name}");
        assert!(dvs.iter().zip(&vs).all(|(a, b)| a.to_bits() == b.to_bits()), "{name}");
    }
}
