//! The manifest: which tier files are live, and how far each tier has been written.
//!
//! Each commit writes a new object `_manifest/<generation:020>.json` with a conditional put
//! (`PutMode::Create`): it appears whole or not at all, and two writers can never both commit
//! the same generation. The live manifest is the highest generation. A tier file that is in
//! the store but in no manifest is an orphan of an interrupted commit; opening removes it.
//!
//! Version 2 checks itself and its files: every file entry carries the CRC32C of the file's
//! bytes, the manifest carries the CRC32C of its own bytes (`checksum`, the layout and the
//! exact bytes covered are in docs/FORMATS.md), and `owner` names the engine that commits to
//! the store: an engine whose id differs is refused at open and at each commit.
//!
//! **Invariant:** a file is referenced by a manifest only after it is completely uploaded.
//! **Invariant:** a point is counted in a tier file only if the manifest's `warm_flushes` (and
//! `wal_cut`) say so; replay after a crash rebuilds everything newer from the WAL.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::Tier;
use super::store::Store;
use crate::error::Error;

pub(crate) const DIR: &str = "_manifest";
const FORMAT: &str = "strata-manifest";
/// The version this build writes. Every newer strata reads every older manifest, forever:
/// `load` keeps a decoder per version. Version 1 has no checksums and no owner; version 2
/// adds `owner`, `checksum` and each file's `crc32c`; version 3 adds `committed_at` and
/// `removed`, the files kept for snapshot readers.
pub const VERSION: u32 = 3;
/// The JSON key of a version 2 manifest's own checksum, and the value it has while the
/// checksum is computed.
const CHECKSUM_KEY: &str = "\"checksum\": \"";
const CHECKSUM_ZERO: &str = "00000000";
/// Manifests older than the live one by more than this are removed.
const KEEP: u64 = 8;

/// One committed state of the tiers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    /// Increases by one per commit.
    pub generation: u64,
    /// The id of the engine that committed this manifest (its data directory's `ENGINE_ID`);
    /// `None` in a version 1 manifest, which the next commit takes over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Bucket lengths the files were written with (ns); a config that changes them is refused.
    pub warm_resolution: i64,
    pub cold_resolution: i64,
    /// Every warm bucket before this time has been written (from hot); later points for
    /// them land as partial rows.
    pub warm_until: Option<i64>,
    /// Warm flushes committed so far; files carry the number of the flush that wrote them.
    pub warm_flushes: u64,
    /// The WAL position (segment, offset) at which the last committed warm flush cut the hot
    /// store: points logged before it are in warm files or still in full buckets of hot.
    pub wal_cut: Option<(u64, u64)>,
    /// Every cold bucket before this time has been rolled up from warm.
    pub cold_until: Option<i64>,
    /// Warm files of flushes up to this number are fully rolled up into cold.
    pub cold_flushes: u64,
    pub files: Vec<FileEntry>,
    /// (v3) The engine clock when this manifest was committed (ns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub committed_at: Option<i64>,
    /// (v3) Files earlier manifests listed and this one does not, still in the store for
    /// readers of a snapshot (an earlier manifest's file list) until `removed_at` plus
    /// `object_store.snapshot_retention`. Deleting one before a later commit forgets it is
    /// harmless: a reader of this manifest reads `files` only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<RemovedFile>,
}

/// A file a commit dropped, kept for snapshot readers until its time is up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovedFile {
    pub path: String,
    /// The generation of the commit that dropped it: the last manifest listing it is one less.
    pub generation: u64,
    /// `committed_at` of that commit (ns).
    pub removed_at: i64,
}

/// A live tier file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path relative to the store's prefix, e.g. `warm/day=2026-11-22/<name>.parquet`.
    pub path: String,
    pub tier: Tier,
    /// The UTC day of every row's bucket, `YYYY-MM-DD`.
    pub day: String,
    /// 0 for a file a flush wrote; a merge of files of level n writes level n + 1.
    pub level: u32,
    /// The highest warm flush whose rows the file holds (for cold files: whose rows it rolls up).
    pub flush: u64,
    pub rows: u64,
    /// Points the rows summarize (the sum of their counts).
    pub points: u64,
    pub bytes: u64,
    /// Earliest and latest bucket start in the file (ns).
    pub min_time: i64,
    pub max_time: i64,
    /// Distinct series in the file.
    pub series: u64,
    /// CRC32C of the whole file's bytes, checked (with `bytes`) at every read before the file
    /// is parsed. `None` only for a file first listed by a version 1 manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32c: Option<u32>,
}

impl Manifest {
    /// The state of an empty store.
    pub fn empty(warm_resolution: i64, cold_resolution: i64) -> Manifest {
        Manifest {
            format: FORMAT.to_owned(),
            version: VERSION,
            generation: 0,
            owner: None,
            warm_resolution,
            cold_resolution,
            warm_until: None,
            warm_flushes: 0,
            wal_cut: None,
            cold_until: None,
            cold_flushes: 0,
            files: Vec::new(),
            committed_at: None,
            removed: Vec::new(),
        }
    }

