//! The engine's live view of the tiers: the committed manifest, which manifest generations
//! readers still hold, and files that left the manifest but may still be read.
//!
//! **Invariant:** a file dropped from the manifest at generation `g` is deleted from the store
//! only when no reader in this process holds a generation before `g`, and
//! `object_store.snapshot_retention` after that commit, so that readers outside strata that
//! took an earlier manifest's file list (a snapshot) find every file of it. The manifest
//! lists such files under `removed` until a commit after their deletion: a restart keeps them
//! for their whole retention, and the orphan sweep at open leaves them alone.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;

use super::Tier;
use super::cache::{Lru, Weight};
use super::file::{FileError, Group, OpenFile, Row, RowFilter};
use super::manifest::{self, FileEntry, Manifest, RemovedFile};
use super::store::Store;
use crate::clock::Clock;
use crate::config::Config;
use crate::error::Error;
use crate::failpoint::failpoint;

#[derive(Debug)]
pub(crate) struct TierState {
    pub(crate) store: Store,
    /// This engine's id (its data directory's `ENGINE_ID`), the owner of every commit.
    engine: String,
    current: RwLock<Arc<Manifest>>,
    /// Readers per manifest generation.
    readers: Arc<Mutex<BTreeMap<u64, usize>>>,
    /// The engine's clock: commit times, and when a dropped file's retention is up.
    clock: Arc<dyn Clock>,
    /// `object_store.snapshot_retention` (ns).
    snapshot_retention: i64,
    /// Files of the live manifest's `removed` already deleted; the next commit forgets them.
    deleted: Mutex<BTreeSet<String>>,
    /// Tier files with their parsed footers, by path.
    files: Mutex<Lru<String, OpenFile>>,
    /// Decoded row groups, by path and row group.
    groups: Mutex<Lru<(String, usize), Group>>,
}

impl Weight for OpenFile {
    fn bytes(&self) -> usize {
        self.size()
    }
}

impl Weight for Group {
    fn bytes(&self) -> usize {
        Group::bytes(self)
    }
}

/// A reader's hold on one manifest: the files it lists stay in the store while it lives.
#[derive(Debug)]
pub(crate) struct ReadGuard {
    pub(crate) manifest: Arc<Manifest>,
    readers: Arc<Mutex<BTreeMap<u64, usize>>>,
}

impl Drop for ReadGuard {
    fn drop(&mut self) {
        let mut readers = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        let generation = self.manifest.generation;
        if let Some(count) = readers.get_mut(&generation) {
            *count -= 1;
            if *count == 0 {
                readers.remove(&generation);
            }
        }
    }
}

impl TierState {
    /// Loads the live manifest (or starts an empty one), writing nothing; a writable engine
    /// then calls [`remove_orphans`](TierState::remove_orphans). A store another engine owns
    /// is refused, with nothing touched. Its resolutions, caches and snapshot retention come
    /// from `config`.
    pub(crate) fn open(
        store: Store,
        engine: String,
        config: &Config,
        clock: Arc<dyn Clock>,
    ) -> Result<TierState, Error> {
        let live = manifest::load(&store)?;
        manifest::check_owner(&store, live.as_ref(), &engine)?;
        TierState::with_live(store, engine, live, config, clock)
    }

    /// The state over `live`, the manifest just loaded from `store` (`None`: an empty store).
    fn with_live(
        store: Store,
        engine: String,
        live: Option<Manifest>,
        config: &Config,
        clock: Arc<dyn Clock>,
    ) -> Result<TierState, Error> {
        let (warm_resolution, cold_resolution) =
            (Tier::Warm.resolution(config), Tier::Cold.resolution(config));
        let os = &config.object_store;
        let manifest = match live {
            Some(m) => m,
            None => Manifest::empty(warm_resolution, cold_resolution),
        };
        for (key, found, configured) in [
            ("warm.resolution", manifest.warm_resolution, warm_resolution),
            ("cold.resolution", manifest.cold_resolution, cold_resolution),
        ] {
            if found != configured {
                return Err(Error::TierMismatch {
                    url: store.url().to_owned(),
                    key,
                    found: format!("{found} ns"),
                    configured: format!("{configured} ns"),
                });
            }
        }
        Ok(TierState {
            store,
            engine,
            current: RwLock::new(Arc::new(manifest)),
            readers: Arc::default(),
            clock,
            snapshot_retention: os.snapshot_retention.as_nanos_i64(),
            deleted: Mutex::default(),
            files: Mutex::new(Lru::new(os.cache_size.0)),
            groups: Mutex::new(Lru::new(os.decoded_cache_size.0)),
        })
    }

    /// Loads the live manifest of a store this process only reads, whoever owns it (a node of
    /// a fleet, read by the fleet view). Nothing is ever committed through it.
    pub(crate) fn open_reader(
        store: Store,
        config: &Config,
        clock: Arc<dyn Clock>,
    ) -> Result<TierState, Error> {
        let live = manifest::load(&store)?;
        let owner = live.as_ref().and_then(|m| m.owner.clone()).unwrap_or_default();
        TierState::with_live(store, owner, live, config, clock)
    }

