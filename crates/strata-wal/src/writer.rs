//! The log thread: the only code that writes to, and syncs, the current segment.
//!
//! Group commit: the thread blocks for the first request, then takes every request already
//! queued (up to `group_bytes`), writes them with one call per segment they land in, syncs once
//! if the durability asks for it, and only then acknowledges each writer. While one group is on
//! its way to the disk the next one queues up, so the number of syncs follows the disk's speed,
//! not the number of writers.

use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use crate::record::Frame;
use crate::segment::{self, HEADER_LEN, Link};
use crate::storage::LogFile;
use crate::wal::Shared;
use crate::{Durability, Position, WalError, WalOptions};

/// A request to the log thread.
#[derive(Debug)]
pub(crate) enum Msg {
    /// Write one framed record and reply with its end position.
    Append { frame: Frame, reply: Sender<Result<(Position, u64), WalError>> },
    /// Sync everything written so far, then reply.
    Sync { reply: Sender<Result<(), WalError>> },
}

/// The state of the log thread.
#[derive(Debug)]
pub(crate) struct Writer {
    shared: Arc<Shared>,
    rx: Receiver<Msg>,
    options: WalOptions,
    /// The current segment: the only file the log writes to.
    file: Box<dyn LogFile>,
    seq: u64,
    /// Bytes in the current segment, header included.
    len: u64,
    /// Bytes of the current segment known durable: up to where the last sync reached. Every
    /// record written carries it, so replay can tell acknowledged records from a torn tail.
    synced: u64,
    /// Whether bytes were written since the last sync.
    dirty: bool,
    last_sync: Instant,
    /// Records acknowledged since the log was opened: the next record's sequence number.
    sequence: u64,
}

/// A `usize` as a `u64`: lossless on every target Rust supports (at most 64-bit pointers).
fn to_u64(n: usize) -> u64 {
    n as u64
}

impl Writer {
    /// A writer appending to `file`, segment `seq`, which holds only its (durable) header.
    pub(crate) fn new(
        shared: Arc<Shared>,
        rx: Receiver<Msg>,
        options: WalOptions,
        file: Box<dyn LogFile>,
        seq: u64,
    ) -> Writer {
        Writer {
            shared,
            rx,
            options,
            file,
            seq,
            len: to_u64(HEADER_LEN),
            synced: to_u64(HEADER_LEN),
            dirty: false,
            last_sync: Instant::now(),
            sequence: 0,
        }
    }

    /// Serves requests until every sender is gone, then syncs what is left.
    pub(crate) fn run(mut self) -> Result<(), WalError> {
        while let Some(first) = self.wait() {
            let mut group = vec![first];
            let mut bytes = group_bytes(&group);
            while bytes < self.options.group_bytes {
                let Ok(msg) = self.rx.try_recv() else { break };
                bytes += group_bytes(std::slice::from_ref(&msg));
                group.push(msg);
            }
            self.commit(group);
        }
        match self.shared.poisoned() {
            Some(cause) => Err(WalError::Poisoned { cause }),
            None => self.sync(),
        }
    }

    /// The next request, or `None` once the log is closed. Under `Durability::Interval`, syncs
    /// on time while waiting.
    fn wait(&mut self) -> Option<Msg> {
        loop {
            let deadline = match self.options.durability {
                Durability::Interval(every) if self.dirty && self.shared.poisoned().is_none() => {
                    self.last_sync.checked_add(every)
                }
                _ => None,
            };
            let Some(deadline) = deadline else {
                return self.rx.recv().ok();
            };
            match self.rx.recv_deadline(deadline) {
                Ok(msg) => return Some(msg),
                Err(RecvTimeoutError::Disconnected) => return None,
                Err(RecvTimeoutError::Timeout) => {
                    if let Err(e) = self.sync() {
                        self.shared.poison(&e);
                    }
                }
            }
        }
    }

