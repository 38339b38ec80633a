//! Arbitrary bytes through the line parser under every precision. Beyond "no panic", it checks
//! what must hold of any input: errors point inside their line, every accepted line is
//! well-formed, and an accepted line written back out parses to the same values.

#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_lp::{FieldValue, ParseOptions, Parser, Precision};

fuzz_target!(|data: &[u8]| {
    let newlines = data.iter().filter(|&&b| b == b'\n').count();
    for precision in Precision::ALL {
        for result in Parser::new(data, ParseOptions::with_precision(precision)) {
            match result {
                Err(err) => {
                    assert!(err.line >= 1 && err.line <= newlines + 1);
                    assert!(err.column >= 1);
                }
                Ok(line) => {
                    assert!(!line.measurement.is_empty() && !line.fields.is_empty());
                    for field in &line.fields {
                        if let FieldValue::Float(v) = field.value {
                            assert!(v.is_finite());
                        }
                    }
                    let mut text = String::new();
                    line.write_to(&mut text).expect("a parsed line can be written back");
                    let back = Parser::new(text.as_bytes(), ParseOptions::default())
                        .next()
                        .expect("one line")
                        .expect("a written line parses");
                    assert_eq!(back.measurement, line.measurement);
                    assert_eq!(back.tags, line.tags);
                    assert_eq!(back.timestamp, line.timestamp);
                    assert_eq!(back.fields.len(), line.fields.len());
                }
            }
        }
    }
});
