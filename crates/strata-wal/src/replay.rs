//! Replay: reading the log back after a restart, and repairing a torn tail.
//!
//! Segments are read oldest first, each whole, and their records handed out in order. The
//! rules for damage follow from how the log writes (see `segment.rs`): every segment but the
//! newest was synced whole before the next one was created, so damage there is corruption and
//! an error. Only the newest segment can end in a torn or half-synced record after a crash:
//! replay stops at its first bad record, and `finish` cuts the file there, durably, and reports
//! what was dropped. A newest segment whose header is damaged (a crash right after creating it)
//! holds no record and is removed.

#![deny(clippy::indexing_slicing, clippy::unwrap_used)]

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::Arc;

use crate::error::Corruption;
use crate::record;
use crate::segment::{self, HEADER_LEN, HeaderError};
use crate::storage::Storage;
use crate::wal::Shared;
use crate::{Position, Wal, WalError, WalOptions};

/// A log being replayed; returned by [`Wal::open`].
///
/// Call [`next_record`](Replay::next_record) until it returns `None`, then
/// [`finish`](Replay::finish). Nothing is written to the log before `finish`.
pub struct Replay {
    storage: Arc<dyn Storage>,
    options: WalOptions,
    from: Position,
    /// Segments not yet read, oldest first.
    pending: VecDeque<u64>,
    newest: Option<u64>,
    /// The sequence number the log's next segment gets.
    next_seq: u64,
    /// Segments read (or skipped), with their length after any truncation.
    sealed: BTreeMap<u64, Option<u64>>,
    current: Option<Current>,
    truncation: Option<Truncation>,
    /// The newest segment's header is damaged: `finish` removes the file.
    remove_newest: bool,
    records: u64,
    bytes: u64,
}

/// The segment being read.
struct Current {
    seq: u64,
    data: Vec<u8>,
    /// Where the next record starts.
    offset: usize,
}

/// What a replay found.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReplayReport {
    /// Records after the replay's start position, whether or not they were taken with
    /// `next_record`.
    pub records: u64,
    /// Payload bytes of those records.
    pub bytes: u64,
    /// The torn or damaged tail cut off the newest segment, if there was one.
    pub truncated: Option<Truncation>,
}

/// A torn or damaged tail cut off the newest segment.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncation {
    /// Sequence number of the segment.
    pub segment: u64,
    /// Where the file was cut: the start of the first bad record, or 0 when the header itself
    /// was damaged and the file was removed.
    pub offset: u64,
    /// Bytes dropped from the segment.
    pub dropped_bytes: u64,
    /// What was wrong at `offset`.
    pub reason: Corruption,
}

/// A `usize` as a `u64`: lossless on every target Rust supports.
fn to_u64(n: usize) -> u64 {
    n as u64
}

impl Replay {
    pub(crate) fn new(
        storage: Arc<dyn Storage>,
        options: WalOptions,
        from: Position,
    ) -> Result<Replay, WalError> {
        let names = storage.list().map_err(|source| WalError::Io {
            op: "listing",
            path: storage.path(""),
            source,
        })?;
        let mut seqs: Vec<u64> = names.iter().filter_map(|n| segment::parse_name(n)).collect();
        seqs.sort_unstable();
        let newest = seqs.last().copied();
        let mut pending = VecDeque::new();
        let mut sealed = BTreeMap::new();
        for seq in seqs {
            // A segment wholly before the checkpoint holds nothing to replay and is not read;
            // the newest always is, to repair its tail.
            if seq < from.segment && Some(seq) != newest {
                sealed.insert(seq, None);
            } else {
                pending.push_back(seq);
            }
        }
        // Never reuse a sequence number, not even one whose segment a crash took away: a
        // checkpoint may point into it, and new records must sort after the checkpoint.
        let next_seq = newest.unwrap_or(0).max(from.segment).saturating_add(1);
        Ok(Replay {
            storage,
            options,
            from,
            pending,
            newest,
            next_seq,
            sealed,
            current: None,
            truncation: None,
            remove_newest: false,
            records: 0,
            bytes: 0,
        })
    }

