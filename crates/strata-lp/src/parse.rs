//! The line parser.
//!
//! A parse runs over the bytes of one line at a time: the line's end, and whether it is all
//! ASCII, come from the block masks of [`Blocks`] (a line with a byte ≥ 0x80 is checked for
//! UTF-8 on its own); the line is then split at the ASCII delimiters those masks mark, so every
//! element is a `&str` slice of the input. Escapes are resolved into an owned string only for
//! elements that hold one.

#![deny(clippy::indexing_slicing, clippy::unwrap_used)]

use std::borrow::Cow;

use crate::Precision;
use crate::blocks::Blocks;
use crate::error::{ErrorKind, ParseError};
use crate::line::{Field, FieldValue, Line, Tag};
use crate::number::{self, NumberError};
use crate::plain::{key_bit, plain_line, plain_tags};
use crate::tokens::{SPACE_STOPS, STRING_STOPS, Tokens, VALUE_STOPS, scan, scan_escaped, slice};

/// The longest string field value accepted, in bytes as written (InfluxDB 3's limit).
pub const MAX_STRING_LEN: usize = 1 << 20;

/// The most tags a line may carry. Telegraf and cc-metric-collector write a handful; a line
/// past this is refused as soon as its tag number `MAX_TAGS + 1` is read, so one bad line cannot
/// stall ingest.
pub const MAX_TAGS: usize = 256;

/// The most fields a line may carry.
pub const MAX_FIELDS: usize = 1024;

/// Up to this many keys on a line, a duplicate is found by comparing with each earlier key
/// (cheaper than hashing); past it, by hashes, so the check stays linear in the line's length.
const SCAN_KEYS: usize = 16;

/// Hashes of the keys a line has used so far, once it has more than [`SCAN_KEYS`]: a hash hit
/// is confirmed by comparing the keys, which only a duplicate or a collision reaches. The
/// hasher's keys are random per process, so a client cannot craft colliding keys.
#[derive(Default)]
struct KeyHashes {
    state: std::hash::RandomState,
    tags: std::collections::HashSet<u64>,
    fields: std::collections::HashSet<u64>,
}

impl KeyHashes {
    fn hash(&self, key: &str) -> u64 {
        use std::hash::BuildHasher as _;
        self.state.hash_one(key)
    }
}

/// How a write's lines are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ParseOptions {
    /// Unit of the timestamps written in the lines.
    pub precision: Precision,
    /// Nanoseconds given to lines that carry no timestamp (the write's arrival time, usually).
    /// `None` leaves their [`Line::timestamp`] empty.
    pub default_time: Option<i64>,
}

impl ParseOptions {
    /// Options with the given precision and no default time.
    pub fn with_precision(precision: Precision) -> Self {
        ParseOptions { precision, default_time: None }
    }
}

/// Reads lines one after another from an input buffer.
///
/// Blank lines and comments are skipped. A rejected line is reported and parsing goes on with
/// the next one.
///
/// ```
/// use strata_lp::{FieldValue, ParseOptions, Parser, Precision};
///
/// let input = b"cpu_load,cluster=fritz,hostname=f0101 value=4.25 1763769600\nbad line\n";
/// let mut parser = Parser::new(input, ParseOptions::with_precision(Precision::Seconds));
///
/// let line = parser.next().unwrap().unwrap();
/// assert_eq!(line.measurement, "cpu_load");
/// assert_eq!(line.tag("hostname"), Some("f0101"));
/// assert_eq!(line.field("value"), Some(&FieldValue::Float(4.25)));
/// assert_eq!(line.timestamp, Some(1_763_769_600_000_000_000));
///
/// let err = parser.next().unwrap().unwrap_err();
/// assert_eq!(err.to_string(), "line 2, column 9: field key \"line\" is not followed by '=' and a value");
/// assert!(parser.next().is_none());
/// ```
#[derive(Debug, Clone)]
pub struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
    line: usize,
    options: ParseOptions,
    /// Where the input's newlines, delimiters and non-ASCII bytes are.
    blocks: Blocks<'a>,
    /// Lines to parse with the general parser alone before trying the fast path again. A line
    /// the fast path declines is parsed twice; writers send lines of one shape, so after a
    /// decline the next few lines likely would be declined too (string fields, escapes).
    skip_plain: u8,
}