    /// Removes orphans: files in the store that the live manifest neither lists nor keeps
    /// for snapshot readers (`removed`), left by a commit that did not finish. Returns how
    /// many went. Only the engine that owns the store calls it, at open, before anything can
    /// upload.
    pub(crate) fn remove_orphans(&self) -> Result<u64, Error> {
        let manifest = self.manifest();
        let mut live = manifest.live();
        live.extend(manifest.removed.iter().map(|r| r.path.as_str()));
        let mut orphans = 0;
        for dir in ["warm", "cold"] {
            for (path, _) in self.store.list(dir)? {
                if !live.contains(path.as_str()) {
                    self.store.delete(&path)?;
                    orphans += 1;
                }
            }
        }
        Ok(orphans)
    }

    /// A tier file for a query: from the cache, or fetched, parsed and cached.
    fn open_file(&self, entry: &FileEntry) -> Result<Arc<OpenFile>, Error> {
        if let Some(file) = self.files.lock().unwrap_or_else(|p| p.into_inner()).get(&entry.path) {
            return Ok(file);
        }
        let bytes = self.fetch(entry)?;
        let file = Arc::new(OpenFile::new(bytes).map_err(|reason| self.damaged(entry, reason))?);
        self.files.lock().unwrap_or_else(|p| p.into_inner()).insert(entry.path.clone(), file.clone());
        Ok(file)
    }

    /// A tier file's bytes, checked against its manifest entry (length, then CRC32C) before
    /// anything parses them: Parquet pages carry no checksum, so a changed byte could
    /// otherwise decode to changed rows.
    fn fetch(&self, entry: &FileEntry) -> Result<Bytes, Error> {
        let bytes = self.store.get(&entry.path)?;
        let corrupt = |reason: String| Error::Corrupt {
            path: format!("{}/{}", self.store.url(), entry.path).into(),
            reason,
        };
        if bytes.len() as u64 != entry.bytes {
            return Err(corrupt(format!(
                "it is {} bytes long, the manifest says {}",
                bytes.len(),
                entry.bytes
            )));
        }
        if let Some(expected) = entry.crc32c {
            let found = crc32c::crc32c(&bytes);
            if found != expected {
                return Err(corrupt(format!(
                    "its CRC32C is {found:08x}, the manifest says {expected:08x}: the file was changed after it was written"
                )));
            }
        }
        Ok(bytes)
    }

    /// The row groups of a tier file that may hold rows `filter` keeps, decoded, through both
    /// caches: a repeated query neither fetches, parses nor decodes again.
    pub(crate) fn read_groups(
        &self,
        entry: &FileEntry,
        filter: &RowFilter<'_>,
    ) -> Result<Vec<Arc<Group>>, Error> {
        let file = self.open_file(entry)?;
        let mut groups = Vec::new();
        for index in file.row_groups(filter) {
            let key = (entry.path.clone(), index);
            let cached = self.groups.lock().unwrap_or_else(|p| p.into_inner()).get(&key);
            let group = match cached {
                Some(group) => group,
                None => {
                    let group =
                        Arc::new(file.decode_group(index).map_err(|reason| self.damaged(entry, reason))?);
                    self.groups.lock().unwrap_or_else(|p| p.into_inner()).insert(key, group.clone());
                    group
                }
            };
            groups.push(group);
        }
        Ok(groups)
    }

    /// The error for a tier file that cannot be read, naming it.
    pub(crate) fn damaged(&self, entry: &FileEntry, reason: impl Into<FileError>) -> Error {
        let path = format!("{}/{}", self.store.url(), entry.path).into();
        match reason.into() {
            FileError::UnsupportedVersion { found, supported } => {
                Error::UnsupportedVersion { path, format: "tier file", found, supported }
            }
            FileError::Damaged(reason) => Error::Corrupt { path, reason },
        }
    }

    /// The committed manifest, without holding its files.
    pub(crate) fn manifest(&self) -> Arc<Manifest> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The committed manifest, holding its files in the store until the guard is dropped.
    pub(crate) fn read(&self) -> ReadGuard {
        let current = self.current.read().unwrap_or_else(|p| p.into_inner());
        let mut readers = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        *readers.entry(current.generation).or_default() += 1;
        ReadGuard { manifest: current.clone(), readers: self.readers.clone() }
    }