    /// The next record after the start position, with the position just after it; `None` once
    /// the log is exhausted (or its newest segment ends in a torn record, which `finish` cuts).
    ///
    /// # Errors
    ///
    /// [`WalError::Corrupt`] for damage in any segment but the newest, and for a header that
    /// passes its checksum but is wrong; [`WalError::UnsupportedVersion`]; I/O errors. Calling
    /// again returns the same error.
    pub fn next_record(&mut self) -> Result<Option<(Position, &[u8])>, WalError> {
        let (position, payload) = loop {
            let Some(current) = &mut self.current else {
                let Some(&seq) = self.pending.front() else {
                    return Ok(None);
                };
                self.load(seq)?;
                continue;
            };
            match record::decode(&current.data, current.offset) {
                Ok(Some(payload)) => {
                    current.offset = payload.end;
                    let position = Position { segment: current.seq, offset: to_u64(payload.end) };
                    if position > self.from {
                        self.records += 1;
                        self.bytes += to_u64(payload.len());
                        break (position, payload);
                    }
                }
                Ok(None) => {
                    self.sealed.insert(current.seq, Some(to_u64(current.data.len())));
                    self.current = None;
                }
                Err(reason) => {
                    let (seq, offset) = (current.seq, to_u64(current.offset));
                    if Some(seq) != self.newest {
                        return Err(WalError::Corrupt {
                            segment: self.storage.path(&segment::name(seq)),
                            offset,
                            reason,
                        });
                    }
                    let dropped_bytes = to_u64(current.data.len()) - offset;
                    self.truncation = Some(Truncation { segment: seq, offset, dropped_bytes, reason });
                    self.sealed.insert(seq, Some(offset));
                    self.current = None;
                }
            }
        };
        let data = self.current.as_ref().map(|c| c.data.as_slice());
        let payload = data.and_then(|d| d.get(payload)).unwrap_or_default();
        Ok(Some((position, payload)))
    }

    /// Reads segment `seq` and checks its header.
    fn load(&mut self, seq: u64) -> Result<(), WalError> {
        let name = segment::name(seq);
        let data = self.storage.read(&name).map_err(|source| WalError::Io {
            op: "reading",
            path: self.storage.path(&name),
            source,
        })?;
        match segment::check_header(&data, seq) {
            Ok(()) => {
                self.current = Some(Current { seq, data, offset: HEADER_LEN });
            }
            Err(HeaderError::Damaged(reason)) if Some(seq) == self.newest => {
                self.truncation =
                    Some(Truncation { segment: seq, offset: 0, dropped_bytes: to_u64(data.len()), reason });
                self.remove_newest = true;
            }
            Err(HeaderError::Damaged(reason) | HeaderError::Invalid(reason)) => {
                return Err(WalError::Corrupt { segment: self.storage.path(&name), offset: 0, reason });
            }
            Err(HeaderError::Version(found)) => {
                return Err(WalError::UnsupportedVersion {
                    segment: self.storage.path(&name),
                    found,
                    supported: segment::READABLE_VERSIONS,
                });
            }
        }
        self.pending.pop_front();
        Ok(())
    }

    /// Reads the rest of the log (checking it, without handing out records), cuts a torn tail
    /// off the newest segment, starts a new segment and opens the log for appending.
    ///
    /// # Errors
    ///
    /// Those of [`next_record`](Replay::next_record), and I/O errors of the repair and of
    /// creating the new segment.
    pub fn finish(mut self) -> Result<(Wal, ReplayReport), WalError> {
        while self.next_record()?.is_some() {}
        let storage = &self.storage;
        if let Some(cut) = &self.truncation {
            let name = segment::name(cut.segment);
            let io = |op| {
                let path = storage.path(&name);
                move |source| WalError::Io { op, path, source }
            };
            if self.remove_newest {
                storage.remove(&name).map_err(io("removing"))?;
                // Durable before a newer segment exists: if this one came back after a crash
                // it would be an older segment with a damaged header, which is an error.
                storage.sync_dir().map_err(io("syncing the removal of"))?;
                self.sealed.remove(&cut.segment);
            } else {
                storage.truncate(&name, cut.offset).map_err(io("truncating"))?;
            }
        }
        let seq = self.next_seq;
        let file = segment::create(storage.as_ref(), seq)?;
        let report = ReplayReport { records: self.records, bytes: self.bytes, truncated: self.truncation };
        let shared = Shared::new(Arc::clone(storage), self.sealed);
        let wal = Wal::start(shared, self.options, file, seq)?;
        Ok((wal, report))
    }
}

impl fmt::Debug for Replay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Replay")
            .field("storage", &self.storage)
            .field("from", &self.from)
            .field("segment", &self.current.as_ref().map(|c| c.seq))
            .field("offset", &self.current.as_ref().map(|c| c.offset))
            .field("pending", &self.pending)
            .field("records", &self.records)
            .finish_non_exhaustive()
    }
}