/// How many lines go straight to the general parser after the fast path declined one.
const SKIP_PLAIN: u8 = 8;

impl<'a> Parser<'a> {
    /// A parser over `input`, which holds any number of lines.
    pub fn new(input: &'a [u8], options: ParseOptions) -> Self {
        Parser { input, pos: 0, line: 0, options, blocks: Blocks::new(input), skip_plain: 0 }
    }

    /// Parses the next non-blank, non-comment line into `out`, reusing its allocations.
    /// Returns `None` at the end of the input.
    ///
    /// # Errors
    /// A [`ParseError`] naming the line, the column and the reason when the line is invalid;
    /// `out` is then left in an unspecified state. The next call goes on with the next line.
    pub fn next_into(&mut self, out: &mut Line<'a>) -> Option<Result<(), ParseError>> {
        loop {
            let line_start = self.pos;
            if line_start >= self.input.len() {
                return None;
            }
            let (line_end, ascii) = self.blocks.line_end(line_start);
            self.pos = line_end + 1;
            self.line += 1;
            let raw = self.input.get(line_start..line_end).unwrap_or_default();
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            let start = match raw.first() {
                Some(b' ' | b'\t') => match raw.iter().position(|&b| b != b' ' && b != b'\t') {
                    Some(start) => start,
                    None => continue, // blank
                },
                Some(_) => 0,
                None => continue, // empty
            };
            if raw.get(start) == Some(&b'#') {
                continue; // comment
            }
            // A parsed line sets every other field; these two it only adds to.
            out.tags.clear();
            out.fields.clear();
            out.number = self.line;
            let text = if ascii {
                Ok(ascii_text(raw))
            } else {
                std::str::from_utf8(raw).map_err(|e| e.valid_up_to())
            };
            return Some(match text {
                Ok(text) => {
                    let mut tokens = Tokens { blocks: &mut self.blocks, offset: line_start, len: text.len() };
                    if self.skip_plain == 0 {
                        if plain_line(text, start, &self.options, out, &mut tokens) {
                            return Some(Ok(()));
                        }
                        self.skip_plain = SKIP_PLAIN;
                        out.tags.clear();
                        out.fields.clear();
                    } else {
                        self.skip_plain -= 1;
                    }
                    parse_line(text, start, self.line, &self.options, out, &mut tokens)
                }
                Err(valid) => {
                    Err(ParseError { line: self.line, column: valid + 1, kind: ErrorKind::InvalidUtf8 })
                }
            });
        }
    }

    /// How many lines (including blank and comment lines) have been consumed so far.
    pub fn lines_read(&self) -> usize {
        self.line
    }
}

/// `bytes` as text, without a second look: the caller found no byte ≥ 0x80 in them.
#[inline(always)]
fn ascii_text(bytes: &[u8]) -> &str {
    debug_assert!(bytes.is_ascii());
    #[expect(unsafe_code, reason = "measured: skips a UTF-8 pass over every ASCII line (docs/BENCHMARKS.md)")]
    // SAFETY: the block masks showed no byte >= 0x80 in `bytes`, and ASCII is valid UTF-8.
    unsafe {
        std::str::from_utf8_unchecked(bytes)
    }
}

impl<'a> Iterator for Parser<'a> {
    type Item = Result<Line<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut line = Line::default();
        self.next_into(&mut line).map(|r| r.map(|()| line))
    }
}

/// The characters a backslash escapes in each element. A backslash before anything else is a
/// literal backslash; a backslash before a backslash is one backslash.
const MEASUREMENT_ESCAPES: &[char] = &[',', ' ', '\\'];
const KEY_ESCAPES: &[char] = &[',', '=', ' ', '\\'];
const STRING_ESCAPES: &[char] = &['"', '\\'];

#[inline(always)]
fn unescape<'a>(raw: &'a str, escaped: bool, escapes: &[char]) -> Cow<'a, str> {
    if escaped { Cow::Owned(unescape_owned(raw, escapes)) } else { Cow::Borrowed(raw) }
}

