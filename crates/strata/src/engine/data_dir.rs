//! The data directory's own files: its lock, its engine id, and the storage of its WAL and
//! checkpoints.

use std::fs::File;
use std::path::Path;

use strata_wal::FsStorage;

use crate::config::Config;
use crate::error::{Error, io};

use super::{CHECKPOINT_DIR, WAL_DIR};

/// Where the WAL and the checkpoints live.
pub(super) struct Disks {
    pub(super) wal: Box<dyn strata_wal::Storage>,
    pub(super) checkpoints: Box<dyn strata_wal::Storage>,
}

impl Disks {
    /// `data_dir/wal` and `data_dir/checkpoints`, created (durably) if needed.
    pub(super) fn local(config: &Config) -> Result<Disks, Error> {
        let (wal, checkpoints) = (config.data_dir.join(WAL_DIR), config.data_dir.join(CHECKPOINT_DIR));
        Ok(Disks {
            wal: Box::new(FsStorage::new(&wal).map_err(io("open", &wal))?),
            checkpoints: Box::new(FsStorage::new(&checkpoints).map_err(io("open", &checkpoints))?),
        })
    }
}

/// Takes the data directory's lock file: one engine per directory.
pub(super) fn lock_data_dir(dir: &Path) -> Result<File, Error> {
    std::fs::create_dir_all(dir).map_err(io("create directory", dir))?;
    let path = dir.join("LOCK");
    let lock = File::create(&path).map_err(io("create", &path))?;
    if lock.try_lock().is_err() {
        return Err(Error::Locked { path: dir.to_owned() });
    }
    Ok(lock)
}

pub(super) const ENGINE_ID: &str = "ENGINE_ID";

/// This data directory's engine id, the owner a tier store's manifest names: read from
/// `<data_dir>/ENGINE_ID`, or created there once (128 random bits as 32 lowercase hex digits and
/// a newline), durably, before anything can commit it as an owner. Called under the lock.
pub(super) fn engine_id(dir: &Path) -> Result<String, Error> {
    match read_engine_id(dir)? {
        Some(id) => Ok(id),
        None => {
            use std::hash::{BuildHasher, Hasher};
            let path = dir.join(ENGINE_ID);
            use std::io::Write as _;
            // `RandomState` is seeded from the operating system's random source.
            let mut id = String::with_capacity(32);
            for half in 0..2u8 {
                let mut h = std::collections::hash_map::RandomState::new().build_hasher();
                h.write_u8(half);
                h.write_u128(
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap_or_default()
                        .as_nanos(),
                );
                h.write_u32(std::process::id());
                id.push_str(&format!("{:016x}", h.finish()));
            }
            // Written whole or not at all: a temporary file, synced, renamed, the directory
            // synced (an id that a power loss took back would make the store refuse its owner).
            let tmp = dir.join("ENGINE_ID.tmp");
            let mut file = File::create(&tmp).map_err(io("create", &tmp))?;
            file.write_all(format!("{id}\n").as_bytes()).map_err(io("write", &tmp))?;
            file.sync_all().map_err(io("sync", &tmp))?;
            std::fs::rename(&tmp, &path).map_err(io("rename", &tmp))?;
            // Syncs the directory, and its parent in case the directory is new too.
            strata_wal::create_dir_durably(dir).map_err(io("sync directory", dir))?;
            Ok(id)
        }
    }
}

/// The engine id in `<data_dir>/ENGINE_ID`, or `None` when there is no such file.
pub(super) fn read_engine_id(dir: &Path) -> Result<Option<String>, Error> {
    let path = dir.join(ENGINE_ID);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let id = std::str::from_utf8(&bytes).unwrap_or_default().trim_end_matches('\n');
            if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                return Err(Error::Corrupt { path, reason: "not 32 lowercase hex digits".into() });
            }
            Ok(Some(id.to_owned()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io("read", &path)(e)),
    }
}