    pub fn files(&self, tier: Tier) -> impl Iterator<Item = &FileEntry> {
        self.files.iter().filter(move |f| f.tier == tier)
    }

    /// Paths that are live in this manifest.
    pub fn live(&self) -> BTreeSet<&str> {
        self.files.iter().map(|f| f.path.as_str()).collect()
    }

    /// The JSON object a commit writes: what `tests/formats.rs` holds to the fixtures byte for
    /// byte, so a layout change without a version bump fails a test. A version 1 manifest (one
    /// loaded from a version 1 object) is written in the version 1 layout; version 2 ends with
    /// `"checksum": "<crc32c as 8 lowercase hex digits>"`, the CRC32C of these very bytes
    /// with the 8 digits written as `00000000`.
    ///
    /// # Errors
    /// [`Error::Invariant`] if serde cannot encode it (it can: every key is a string).
    pub fn to_json(&self) -> Result<Vec<u8>, Error> {
        let invariant = |e: serde_json::Error| {
            Error::Invariant(format!("manifest generation {} does not encode: {e}", self.generation))
        };
        if self.version < 2 {
            return serde_json::to_vec_pretty(self).map_err(invariant);
        }
        #[derive(Serialize)]
        struct Checksummed<'a> {
            #[serde(flatten)]
            manifest: &'a Manifest,
            checksum: &'static str,
        }
        let mut bytes = serde_json::to_vec_pretty(&Checksummed { manifest: self, checksum: CHECKSUM_ZERO })
            .map_err(invariant)?;
        let digits = checksum_digits(&bytes).ok_or_else(|| {
            Error::Invariant(format!("manifest generation {} has no single checksum field", self.generation))
        })?;
        let crc = format!("{:08x}", crc32c::crc32c(&bytes));
        bytes.splice(digits, crc.bytes());
        Ok(bytes)
    }
}

/// Where the 8 hex digits of the `checksum` value are in a manifest's bytes: `None` unless
/// `"checksum": "` occurs exactly once, followed by 8 bytes and a closing quote.
fn checksum_digits(bytes: &[u8]) -> Option<std::ops::Range<usize>> {
    let key = CHECKSUM_KEY.as_bytes();
    let mut found = bytes.windows(key.len()).enumerate().filter(|(_, w)| *w == key).map(|(i, _)| i);
    let at = found.next()?;
    if found.next().is_some() {
        return None;
    }
    let digits = at + key.len()..at + key.len() + CHECKSUM_ZERO.len();
    (bytes.get(digits.end) == Some(&b'"')).then_some(digits)
}

/// Checks a version 2 manifest's own checksum (docs/FORMATS.md): `Err` says what does not
/// match.
fn verify_checksum(bytes: &[u8]) -> Result<(), String> {
    let digits = checksum_digits(bytes).ok_or("no single \"checksum\" field of 8 hex digits")?;
    let stored = bytes.get(digits.clone()).and_then(|d| std::str::from_utf8(d).ok()).unwrap_or_default();
    let mut zeroed = bytes.to_vec();
    zeroed.splice(digits, CHECKSUM_ZERO.bytes());
    let computed = format!("{:08x}", crc32c::crc32c(&zeroed));
    if stored != computed {
        return Err(format!(
            "its checksum field says {stored:?}, but the CRC32C of its bytes is {computed:?}: the manifest was changed after it was written"
        ));
    }
    Ok(())
}

/// The fields every manifest version has, read before the rest so that a manifest of a newer
/// version is refused by its version rather than by a field this build does not know.
#[derive(Deserialize)]
struct Header {
    format: String,
    version: u32,
    #[serde(default)]
    checksum: Option<String>,
}

fn object_name(generation: u64) -> String {
    format!("{DIR}/{generation:020}.json")
}

fn parse_name(path: &str) -> Option<u64> {
    path.strip_prefix(DIR)?.strip_prefix('/')?.strip_suffix(".json")?.parse().ok()
}

/// Loads the live manifest, or `None` for a store no engine has committed to.
pub fn load(store: &Store) -> Result<Option<Manifest>, Error> {
    let Some(generation) = store.list(DIR)?.iter().filter_map(|(path, _)| parse_name(path)).max() else {
        return Ok(None);
    };
    let name = object_name(generation);
    let bytes = store.get(&name)?;
    let corrupt = |reason: String| Error::Corrupt { path: format!("{}/{name}", store.url()).into(), reason };
    let header: Header = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
    if header.format != FORMAT {
        return Err(corrupt(format!("format {:?}, not {FORMAT:?}", header.format)));
    }
    let manifest: Manifest = match header.version {
        // Version 1 is version 2 without checksums and owner (both `None` when read). One
        // with a checksum field had its version changed from 2: damage, not a version 1.
        1 => {
            if header.checksum.is_some() {
                return Err(corrupt("it says version 1, but has the checksum field of version 2".into()));
            }
            serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?
        }
        // Versions 2 and 3 (the current one): the bytes are checked before any field but the
        // version is read. Version 3 is version 2 plus `committed_at` and `removed`.
        2 | VERSION => {
            verify_checksum(&bytes).map_err(corrupt)?;
            let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
            if manifest.owner.is_none() {
                return Err(corrupt(format!("a version {} manifest without an owner", header.version)));
            }
            let has_v3_fields = manifest.committed_at.is_some() || !manifest.removed.is_empty();
            if header.version == 2 && has_v3_fields {
                return Err(corrupt("it says version 2, but has version 3 fields".into()));
            }
            if header.version == VERSION && manifest.committed_at.is_none() {
                return Err(corrupt("a version 3 manifest without committed_at".into()));
            }
            manifest
        }
        found => {
            return Err(Error::UnsupportedVersion {
                path: format!("{}/{name}", store.url()).into(),
                format: "manifest",
                found,
                supported: 1..=VERSION,
            });
        }
    };
    if manifest.generation != generation {
        return Err(corrupt(format!("it says generation {}", manifest.generation)));
    }
    Ok(Some(manifest))
}

