//! A storage of real files in a directory (WAL segments, checkpoints).

use std::fs::{self, File, OpenOptions};
use std::io::{self, IoSlice, Write};
use std::path::{Path, PathBuf};

use crate::storage::{LogFile, Storage};

/// A [`Storage`] over a directory of the local file system.
#[derive(Debug, Clone)]
pub struct FsStorage {
    dir: PathBuf,
}

impl FsStorage {
    /// Uses `dir` for the files, creating it (and its parents) durably if missing: see
    /// [`create_dir_durably`].
    ///
    /// # Errors
    ///
    /// When the directory cannot be created or synced.
    pub fn new(dir: impl Into<PathBuf>) -> io::Result<FsStorage> {
        let dir = dir.into();
        create_dir_durably(&dir)?;
        Ok(FsStorage { dir })
    }

    /// `dir` as it is, created by nobody: for [`FsStorage::read_only`].
    pub(crate) fn at(dir: PathBuf) -> FsStorage {
        FsStorage { dir }
    }

    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Storage for FsStorage {
    fn list(&self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                // A name that is not UTF-8 is not one of ours.
                if let Ok(name) = entry.file_name().into_string() {
                    names.push(name);
                }
            }
        }
        Ok(names)
    }

    fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        fs::read(self.dir.join(name))
    }

    fn read_head(&self, name: &str, len: usize) -> io::Result<Vec<u8>> {
        use std::io::Read;
        let mut bytes = Vec::with_capacity(len);
        File::open(self.dir.join(name))?.take(len as u64).read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    fn open_read(&self, name: &str) -> io::Result<(Box<dyn io::Read + Send>, u64)> {
        let file = File::open(self.dir.join(name))?;
        let len = file.metadata()?.len();
        Ok((Box::new(file), len))
    }

    fn create(&self, name: &str) -> io::Result<Box<dyn LogFile>> {
        let file = OpenOptions::new().append(true).create_new(true).open(self.dir.join(name))?;
        Ok(Box::new(FsLogFile { file }))
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        fs::remove_file(self.dir.join(name))
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        fs::rename(self.dir.join(from), self.dir.join(to))
    }

    fn truncate(&self, name: &str, len: u64) -> io::Result<()> {
        let file = OpenOptions::new().write(true).open(self.dir.join(name))?;
        file.set_len(len)?;
        // sync_all, not sync_data: the new length is metadata.
        file.sync_all()
    }

    fn sync_dir(&self) -> io::Result<()> {
        sync_dir(&self.dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// Creates `dir` and any missing parents, then syncs `dir`, its parent, and every further
/// ancestor up to the first one that already existed: a file later made durable in `dir` is
/// only reachable after a power loss if every directory on its way is.
///
/// Syncing the parent even when `dir` existed costs two fsyncs per open and covers a
/// directory that a previous run created but never synced.
///
/// # Errors
///
/// When a directory cannot be created, opened or synced.
pub fn create_dir_durably(dir: &Path) -> io::Result<()> {
    let mut first_existing = dir;
    while !first_existing.exists() {
        match first_existing.parent() {
            Some(parent) => first_existing = parent,
            None => break,
        }
    }
    fs::create_dir_all(dir)?;
    let mut current = dir;
    let mut synced = 0;
    loop {
        // The parent of a one-part relative path is empty: the current directory.
        let d = if current.as_os_str().is_empty() { Path::new(".") } else { current };
        sync_dir(d)?;
        synced += 1;
        if synced >= 2 && first_existing.starts_with(current) {
            return Ok(());
        }
        match current.parent() {
            Some(parent) => current = parent,
            None => return Ok(()),
        }
    }
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

// Windows cannot open a directory as a file; NTFS journals directory entries itself.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// A segment file opened with `O_APPEND`.
#[derive(Debug)]
struct FsLogFile {
    file: File,
}

impl LogFile for FsLogFile {
    fn append(&mut self, bufs: &[&[u8]]) -> io::Result<()> {
        // One writev for the whole group when the kernel takes it all; the loop covers short
        // writes and groups longer than IOV_MAX.
        let mut slices: Vec<IoSlice<'_>> = bufs.iter().map(|b| IoSlice::new(b)).collect();
        let mut rest: &mut [IoSlice<'_>] = &mut slices;
        IoSlice::advance_slices(&mut rest, 0);
        while !rest.is_empty() {
            match self.file.write_vectored(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => IoSlice::advance_slices(&mut rest, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn sync_data(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }
}
