//! Parse a file held in memory several times and print the median speed; a quick check while
//! tuning the parser (the recorded figures come from `benches/`).
//!
//! `cargo run --release -p strata-lp --example parse_speed -- FILE [RUNS]`

use std::time::Instant;

use strata_lp::{FieldValue, Line, ParseOptions, Parser, Precision};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: parse_speed FILE [RUNS]");
    let runs: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(7);
    let data = std::fs::read(&path).expect("readable file");
    let mut secs = Vec::new();
    let mut checksum = 0.0;
    let mut lines = 0;
    for _ in 0..runs {
        let started = Instant::now();
        let mut parser = Parser::new(&data, ParseOptions::with_precision(Precision::Seconds));
        let mut line = Line::default();
        lines = 0;
        while let Some(result) = parser.next_into(&mut line) {
            if result.is_ok() {
                lines += 1;
                if let Some(FieldValue::Float(v)) = line.fields.first().map(|f| &f.value) {
                    checksum += v;
                }
            }
        }
        secs.push(started.elapsed().as_secs_f64());
    }
    secs.sort_by(f64::total_cmp);
    let median = secs[secs.len() / 2];
    println!(
        "{lines} lines, {:.1} MB: median {:.3} s, {:.0} MB/s, {:.2} M lines/s (checksum {checksum:.3e})",
        data.len() as f64 / 1e6,
        median,
        data.len() as f64 / median / 1e6,
        lines as f64 / median / 1e6
    );
}