#[cold]
#[inline(never)]
fn unescape_owned(raw: &str, escapes: &[char]) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(&next) = chars.peek()
            && escapes.contains(&next)
        {
            out.push(next);
            chars.next();
            continue;
        }
        out.push(c);
    }
    out
}

/// The character starting at byte `i` of `text`, for error messages.
fn char_at(text: &str, i: usize) -> char {
    text.get(i..).and_then(|s| s.chars().next()).unwrap_or(' ')
}

/// The tags from the `,` at `i` on, each checked and unescaped; returns the index after the
/// last. Called only for what [`plain_tags`] left, so kept out of the hot path.
#[inline(never)]
fn tags<'a>(
    text: &'a str,
    mut i: usize,
    number: usize,
    tokens: &mut Tokens<'_, 'a>,
    tags: &mut Vec<Tag<'a>>,
    tag_bits: &mut u64,
    hashes: &mut Option<KeyHashes>,
) -> Result<usize, ParseError> {
    let fail = |at: usize, kind: ErrorKind| ParseError { line: number, column: at + 1, kind };
    let b = text.as_bytes();
    while b.get(i) == Some(&b',') {
        let key_start = i + 1;
        if tags.len() == MAX_TAGS {
            return Err(fail(key_start, ErrorKind::TooManyTags { max: MAX_TAGS }));
        }
        let (key_end, escaped) = tokens.token(b, key_start, true);
        if key_end == key_start {
            return Err(fail(key_start, ErrorKind::EmptyTagKey));
        }
        let key = unescape(slice(text, key_start, key_end), escaped, KEY_ESCAPES);
        if b.get(key_end) != Some(&b'=') {
            return Err(fail(key_end, ErrorKind::MissingTagEquals { key: key.into_owned() }));
        }
        let value_start = key_end + 1;
        let (value_end, escaped) = tokens.token(b, value_start, true);
        if b.get(value_end) == Some(&b'=') {
            return Err(fail(value_end, ErrorKind::EqualsInTagValue { key: key.into_owned() }));
        }
        if value_end == value_start {
            return Err(fail(value_start, ErrorKind::EmptyTagValue { key: key.into_owned() }));
        }
        let bit = key_bit(&key);
        if *tag_bits & bit != 0 {
            let duplicate = if tags.len() < SCAN_KEYS {
                tags.iter().any(|t| t.key == key)
            } else {
                let seen = hashes.get_or_insert_with(|| {
                    let mut seen = KeyHashes::default();
                    seen.tags = tags.iter().map(|t| seen.hash(&t.key)).collect();
                    seen
                });
                seen.tags.contains(&seen.hash(&key)) && tags.iter().any(|t| t.key == key)
            };
            if duplicate {
                return Err(fail(key_start, ErrorKind::DuplicateTag { key: key.into_owned() }));
            }
        }
        if let Some(seen) = hashes {
            let h = seen.hash(&key);
            seen.tags.insert(h);
        }
        *tag_bits |= bit;
        let value = unescape(slice(text, value_start, value_end), escaped, KEY_ESCAPES);
        tags.push(Tag { key, value });
        i = value_end;
    }
    Ok(i)
}