    /// Writes a group, syncs it if needed and answers every request in it.
    fn commit(&mut self, group: Vec<Msg>) {
        let mut frames: Vec<Frame> = Vec::with_capacity(group.len());
        let mut append_replies = Vec::with_capacity(group.len());
        let mut sync_replies = Vec::new();
        for msg in group {
            match msg {
                Msg::Append { frame, reply } => {
                    frames.push(frame);
                    append_replies.push(reply);
                }
                Msg::Sync { reply } => sync_replies.push(reply),
            }
        }
        let must_sync = self.options.durability == Durability::Sync || !sync_replies.is_empty();
        let outcome = match self.shared.poisoned() {
            Some(cause) => Err(WalError::Poisoned { cause }),
            None => self.write(&mut frames).and_then(|positions| {
                if must_sync {
                    self.sync()?;
                }
                Ok(positions)
            }),
        };
        match outcome {
            Ok(positions) => {
                // A writer that is gone (its thread panicked) is no error of the log's.
                for (reply, position) in append_replies.into_iter().zip(positions) {
                    let _ = reply.send(Ok((position, self.sequence)));
                    self.sequence += 1;
                }
                for reply in sync_replies {
                    let _ = reply.send(Ok(()));
                }
            }
            Err(e) => {
                // Nothing of this group is acknowledged: its bytes may be torn, or unsynced.
                let cause = self.shared.poison(&e);
                for reply in append_replies {
                    let cause = cause.clone();
                    let _ = reply.send(Err(WalError::Poisoned { cause }));
                }
                for reply in sync_replies {
                    let cause = cause.clone();
                    let _ = reply.send(Err(WalError::Poisoned { cause }));
                }
                return;
            }
        }
        if let Durability::Interval(every) = self.options.durability
            && self.dirty
            && self.last_sync.elapsed() >= every
            && let Err(e) = self.sync()
        {
            self.shared.poison(&e);
        }
    }

    /// Appends the frames in order, starting new segments as they fill; returns each record's
    /// end position.
    fn write(&mut self, frames: &mut [Frame]) -> Result<Vec<Position>, WalError> {
        let mut positions = Vec::with_capacity(frames.len());
        // frames[run_start..] not yet written, all bound for the current segment.
        let mut run_start = 0;
        let mut run_len = 0u64;
        let lens: Vec<u64> = frames.iter().map(|f| to_u64(f.len())).collect();
        for (i, frame_len) in lens.into_iter().enumerate() {
            let at = self.len + run_len;
            // A segment holding only its header takes any record, however large.
            if at > to_u64(HEADER_LEN) && at + frame_len > self.options.segment_size {
                self.append(frames.get_mut(run_start..i).unwrap_or_default())?;
                self.rotate()?;
                run_start = i;
                run_len = 0;
            }
            run_len += frame_len;
            positions.push(Position { segment: self.seq, offset: self.len + run_len });
        }
        self.append(frames.get_mut(run_start..).unwrap_or_default())?;
        Ok(positions)
    }

    /// Appends frames to the current segment in one call, each carrying how much of the
    /// segment is durable now.
    fn append(&mut self, frames: &mut [Frame]) -> Result<(), WalError> {
        if frames.is_empty() {
            return Ok(());
        }
        for frame in frames.iter_mut() {
            frame.seal(self.synced);
        }
        let bufs: Vec<&[u8]> = frames.iter().flat_map(|f| [&f.header[..], f.payload.as_slice()]).collect();
        self.file.append(&bufs).map_err(|source| self.io_error("appending to", source))?;
        self.len += frames.iter().map(|f| to_u64(f.len())).sum::<u64>();
        self.dirty = true;
        Ok(())
    }

    /// Syncs the current segment if anything was written since the last sync.
    fn sync(&mut self) -> Result<(), WalError> {
        if self.dirty {
            let started = Instant::now();
            self.file.sync_data().map_err(|source| self.io_error("syncing", source))?;
            self.shared.syncs.record(started.elapsed());
            self.dirty = false;
            self.synced = self.len;
        }
        self.last_sync = Instant::now();
        Ok(())
    }

    /// Seals the current segment (synced whole, whatever the durability) and starts the next.
    ///
    /// Syncing before the next segment exists is what keeps every segment but the newest whole
    /// after a crash, so replay can treat damage there as corruption.
    fn rotate(&mut self) -> Result<(), WalError> {
        self.sync()?;
        self.shared.seal(self.seq, Some(self.len));
        let seq = self.seq.saturating_add(1);
        let prev = Link { seq: self.seq, len: self.len };
        self.file = segment::create(self.shared.storage.as_ref(), seq, prev)?;
        self.seq = seq;
        self.len = to_u64(HEADER_LEN);
        self.synced = self.len;
        Ok(())
    }

    fn io_error(&self, op: &'static str, source: std::io::Error) -> WalError {
        let path = self.shared.storage.path(&segment::name(self.seq));
        WalError::Io { op, path, source }
    }
}

/// Bytes a group's requests add to the log.
fn group_bytes(msgs: &[Msg]) -> usize {
    msgs.iter()
        .map(|m| match m {
            Msg::Append { frame, .. } => frame.len(),
            Msg::Sync { .. } => 0,
        })
        .sum()
}
