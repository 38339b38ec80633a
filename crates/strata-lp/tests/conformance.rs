//! Conformance: a table of named cases, each a single line with its expected outcome.
//!
//! An accepted line is rendered as `measurement|k=v,k=v|field=type:value,..|timestamp` so the
//! table shows exactly what was understood. A rejected line is `column: message`.

use strata_lp::{FieldValue, Line, ParseOptions, Parser, Precision};

fn render(line: &Line<'_>) -> String {
    let tags: Vec<String> = line.tags.iter().map(|t| format!("{}={}", t.key, t.value)).collect();
    let fields: Vec<String> = line
        .fields
        .iter()
        .map(|f| {
            let v = match &f.value {
                FieldValue::Float(v) => format!("float:{v:?}"),
                FieldValue::Integer(v) => format!("int:{v}"),
                FieldValue::Unsigned(v) => format!("uint:{v}"),
                FieldValue::Boolean(v) => format!("bool:{v}"),
                FieldValue::String(s) => format!("str:{s}"),
            };
            format!("{}={v}", f.key)
        })
        .collect();
    let ts = line.timestamp.map_or("-".to_owned(), |t| t.to_string());
    format!("{}|{}|{}|{}", line.measurement, tags.join(","), fields.join(","), ts)
}

fn outcome(input: &str, precision: Precision) -> String {
    let mut parser = Parser::new(input.as_bytes(), ParseOptions::with_precision(precision));
    let result = match parser.next() {
        Some(Ok(line)) => render(&line),
        Some(Err(e)) => {
            assert_eq!(e.line, 1, "{input:?}");
            format!("{}: {}", e.column, e.kind)
        }
        None => "skipped".to_owned(),
    };
    assert!(parser.next().is_none(), "{input:?} held more than one line");
    result
}

