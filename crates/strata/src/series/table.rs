//! A checkpoint's series table kept in its binary form: per series a u32 LE id and the key
//! (`SeriesKey::encode`). Writing encodes keys straight from the index, loading defines them
//! one at a time as the checkpoint is decoded, so neither builds a `SeriesKey` for every series
//! at once.

#![deny(clippy::indexing_slicing, clippy::unwrap_used)]

use super::SeriesId;
#[cfg(test)]
use super::SeriesKey;
#[cfg(test)]
use crate::decode::{Malformed, get_u32};

/// Series ids and keys, encoded.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct SeriesTable {
    count: u32,
    bytes: Vec<u8>,
}

impl SeriesTable {
    /// The table of `ids`, each key appended by `put` (false: the id has no key, left out).
    pub(crate) fn build(
        ids: &[SeriesId],
        mut put: impl FnMut(SeriesId, &mut Vec<u8>) -> bool,
    ) -> SeriesTable {
        let mut table = SeriesTable::default();
        for &id in ids {
            let at = table.bytes.len();
            table.bytes.extend_from_slice(&id.to_le_bytes());
            if put(id, &mut table.bytes) {
                table.count += 1;
            } else {
                table.bytes.truncate(at);
            }
        }
        table
    }

    /// The table of these keys.
    #[cfg(test)]
    pub(crate) fn from_keys(keys: &[(SeriesId, SeriesKey)]) -> SeriesTable {
        let ids: Vec<SeriesId> = keys.iter().map(|(id, _)| *id).collect();
        let mut keys = keys.iter();
        SeriesTable::build(&ids, |_, out| keys.next().map(|(_, key)| key.encode(out)).is_some())
    }

    /// Entries in the table; a checkpoint writes it (u32 LE) before [`SeriesTable::bytes`].
    pub(crate) fn count(&self) -> u32 {
        self.count
    }

    /// The entries, encoded as a checkpoint holds them after the count.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Reads a table from `input`, advancing it; every key is decoded once to check it. (A
    /// checkpoint's load defines its series as it decodes them instead, `checkpoint.rs`.)
    #[cfg(test)]
    pub(crate) fn get(input: &mut &[u8]) -> Result<SeriesTable, Malformed> {
        let count = get_u32(input)?;
        let start = *input;
        for _ in 0..count {
            get_u32(input)?;
            SeriesKey::decode(input)?;
        }
        let bytes = start.get(..start.len() - input.len()).ok_or("series table out of range")?;
        Ok(SeriesTable { count, bytes: bytes.to_vec() })
    }

    /// Every entry, decoded.
    #[cfg(test)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = Result<(SeriesId, SeriesKey), Malformed>> + '_ {
        let mut input = self.bytes.as_slice();
        (0..self.count).map(move |_| Ok((get_u32(&mut input)?, SeriesKey::decode(&mut input)?)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests may panic")]
mod tests {
    use super::*;

    #[test]
    fn tables_round_trip_and_refuse_damage() {
        let key = |h: &str| SeriesKey::from_parts("m", "value", [("hostname", h)].into_iter(), None).unwrap();
        let table = SeriesTable::from_keys(&[(3, key("a")), (9, key("b"))]);
        let mut bytes = table.count().to_le_bytes().to_vec();
        bytes.extend_from_slice(table.bytes());
        bytes.push(7);
        let mut input = bytes.as_slice();
        let back = SeriesTable::get(&mut input).unwrap();
        assert_eq!((&back, input), (&table, &[7][..]));
        let entries: Vec<_> = back.iter().collect::<Result<_, _>>().unwrap();
        assert_eq!(entries, vec![(3, key("a")), (9, key("b"))]);
        for cut in 0..bytes.len() - 1 {
            assert!(SeriesTable::get(&mut &bytes[..cut]).is_err(), "cut at {cut}");
        }
        let skipped = SeriesTable::build(&[1, 2], |id, out| {
            id == 2 && {
                key("c").encode(out);
                true
            }
        });
        assert_eq!(skipped.iter().map(|e| e.unwrap().0).collect::<Vec<_>>(), vec![2]);
    }
}
