//! The common line, quickly: plain names, fast-path numbers and an integer timestamp, read from
//! one cursor over the line's delimiter bits. Whatever this declines is parsed from the start by
//! the general parser (`parse_line` in `parse.rs`), which gives the same result for every line
//! accepted here.

#![deny(clippy::indexing_slicing, clippy::unwrap_used)]

use std::borrow::Cow;

use crate::ParseOptions;
use crate::line::{Field, Line, Tag};
use crate::number;
use crate::parse::{MAX_FIELDS, MAX_TAGS};
use crate::tokens::{DelimiterBits, Tokens, slice};

/// The common tag set, quickly: from the `,` at `i`, pushes tags while they are plain (no
/// escape, non-empty key and value, no `=` in the value, a key bit not seen yet, below
/// [`MAX_TAGS`]), and returns the index after the last one: either not a `,`, or the `,` of a
/// tag that is not plain, which the general loop then parses or rejects as if from the start.
#[inline(always)]
pub(crate) fn plain_tags<'a>(
    text: &'a str,
    mut i: usize,
    tokens: &mut Tokens<'_, 'a>,
    tags: &mut Vec<Tag<'a>>,
    tag_bits: &mut u64,
) -> usize {
    let b = text.as_bytes();
    let mut delimiters = DelimiterBits::new(tokens, i + 1);
    while b.get(i) == Some(&b',') && tags.len() < MAX_TAGS {
        let key_start = i + 1;
        let key_end = delimiters.next(tokens);
        if key_end == key_start || b.get(key_end) != Some(&b'=') {
            break;
        }
        let value_start = key_end + 1;
        let value_end = delimiters.next(tokens);
        if value_end == value_start || !matches!(b.get(value_end), None | Some(b',' | b' ')) {
            break;
        }
        let key = slice(text, key_start, key_end);
        let bit = key_bit(key);
        // Keys of one line may share a bit (`type` and `stype-id` do): compare them then.
        if *tag_bits & bit != 0 && tags.iter().any(|t| t.key == key) {
            break;
        }
        *tag_bits |= bit;
        tags.push(Tag { key: Cow::Borrowed(key), value: Cow::Borrowed(slice(text, value_start, value_end)) });
        i = value_end;
    }
    i
}

/// The common line, quickly: a plain measurement (no escape, no `=`), plain tags (see
/// [`plain_tags`]), one space, fields with plain keys and numeric values on the fast path, and
/// an integer timestamp after one space, or none. Everything else (strings, escapes, extra
/// spaces, any error) returns false, leaving `out` to be cleared and parsed by `parse_line`,
/// which gives the same result for every line this accepts.
#[inline(always)]
pub(crate) fn plain_line<'a>(
    text: &'a str,
    start: usize,
    options: &ParseOptions,
    out: &mut Line<'a>,
    tokens: &mut Tokens<'_, 'a>,
) -> bool {
    let b = text.as_bytes();
    let mut delimiters = DelimiterBits::new(tokens, start);
    let mut i = delimiters.next(tokens);
    if i == start || !matches!(b.get(i), Some(b',' | b' ')) {
        return false;
    }
    out.measurement = Cow::Borrowed(slice(text, start, i));
    let mut tag_bits = 0u64;
    while b.get(i) == Some(&b',') {
        let key_start = i + 1;
        let key_end = delimiters.next(tokens);
        if key_end == key_start || b.get(key_end) != Some(&b'=') || out.tags.len() == MAX_TAGS {
            return false;
        }
        let value_start = key_end + 1;
        let value_end = delimiters.next(tokens);
        if value_end == value_start || !matches!(b.get(value_end), Some(b',' | b' ')) {
            return false;
        }
        let key = slice(text, key_start, key_end);
        let bit = key_bit(key);
        if tag_bits & bit != 0 && out.tags.iter().any(|t| t.key == key) {
            return false;
        }
        tag_bits |= bit;
        out.tags
            .push(Tag { key: Cow::Borrowed(key), value: Cow::Borrowed(slice(text, value_start, value_end)) });
        i = value_end;
    }
    out.series_text = slice(text, start, i);
    let mut field_bits = 0u64;
    loop {
        // `i` is at the space or comma before the key.
        let key_start = i + 1;
        let key_end = delimiters.next(tokens);
        if key_end == key_start || b.get(key_end) != Some(&b'=') || out.fields.len() == MAX_FIELDS {
            return false;
        }
        let Some((value, value_end)) = number::fast_value(b, key_end + 1) else {
            return false;
        };
        let key = slice(text, key_start, key_end);
        let bit = key_bit(key);
        let duplicate = (tag_bits & bit != 0 && out.tags.iter().any(|t| t.key == key))
            || (field_bits & bit != 0 && out.fields.iter().any(|f| f.key == key));
        if duplicate {
            return false;
        }
        field_bits |= bit;
        out.fields.push(Field { key: Cow::Borrowed(key), value });
        // A fast value holds no delimiter: the next one ends it.
        i = delimiters.next(tokens);
        debug_assert_eq!(i, value_end);
        if b.get(i) != Some(&b',') {
            break;
        }
    }
    if i == b.len() {
        out.timestamp = options.default_time;
        return true;
    }
    let ts_start = i + 1;
    let raw_ts = match number::fast_i64(b, ts_start) {
        Some((raw_ts, ts_end)) if ts_end == b.len() => raw_ts,
        Some(_) => return false,
        // Nanoseconds now have 19 digits: the general parser reads them exactly.
        None => match b.get(ts_start..).map(number::parse_i64) {
            Some(Ok(raw_ts)) => raw_ts,
            _ => return false,
        },
    };
    match options.precision.to_nanos(raw_ts) {
        Some(nanos) => {
            out.timestamp = Some(nanos);
            true
        }
        None => false,
    }
}

