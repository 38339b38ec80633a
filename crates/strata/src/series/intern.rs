//! Strings stored once: every measurement, field, tag key and tag value the index holds, each
//! named by a `u32`, the offset of its text in one arena. A million series on a thousand hosts
//! hold "hostname" once and each host name once, where keys of their own held them a million
//! times over, each in an allocation of its own.

#![deny(clippy::indexing_slicing, clippy::unwrap_used)]

use std::hash::Hasher;

use hashbrown::HashTable;
use rustc_hash::FxHasher;

/// An arena passed `u32::MAX` bytes: its offsets would no longer fit their ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Full;

/// Strings by id, and ids by string.
#[derive(Debug, Default)]
pub(super) struct Interner {
    /// Each string as its length (LEB128) and its bytes; a string's id is where it starts.
    bytes: Vec<u8>,
    /// Every id, hashed by its text.
    table: HashTable<u32>,
}

impl Interner {
    /// The id of `text`, if it is stored.
    pub(super) fn get(&self, text: &str) -> Option<u32> {
        let text = text.as_bytes();
        self.table.find(hash(text), |&id| at(&self.bytes, id) == text).copied()
    }

    /// The id of `text`, storing it if it is new.
    pub(super) fn intern(&mut self, text: &str) -> Result<u32, Full> {
        let text = text.as_bytes();
        let hash = hash(text);
        if let Some(&id) = self.table.find(hash, |&id| at(&self.bytes, id) == text) {
            return Ok(id);
        }
        let id = u32::try_from(self.bytes.len()).map_err(|_| Full)?;
        let len = u32::try_from(text.len()).map_err(|_| Full)?;
        put_varint(&mut self.bytes, len);
        self.bytes.extend_from_slice(text);
        let bytes = &self.bytes;
        self.table.insert_unique(hash, id, |&id| self::hash(at(bytes, id)));
        Ok(id)
    }

    /// The text of `id` (empty for an id this interner did not hand out).
    pub(super) fn bytes(&self, id: u32) -> &[u8] {
        at(&self.bytes, id)
    }

    /// The text of `id` as a `str` (every string stored came from a `&str`).
    pub(super) fn text(&self, id: u32) -> &str {
        std::str::from_utf8(self.bytes(id)).unwrap_or_default()
    }

    /// Heap bytes held.
    pub(super) fn heap_bytes(&self) -> usize {
        self.bytes.capacity() + self.table.allocation_size()
    }
}

/// The string stored at `id` in `bytes`.
fn at(bytes: &[u8], id: u32) -> &[u8] {
    let rest = bytes.get(id as usize..).unwrap_or_default();
    match get_varint(rest) {
        Some((len, rest)) => rest.get(..len as usize).unwrap_or_default(),
        None => &[],
    }
}

/// The hash of a byte string, as the index's tables use it.
pub(super) fn hash(bytes: &[u8]) -> u64 {
    let mut hasher = FxHasher::default();
    hasher.write(bytes);
    hasher.finish()
}

/// Appends `value` as LEB128: 7 bits a byte, low bits first, the top bit set on all but the last.
pub(super) fn put_varint(out: &mut Vec<u8>, mut value: u32) {
    while value >= 0x80 {
        out.push((value & 0x7f) as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads a LEB128 `u32` (at most 5 bytes) and what follows it.
pub(super) fn get_varint(input: &[u8]) -> Option<(u32, &[u8])> {
    let mut value = 0u32;
    let mut shift = 0u32;
    for (i, &byte) in input.iter().enumerate().take(5) {
        value |= u32::from(byte & 0x7f).checked_shl(shift)?;
        if byte & 0x80 == 0 {
            return Some((value, input.get(i + 1..)?));
        }
        shift += 7;
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests may panic")]
mod tests {
    use super::*;

    #[test]
    fn strings_are_stored_once_and_read_back() {
        let mut strings = Interner::default();
        let a = strings.intern("hostname").unwrap();
        let b = strings.intern("").unwrap();
        let c = strings.intern(&"x".repeat(300)).unwrap();
        assert_eq!(strings.intern("hostname").unwrap(), a);
        assert_eq!(
            (strings.get("hostname"), strings.get(""), strings.get("other")),
            (Some(a), Some(b), None)
        );
        assert_eq!((strings.text(a), strings.text(b)), ("hostname", ""));
        assert_eq!(strings.text(c).len(), 300);
        assert_eq!(strings.text(9999), "");
    }

    #[test]
    fn varints_round_trip() {
        for value in [0, 1, 127, 128, 300, 16_383, 16_384, u32::MAX - 1, u32::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, value);
            out.push(9);
            assert_eq!(get_varint(&out), Some((value, &[9][..])));
            assert_eq!(get_varint(&out[..out.len() - 2]), None);
        }
    }
}
