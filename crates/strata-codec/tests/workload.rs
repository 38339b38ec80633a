//! The strata-gen workload must keep compressing as well as measured: a regression in the
//! codec's choices fails here. (Speed is for `benches/benches/codec.rs`, not for a test.)

#[path = "common/workload.rs"]
mod workload;

#[test]
fn strata_gen_compresses_below_the_pinned_bytes_per_point() {
    // One host for 2 h keeps the test fast in debug builds; the codec bench measures 4
    // hosts x 6 h.
    let series = workload::series(1, 2 * 3600);
    let mut decoder = strata_codec::Decoder::new();
    for (len, bound) in [(360, BOUND_1H), (720, BOUND_2H)] {
        let (mut points, mut bytes) = (0, 0);
        let (mut ts, mut vs) = (Vec::new(), Vec::new());
        for (t, v) in workload::chunks(&series, len) {
            let mut chunk = Vec::new();
            strata_codec::encode(t, v, &mut chunk).expect("valid chunk");
            ts.clear();
            vs.clear();
            decoder.decode(&chunk, &mut ts, &mut vs).expect("decodes");
            assert_eq!(ts, t);
            assert!(vs.iter().zip(v).all(|(a, b)| a.to_bits() == b.to_bits()));
            points += t.len();
            bytes += chunk.len();
        }
        let per_point = bytes as f64 / points as f64;
        println!("{len}-point chunks: {per_point:.3} bytes/point");
        assert!(per_point < bound, "{len}-point chunks: {per_point:.3} bytes/point, bound {bound}");
    }
}

const BOUND_1H: f64 = 1.32;
const BOUND_2H: f64 = 1.27;

/// The open-window stream, filled point by point, stays within a small multiple of the sealed
/// chunk on the same data, and gives every point back.
#[test]
fn the_open_window_stream_keeps_strata_gen_within_its_pinned_bytes_per_point() {
    let series = workload::series(1, 2 * 3600);
    let (mut points, mut used, mut held) = (0, 0, 0);
    for (t, v) in workload::chunks(&series, 720) {
        let mut stream = strata_codec::Stream::default();
        for (&time, &value) in t.iter().zip(v) {
            stream.push(time, value).expect("increasing");
        }
        let (mut ts, mut vs) = (Vec::new(), Vec::new());
        stream.decode(&mut ts, &mut vs);
        assert_eq!(ts, t);
        assert!(vs.iter().zip(v).all(|(a, b)| a.to_bits() == b.to_bits()));
        let mut sealed = Vec::new();
        strata_codec::encode(t, v, &mut sealed).expect("valid chunk");
        points += t.len();
        held += stream.heap_bytes();
        used += sealed.len();
    }
    let (per_point, sealed) = (held as f64 / points as f64, used as f64 / points as f64);
    println!("open-window stream: {per_point:.3} bytes/point held (sealed: {sealed:.3})");
    assert!(per_point < BOUND_STREAM, "{per_point:.3} bytes/point, bound {BOUND_STREAM}");
}

const BOUND_STREAM: f64 = 3.0;
