//! `Wal`: the handle writers share.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread::JoinHandle;

use crossbeam_channel::Sender;

use crate::record::{self, MAX_RECORD_SIZE};
use crate::replay::Replay;
use crate::segment;
use crate::storage::{LogFile, Storage};
use crate::sync_latency::{SyncHistogram, SyncLatency};
use crate::writer::{Msg, Writer};
use crate::{Position, WalError, WalOptions};

/// A write-ahead log, open for appending. `Send + Sync`: share it as `&Wal` or `Arc<Wal>`.
///
/// Opened with [`Wal::open`], which replays the log first. Dropping it closes it like
/// [`close`](Wal::close), ignoring errors.
#[derive(Debug)]
pub struct Wal {
    /// `None` only while closing.
    tx: Option<Sender<Msg>>,
    thread: Option<JoinHandle<Result<(), WalError>>>,
    shared: Arc<Shared>,
}

/// State the log thread and the handle share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) storage: Arc<dyn Storage>,
    /// The first failure's text; once set, the log refuses writes until reopened.
    poison: OnceLock<String>,
    /// Segments no longer written to, by sequence number, with their length when known (a
    /// segment that replay skipped unread has `None`). The current segment is never here.
    sealed: Mutex<BTreeMap<u64, Option<u64>>>,
    /// How long syncs of segment data take.
    pub(crate) syncs: SyncHistogram,
}

impl Shared {
    pub(crate) fn new(storage: Arc<dyn Storage>, sealed: BTreeMap<u64, Option<u64>>) -> Shared {
        Shared {
            storage,
            poison: OnceLock::new(),
            sealed: Mutex::new(sealed),
            syncs: SyncHistogram::default(),
        }
    }

    /// Poisons the log with `cause` (the first cause wins) and returns the cause in force.
    pub(crate) fn poison(&self, cause: &WalError) -> String {
        self.poison.get_or_init(|| cause.to_string()).clone()
    }

    pub(crate) fn poisoned(&self) -> Option<String> {
        self.poison.get().cloned()
    }

    pub(crate) fn seal(&self, seq: u64, len: Option<u64>) {
        self.sealed.lock().unwrap_or_else(PoisonError::into_inner).insert(seq, len);
    }
}

impl Wal {
    /// Opens the log in `storage` and starts replaying it from `from`, the position of the
    /// last checkpoint ([`Position::START`] for the whole log).
    ///
    /// Hand the records to the engine with [`Replay::next_record`], then call
    /// [`Replay::finish`] to get the `Wal`; `Wal::open(..)?.finish()?` checks and repairs the
    /// log without looking at the records. Segments wholly before `from` are not read.
    ///
    /// # Errors
    ///
    /// When the directory cannot be listed.
    pub fn open(storage: impl Storage, options: WalOptions, from: Position) -> Result<Replay, WalError> {
        Replay::new(Arc::new(storage), options, from)
    }

    /// Starts the log thread on `file`, the new segment `seq`.
    pub(crate) fn start(
        shared: Shared,
        options: WalOptions,
        file: Box<dyn LogFile>,
        seq: u64,
    ) -> Result<Wal, WalError> {
        let shared = Arc::new(shared);
        let (tx, rx) = crossbeam_channel::bounded(options.queue_depth);
        let writer = Writer::new(Arc::clone(&shared), rx, options, file, seq);
        let thread = std::thread::Builder::new()
            .name("strata-wal".to_owned())
            .spawn(move || writer.run())
            .map_err(|source| WalError::Io {
                op: "starting the log thread for",
                path: shared.storage.path(""),
                source,
            })?;
        Ok(Wal { tx: Some(tx), thread: Some(thread), shared })
    }

    /// Appends one record and returns the position just after it, once it is as durable as
    /// [`WalOptions::durability`] says. Appends from many threads are committed in groups.
    ///
    /// # Errors
    ///
    /// [`WalError::RecordTooLarge`] for a payload over [`MAX_RECORD_SIZE`] bytes (nothing is
    /// written); [`WalError::Poisoned`] when this record's group, or an earlier one, failed to
    /// be written or synced. A record whose append failed may or may not be replayed later;
    /// one whose append succeeded always is.
    pub fn append(&self, payload: &[u8]) -> Result<Position, WalError> {
        self.append_sequenced(payload).map(|(position, _)| position)
    }

