//! `SimStorage`: an in-memory storage that remembers what was made durable, so a test can
//! simulate a power loss, and that fails on command. Behind the `sim` feature.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::storage::{LogFile, Storage};

/// An in-memory [`Storage`] for crash and fault tests.
///
/// Files are kept apart from the directory entries that name them, as on a real file system:
/// each file keeps the bytes written and how many of them were synced, and the storage keeps
/// two directories, the live one and the durable one (the live one as of the last directory
/// sync). [`crash`](SimStorage::crash) returns what a power loss would leave: the names of the
/// durable directory, each with its file's synced prefix. So a file whose creation no directory
/// sync followed vanishes, and a rename no directory sync followed is undone: the file is back
/// under its old name (if that name was durable) and the file it replaced is back (if it was
/// durable). Clones share the same files, so a test keeps one clone and hands another to the
/// code under test.
///
/// Simplifications: a removal is durable at once (the name leaves the durable directory too;
/// a file that is durable under another name, because a rename to the removed name was not yet
/// synced, comes back under that name); a failed sync leaves the synced length as it was (a
/// real kernel may also drop the unsynced pages).
#[derive(Debug, Clone, Default)]
pub struct SimStorage {
    state: Arc<Mutex<State>>,
}

/// An operation of [`SimStorage`] that a test can make fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SimOp {
    /// [`LogFile::append`]. A failing append first writes half of its bytes, like a short
    /// write on a full disk, so a torn record is left behind.
    Append,
    /// [`LogFile::sync_data`].
    Sync,
    /// [`Storage::sync_dir`].
    SyncDir,
    /// [`Storage::create`].
    Create,
    /// [`Storage::truncate`].
    Truncate,
    /// [`Storage::rename`]; a failing rename changes nothing.
    Rename,
    /// [`Storage::remove`]; a failing removal changes nothing.
    Remove,
}

/// How many calls of each kind succeeded so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SimStats {
    /// Successful [`LogFile::append`] calls (one per group, when grouping works).
    pub appends: u64,
    /// Successful [`LogFile::sync_data`] calls.
    pub syncs: u64,
    /// Successful [`Storage::sync_dir`] calls.
    pub dir_syncs: u64,
    /// Successful [`Storage::rename`] calls.
    pub renames: u64,
}

#[derive(Debug, Default)]
struct State {
    /// File contents by file number (an inode): an open file follows its file, not its name.
    files: BTreeMap<u64, SimFile>,
    next_file: u64,
    /// The directory as the running system sees it: name to file number.
    live: BTreeMap<String, u64>,
    /// The directory as a power loss leaves it.
    durable: BTreeMap<String, u64>,
    /// Per operation: after how many more calls one fails (1 = the next call).
    faults: BTreeMap<SimOp, u64>,
    stats: SimStats,
    sync_latency: Duration,
}

#[derive(Debug, Clone, Default)]
struct SimFile {
    data: Vec<u8>,
    /// The length of the prefix that a power loss keeps.
    synced: usize,
}

fn injected(op: SimOp) -> io::Error {
    io::Error::other(format!("injected fault: {op:?} failed"))
}

fn not_found(name: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("no file {name}"))
}