/// Refuses `live` when another engine owns it: its `owner` is set and is not `engine`. A
/// version 1 manifest (no owner) or an empty store belongs to whoever commits next.
///
/// # Errors
/// [`Error::NotOwner`] naming the store and both ids.
pub fn check_owner(store: &Store, live: Option<&Manifest>, engine: &str) -> Result<(), Error> {
    match live.and_then(|m| m.owner.as_deref()) {
        Some(owner) if owner != engine => Err(Error::NotOwner {
            url: store.url().to_owned(),
            owner: owner.to_owned(),
            engine: engine.to_owned(),
        }),
        _ => Ok(()),
    }
}

/// Commits `next` as generation `next.generation`, which must be one past the live one, for
/// the engine `next.owner`. The live manifest is loaded (and its checksum checked) first: it
/// must still be the one `next` follows, and not another engine's.
///
/// # Errors
/// [`Error::NotOwner`] when another engine committed to the store; [`Error::ManifestConflict`]
/// when the live manifest is not the one before `next` (another writer of the same id), or
/// that generation exists already; [`Error::Corrupt`] for a damaged live manifest.
pub fn commit(store: &Store, next: &Manifest) -> Result<(), Error> {
    let engine = next.owner.as_deref().unwrap_or_default();
    let conflict = || Error::ManifestConflict { url: store.url().to_owned(), generation: next.generation };
    let live = load(store)?;
    check_owner(store, live.as_ref(), engine)?;
    if live.as_ref().map_or(0, |m| m.generation) + 1 != next.generation {
        return Err(conflict());
    }
    let bytes = next.to_json()?;
    if !store.put_new(&object_name(next.generation), bytes.into())? {
        // Another engine committed this generation between the check and the put: name it.
        check_owner(store, load(store)?.as_ref(), engine)?;
        return Err(conflict());
    }
    if let Some(old) = next.generation.checked_sub(KEEP) {
        // Best effort: an old manifest left behind is removed by a later commit.
        if let Ok(list) = store.list(DIR) {
            for (path, _) in list {
                if parse_name(&path).is_some_and(|g| g <= old) {
                    let _ = store.delete(&path);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests may panic")]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        let mut m = Manifest::empty(60, 3600);
        m.generation = 7;
        m.owner = Some("0123456789abcdef0123456789abcdef".into());
        m.files.push(FileEntry {
            path: "warm/day=2025-11-22/000000000001-L0-0000000000000000.parquet".into(),
            tier: Tier::Warm,
            day: "2025-11-22".into(),
            level: 0,
            flush: 1,
            rows: 10,
            points: 20,
            bytes: 300,
            min_time: 0,
            max_time: 540,
            series: 2,
            crc32c: Some(0xdead_beef),
        });
        m
    }

    #[test]
    fn the_checksum_covers_every_byte_but_its_own_digits() {
        let bytes = manifest().to_json().unwrap();
        verify_checksum(&bytes).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.contains("\n  \"checksum\": \""), "{text}");
        // By hand: the digits replaced by zeros, CRC32C of the rest, as lowercase hex.
        let digits = checksum_digits(&bytes).unwrap();
        let mut zeroed = bytes.clone();
        zeroed.splice(digits.clone(), *b"00000000");
        assert_eq!(&bytes[digits], format!("{:08x}", crc32c::crc32c(&zeroed)).as_bytes());
        // Any changed byte is caught, digits of a number included.
        for at in [0, bytes.len() / 3, text.find("540").unwrap() + 1, bytes.len() - 1] {
            let mut changed = bytes.clone();
            changed[at] ^= 0x01;
            assert!(verify_checksum(&changed).is_err(), "a change at {at} went unnoticed");
        }
    }

    #[test]
    fn version_1_is_written_without_checksums() {
        let mut m = manifest();
        m.version = 1;
        m.owner = None;
        m.files[0].crc32c = None;
        let text = String::from_utf8(m.to_json().unwrap()).unwrap();
        assert!(!text.contains("checksum") && !text.contains("owner") && !text.contains("crc32c"), "{text}");
    }
}
