//! The manifest: which tier files are live, and how far each tier has been written.
//!
//! Each commit writes a new object `_manifest/<generation:020>.json` with a conditional put
//! (`PutMode::Create`): it appears whole or not at all, and two writers can never both commit
//! the same generation. The live manifest is the highest generation. A tier file that is in
//! the store but in no manifest is an orphan of an interrupted commit; opening removes it.
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
/// `load` keeps a decoder per version (only version 1 exists).
const VERSION: u32 = 1;
/// Manifests older than the live one by more than this are removed.
const KEEP: u64 = 8;

/// One committed state of the tiers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    /// Increases by one per commit.
    pub generation: u64,
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
}

impl Manifest {
    /// The state of an empty store.
    pub fn empty(warm_resolution: i64, cold_resolution: i64) -> Manifest {
        Manifest {
            format: FORMAT.to_owned(),
            version: VERSION,
            generation: 0,
            warm_resolution,
            cold_resolution,
            warm_until: None,
            warm_flushes: 0,
            wal_cut: None,
            cold_until: None,
            cold_flushes: 0,
            files: Vec::new(),
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
    /// byte, so a layout change without a version bump fails a test.
    ///
    /// # Errors
    /// [`Error::Invariant`] if serde cannot encode it (it can: every key is a string).
    pub fn to_json(&self) -> Result<Vec<u8>, Error> {
        serde_json::to_vec_pretty(self).map_err(|e| {
            Error::Invariant(format!("manifest generation {} does not encode: {e}", self.generation))
        })
    }
}

/// The fields every manifest version has, read before the rest so that a manifest of a newer
/// version is refused by its version rather than by a field this build does not know.
#[derive(Deserialize)]
struct Header {
    format: String,
    version: u32,
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
        // The current version. An older one would get its own arm that reads its layout and
        // converts it to `Manifest`.
        VERSION => serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?,
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

/// Commits `next` as generation `next.generation`, which must be one past the live one.
///
/// # Errors
/// [`Error::ManifestConflict`] when that generation exists already: another engine writes to
/// the same store prefix.
pub fn commit(store: &Store, next: &Manifest) -> Result<(), Error> {
    let bytes = next.to_json()?;
    if !store.put_new(&object_name(next.generation), bytes.into())? {
        return Err(Error::ManifestConflict { url: store.url().to_owned(), generation: next.generation });
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