impl State {
    /// Counts a call of `op`; `Err` when it is the one chosen to fail.
    fn call(&mut self, op: SimOp) -> io::Result<()> {
        match self.faults.get_mut(&op) {
            Some(1) => {
                self.faults.remove(&op);
                Err(injected(op))
            }
            Some(n) => {
                *n -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn new_file(&mut self, file: SimFile) -> u64 {
        let number = self.next_file;
        self.next_file += 1;
        self.files.insert(number, file);
        number
    }

    /// The file a live name refers to.
    fn live_file(&mut self, name: &str) -> io::Result<&mut SimFile> {
        let number = *self.live.get(name).ok_or_else(|| not_found(name))?;
        self.files.get_mut(&number).ok_or_else(|| not_found(name))
    }

    /// Drops files no directory names any more. A handle still open on one then fails with
    /// `NotFound` (a real file system would keep the file until it is closed; the log never
    /// writes to a file it removed).
    fn forget_unnamed(&mut self) {
        let named: BTreeSet<u64> = self.live.values().chain(self.durable.values()).copied().collect();
        self.files.retain(|number, _| named.contains(number));
    }
}

impl SimStorage {
    /// An empty storage.
    pub fn new() -> SimStorage {
        SimStorage::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock has failed already; the state is plain
        // data and still fine to read.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What survives a power loss now, as a new, independent storage: the names of the
    /// durable directory, each with its file's synced prefix. Faults, stats and latency are not
    /// carried over.
    pub fn crash(&self) -> SimStorage {
        let state = self.lock();
        let mut after = State::default();
        for (name, number) in &state.durable {
            let Some(file) = state.files.get(number) else { continue };
            let data = file.data.get(..file.synced).unwrap_or(&file.data).to_vec();
            let synced = data.len();
            let number = after.new_file(SimFile { data, synced });
            after.live.insert(name.clone(), number);
        }
        after.durable = after.live.clone();
        SimStorage { state: Arc::new(Mutex::new(after)) }
    }

    /// Makes the `nth` call of `op` from now on fail (1 = the next one).
    pub fn fail_nth(&self, op: SimOp, nth: u64) {
        let mut state = self.lock();
        if nth == 0 {
            state.faults.remove(&op);
        } else {
            state.faults.insert(op, nth);
        }
    }

    /// Makes every `sync_data` take this long, as a disk would; grouping shows under it.
    pub fn set_sync_latency(&self, latency: Duration) {
        self.lock().sync_latency = latency;
    }

    /// The calls that succeeded so far.
    pub fn stats(&self) -> SimStats {
        self.lock().stats
    }

    /// The bytes written to a file so far, synced or not.
    pub fn file(&self, name: &str) -> Option<Vec<u8>> {
        let mut state = self.lock();
        state.live_file(name).ok().map(|f| f.data.clone())
    }

    /// Replaces a file's contents (creating it if missing), durably: for tests that cut or
    /// damage a segment between runs.
    pub fn write_file(&self, name: &str, data: &[u8]) {
        let mut state = self.lock();
        let number = state.new_file(SimFile { data: data.to_vec(), synced: data.len() });
        state.live.insert(name.to_owned(), number);
        state.durable.insert(name.to_owned(), number);
        state.forget_unnamed();
    }

    /// The names of the files, sorted.
    pub fn names(&self) -> Vec<String> {
        self.lock().live.keys().cloned().collect()
    }
}

impl Storage for SimStorage {
    fn list(&self) -> io::Result<Vec<String>> {
        Ok(self.names())
    }

    fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        self.file(name).ok_or_else(|| not_found(name))
    }

    fn create(&self, name: &str) -> io::Result<Box<dyn LogFile>> {
        let mut state = self.lock();
        state.call(SimOp::Create)?;
        if state.live.contains_key(name) {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("{name} exists")));
        }
        let number = state.new_file(SimFile::default());
        state.live.insert(name.to_owned(), number);
        Ok(Box::new(SimLogFile { state: Arc::clone(&self.state), name: name.to_owned(), number }))
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let mut state = self.lock();
        state.call(SimOp::Rename)?;
        let number = state.live.remove(from).ok_or_else(|| not_found(from))?;
        // Only the live directory changes: the durable one keeps the old names until a
        // directory sync.
        state.live.insert(to.to_owned(), number);
        state.forget_unnamed();
        state.stats.renames += 1;
        Ok(())
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        let mut state = self.lock();
        state.call(SimOp::Remove)?;
        state.live.remove(name).ok_or_else(|| not_found(name))?;
        state.durable.remove(name);
        state.forget_unnamed();
        Ok(())
    }

    fn truncate(&self, name: &str, len: u64) -> io::Result<()> {
        let mut state = self.lock();
        state.call(SimOp::Truncate)?;
        let file = state.live_file(name)?;
        let len = usize::try_from(len)
            .ok()
            .filter(|&len| len <= file.data.len())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "truncate past the end"))?;
        file.data.truncate(len);
        file.synced = len;
        Ok(())
    }

    fn sync_dir(&self) -> io::Result<()> {
        let mut state = self.lock();
        state.call(SimOp::SyncDir)?;
        // As on a real file system, one directory sync makes every entry in it durable:
        // creations, renames and the replacements they made.
        state.durable = state.live.clone();
        state.forget_unnamed();
        state.stats.dir_syncs += 1;
        Ok(())
    }

    fn path(&self, name: &str) -> PathBuf {
        Path::new("sim").join(name)
    }
}

/// A file of a [`SimStorage`] open for appending. It follows its file through renames.
#[derive(Debug)]
struct SimLogFile {
    state: Arc<Mutex<State>>,
    /// The name it was created under, for messages.
    name: String,
    number: u64,
}

impl SimLogFile {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl LogFile for SimLogFile {
    fn append(&mut self, bufs: &[&[u8]]) -> io::Result<()> {
        let mut state = self.lock();
        let outcome = state.call(SimOp::Append);
        let file = state.files.get_mut(&self.number).ok_or_else(|| not_found(&self.name))?;
        let bytes: Vec<u8> = bufs.concat();
        if let Err(e) = outcome {
            let half = bytes.len() / 2;
            file.data.extend_from_slice(bytes.get(..half).unwrap_or_default());
            return Err(e);
        }
        file.data.extend_from_slice(&bytes);
        state.stats.appends += 1;
        Ok(())
    }

    fn sync_data(&mut self) -> io::Result<()> {
        // What is synced is what was written when the sync began.
        let (written, latency) = {
            let mut state = self.lock();
            state.call(SimOp::Sync)?;
            let file = state.files.get(&self.number).ok_or_else(|| not_found(&self.name))?;
            (file.data.len(), state.sync_latency)
        };
        // Sleep outside the lock, as a disk would: a crash taken meanwhile sees the data
        // written but not yet synced.
        if !latency.is_zero() {
            std::thread::sleep(latency);
        }
        let mut state = self.lock();
        if let Some(file) = state.files.get_mut(&self.number) {
            file.synced = file.synced.max(written.min(file.data.len()));
        }
        state.stats.syncs += 1;
        Ok(())
    }
}
