//! Compression ratio and speed of sealed chunks on the strata-gen workload (4 hosts x 6 h at
//! 10 s, 1208 series), cut into 1 h, 2 h and 6 h chunks, for this crate and for pco
//! (pcodec 1, standalone format, values and timestamps compressed separately).
//!
//! `cargo bench -p strata-benches --bench codec` (`STRATA_BENCH_HOSTS=N`, default 4)

use std::hint::black_box;
use std::time::{Duration, Instant};

#[path = "../../crates/strata-codec/tests/common/workload.rs"]
mod workload;

/// Repeat a timed pass until they have run this long, for stable rates.
const MIN_TIME: Duration = Duration::from_secs(1);

fn main() {
    let hosts = std::env::var("STRATA_BENCH_HOSTS").ok().and_then(|a| a.parse().ok()).unwrap_or(4);
    let series = workload::series(hosts, 6 * 3600);
    let points: usize = series.iter().map(|(t, _)| t.len()).sum();
    println!("workload: {hosts} hosts x 6 h at 10 s, {} series, {points} points", series.len());
    println!();
    println!("| scheme | chunk | points/chunk | bytes/point | encode M points/s | decode M points/s |");
    println!("|---|---|---|---|---|---|");
    for (label, len) in [("1 h", 360), ("2 h", 720), ("6 h", 2160)] {
        let chunks = workload::chunks(&series, len);
        row("strata-codec", label, len, points, &chunks, strata);
        row("pco 1 (level 8)", label, len, points, &chunks, pco);
        stream_row(label, len, points, &chunks);
    }
    println!();
    println!("(open-window stream: bytes held with its growth slack; \"encode\" is pushing point by point,");
    println!("as the hot store does; the plain window it replaces pushed (i64, f64) pairs at 16 B/point.)");
    raw_baseline(&series, points);
    let pairs = rate(points, || {
        for (t, v) in &series {
            let mut window: Vec<(i64, f64)> = Vec::new();
            for pair in t.iter().copied().zip(v.iter().copied()) {
                window.push(black_box(pair));
            }
            black_box(&window);
        }
    });
    println!("plain window (push (i64, f64) into a Vec): {pairs:.0} M points/s");
}

/// The open-window stream (`strata_codec::Stream`): points pushed one at a time, then decoded.
fn stream_row(label: &str, len: usize, points: usize, chunks: &[(&[i64], &[f64])]) {
    let mut streams = Vec::new();
    let push_rate = rate(points, || {
        streams = chunks
            .iter()
            .map(|(t, v)| {
                let mut stream = strata_codec::Stream::default();
                for (&time, &value) in t.iter().zip(v.iter()) {
                    stream.push(black_box(time), black_box(value)).expect("increasing");
                }
                stream
            })
            .collect::<Vec<_>>();
    });
    let held: usize = streams.iter().map(strata_codec::Stream::heap_bytes).sum();
    let (mut ts, mut vs) = (Vec::new(), Vec::new());
    for (stream, (t, v)) in streams.iter().zip(chunks) {
        ts.clear();
        vs.clear();
        stream.decode(&mut ts, &mut vs);
        assert_eq!(&ts, t, "stream: timestamps differ");
        assert!(vs.iter().zip(v.iter()).all(|(a, b)| a.to_bits() == b.to_bits()), "stream: values differ");
    }
    let decode_rate = rate(points, || {
        for stream in &streams {
            ts.clear();
            vs.clear();
            stream.decode(black_box(&mut ts), &mut vs);
            black_box((&ts, &vs));
        }
    });
    println!(
        "| open-window stream | {label} | {len} | {:.3} | {push_rate:.1} | {decode_rate:.1} |",
        held as f64 / points as f64
    );
}

/// A codec under test: encodes a chunk, and decodes it into the two vectors (cleared first).
struct Codec {
    encode: fn(&[i64], &[f64]) -> Vec<u8>,
    decode: fn(&[u8], &mut Vec<i64>, &mut Vec<f64>),
}

