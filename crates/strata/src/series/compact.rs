//! A series key as the index holds it: the ids of its interned strings (`intern.rs`) as LEB128,
//! one key after another in one arena, so a key costs a dozen bytes and no allocation.
//!
//! ```text
//! varint  length of what follows
//! varint  measurement, varint field, varint tag count, then per tag: varint key, varint value
//! ```
//!
//! Tags are in the order of [`SeriesKey`](super::SeriesKey)'s: sorted by key text. Two keys are
//! equal exactly when their compact forms are (the form is canonical), so lookups compare bytes.

#![deny(clippy::indexing_slicing, clippy::unwrap_used)]

use super::intern::{get_varint, put_varint};

/// Appends the compact form of a key, without its length prefix.
pub(super) fn encode(out: &mut Vec<u8>, measurement: u32, field: u32, tags: &[(u32, u32)]) {
    put_varint(out, measurement);
    put_varint(out, field);
    put_varint(out, u32::try_from(tags.len()).unwrap_or(u32::MAX));
    for &(k, v) in tags {
        put_varint(out, k);
        put_varint(out, v);
    }
}

/// Appends `body` (a compact form) with its length prefix.
pub(super) fn push_with_len(out: &mut Vec<u8>, body: &[u8]) {
    put_varint(out, u32::try_from(body.len()).unwrap_or(u32::MAX));
    out.extend_from_slice(body);
}

/// The compact form stored at `start` of `arena` (by [`push_with_len`]).
pub(super) fn stored_at(arena: &[u8], start: u32) -> Option<&[u8]> {
    let (len, rest) = get_varint(arena.get(start as usize..)?)?;
    rest.get(..len as usize)
}

/// A compact key, read.
#[derive(Debug, Clone, Copy)]
pub(super) struct Compact<'a> {
    pub(super) measurement: u32,
    pub(super) field: u32,
    count: u32,
    tags: &'a [u8],
}

impl<'a> Compact<'a> {
    pub(super) fn parse(body: &'a [u8]) -> Option<Compact<'a>> {
        let (measurement, rest) = get_varint(body)?;
        let (field, rest) = get_varint(rest)?;
        let (count, tags) = get_varint(rest)?;
        Some(Compact { measurement, field, count, tags })
    }

    /// The tags' `(key, value)` ids, in key order.
    pub(super) fn tags(&self) -> Tags<'a> {
        Tags { rest: self.tags, left: self.count }
    }

    /// The value id of the tag whose key id is `key`.
    pub(super) fn tag(&self, key: u32) -> Option<u32> {
        self.tags().find(|&(k, _)| k == key).map(|(_, v)| v)
    }
}

/// See [`Compact::tags`].
#[derive(Debug, Clone)]
pub(super) struct Tags<'a> {
    rest: &'a [u8],
    left: u32,
}

impl Iterator for Tags<'_> {
    type Item = (u32, u32);

    fn next(&mut self) -> Option<(u32, u32)> {
        self.left = self.left.checked_sub(1)?;
        let (k, rest) = get_varint(self.rest)?;
        let (v, rest) = get_varint(rest)?;
        self.rest = rest;
        Some((k, v))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests may panic")]
mod tests {
    use super::*;

    #[test]
    fn compact_keys_round_trip() {
        let mut body = Vec::new();
        encode(&mut body, 3, 70_000, &[(1, 2), (5, u32::MAX)]);
        let mut arena = vec![0xaa];
        push_with_len(&mut arena, &body);
        let stored = stored_at(&arena, 1).unwrap();
        assert_eq!(stored, body.as_slice());
        let key = Compact::parse(stored).unwrap();
        assert_eq!((key.measurement, key.field), (3, 70_000));
        assert_eq!(key.tags().collect::<Vec<_>>(), vec![(1, 2), (5, u32::MAX)]);
        assert_eq!((key.tag(5), key.tag(2)), (Some(u32::MAX), None));
        assert_eq!(stored_at(&arena, 50), None);
    }
}
