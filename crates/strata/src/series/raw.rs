//! The raw-key cache: a line's series as written (default cluster, measurement and tags with
//! their escapes, field) to its id, so a known series costs one hash of the text and no key.
//!
//! The cache keeps no text: an entry is 32 bits of the text's hash and the id. A hit is
//! verified against the interned key (measurement, field, then the line's tags walked beside
//! the key's), so two texts with one hash never share a series. A line whose tags the walk
//! cannot confirm (not sorted by key once `host` reads as `hostname`) is found through its
//! canonical key instead ([`SeriesIndex::find_line`]) and never enters the cache.

#![deny(clippy::indexing_slicing, clippy::unwrap_used)]

use std::hash::Hasher;

use rustc_hash::FxHasher;
use strata_lp::Line;

use super::{KeyParts, SeriesId, SeriesIndex, canonical_tags, tag_name};

/// The hash of a line's default cluster and series text, to which each field's key is added.
pub(crate) fn raw_base(cluster: Option<&str>, series_text: &str) -> FxHasher {
    let mut hasher = FxHasher::default();
    hasher.write(cluster.unwrap_or_default().as_bytes());
    hasher.write_u8(0xff);
    hasher.write(series_text.as_bytes());
    hasher
}

/// The raw hash of one field of a line, from [`raw_base`].
pub(crate) fn raw_hash(base: &FxHasher, field: &str) -> u64 {
    let mut hasher = base.clone();
    hasher.write(field.as_bytes());
    hasher.finish()
}

/// 32 bits of a raw hash, as an entry holds it.
fn short(hash: u64) -> u32 {
    ((hash >> 32) ^ hash) as u32
}