fn row(
    name: &str,
    label: &str,
    len: usize,
    points: usize,
    chunks: &[(&[i64], &[f64])],
    codec: fn() -> Codec,
) {
    let codec = codec();
    let mut encoded = Vec::new();
    let encode_rate = rate(points, || {
        encoded = chunks.iter().map(|(t, v)| (codec.encode)(t, v)).collect::<Vec<_>>();
    });
    let bytes: usize = encoded.iter().map(Vec::len).sum();

    // Check the round trip once, then time decoding alone.
    let (mut ts, mut vs) = (Vec::new(), Vec::new());
    for (chunk, (t, v)) in encoded.iter().zip(chunks) {
        (codec.decode)(chunk, &mut ts, &mut vs);
        assert_eq!(&ts, t, "{name}: timestamps differ");
        assert!(vs.iter().zip(v.iter()).all(|(a, b)| a.to_bits() == b.to_bits()), "{name}: values differ");
    }
    let decode_rate = rate(points, || {
        for chunk in &encoded {
            (codec.decode)(black_box(chunk), &mut ts, &mut vs);
            black_box((&ts, &vs));
        }
    });
    println!(
        "| {name} | {label} | {len} | {:.3} | {encode_rate:.1} | {decode_rate:.1} |",
        bytes as f64 / points as f64
    );
}

/// Millions of points a second of `pass`, which handles `points` points: the fastest of
/// passes repeated for at least `MIN_TIME`, since on a shared machine other work only ever
/// slows a pass down.
fn rate(points: usize, mut pass: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut best = f64::INFINITY;
    while best.is_infinite() || start.elapsed() < MIN_TIME {
        let pass_start = Instant::now();
        pass();
        best = best.min(pass_start.elapsed().as_secs_f64());
    }
    points as f64 / best / 1e6
}

fn strata() -> Codec {
    thread_local! {
        static DECODER: std::cell::RefCell<strata_codec::Decoder> = Default::default();
        static ENCODER: std::cell::RefCell<strata_codec::Encoder> = Default::default();
    }
    Codec {
        encode: |t, v| {
            let mut out = Vec::new();
            ENCODER.with_borrow_mut(|e| e.encode(t, v, &mut out)).expect("valid chunk");
            out
        },
        decode: |bytes, ts, vs| {
            ts.clear();
            vs.clear();
            DECODER.with_borrow_mut(|d| d.decode(bytes, ts, vs)).expect("valid chunk");
        },
    }
}

fn pco() -> Codec {
    Codec {
        encode: |t, v| {
            let config = pco::ChunkConfig::default();
            let ts = pco::standalone::simple_compress(t, &config).expect("pco compresses");
            let vs = pco::standalone::simple_compress(v, &config).expect("pco compresses");
            // Length-prefixed so that decode can split them; counted in the size, as a chunk
            // store would need it too.
            let mut out = (ts.len() as u32).to_le_bytes().to_vec();
            out.extend_from_slice(&ts);
            out.extend_from_slice(&vs);
            out
        },
        decode: |bytes, ts, vs| {
            let (len, rest) = bytes.split_at(4);
            let len = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
            let (t, v) = rest.split_at(len);
            *ts = pco::standalone::simple_decompress(t).expect("pco decompresses");
            *vs = pco::standalone::simple_decompress(v).expect("pco decompresses");
        },
    }
}

/// What a query pays without compression: copying the raw columns.
fn raw_baseline(series: &[workload::Series], points: usize) {
    let (mut ts, mut vs) = (Vec::new(), Vec::new());
    let copy = rate(points, || {
        for (t, v) in series {
            ts.clear();
            vs.clear();
            ts.extend_from_slice(black_box(t));
            vs.extend_from_slice(black_box(v));
            black_box((&ts, &vs));
        }
    });
    println!("raw columns (copy of Vec<i64> + Vec<f64>, 16 B/point): {copy:.0} M points/s");
}