/// (name, input, expected) with nanosecond precision.
const CASES: &[(&str, &str, &str)] = &[
    // Shape.
    ("minimal", "m f=1", "m||f=float:1.0|-"),
    (
        "cc-metric-store line",
        "cpu_load,cluster=fritz,hostname=f0101,type=node value=4.25 1763769600000000000",
        "cpu_load|cluster=fritz,hostname=f0101,type=node|value=float:4.25|1763769600000000000",
    ),
    (
        "several fields",
        "m a=1,b=2i,c=3u,d=t,e=\"x\" 5",
        "m||a=float:1.0,b=int:2,c=uint:3,d=bool:true,e=str:x|5",
    ),
    ("unsorted tags", "m,z=1,a=2 f=1", "m|z=1,a=2|f=float:1.0|-"),
    ("blank line", "", "skipped"),
    ("spaces only", "   \t ", "skipped"),
    ("comment", "# m f=1", "skipped"),
    ("indented comment", "   # m f=1", "skipped"),
    ("hash inside a line is not a comment", "m f=\"#x\"", "m||f=str:#x|-"),
    ("leading spaces", "   m f=1 1", "m||f=float:1.0|1"),
    ("extra spaces between elements", "m,t=v    f=1     7", "m|t=v|f=float:1.0|7"),
    ("trailing spaces with timestamp", "m f=1 7   ", "m||f=float:1.0|7"),
    ("trailing space without timestamp", "m f=1 ", "m||f=float:1.0|-"),
    ("crlf", "m f=1 7\r\n", "m||f=float:1.0|7"),
    ("crlf without timestamp", "m f=1\r\n", "m||f=float:1.0|-"),
    ("crlf after trailing space", "m f=1 \r\n", "m||f=float:1.0|-"),
    (
        "utf-8 everywhere",
        "température,lieu=Zürich wert=1,note=\"grüß\"",
        "température|lieu=Zürich|wert=float:1.0,note=str:grüß|-",
    ),
    ("equals in measurement", "a=b f=1", "a=b||f=float:1.0|-"),
    ("quote in tag value", "m,t=\"x\" f=1", "m|t=\"x\"|f=float:1.0|-"),
    ("non-ASCII tag values", "m,k=日本,l=é\\ ü f=1", "m|k=日本,l=é ü|f=float:1.0|-"),
    ("non-ASCII before an escape", "é\\,m,k\\=é=ü\\,x f=1", "é,m|k=é=ü,x|f=float:1.0|-"),
    ("escaped carriage return is literal", "m,k=a\\\r f=1", "m|k=a\\\r|f=float:1.0|-"),
    (
        "backslash before crlf",
        "m,k=v f=1,g\\\r\n",
        "13: field key \"g\\\" is not followed by '=' and a value",
    ),
    ("bare carriage return inside a line", "m,k=a\rb f=1\r\n", "m|k=a\rb|f=float:1.0|-"),
    // Escapes.
    ("measurement escaped comma", r"a\,b f=1", "a,b||f=float:1.0|-"),
    ("measurement escaped space", r"a\ b f=1", "a b||f=float:1.0|-"),
    ("measurement backslash equals stays", r"a\=b f=1", r"a\=b||f=float:1.0|-"),
    ("measurement trailing backslash pair", r"a\\ f=1", r"a\||f=float:1.0|-"),
    ("measurement lone backslash", r"a\b f=1", r"a\b||f=float:1.0|-"),
    ("measurement starting with escaped space", r"\ m f=1", " m||f=float:1.0|-"),
    ("tag key escapes", r"m,a\,b\=c\ d=v f=1", "m|a,b=c d=v|f=float:1.0|-"),
    ("tag value escapes", r"m,k=a\,b\=c\ d f=1", "m|k=a,b=c d|f=float:1.0|-"),
    ("tag backslash run", r"m,k=a\\\\b f=1", r"m|k=a\\b|f=float:1.0|-"),
    ("tag backslash then other", r"m,k=a\nb f=1", r"m|k=a\nb|f=float:1.0|-"),
    ("tag value ending in escaped backslash", r"m,k=a\\ f=1", r"m|k=a\|f=float:1.0|-"),
    ("field key escapes", r"m a\,b\=c\ d=1", "m||a,b=c d=float:1.0|-"),
    ("string escaped quote", r#"m s="say \"hi\"""#, r#"m||s=str:say "hi"|-"#),
    ("string escaped backslash", r#"m s="a\\b""#, r"m||s=str:a\b|-"),
    ("string backslash then other", r#"m s="a\nb""#, r"m||s=str:a\nb|-"),
    ("string with delimiters", r#"m s="a, b=c d" 9"#, "m||s=str:a, b=c d|9"),
    ("string ending in escaped backslash", r#"m s="a\\" 9"#, r"m||s=str:a\|9"),
    ("empty string", r#"m s="""#, "m||s=str:|-"),
    // Floats.
    ("float integer form", "m f=1", "m||f=float:1.0|-"),
    ("float negative", "m f=-1.5", "m||f=float:-1.5|-"),
    ("float exponent", "m f=1e10", "m||f=float:10000000000.0|-"),
    ("float negative big exponent", "m f=-1.234456e+78", "m||f=float:-1.234456e78|-"),
    ("float capital exponent", "m f=1E-5", "m||f=float:1e-5|-"),
    ("float leading dot", "m f=.5", "m||f=float:0.5|-"),
    ("float trailing dot", "m f=5.", "m||f=float:5.0|-"),
    ("float negative zero", "m f=-0.0", "m||f=float:-0.0|-"),
    ("float max", "m f=1.7976931348623157e308", "m||f=float:1.7976931348623157e308|-"),
    ("float subnormal", "m f=4.9e-324", "m||f=float:5e-324|-"),
    ("float underflow to zero", "m f=1e-400", "m||f=float:0.0|-"),
    ("float many digits", "m f=123456789012345678901234567890", "m||f=float:1.2345678901234568e29|-"),
    (
        "float overflow",
        "m f=1e309",
        "5: float field \"f\" is not finite: NaN and infinities cannot be stored",
    ),
    (
        "float negative overflow",
        "m f=-1.8e308",
        "5: float field \"f\" is not finite: NaN and infinities cannot be stored",
    ),
    ("NaN", "m f=NaN", "5: float field \"f\" is not finite: NaN and infinities cannot be stored"),
    ("nan lowercase", "m f=nan", "5: float field \"f\" is not finite: NaN and infinities cannot be stored"),
    ("inf", "m f=inf", "5: float field \"f\" is not finite: NaN and infinities cannot be stored"),
    (
        "negative infinity",
        "m f=-Infinity",
        "5: float field \"f\" is not finite: NaN and infinities cannot be stored",
    ),
    (
        "float plus sign",
        "m f=+1",
        "5: field \"f\" has an invalid value \"+1\": expected a number (float, or integer with suffix i or u), a boolean or a quoted string",
    ),
    (
        "float two dots",
        "m f=1.2.3",
        "5: field \"f\" has an invalid value \"1.2.3\": expected a number (float, or integer with suffix i or u), a boolean or a quoted string",
    ),
    (
        "float empty exponent",
        "m f=1e",
        "5: field \"f\" has an invalid value \"1e\": the exponent has no digits",
    ),
    (
        "float hex",
        "m f=0x1F",
        "5: field \"f\" has an invalid value \"0x1F\": expected a number (float, or integer with suffix i or u), a boolean or a quoted string",
    ),
    // Integers.
    ("int", "m f=-42i", "m||f=int:-42|-"),
    ("int max", "m f=9223372036854775807i", "m||f=int:9223372036854775807|-"),
    ("int min", "m f=-9223372036854775808i", "m||f=int:-9223372036854775808|-"),
    ("int max plus one", "m f=9223372036854775808i", "5: integer field \"f\" overflows i64"),
    ("int min minus one", "m f=-9223372036854775809i", "5: integer field \"f\" overflows i64"),
    (
        "int with fraction",
        "m f=1.5i",
        "5: field \"f\" has an invalid value \"1.5i\": an integer (suffix i) is an optional '-' and the digits 0-9",
    ),
    (
        "int plus sign",
        "m f=+1i",
        "5: field \"f\" has an invalid value \"+1i\": an integer (suffix i) is an optional '-' and the digits 0-9",
    ),
    (
        "int no digits",
        "m f=i",
        "5: field \"f\" has an invalid value \"i\": an integer (suffix i) is an optional '-' and the digits 0-9",
    ),
    ("uint", "m f=42u", "m||f=uint:42|-"),
    ("uint zero", "m f=0u", "m||f=uint:0|-"),
    ("uint max", "m f=18446744073709551615u", "m||f=uint:18446744073709551615|-"),
    ("uint max plus one", "m f=18446744073709551616u", "5: unsigned field \"f\" overflows u64"),
    ("uint negative", "m f=-1u", "5: unsigned field \"f\" is negative"),
    (
        "uint exponent",
        "m f=1e3u",
        "5: field \"f\" has an invalid value \"1e3u\": an unsigned integer (suffix u) is the digits 0-9",
    ),
    // Booleans: exactly ten spellings.
    ("bool t", "m f=t", "m||f=bool:true|-"),
    ("bool T", "m f=T", "m||f=bool:true|-"),
    ("bool true", "m f=true", "m||f=bool:true|-"),
    ("bool True", "m f=True", "m||f=bool:true|-"),
    ("bool TRUE", "m f=TRUE", "m||f=bool:true|-"),
    ("bool f", "m f=f", "m||f=bool:false|-"),
    ("bool F", "m f=F", "m||f=bool:false|-"),
    ("bool false", "m f=false", "m||f=bool:false|-"),
    ("bool False", "m f=False", "m||f=bool:false|-"),
    ("bool FALSE", "m f=FALSE", "m||f=bool:false|-"),
    (
        "bool tRUE",
        "m f=tRUE",
        "5: field \"f\" has an invalid value \"tRUE\": a boolean is one of t, T, true, True, TRUE, f, F, false, False, FALSE",
    ),
    (
        "bool yes",
        "m f=yes",
        "5: field \"f\" has an invalid value \"yes\": expected a number (float, or integer with suffix i or u), a boolean or a quoted string",
    ),
    // Timestamps.
    ("timestamp negative", "m f=1 -5", "m||f=float:1.0|-5"),
    ("timestamp i64 max", "m f=1 9223372036854775807", "m||f=float:1.0|9223372036854775807"),
    ("timestamp i64 min", "m f=1 -9223372036854775808", "m||f=float:1.0|-9223372036854775808"),
    (
        "timestamp overflow",
        "m f=1 9223372036854775808",
        "7: invalid timestamp \"9223372036854775808\": it overflows a signed 64-bit integer",
    ),
    (
        "timestamp float",
        "m f=1 1.5",
        "7: invalid timestamp \"1.5\": a timestamp is an integer: an optional '-' and the digits 0-9",
    ),
    (
        "timestamp quoted",
        "m f=1 \"5\"",
        "7: invalid timestamp \"\\\"5\\\"\": a timestamp is an integer: an optional '-' and the digits 0-9",
    ),
    (
        "timestamp plus",
        "m f=1 +5",
        "7: invalid timestamp \"+5\": a timestamp is an integer: an optional '-' and the digits 0-9",
    ),
    ("text after timestamp", "m f=1 5 6", "9: unexpected text \"6\" after the timestamp"),
    // Structure errors.
    ("no fields", "m", "2: missing fields: a line needs at least one field after the measurement and tags"),
    (
        "no fields after tags",
        "m,t=v",
        "6: missing fields: a line needs at least one field after the measurement and tags",
    ),
    (
        "no fields after space",
        "m,t=v   ",
        "9: missing fields: a line needs at least one field after the measurement and tags",
    ),
    ("missing measurement", ",t=v f=1", "1: missing measurement: the line starts with ','"),
    ("comma without tag", "m, f=1", "3: expected a tag key after ','"),
    ("trailing tag comma", "m,t=v, f=1", "7: expected a tag key after ','"),
    ("tag without equals", "m,t f=1", "4: tag key \"t\" is not followed by '=' and a value"),
    ("tag empty value", "m,t= f=1", "5: tag \"t\" has an empty value"),
    ("tag empty key", "m,=v f=1", "3: expected a tag key after ','"),
    (
        "tag unescaped equals",
        "m,t=a=b f=1",
        "6: tag \"t\" has an unescaped '=' in its value (write it as '\\=')",
    ),
    ("duplicate tag", "m,a=1,b=2,a=3 f=1", "11: duplicate tag key \"a\""),
    ("duplicate tag adjacent", "m,a=1,a=2 f=1", "7: duplicate tag key \"a\""),
    ("duplicate tag after escape", r"m,a\ b=1,a\ b=2 f=1", "10: duplicate tag key \"a b\""),
    ("field tag clash", "m,value=1 value=2", "11: field \"value\" has the same name as a tag"),
    ("field tag clash unsorted tags", "m,z=1,a=2 a=2", "11: field \"a\" has the same name as a tag"),
    ("duplicate field", "m f=1,f=2", "7: duplicate field key \"f\""),
    ("field without equals", "m f", "4: field key \"f\" is not followed by '=' and a value"),
    ("field without value", "m f=", "5: field \"f\" has no value"),
    ("field without value before comma", "m f=,g=1", "5: field \"f\" has no value"),
    ("empty field key", "m =1", "3: expected a field key"),
    ("trailing field comma", "m f=1,", "7: expected a field key"),
    ("space after field comma", "m f=1, g=2", "7: expected a field key"),
    ("unterminated string", "m s=\"abc", "5: string field \"s\" has no closing quote"),
    ("unterminated string escaped quote", r#"m s="abc\""#, "5: string field \"s\" has no closing quote"),
    (
        "text after string",
        "m s=\"a\"b",
        "8: unexpected 'b' after the string field \"s\": expected ',' or ' '",
    ),
];

#[test]
fn conformance_table() {
    let mut failures = Vec::new();
    for &(name, input, expected) in CASES {
        let got = outcome(input, Precision::Nanoseconds);
        if got != expected {
            failures.push(format!("{name}:\n  input    {input:?}\n  expected {expected}\n  got      {got}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn invalid_utf8_names_the_column() {
    let input = b"m,t=\xff\xfe f=1\nm f=2\n";
    let results: Vec<_> = Parser::new(input, ParseOptions::default()).collect();
    let err = results[0].as_ref().unwrap_err();
    assert_eq!(err.to_string(), "line 1, column 5: line is not valid UTF-8");
    assert_eq!(results[1].as_ref().unwrap().fields[0].value, FieldValue::Float(2.0));
}

/// The parser finds delimiters from masks of 64-byte blocks of the whole input; a line must read
/// the same wherever it falls in the input, escapes and multi-byte characters on block edges
/// included, and whatever follows it.
#[test]
fn lines_read_the_same_at_every_offset() {
    let long_tags: String = (0..12).map(|i| format!(",k{i}=v\\ {i}\\,é")).collect();
    let lines = [
        "cpu_user,cluster=fritz,hostname=f0101,type=hwthread,type-id=0 value=13.9 1763769600".to_owned(),
        format!("m{long_tags} f=1,g=\"a,b\\\" c\" 7"),
        format!("m\\ x{long_tags},bad f=1"),
        format!("m{long_tags},k=\\\\\\,\\=\\  a\\=b=1i,c=2u 3   "),
        "m,t=ünïcödé,u=日本語 f=\"ßtring\"".to_owned(),
        format!("{} f=1", "a\\,".repeat(40)),
        format!("m,{}=1 f=1", "é".repeat(40)),
        "m,t=v f=1 9\\".to_owned(),
        "m,t=v\\".to_owned(),
        "m f=1,".to_owned(),
        "\\".to_owned(),
    ];
    // Accepted lines rendered, rejected ones as (line, column, reason).
    let outcomes = |input: &[u8]| -> Vec<Result<String, (usize, usize, String)>> {
        Parser::new(input, ParseOptions::default())
            .map(|r| r.map(|line| render(&line)).map_err(|e| (e.line, e.column, e.kind.to_string())))
            .collect()
    };
    for line in &lines {
        for ending in ["", "\n", "\r\n", "\nm f=2", "\r\n\r\n"] {
            // Behind a comment line, every result but the line numbers is the same.
            let want: Vec<_> = outcomes(format!("{line}{ending}").as_bytes())
                .into_iter()
                .map(|o| o.map_err(|(line, column, reason)| (line + 1, column, reason)))
                .collect();
            for pad in 0..=130 {
                let input = format!("#{}\n{line}{ending}", "x".repeat(pad));
                assert_eq!(outcomes(input.as_bytes()), want, "{input:?}");
            }
        }
    }
    // Invalid UTF-8 on and around a block edge still names its column.
    for at in 60..70 {
        let mut input = format!("m,t={} f=1\n", "a".repeat(at - 4)).into_bytes();
        input[at] = 0xff;
        let err = Parser::new(&input, ParseOptions::default()).next().unwrap().unwrap_err();
        assert_eq!((err.column, err.kind), (at + 1, strata_lp::ErrorKind::InvalidUtf8));
    }
}

#[test]
fn precisions_convert_to_nanoseconds() {
    let cases = [
        (Precision::Seconds, "m f=1 1763769600", Some(1_763_769_600_000_000_000)),
        (Precision::Milliseconds, "m f=1 1763769600123", Some(1_763_769_600_123_000_000)),
        (Precision::Microseconds, "m f=1 -1", Some(-1_000)),
        (Precision::Nanoseconds, "m f=1 42", Some(42)),
    ];
    for (precision, input, want) in cases {
        let line =
            Parser::new(input.as_bytes(), ParseOptions::with_precision(precision)).next().unwrap().unwrap();
        assert_eq!(line.timestamp, want, "{precision}");
    }
    // The exact edge of i64 nanoseconds in seconds precision, and one past it.
    assert_eq!(outcome("m f=1 9223372036", Precision::Seconds), "m||f=float:1.0|9223372036000000000");
    assert_eq!(
        outcome("m f=1 9223372037", Precision::Seconds),
        "7: timestamp 9223372037 in precision s overflows i64 nanoseconds"
    );
    assert_eq!(
        outcome("m f=1 -9223372037", Precision::Seconds),
        "7: timestamp -9223372037 in precision s overflows i64 nanoseconds"
    );
}

#[test]
fn default_time_fills_lines_without_timestamp() {
    let options = ParseOptions { precision: Precision::Seconds, default_time: Some(77) };
    let lines: Vec<_> = Parser::new(b"m f=1\nm f=2 3\n", options).map(Result::unwrap).collect();
    assert_eq!(lines[0].timestamp, Some(77));
    assert_eq!(lines[1].timestamp, Some(3_000_000_000));
}

#[test]
fn a_bad_line_does_not_stop_the_next() {
    let input = b"m f=1 1\n\n# comment\nm f=oops 2\r\nm,t=v f=3i 3\nm f=\"open\nm f=4u";
    let results: Vec<_> = Parser::new(input, ParseOptions::default()).collect();
    assert_eq!(results.len(), 5);
    let numbers: Vec<usize> = results
        .iter()
        .map(|r| match r {
            Ok(line) => line.number,
            Err(e) => e.line,
        })
        .collect();
    assert_eq!(numbers, [1, 4, 5, 6, 7]);
    assert!(results[0].is_ok() && results[2].is_ok() && results[4].is_ok());
    assert_eq!(results[1].as_ref().unwrap_err().column, 5);
    assert_eq!(
        results[3].as_ref().unwrap_err().to_string(),
        "line 6, column 5: string field \"f\" has no closing quote"
    );
}

#[test]
fn zero_copy_unless_escaped() {
    use std::borrow::Cow;
    let input = br#"cpu,host=a\ b,rack=r1 value=1,note="x" 1"#;
    let line = Parser::new(input, ParseOptions::default()).next().unwrap().unwrap();
    assert!(matches!(line.measurement, Cow::Borrowed("cpu")));
    assert!(matches!(line.tags[0].value, Cow::Owned(ref s) if s == "a b"));
    assert!(matches!(line.tags[1].value, Cow::Borrowed("r1")));
    assert!(matches!(line.fields[1].value, FieldValue::String(Cow::Borrowed("x"))));
    assert_eq!(line.series_text, r"cpu,host=a\ b,rack=r1");
}

#[test]
fn string_length_limit_is_exact() {
    let at_limit = format!("m s=\"{}\"", "a".repeat(strata_lp::MAX_STRING_LEN));
    assert!(Parser::new(at_limit.as_bytes(), ParseOptions::default()).next().unwrap().is_ok());
    let over = format!("m s=\"{}\"", "a".repeat(strata_lp::MAX_STRING_LEN + 1));
    let err = Parser::new(over.as_bytes(), ParseOptions::default()).next().unwrap().unwrap_err();
    assert_eq!(
        err.to_string(),
        "line 1, column 5: string field \"s\" is 1048577 bytes long, more than the limit of 1048576 bytes"
    );
}

#[test]
fn reused_line_matches_fresh_parse() {
    let input = b"a,x=1 f=1 1\nb\\ c,y=2,z=3 g=\"s\",h=2i 2\nbad\nd k=t";
    let fresh: Vec<_> = Parser::new(input, ParseOptions::default()).collect();
    let mut parser = Parser::new(input, ParseOptions::default());
    let mut line = Line::default();
    let mut n = 0;
    while let Some(result) = parser.next_into(&mut line) {
        match (&fresh[n], result) {
            (Ok(want), Ok(())) => assert_eq!(want, &line),
            (Err(want), Err(got)) => assert_eq!(want, &got),
            (want, got) => panic!("line {n}: {want:?} vs {got:?}"),
        }
        n += 1;
    }
    assert_eq!(n, fresh.len());
}

/// Lines with many keys: the duplicate checks switch to hashes past a handful of keys, so the
/// outcome (and its column) must be the same as a plain scan would give, and the bounds hold.
#[test]
fn many_tags_and_fields_keep_their_checks_and_bounds() {
    use strata_lp::{MAX_FIELDS, MAX_TAGS};
    // Unsorted tags (reverse order), the last one a duplicate of the first.
    let tags: Vec<String> = (0..200).rev().map(|i| format!("t{i:03}=v")).collect();
    let line = format!("m,{},t199=again f=1 1", tags.join(","));
    let column = line.find(",t199=again").unwrap() + 2;
    assert_eq!(outcome(&line, Precision::Nanoseconds), format!("{column}: duplicate tag key \"t199\""));
    // Many unsorted tags without a duplicate: accepted, every tag kept in order.
    let ok = format!("m,{} f=1 1", tags.join(","));
    assert!(outcome(&ok, Precision::Nanoseconds).starts_with("m|t199=v,t198=v,"), "{ok}");
    // Fields: a duplicate among many, and a field named like a tag.
    let fields: Vec<String> = (0..100).map(|i| format!("f{i}={i}")).collect();
    let dup = format!("m,a=1 {},f42=7 1", fields.join(","));
    let column = dup.find(",f42=7").unwrap() + 2;
    assert_eq!(outcome(&dup, Precision::Nanoseconds), format!("{column}: duplicate field key \"f42\""));
    let clash = format!("m,{} {},t150=1 1", tags.join(","), fields.join(","));
    let column = clash.find(",t150=1 ").unwrap() + 2;
    assert!(outcome(&clash, Precision::Nanoseconds).starts_with(&format!("{column}: ")), "{clash}");
    // The bounds, named in the error, at the first key past them.
    let too_many: Vec<String> = (0..MAX_TAGS + 1).map(|i| format!("t{i}=v")).collect();
    let line = format!("m,{} f=1 1", too_many.join(","));
    let column = line.find(&format!(",t{MAX_TAGS}=")).unwrap() + 2;
    assert_eq!(
        outcome(&line, Precision::Nanoseconds),
        format!("{column}: more than {MAX_TAGS} tags on one line (the parser's MAX_TAGS)")
    );
    let too_many: Vec<String> = (0..MAX_FIELDS + 1).map(|i| format!("f{i}=1")).collect();
    let line = format!("m {} 1", too_many.join(","));
    let column = line.find(&format!(",f{MAX_FIELDS}=")).unwrap() + 2;
    assert_eq!(
        outcome(&line, Precision::Nanoseconds),
        format!("{column}: more than {MAX_FIELDS} fields on one line (the parser's MAX_FIELDS)")
    );
    // A line of a million tags is refused at tag MAX_TAGS + 1, without reading the rest.
    let huge: String = (0..1_000_000).map(|i| format!(",k{i:07}=v")).collect();
    let huge = format!("m{huge} f=1 1");
    assert!(outcome(&huge, Precision::Nanoseconds).contains("more than 256 tags"));
}