/// Parses one line. `start` is the index of its first non-blank byte; `number` its line number.
pub(crate) fn parse_line<'a>(
    text: &'a str,
    start: usize,
    number: usize,
    options: &ParseOptions,
    out: &mut Line<'a>,
    tokens: &mut Tokens<'_, 'a>,
) -> Result<(), ParseError> {
    let fail = |at: usize, kind: ErrorKind| ParseError { line: number, column: at + 1, kind };
    let b = text.as_bytes();

    // Measurement.
    let (mut i, escaped) = tokens.token(b, start, false);
    if i == start {
        return Err(fail(i, ErrorKind::MissingMeasurement(char_at(text, i))));
    }
    out.measurement = unescape(slice(text, start, i), escaped, MEASUREMENT_ESCAPES);

    // Tags. The [`key_bit`]s of the tag keys and of the field keys seen so far: a key whose bit
    // is clear is new, with no comparison (so, on most lines, is every key).
    let (mut tag_bits, mut field_bits) = (0u64, 0u64);
    let mut hashes: Option<KeyHashes> = None;
    if b.get(i) == Some(&b',') {
        i = plain_tags(text, i, tokens, &mut out.tags, &mut tag_bits);
    }
    if b.get(i) == Some(&b',') {
        i = tags(text, i, number, tokens, &mut out.tags, &mut tag_bits, &mut hashes)?;
    }
    out.series_text = slice(text, start, i);
    if b.get(i) != Some(&b' ') {
        return Err(fail(i, ErrorKind::MissingFields));
    }
    i = skip_spaces(b, i);
    if i == b.len() {
        return Err(fail(i, ErrorKind::MissingFields));
    }

    // Fields.
    loop {
        let key_start = i;
        if out.fields.len() == MAX_FIELDS {
            return Err(fail(key_start, ErrorKind::TooManyFields { max: MAX_FIELDS }));
        }
        let (key_end, escaped) = tokens.token(b, key_start, true);
        if key_end == key_start {
            return Err(fail(key_start, ErrorKind::EmptyFieldKey));
        }
        let key = unescape(slice(text, key_start, key_end), escaped, KEY_ESCAPES);
        if b.get(key_end) != Some(&b'=') {
            return Err(fail(key_end, ErrorKind::MissingFieldEquals { key: key.into_owned() }));
        }
        let value_start = key_end + 1;
        let (value, value_end) = if b.get(value_start) == Some(&b'"') {
            let body_start = value_start + 1;
            let (body_end, escaped) = scan_escaped(b, body_start, STRING_STOPS);
            if b.get(body_end) != Some(&b'"') {
                return Err(fail(value_start, ErrorKind::UnterminatedString { key: key.into_owned() }));
            }
            let len = body_end - body_start;
            if len > MAX_STRING_LEN {
                return Err(fail(
                    value_start,
                    ErrorKind::StringTooLong { key: key.into_owned(), len, max: MAX_STRING_LEN },
                ));
            }
            let value_end = body_end + 1;
            if let Some(&c) = b.get(value_end)
                && c != b','
                && c != b' '
            {
                let found = char_at(text, value_end);
                return Err(fail(value_end, ErrorKind::AfterString { key: key.into_owned(), found }));
            }
            let body = unescape(slice(text, body_start, body_end), escaped, STRING_ESCAPES);
            (FieldValue::String(body), value_end)
        } else {
            match number::fast_value(b, value_start) {
                Some(fast) => fast,
                None => {
                    let value_end = scan(b, value_start, VALUE_STOPS);
                    let token = slice(text, value_start, value_end);
                    if token.is_empty() {
                        return Err(fail(
                            value_start,
                            ErrorKind::MissingFieldValue { key: key.into_owned() },
                        ));
                    }
                    let value = parse_value(token)
                        .map_err(|e| fail(value_start, value_error(e, key.as_ref(), token)))?;
                    (value, value_end)
                }
            }
        };
        let bit = key_bit(&key);
        let (duplicate, clash) = if out.fields.len() + out.tags.len() < SCAN_KEYS {
            (
                field_bits & bit != 0 && out.fields.iter().any(|f| f.key == key),
                tag_bits & bit != 0 && out.tags.iter().any(|t| t.key == key),
            )
        } else {
            let seen = hashes.get_or_insert_with(|| {
                let mut seen = KeyHashes::default();
                seen.tags = out.tags.iter().map(|t| seen.hash(&t.key)).collect();
                seen
            });
            if seen.fields.len() < out.fields.len() {
                seen.fields = out.fields.iter().map(|f| seen.hash(&f.key)).collect();
            }
            let h = seen.hash(&key);
            let duplicate = seen.fields.contains(&h) && out.fields.iter().any(|f| f.key == key);
            let clash = seen.tags.contains(&h) && out.tags.iter().any(|t| t.key == key);
            seen.fields.insert(h);
            (duplicate, clash)
        };
        if duplicate {
            return Err(fail(key_start, ErrorKind::DuplicateField { key: key.into_owned() }));
        }
        if clash {
            return Err(fail(key_start, ErrorKind::FieldTagClash { key: key.into_owned() }));
        }
        field_bits |= bit;
        out.fields.push(Field { key, value });
        i = value_end;
        if b.get(i) == Some(&b',') {
            i += 1;
        } else {
            break;
        }
    }

    // Timestamp.
    i = skip_spaces(b, i);
    if i == b.len() {
        out.timestamp = options.default_time;
        return Ok(());
    }
    let ts_start = i;
    let (raw_ts, ts_end) = match number::fast_i64(b, ts_start) {
        Some(fast) => fast,
        None => {
            let ts_end = scan(b, ts_start, SPACE_STOPS);
            let token = slice(text, ts_start, ts_end);
            let raw_ts = number::parse_i64(token.as_bytes()).map_err(|e| {
                let reason = match e {
                    NumberError::Overflow => "it overflows a signed 64-bit integer",
                    _ => "a timestamp is an integer: an optional '-' and the digits 0-9",
                };
                fail(ts_start, ErrorKind::InvalidTimestamp { value: token.to_owned(), reason })
            })?;
            (raw_ts, ts_end)
        }
    };
    let nanos = options.precision.to_nanos(raw_ts).ok_or_else(|| {
        fail(ts_start, ErrorKind::TimestampOverflow { value: raw_ts, precision: options.precision })
    })?;
    i = skip_spaces(b, ts_end);
    if i != b.len() {
        return Err(fail(i, ErrorKind::TrailingData { found: slice(text, i, b.len()).to_owned() }));
    }
    out.timestamp = Some(nanos);
    Ok(())
}