    /// Like [`Wal::append`], also returning the record's sequence number: 0 for the first record
    /// appended after [`Wal::open`], then consecutive in log order. Callers that apply records to
    /// in-memory state use it to apply them in the order a replay will.
    ///
    /// # Errors
    ///
    /// As [`Wal::append`].
    pub fn append_sequenced(&self, payload: &[u8]) -> Result<(Position, u64), WalError> {
        if payload.len() > MAX_RECORD_SIZE {
            return Err(WalError::RecordTooLarge { size: payload.len(), max: MAX_RECORD_SIZE });
        }
        self.append_frame(record::Frame::new(payload))
    }

    /// [`Wal::append_sequenced`] of a payload the log takes over: it is written as it is, not
    /// copied behind the record's header first (a write of 4 MB of line protocol makes a
    /// payload of 1 MB).
    ///
    /// # Errors
    /// As [`Wal::append_sequenced`].
    pub fn append_sequenced_owned(&self, payload: Vec<u8>) -> Result<(Position, u64), WalError> {
        if payload.len() > MAX_RECORD_SIZE {
            return Err(WalError::RecordTooLarge { size: payload.len(), max: MAX_RECORD_SIZE });
        }
        self.append_frame(record::Frame::owning(payload))
    }

    fn append_frame(&self, frame: record::Frame) -> Result<(Position, u64), WalError> {
        self.check_poison()?;
        let (reply, answer) = crossbeam_channel::bounded(1);
        self.send(Msg::Append { frame, reply })?;
        answer.recv().map_err(|_| WalError::WriterGone)?
    }

    /// How long this log's syncs of segment data have taken since it was opened.
    pub fn sync_latency(&self) -> SyncLatency {
        self.shared.syncs.snapshot()
    }

    /// Makes everything appended so far durable now, whatever the durability.
    ///
    /// # Errors
    ///
    /// [`WalError::Poisoned`] when the sync, or an earlier write, failed.
    pub fn sync(&self) -> Result<(), WalError> {
        self.check_poison()?;
        let (reply, answer) = crossbeam_channel::bounded(1);
        self.send(Msg::Sync { reply })?;
        answer.recv().map_err(|_| WalError::WriterGone)?
    }

    /// Deletes the segments all of whose records lie before `pos`, the position a checkpoint
    /// now holds everything up to. Never deletes the segment being written, nor the one `pos`
    /// points into unless `pos` is at its very end. Returns how many segments went.
    ///
    /// Safe to call while other threads append.
    ///
    /// # Errors
    ///
    /// When a file cannot be removed; the segments before it are gone, the rest stay.
    pub fn remove_segments_before(&self, pos: Position) -> Result<usize, WalError> {
        let mut sealed = self.shared.sealed.lock().unwrap_or_else(PoisonError::into_inner);
        let doomed: Vec<u64> = sealed
            .iter()
            .filter(|&(&seq, &len)| {
                seq < pos.segment || (seq == pos.segment && len.is_some_and(|l| l <= pos.offset))
            })
            .map(|(&seq, _)| seq)
            .collect();
        let storage = &self.shared.storage;
        let mut removed = 0;
        for seq in doomed {
            let name = segment::name(seq);
            match storage.remove(&name) {
                Ok(()) => removed += 1,
                // Gone already: an operator removed it, or an earlier call failed half-way.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    let path = storage.path(&name);
                    return Err(WalError::Io { op: "removing", path, source });
                }
            }
            sealed.remove(&seq);
        }
        Ok(removed)
    }

    /// Syncs what is left and stops the log thread.
    ///
    /// # Errors
    ///
    /// When the last sync fails, or the log was poisoned.
    pub fn close(mut self) -> Result<(), WalError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), WalError> {
        // Dropping the only sender lets the thread drain the queue and leave its loop.
        drop(self.tx.take());
        match self.thread.take() {
            Some(thread) => thread.join().map_err(|_| WalError::WriterGone)?,
            None => Ok(()),
        }
    }

    fn check_poison(&self) -> Result<(), WalError> {
        match self.shared.poisoned() {
            Some(cause) => Err(WalError::Poisoned { cause }),
            None => Ok(()),
        }
    }

    fn send(&self, msg: Msg) -> Result<(), WalError> {
        let tx = self.tx.as_ref().ok_or(WalError::WriterGone)?;
        tx.send(msg).map_err(|_| WalError::WriterGone)
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}