/// A bit standing for `key` in a 64-bit set of the keys a line has used, from its length and
/// first byte: equal keys have equal bits, and the keys of one line seldom share one.
#[inline(always)]
pub(crate) fn key_bit(key: &str) -> u64 {
    let first = key.as_bytes().first().copied().unwrap_or(0);
    1 << ((key.len() + (usize::from(first) << 2)) % 64)
}

#[cfg(test)]
#[expect(clippy::indexing_slicing, reason = "tests index tables they built")]
mod tests {
    use super::*;
    use crate::blocks::Blocks;
    use crate::{FieldValue, Precision};

    /// The line rendered with every float's bits and whether each text borrows from the input.
    fn render(line: &Line<'_>) -> String {
        let cow =
            |c: &Cow<'_, str>| format!("{c:?}{}", if matches!(c, Cow::Borrowed(_)) { "" } else { "(owned)" });
        let tags: Vec<String> =
            line.tags.iter().map(|t| format!("{}={}", cow(&t.key), cow(&t.value))).collect();
        let fields: Vec<String> = line
            .fields
            .iter()
            .map(|f| match &f.value {
                FieldValue::Float(v) => format!("{}={:x}", cow(&f.key), v.to_bits()),
                other => format!("{}={other:?}", cow(&f.key)),
            })
            .collect();
        format!("{} {tags:?} {fields:?} {:?} {:?}", cow(&line.measurement), line.timestamp, line.series_text)
    }

    /// Every line the fast path accepts, the general parser accepts with the same result; and
    /// the fast path takes the common shapes.
    #[test]
    fn accepted_lines_read_as_the_general_parser_reads_them() {
        const PIECES: [&str; 26] = [
            ",",
            " ",
            "  ",
            "=",
            "\\",
            "\"",
            "k",
            "v",
            "é",
            "1",
            "-2",
            "3.5",
            "7i",
            "8u",
            "-9u",
            "t",
            ".",
            "e5",
            "1763769600",
            "1763769600000000000",
            "99999999999999999999",
            "\r",
            "#",
            "k=1",
            ",k=v",
            " f=1",
        ];
        let templates = [
            "cpu_user,cluster=fritz,hostname=f0101,type=hwthread,type-id=0 value=13.9 1763769600",
            "m,k=v f=1.5,g=2i,h=3u -7",
            "m f=1",
            "m,a=1,b=2 x=0.001 1763769600000000000",
        ];
        let options = ParseOptions { precision: Precision::Seconds, default_time: Some(5) };
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move |n: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as usize
        };
        let (mut accepted, mut tried) = (0, 0);
        for round in 0..40_000 {
            let mut line = templates[round % templates.len()].to_owned();
            for _ in 0..next(4) {
                let at = next(line.len() + 1);
                if line.is_char_boundary(at) {
                    line.insert_str(at, PIECES[next(PIECES.len())]);
                }
            }
            if line.starts_with([' ', '\t', '#']) || line.is_empty() {
                continue;
            }
            tried += 1;
            let parse = |fast: bool| {
                let mut blocks = Blocks::new(line.as_bytes());
                let mut tokens = Tokens { blocks: &mut blocks, offset: 0, len: line.len() };
                let mut out = Line::default();
                let result = if fast {
                    plain_line(&line, 0, &options, &mut out, &mut tokens).then_some(())
                } else {
                    crate::parse::parse_line(&line, 0, 0, &options, &mut out, &mut tokens).ok()
                };
                result.map(|()| render(&out))
            };
            if let Some(fast) = parse(true) {
                accepted += 1;
                assert_eq!(Some(fast), parse(false), "{line:?}");
            }
        }
        assert!(accepted > tried / 4, "the fast path took {accepted} of {tried} lines");
    }
}
