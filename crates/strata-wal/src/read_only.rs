//! A storage that refuses every change: a read-only replay (and a read-only engine's checkpoint
//! load) goes through it, so nothing it does can write, whatever the code above it tries.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use crate::fs::FsStorage;
use crate::storage::{LogFile, Storage};

/// A [`Storage`] that reads through to another one and refuses every change with an error of
/// kind [`io::ErrorKind::ReadOnlyFilesystem`]. A directory that does not exist reads as empty:
/// there is nothing in it to read, and a read-only open must not create it.
///
/// Replay through it with [`Replay::finish_read_only`](crate::Replay::finish_read_only): a torn
/// tail or damage is then reported and left in place.
///
/// ```
/// use strata_wal::{FsStorage, Position, Storage, Wal, WalOptions};
///
/// # let dir = std::env::temp_dir().join(format!("strata-wal-ro-doctest-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// let storage = FsStorage::read_only(&dir); // creates nothing, not even `dir`
/// assert!(storage.create("x").is_err());
/// let report = Wal::open(storage, WalOptions::default(), Position::START)?.finish_read_only()?;
/// assert_eq!(report.records, 0);
/// assert!(!dir.exists());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ReadOnlyStorage {
    inner: Arc<dyn Storage>,
}

impl ReadOnlyStorage {
    /// Reads through to `inner`, refusing every change.
    pub fn new(inner: impl Storage) -> ReadOnlyStorage {
        ReadOnlyStorage { inner: Arc::new(inner) }
    }

    fn refuse(&self, op: &str, name: &str) -> io::Error {
        io::Error::new(
            io::ErrorKind::ReadOnlyFilesystem,
            format!("{op} {} refused: the storage is open read-only", self.inner.path(name).display()),
        )
    }
}

impl FsStorage {
    /// The files of `dir`, read-only: nothing is created, `dir` included, and every change is
    /// refused (see [`ReadOnlyStorage`]). Does no I/O.
    pub fn read_only(dir: impl Into<PathBuf>) -> ReadOnlyStorage {
        ReadOnlyStorage::new(FsStorage::at(dir.into()))
    }
}

impl Storage for ReadOnlyStorage {
    fn list(&self) -> io::Result<Vec<String>> {
        match self.inner.list() {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            listed => listed,
        }
    }
    fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        self.inner.read(name)
    }
    fn read_head(&self, name: &str, len: usize) -> io::Result<Vec<u8>> {
        self.inner.read_head(name, len)
    }
    fn open_read(&self, name: &str) -> io::Result<(Box<dyn io::Read + Send>, u64)> {
        self.inner.open_read(name)
    }
    fn create(&self, name: &str) -> io::Result<Box<dyn LogFile>> {
        Err(self.refuse("creating", name))
    }
    fn remove(&self, name: &str) -> io::Result<()> {
        Err(self.refuse("removing", name))
    }
    fn rename(&self, from: &str, _to: &str) -> io::Result<()> {
        Err(self.refuse("renaming", from))
    }
    fn truncate(&self, name: &str, _len: u64) -> io::Result<()> {
        Err(self.refuse("truncating", name))
    }
    fn sync_dir(&self) -> io::Result<()> {
        Err(self.refuse("syncing", ""))
    }
    fn path(&self, name: &str) -> PathBuf {
        self.inner.path(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_change_is_refused_and_a_missing_directory_is_empty() {
        let dir = std::env::temp_dir().join(format!("strata-wal-ro-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let storage = FsStorage::read_only(&dir);
        assert_eq!(storage.list().unwrap(), Vec::<String>::new());
        for refused in [
            storage.create("a").map(|_| ()),
            storage.remove("a"),
            storage.rename("a", "b"),
            storage.truncate("a", 0),
            storage.sync_dir(),
        ] {
            let e = refused.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::ReadOnlyFilesystem);
            assert!(e.to_string().contains("read-only"), "{e}");
        }
        assert!(!dir.exists(), "nothing was created");
    }
}
