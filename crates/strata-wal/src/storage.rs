//! The I/O seam: the log (and the engine's checkpoints) touch files only through these traits,
//! so a test can put a storage underneath that crashes, keeping only what was made durable, or
//! fails on command.

use std::fmt::Debug;
use std::io;
use std::path::PathBuf;

/// A flat directory of files, as the log and the checkpoints need it.
///
/// One writer owns each directory. Names are plain file names (`00000000000000000001.wal`).
pub trait Storage: Send + Sync + Debug + 'static {
    /// The names of the files in the directory, in any order.
    fn list(&self) -> io::Result<Vec<String>>;
    /// The whole contents of a file. Segments are bounded by the segment size.
    fn read(&self, name: &str) -> io::Result<Vec<u8>>;
    /// The first `len` bytes of a file (fewer if it is shorter): replay reads the header of the
    /// next segment with it. The provided version reads the whole file.
    fn read_head(&self, name: &str, len: usize) -> io::Result<Vec<u8>> {
        let mut bytes = self.read(name)?;
        bytes.truncate(len);
        Ok(bytes)
    }
    /// A reader of a file from its start, and the file's length: a checkpoint is read a piece
    /// at a time rather than whole. The provided version reads the whole file first.
    fn open_read(&self, name: &str) -> io::Result<(Box<dyn io::Read + Send>, u64)> {
        let bytes = self.read(name)?;
        let len = bytes.len() as u64;
        Ok((Box::new(io::Cursor::new(bytes)), len))
    }
    /// Creates a new, empty file for appending; fails if it exists. The file's directory entry
    /// is durable only after a later [`sync_dir`](Storage::sync_dir).
    fn create(&self, name: &str) -> io::Result<Box<dyn LogFile>>;
    /// Removes a file. Need not be durable at once: a removed segment that comes back after a
    /// crash is only ever one the caller declared applied.
    fn remove(&self, name: &str) -> io::Result<()>;
    /// Renames `from` to `to`, atomically replacing a file named `to`: a reader sees the old
    /// `to` or the new one, never neither. The change is durable only after a later
    /// [`sync_dir`](Storage::sync_dir); until then a power loss may undo it. Sync the file's
    /// data first, or the name may survive a crash with bytes missing.
    fn rename(&self, from: &str, to: &str) -> io::Result<()>;
    /// Cuts a file to `len` bytes and makes the cut durable before returning.
    fn truncate(&self, name: &str, len: u64) -> io::Result<()>;
    /// Makes the directory's entries durable: files created before it survive a power loss.
    fn sync_dir(&self) -> io::Result<()>;
    /// The path errors show for a file (`name` empty: the directory itself).
    fn path(&self, name: &str) -> PathBuf;
}

/// A file open for appending.
pub trait LogFile: Send + Debug {
    /// Appends the buffers, in order, all of them or an error. Ideally one write call.
    fn append(&mut self, bufs: &[&[u8]]) -> io::Result<()>;
    /// Makes every byte appended so far durable (`fdatasync`).
    fn sync_data(&mut self) -> io::Result<()>;
}

/// A boxed storage is a storage: an engine picks its disks at run time (real or simulated).
impl<S: Storage + ?Sized> Storage for Box<S> {
    fn list(&self) -> io::Result<Vec<String>> {
        (**self).list()
    }
    fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        (**self).read(name)
    }
    fn read_head(&self, name: &str, len: usize) -> io::Result<Vec<u8>> {
        (**self).read_head(name, len)
    }
    fn open_read(&self, name: &str) -> io::Result<(Box<dyn io::Read + Send>, u64)> {
        (**self).open_read(name)
    }
    fn create(&self, name: &str) -> io::Result<Box<dyn LogFile>> {
        (**self).create(name)
    }
    fn remove(&self, name: &str) -> io::Result<()> {
        (**self).remove(name)
    }
    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        (**self).rename(from, to)
    }
    fn truncate(&self, name: &str, len: u64) -> io::Result<()> {
        (**self).truncate(name, len)
    }
    fn sync_dir(&self) -> io::Result<()> {
        (**self).sync_dir()
    }
    fn path(&self, name: &str) -> PathBuf {
        (**self).path(name)
    }
}
