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
        if *tag_bits & bit != 0 {
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
        if tag_bits & bit != 0 {
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
        if (tag_bits | field_bits) & bit != 0 {
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