    /// Every change to the tiers, in one place: uploads `files`, then commits manifest
    /// generation + 1 made of the live one by `edit` plus `files`. `points` name the
    /// failpoints after each upload and after the commit (`failpoint.rs`).
    ///
    /// Only the compactor commits, one pass at a time, so the live manifest cannot change
    /// between reading it here and committing its successor (another engine on the same prefix
    /// makes the commit fail with [`Error::NotOwner`] or [`Error::ManifestConflict`]).
    ///
    /// # Errors
    /// Object store errors; the upload or the commit did not happen, and files uploaded
    /// without a commit are orphans that the next open removes.
    pub(crate) fn publish(
        &self,
        files: &[(FileEntry, Bytes)],
        points: [&'static str; 2],
        edit: impl FnOnce(&mut Manifest),
    ) -> Result<(), Error> {
        let [uploaded, committed] = points;
        for (entry, bytes) in files {
            self.upload(entry, vec![bytes.clone()], uploaded)?;
        }
        let entries: Vec<FileEntry> = files.iter().map(|(entry, _)| entry.clone()).collect();
        self.publish_uploaded(&entries, committed, edit)
    }

    /// The first step of [`TierState::publish`] alone: uploads one file from its bytes in
    /// parts (never joined; a writer that uploads files as it finishes them, then commits them
    /// all with [`TierState::publish_uploaded`]), then passes the failpoint `uploaded`.
    pub(crate) fn upload(
        &self,
        entry: &FileEntry,
        parts: Vec<Bytes>,
        uploaded: &'static str,
    ) -> Result<(), Error> {
        self.store.put_parts(&entry.path, parts)?;
        failpoint(uploaded)
    }

    /// The second step of [`TierState::publish`]: commits files already uploaded.
    pub(crate) fn publish_uploaded(
        &self,
        files: &[FileEntry],
        committed: &'static str,
        edit: impl FnOnce(&mut Manifest),
    ) -> Result<(), Error> {
        let mut next = (*self.manifest()).clone();
        next.generation += 1;
        // A version 1 manifest is taken over: its successor is version 2, owned by this engine.
        next.version = manifest::VERSION;
        next.owner = Some(self.engine.clone());
        edit(&mut next);
        next.files.extend(files.iter().cloned());
        self.commit(next)?;
        failpoint(committed)
    }

    /// A whole tier file, read and decoded (for the compactor, which reads each file once).
    pub(crate) fn read_file(&self, entry: &FileEntry, filter: &RowFilter<'_>) -> Result<Vec<Row>, Error> {
        let bytes = self.fetch(entry)?;
        super::file::read(bytes, filter).map(|(_, rows)| rows).map_err(|reason| self.damaged(entry, reason))
    }

    /// Commits `next` (its generation one past the current): stamps its commit time, lists
    /// the files it drops under `removed` (kept for snapshot readers) and forgets those of
    /// `removed` that are deleted already.
    fn commit(&self, mut next: Manifest) -> Result<(), Error> {
        let now = self.clock.now_nanos();
        next.committed_at = Some(now);
        let forgotten: BTreeSet<String> = self.deleted.lock().unwrap_or_else(|p| p.into_inner()).clone();
        next.removed.retain(|r| !forgotten.contains(&r.path));
        let current = self.manifest();
        let live = next.live();
        let dropped = current.files.iter().filter(|f| !live.contains(f.path.as_str()));
        let dropped: Vec<RemovedFile> = dropped
            .map(|f| RemovedFile { path: f.path.clone(), generation: next.generation, removed_at: now })
            .collect();
        next.removed.extend(dropped);
        manifest::commit(&self.store, &next)?;
        self.deleted.lock().unwrap_or_else(|p| p.into_inner()).retain(|p| !forgotten.contains(p));
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(next);
        Ok(())
    }

    /// Deletes the files the live manifest keeps under `removed` whose snapshot retention is
    /// up and that no reader in this process still holds. Returns how many were deleted.
    pub(crate) fn delete_unread(&self) -> Result<u64, Error> {
        let oldest_reader = self.readers.lock().unwrap_or_else(|p| p.into_inner()).keys().next().copied();
        let now = self.clock.now_nanos();
        let manifest = self.manifest();
        let due: Vec<&str> = {
            let deleted = self.deleted.lock().unwrap_or_else(|p| p.into_inner());
            let due = manifest.removed.iter().filter(|r| {
                oldest_reader.is_none_or(|g| g >= r.generation)
                    && r.removed_at.saturating_add(self.snapshot_retention) <= now
                    && !deleted.contains(&r.path)
            });
            due.map(|r| r.path.as_str()).collect()
        };
        for path in &due {
            // What fails is left for the next pass.
            self.store.delete(path)?;
            self.deleted.lock().unwrap_or_else(|p| p.into_inner()).insert((*path).to_owned());
        }
        Ok(due.len() as u64)
    }

    /// Files dropped from the manifest and not deleted yet: held by a reader, or kept for
    /// snapshot readers.
    pub(crate) fn doomed(&self) -> usize {
        let deleted = self.deleted.lock().unwrap_or_else(|p| p.into_inner()).len();
        self.manifest().removed.len().saturating_sub(deleted)
    }
}
