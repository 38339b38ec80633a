//! Property tests: any representable line, serialized and parsed back, gives the same values.

use std::borrow::Cow;

use proptest::prelude::*;
use strata_lp::{Field, FieldValue, Line, ParseOptions, Parser, Precision, Tag};

/// Text that line protocol can carry: anything but a newline, biased towards the characters that
/// need escaping.
fn text() -> impl Strategy<Value = String> {
    let special = prop::sample::select(vec![',', '=', ' ', '\\', '"', '#', '\t', '\r', 'é', '日', 'x']);
    let any_char = any::<char>().prop_filter("no newline", |c| *c != '\n');
    prop::collection::vec(prop_oneof![2 => special, 3 => any_char], 1..12)
        .prop_map(|chars| chars.into_iter().collect())
}

fn measurement() -> impl Strategy<Value = String> {
    text()
        .prop_filter("a leading '#' or tab reads back as a comment or blank", |s| !s.starts_with(['#', '\t']))
}

fn finite_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |v| v.is_finite()),
        // Values with few decimals, as collectors send them.
        (-1_000_000i64..1_000_000, 0u32..5).prop_map(|(m, d)| m as f64 / 10f64.powi(d as i32)),
        prop::sample::select(vec![0.0, -0.0, f64::MIN_POSITIVE, 5e-324, f64::MAX, f64::MIN, 1e22, 1e23]),
    ]
}

fn field_value() -> impl Strategy<Value = FieldValue<'static>> {
    prop_oneof![
        finite_f64().prop_map(FieldValue::Float),
        any::<i64>().prop_map(FieldValue::Integer),
        any::<u64>().prop_map(FieldValue::Unsigned),
        any::<bool>().prop_map(FieldValue::Boolean),
        prop::collection::vec(any::<char>().prop_filter("no newline", |c| *c != '\n'), 0..16)
            .prop_map(|c| FieldValue::String(Cow::Owned(c.into_iter().collect()))),
    ]
}

prop_compose! {
    fn line()(
        measurement in measurement(),
        tags in prop::collection::btree_map(text(), text(), 0..6),
        fields in prop::collection::btree_map(text(), field_value(), 1..5),
        timestamp in prop::option::of(any::<i64>()),
    ) -> Line<'static> {
        let tags: Vec<Tag<'static>> = tags
            .into_iter()
            .map(|(k, v)| Tag { key: Cow::Owned(k), value: Cow::Owned(v) })
            .collect();
        let fields = fields
            .into_iter()
            .filter(|(k, _)| !tags.iter().any(|t| t.key == k.as_str()))
            .map(|(k, v)| Field { key: Cow::Owned(k), value: v })
            .collect();
        Line { number: 1, measurement: Cow::Owned(measurement), tags, fields, timestamp, series_text: "" }
    }
}

/// Bit-exact comparison for floats, so -0.0 and 0.0 differ.
fn same_values(a: &Line<'_>, b: &Line<'_>) -> bool {
    let value_eq = |x: &FieldValue<'_>, y: &FieldValue<'_>| match (x, y) {
        (FieldValue::Float(x), FieldValue::Float(y)) => x.to_bits() == y.to_bits(),
        _ => x == y,
    };
    a.measurement == b.measurement
        && a.tags == b.tags
        && a.timestamp == b.timestamp
        && a.fields.len() == b.fields.len()
        && a.fields.iter().zip(&b.fields).all(|(x, y)| x.key == y.key && value_eq(&x.value, &y.value))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn serialize_then_parse_gives_the_same_line(line in line()) {
        prop_assume!(!line.fields.is_empty());
        let mut text = String::new();
        line.write_to(&mut text).unwrap();
        let parsed: Vec<_> = Parser::new(text.as_bytes(), ParseOptions::with_precision(Precision::Nanoseconds)).collect();
        prop_assert_eq!(parsed.len(), 1, "{:?}", text);
        let back = parsed.into_iter().next().unwrap();
        let back = back.map_err(|e| TestCaseError::fail(format!("{e} in {text:?}")))?;
        prop_assert!(same_values(&line, &back), "{:?}\n{:?}\n{:?}", text, line, back);
    }

    #[test]
    fn many_lines_with_crlf_and_noise(lines in prop::collection::vec(line(), 1..8)) {
        let lines: Vec<_> = lines.into_iter().filter(|l| !l.fields.is_empty()).collect();
        let mut text = String::from("# header\n\n");
        for line in &lines {
            line.write_to(&mut text).unwrap();
            text.insert(text.len() - 1, '\r');
            text.push_str("   \n");
        }
        let parsed: Vec<_> = Parser::new(text.as_bytes(), ParseOptions::default()).collect::<Result<_, _>>()
            .map_err(|e| TestCaseError::fail(format!("{e} in {text:?}")))?;
        prop_assert_eq!(parsed.len(), lines.len());
        for (a, b) in lines.iter().zip(&parsed) {
            prop_assert!(same_values(a, b));
        }
    }

    /// Block masks cover the whole input, so the same bytes must read the same behind a prefix
    /// of any length (which moves every block edge).
    #[test]
    fn lines_read_the_same_behind_any_prefix(
        lines in prop::collection::vec(
            prop::collection::vec(prop::sample::select(b"ab1.=, \\\"\r\n#it\xc3\xa9\xff".to_vec()), 0..90),
            1..4,
        ),
        pad in 0usize..140,
    ) {
        let body: Vec<u8> = lines.join(&b'\n');
        let outcomes = |input: &[u8]| -> Vec<_> {
            Parser::new(input, ParseOptions::default())
                .map(|r| r.map(|l| format!("{l:?}").replace(&format!("number: {}", l.number), "")).map_err(|e| (e.line, e.column, e.kind)))
                .collect()
        };
        let mut shifted = vec![b'#'; pad + 1];
        shifted.push(b'\n');
        shifted.extend_from_slice(&body);
        let want: Vec<_> = outcomes(&body).into_iter().map(|o| o.map_err(|(l, c, k)| (l + 1, c, k))).collect();
        prop_assert_eq!(outcomes(&shifted), want);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        for result in Parser::new(&bytes, ParseOptions::default()) {
            if let Err(e) = result {
                prop_assert!(e.line >= 1 && e.column >= 1);
            }
        }
    }
}

#[test]
fn unrepresentable_lines_are_refused() {
    let base = || Line {
        number: 1,
        measurement: Cow::Borrowed("m"),
        tags: vec![],
        fields: vec![Field { key: Cow::Borrowed("f"), value: FieldValue::Float(1.0) }],
        timestamp: None,
        series_text: "",
    };
    let mut out = String::new();
    let mut l = base();
    l.measurement = Cow::Borrowed("#m");
    assert!(l.write_to(&mut out).is_err());
    let mut l = base();
    l.fields[0].value = FieldValue::Float(f64::NAN);
    assert_eq!(l.write_to(&mut out).unwrap_err().to_string(), "float field \"f\" is not finite");
    let mut l = base();
    l.tags.push(Tag { key: Cow::Borrowed("t"), value: Cow::Borrowed("a\nb") });
    assert!(l.write_to(&mut out).is_err());
    let mut l = base();
    l.fields.clear();
    assert!(l.write_to(&mut out).is_err());
    let mut l = base();
    l.tags.push(Tag { key: Cow::Borrowed("f"), value: Cow::Borrowed("x") });
    assert!(l.write_to(&mut out).is_err());
    assert!(out.is_empty(), "nothing is written for a refused line");
}