/// The table's hash of an entry's 32 bits: spread over 64 so the table's bucket bits and its
/// tag bits both depend on all of them.
fn widen(short: u32) -> u64 {
    u64::from(short).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

impl SeriesIndex {
    /// The series of one field of `line`, by the raw hash of its text.
    pub(crate) fn get_raw(
        &self,
        hash: u64,
        cluster: Option<&str>,
        line: &Line<'_>,
        field: &str,
    ) -> Option<SeriesId> {
        let tag = short(hash);
        self.raw
            .find(widen(tag), |&(t, id)| t == tag && self.matches_line(id, cluster, line, field))
            .map(|&(_, id)| id)
    }

    /// Remembers that the text of `hash` names `id`. The caller has checked
    /// [`SeriesIndex::matches_line`]; an entry already there is not added twice.
    pub(crate) fn remember_raw(&mut self, hash: u64, id: SeriesId) {
        let tag = short(hash);
        if self.raw.find(widen(tag), |&entry| entry == (tag, id)).is_none() {
            self.raw.insert_unique(widen(tag), (tag, id), |&(t, _)| widen(t));
        }
    }

    /// Forgets the entries of the series in `gone`, and the table's room beyond what is left.
    pub(super) fn forget_raw(&mut self, gone: &rustc_hash::FxHashSet<SeriesId>) {
        self.raw.retain(|&mut (_, id)| !gone.contains(&id));
        self.raw.shrink_to_fit(|&(t, _)| widen(t));
    }

    /// The series of one field of `line` through its canonical key: the path for lines the
    /// cache does not hold. `None` also for a line whose tags make no key (a duplicate).
    pub(crate) fn find_line(&self, cluster: Option<&str>, line: &Line<'_>, field: &str) -> Option<SeriesId> {
        let tags =
            canonical_tags(line.tags.iter().map(|t| (t.key.as_ref(), t.value.as_ref())), cluster).ok()?;
        self.find(&KeyParts { measurement: &line.measurement, field, tags: &tags })
    }

    /// Whether `id`'s key is the one `line`'s field names: its measurement and field, and its
    /// tags, walked in order beside the line's (renamed), with the default cluster the one tag
    /// the key may have that the line does not.
    pub(crate) fn matches_line(
        &self,
        id: SeriesId,
        cluster: Option<&str>,
        line: &Line<'_>,
        field: &str,
    ) -> bool {
        let Some(key) = self.compact(id) else { return false };
        let s = &self.strings;
        if s.bytes(key.measurement) != line.measurement.as_bytes() || s.bytes(key.field) != field.as_bytes() {
            return false;
        }
        let mut written = line.tags.iter().map(|t| (tag_name(&t.key), t.value.as_ref())).peekable();
        let mut has_cluster = false;
        for (k, v) in key.tags() {
            let (k, v) = (s.bytes(k), s.bytes(v));
            // Key tags are sorted and unique, so a line whose tags each match the next one is
            // sorted and unique too.
            match written.peek() {
                Some(&(wk, wv)) if wk.as_bytes() == k => {
                    if wv.as_bytes() != v {
                        return false;
                    }
                    written.next();
                }
                _ if k == b"cluster" && cluster.is_some_and(|c| c.as_bytes() == v) => {}
                _ => return false,
            }
            has_cluster |= k == b"cluster";
        }
        written.next().is_none() && (cluster.is_none() || has_cluster)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests may panic")]
mod tests {
    use strata_lp::{ParseOptions, Parser};

    use super::*;

    fn line(text: &str) -> Line<'_> {
        Parser::new(text.as_bytes(), ParseOptions::default()).next().unwrap().unwrap()
    }

    /// Creates the series of `text`'s first field the way the write path does.
    fn create(index: &mut SeriesIndex, text: &str, cluster: Option<&str>) -> SeriesId {
        let l = line(text);
        let tags =
            canonical_tags(l.tags.iter().map(|t| (t.key.as_ref(), t.value.as_ref())), cluster).unwrap();
        index
            .create(&KeyParts { measurement: &l.measurement, field: &l.fields[0].key, tags: &tags }, 99, 99)
            .unwrap()
    }

    #[test]
    fn a_line_matches_only_its_own_key() {
        let mut index = SeriesIndex::default();
        let with_cluster = create(&mut index, "m,host=a,type=node value=1 1", Some("fritz"));
        let bare = create(&mut index, "m,hostname=a,type=node value=1 1", None);
        let explicit = create(&mut index, "m,cluster=alex,hostname=a,type=node value=1 1", Some("fritz"));
        let check = |text: &str, cluster: Option<&str>| {
            let l = line(text);
            let matching: Vec<SeriesId> = [with_cluster, bare, explicit]
                .into_iter()
                .filter(|&id| index.matches_line(id, cluster, &l, &l.fields[0].key))
                .collect();
            let found = index.find_line(cluster, &l, &l.fields[0].key);
            // The walk confirms a subset of what the canonical key finds.
            assert!(matching.iter().all(|&id| Some(id) == found), "{text}: {matching:?} vs {found:?}");
            (matching, found)
        };
        assert_eq!(
            check("m,host=a,type=node value=1", Some("fritz")),
            (vec![with_cluster], Some(with_cluster))
        );
        assert_eq!(
            check("m,hostname=a,type=node value=1", Some("fritz")),
            (vec![with_cluster], Some(with_cluster))
        );
        assert_eq!(check("m,hostname=a,type=node value=1", None), (vec![bare], Some(bare)));
        assert_eq!(check("m,hostname=a,type=node value=1", Some("alex")), (vec![explicit], Some(explicit)));
        assert_eq!(
            check("m,cluster=alex,hostname=a,type=node value=1", None),
            (vec![explicit], Some(explicit))
        );
        assert_eq!(
            check("m,cluster=alex,hostname=a,type=node value=1", Some("x")),
            (vec![explicit], Some(explicit))
        );
        // Unsorted tags: found through the canonical key, never confirmed by the walk.
        assert_eq!(check("m,type=node,hostname=a value=1", None), (vec![], Some(bare)));
        for miss in
            ["m,hostname=a value=1", "m,hostname=a,type=node other=1", "n,hostname=a,type=node value=1"]
        {
            assert_eq!(check(miss, None), (vec![], None), "{miss}");
        }
        assert_eq!(check("m,hostname=a,type=node,x=1 value=1", None), (vec![], None));
        // `host` read as `hostname` beside a `hostname`: no key, and no match.
        assert_eq!(check("m,host=a,hostname=a,type=node value=1", None), (vec![], None));
    }

    #[test]
    fn the_cache_keeps_an_entry_once_and_verifies_hits() {
        let mut index = SeriesIndex::default();
        let id = create(&mut index, "m,hostname=a value=1", None);
        let l = line("m,hostname=a value=1");
        let hash = raw_hash(&raw_base(None, l.series_text), "value");
        assert_eq!(index.get_raw(hash, None, &l, "value"), None);
        index.remember_raw(hash, id);
        index.remember_raw(hash, id);
        assert_eq!(index.raw.len(), 1);
        assert_eq!(index.get_raw(hash, None, &l, "value"), Some(id));
        // Another text under the same hash (as a collision would put it) is not taken.
        let other = line("m,hostname=b value=1");
        assert_eq!(index.get_raw(hash, None, &other, "value"), None);
    }
}