fn skip_spaces(b: &[u8], mut i: usize) -> usize {
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    i
}

/// Why a field value failed, given which syntax its suffix asked for.
enum ValueError {
    Float(NumberError),
    Integer(NumberError),
    Unsigned(NumberError),
    Boolean,
}

fn parse_value(token: &str) -> Result<FieldValue<'static>, ValueError> {
    let bytes = token.as_bytes();
    match (bytes.first(), bytes.split_last()) {
        (_, Some((b'i', digits))) => {
            number::parse_i64(digits).map(FieldValue::Integer).map_err(ValueError::Integer)
        }
        (_, Some((b'u', digits))) => {
            number::parse_u64(digits).map(FieldValue::Unsigned).map_err(ValueError::Unsigned)
        }
        (Some(b't' | b'T' | b'f' | b'F'), _) => match token {
            "t" | "T" | "true" | "True" | "TRUE" => Ok(FieldValue::Boolean(true)),
            "f" | "F" | "false" | "False" | "FALSE" => Ok(FieldValue::Boolean(false)),
            _ => Err(ValueError::Boolean),
        },
        _ => number::parse_float(token).map(FieldValue::Float).map_err(ValueError::Float),
    }
}

fn value_error(e: ValueError, key: &str, token: &str) -> ErrorKind {
    let key = key.to_owned();
    let invalid = |reason| ErrorKind::InvalidFieldValue { key: key.clone(), value: token.to_owned(), reason };
    match e {
        ValueError::Float(NumberError::NonFinite) => ErrorKind::NonFiniteFloat { key },
        ValueError::Float(NumberError::Syntax(reason)) => invalid(reason),
        ValueError::Integer(NumberError::Overflow) => ErrorKind::IntegerOverflow { key },
        ValueError::Integer(_) => invalid("an integer (suffix i) is an optional '-' and the digits 0-9"),
        ValueError::Unsigned(NumberError::Overflow) => ErrorKind::UnsignedOverflow { key },
        ValueError::Unsigned(NumberError::Negative) => ErrorKind::NegativeUnsigned { key },
        ValueError::Unsigned(_) => invalid("an unsigned integer (suffix u) is the digits 0-9"),
        ValueError::Boolean => {
            invalid("a boolean is one of t, T, true, True, TRUE, f, F, false, False, FALSE")
        }
        ValueError::Float(_) => invalid("not a valid float"),
    }
}
