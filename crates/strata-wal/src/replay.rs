//! Replay: reading the log back after a restart, and repairing a torn tail.
//!
//! Segments are read oldest first, each whole, and their records handed out in order; the
//! segment the replay starts in is read from its start position on (its header too). What
//! lies before the start, which a checkpoint holds, is not read and so not checked, as for a
//! segment wholly before it. The rules for damage follow from how the log writes (see
//! `segment.rs`, `record.rs`):
//!
//! - Every segment but the newest was synced whole before the next one was created, and the
//!   next one's header (version 2) names it and its length: damage there, a segment missing
//!   from the chain, or one whose length changed is damage to acknowledged records.
//! - In the newest segment, only what was written after the last sync can be torn. A record
//!   carries how far the segment was synced when it was written, so a bad record is a torn
//!   tail unless a whole record after it says the bytes where it starts were synced already.
//!   A torn tail is cut (`finish` truncates the file there, durably) and reported in
//!   [`ReplayReport::truncated`]. Damage to the last group synced before the crash cannot be
//!   told from a torn write (no later record vouches for it) and is cut the same way.
//! - A damaged header of the newest segment holding no record is what a crash while creating
//!   it leaves: the file is removed. With records after it, the header had been synced: damage.
//!
//! Damage to acknowledged records is [`WalError::Corrupt`] under [`OnDamage::Refuse`]; under
//! [`OnDamage::Truncate`] the log is cut at the first damage (and every later segment
//! removed), and the loss is reported in [`ReplayReport::damage`]. Version 1 segments carry
//! neither `synced` nor their predecessor: their newest segment's bad tail is always cut, and
//! a missing version 1 segment is not noticed.

#![deny(clippy::indexing_slicing, clippy::unwrap_used)]

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::io::Read;
use std::sync::Arc;

use crate::error::Corruption;
use crate::record;
use crate::segment::{self, HEADER_LEN, Header, HeaderError, Link};
use crate::storage::Storage;
use crate::wal::Shared;
use crate::{OnDamage, Position, Wal, WalError, WalOptions};

/// A log being replayed; returned by [`Wal::open`].
///
/// Call [`next_record`](Replay::next_record) until it returns `None`, then
/// [`finish`](Replay::finish) (or [`finish_read_only`](Replay::finish_read_only), which writes
/// nothing at all). Nothing is written to the log before `finish`.
pub struct Replay {
    storage: Arc<dyn Storage>,
    options: WalOptions,
    from: Position,
    /// Every segment in the directory when the replay began, oldest first.
    present: Vec<u64>,
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
    /// Damage to acknowledged records that `OnDamage::Truncate` cuts off in `finish`.
    damage: Option<Damage>,
    records: u64,
    bytes: u64,
}

/// The segment being read.
struct Current {
    seq: u64,
    data: Vec<u8>,
    version: u32,
    /// Where the next record starts.
    offset: usize,
    /// The segment's length as the next segment's header recorded it, when there is one.
    sealed_len: Option<u64>,
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
    /// The torn tail cut off the newest segment, if there was one: records written after the
    /// last sync, never acknowledged as durable. A read-only replay
    /// ([`Replay::finish_read_only`]) reports it and leaves it in place.
    pub truncated: Option<Truncation>,
    /// Damage to acknowledged records that [`OnDamage::Truncate`] cut off, if there was any
    /// (under [`OnDamage::Refuse`] it is an error instead). A read-only replay reports it,
    /// stops there and changes nothing.
    pub damage: Option<Damage>,
}

/// A torn tail cut off the newest segment.
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

/// Acknowledged records lost to damage, cut off under [`OnDamage::Truncate`]: the log was cut
/// at `segment`, `offset`, and every later segment removed.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// Sequence number of the segment where the log was cut.
    pub segment: u64,
    /// Where: the start of the first bad record, the end of a segment that lost bytes, or 0
    /// when the segment was removed (a damaged header, or a missing segment before it).
    pub offset: u64,
    /// What was wrong there.
    pub reason: Corruption,
    /// Bytes dropped: from `offset` to the end of `segment`, and every later segment.
    pub dropped_bytes: u64,
    /// Whole records (passing their checksums) among the dropped bytes; the damaged record
    /// itself is not counted, its bounds being unknown.
    pub dropped_records: u64,
    /// Segments removed whole, `segment` among them when `offset` is 0.
    pub removed_segments: Vec<u64>,
}

/// A `usize` as a `u64`: lossless on every target Rust supports.
fn to_u64(n: usize) -> u64 {
    n as u64
}

/// Whole records in a segment's bytes, going by its header if it checks out.
fn count_records(data: &[u8], seq: u64) -> u64 {
    match segment::check_header(data, seq) {
        Ok(header) => record::scan(data, header.len, header.version).records,
        Err(_) => {
            let start = segment::header_len_claimed(data);
            let version = if start == segment::COMMON_HEADER_LEN { 1 } else { 2 };
            record::scan(data, start, version).records
        }
    }
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
        for &seq in &seqs {
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
            present: seqs,
            pending,
            newest,
            next_seq,
            sealed,
            current: None,
            truncation: None,
            remove_newest: false,
            damage: None,
            records: 0,
            bytes: 0,
        })
    }

    /// The next record after the start position, with the position just after it; `None` once
    /// the log is exhausted (or its newest segment ends in a torn record, which `finish` cuts,
    /// or replay stopped at damage that `OnDamage::Truncate` cuts).
    ///
    /// # Errors
    ///
    /// [`WalError::Corrupt`] for damage to acknowledged records (see the module's rules) under
    /// [`OnDamage::Refuse`], and for a header that passes its checksum but is wrong;
    /// [`WalError::UnsupportedVersion`]; I/O errors. Calling again returns the same error.
    pub fn next_record(&mut self) -> Result<Option<(Position, &[u8])>, WalError> {
        let (position, payload) = loop {
            let Some(current) = &mut self.current else {
                if self.damage.is_some() {
                    return Ok(None);
                }
                let Some(&seq) = self.pending.front() else {
                    return Ok(None);
                };
                self.load(seq)?;
                continue;
            };
            let (seq, at) = (current.seq, current.offset);
            let sealed_len = current.sealed_len;
            match record::decode(&current.data, at, current.version) {
                Ok(Some(record)) if sealed_len.is_none_or(|l| to_u64(record.payload.end) <= l) => {
                    let payload = record.payload;
                    current.offset = payload.end;
                    let position = Position { segment: seq, offset: to_u64(payload.end) };
                    if position > self.from {
                        self.records += 1;
                        self.bytes += to_u64(payload.len());
                        break (position, payload);
                    }
                }
                Ok(None) if sealed_len.is_none_or(|l| l == to_u64(at)) => {
                    self.sealed.insert(seq, Some(to_u64(current.data.len())));
                    self.current = None;
                }
                Ok(_) => {
                    // The segment ends elsewhere than where the next one's header says it did.
                    let len = to_u64(current.data.len());
                    let sealed = sealed_len.unwrap_or_default();
                    let next = self.present.iter().copied().find(|&s| s > seq).unwrap_or_default();
                    let reason = Corruption::SealedLength { len, sealed, next };
                    self.acknowledged_damage(seq, to_u64(at), reason, 0)?;
                }
                Err(reason) => {
                    let offset = to_u64(at);
                    let newest = Some(seq) == self.newest;
                    let truncate = self.options.on_damage == OnDamage::Truncate;
                    let after = if (newest && current.version >= 2) || truncate {
                        record::scan(&current.data, at.saturating_add(1), current.version)
                    } else {
                        record::Scan::default()
                    };
                    // Every byte before a whole record's `synced` was durable before it was
                    // written: a bad record there is damage, never a torn write.
                    if newest && after.synced <= offset {
                        let dropped_bytes = to_u64(current.data.len()) - offset;
                        self.truncation = Some(Truncation { segment: seq, offset, dropped_bytes, reason });
                        self.sealed.insert(seq, Some(offset));
                        self.current = None;
                    } else {
                        self.acknowledged_damage(seq, offset, reason, after.records)?;
                    }
                }
            }
        };
        let data = self.current.as_ref().map(|c| c.data.as_slice());
        let payload = data.and_then(|d| d.get(payload)).unwrap_or_default();
        Ok(Some((position, payload)))
    }

    /// Damage to acknowledged records at `offset` of segment `seq` (the one being read, or
    /// about to be): an error under `OnDamage::Refuse`, changing nothing. Under
    /// `OnDamage::Truncate`, the log is cut there: replay stops, and `finish` truncates the
    /// segment at `offset` (removes it at 0) and removes every later one. `records` are the
    /// whole records of `seq` past `offset` found by a scan.
    fn acknowledged_damage(
        &mut self,
        seq: u64,
        offset: u64,
        reason: Corruption,
        records: u64,
    ) -> Result<(), WalError> {
        let name = segment::name(seq);
        if self.options.on_damage == OnDamage::Refuse {
            return Err(WalError::Corrupt { segment: self.storage.path(&name), offset, reason });
        }
        let len = match &self.current {
            Some(current) if current.seq == seq => to_u64(current.data.len()),
            _ => to_u64(self.read(&name)?.len()),
        };
        let mut damage = Damage {
            segment: seq,
            offset,
            reason,
            dropped_bytes: len.saturating_sub(offset),
            dropped_records: records,
            removed_segments: if offset == 0 { vec![seq] } else { Vec::new() },
        };
        for &later in self.pending.iter().filter(|&&s| s > seq) {
            let data = self.read(&segment::name(later))?;
            damage.dropped_bytes += to_u64(data.len());
            damage.dropped_records += count_records(&data, later);
            damage.removed_segments.push(later);
        }
        self.pending.clear();
        self.current = None;
        if offset == 0 {
            self.sealed.remove(&seq);
        } else {
            self.sealed.insert(seq, Some(offset));
        }
        self.damage = Some(damage);
        Ok(())
    }

    fn read(&self, name: &str) -> Result<Vec<u8>, WalError> {
        self.storage.read(name).map_err(|source| WalError::Io {
            op: "reading",
            path: self.storage.path(name),
            source,
        })
    }

    /// Reads segment `name` for a replay that starts at `start`: the header and the bytes
    /// from `start` on, at their offsets; the bytes between are left zero and are never
    /// touched, so they take no memory (a zeroed allocation of that size is pages the kernel
    /// has not handed out yet). A start past the end reads the whole segment, for the checks
    /// that report it.
    fn read_from(&self, name: &str, start: usize) -> Result<Vec<u8>, WalError> {
        if start <= HEADER_LEN {
            return self.read(name);
        }
        let io = |source| WalError::Io { op: "reading", path: self.storage.path(name), source };
        let (mut read, len) = self.storage.open_read(name).map_err(io)?;
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if start > len {
            return self.read(name);
        }
        let mut data = vec![0u8; len];
        let (head, rest) = data.split_at_mut(start);
        let header = head.get_mut(..HEADER_LEN).unwrap_or_default();
        read.read_exact(header).map_err(io)?;
        std::io::copy(&mut (&mut read).take((start - header.len()) as u64), &mut std::io::sink())
            .map_err(io)?;
        read.read_exact(rest).map_err(io)?;
        Ok(data)
    }

    /// Reads segment `seq`, checks its header and its place in the log.
    fn load(&mut self, seq: u64) -> Result<(), WalError> {
        let name = segment::name(seq);
        // The segment the replay starts in is read from where it starts (a checkpoint's
        // position, often its end): the records before are covered and never decoded.
        let start = if seq == self.from.segment { usize::try_from(self.from.offset).unwrap_or(0) } else { 0 };
        let data = self.read_from(&name, start)?;
        let header = match segment::check_header(&data, seq) {
            Ok(header) => header,
            Err(HeaderError::Version(found)) => {
                return Err(WalError::UnsupportedVersion {
                    segment: self.storage.path(&name),
                    found,
                    supported: segment::READABLE_VERSIONS,
                });
            }
            // A crash while creating the newest segment: no record was written to it yet.
            Err(HeaderError::Damaged(reason))
                if Some(seq) == self.newest && data.len() <= segment::header_len_claimed(&data) =>
            {
                self.truncation =
                    Some(Truncation { segment: seq, offset: 0, dropped_bytes: to_u64(data.len()), reason });
                self.remove_newest = true;
                self.pending.pop_front();
                return Ok(());
            }
            Err(HeaderError::Damaged(reason) | HeaderError::Invalid(reason)) => {
                // Counted over the whole segment, the part before the start included.
                let data = if start > 0 { self.read(&name)? } else { data };
                let records = count_records(&data, seq);
                return self.acknowledged_damage(seq, 0, reason, records);
            }
        };
        if let Err(reason) = self.check_link(seq, &header) {
            let data = if start > 0 { self.read(&name)? } else { data };
            let records = record::scan(&data, header.len, header.version).records;
            return self.acknowledged_damage(seq, 0, reason, records);
        }
        let sealed_len = self.sealed_len(seq)?;
        // A start inside the segment is a record's end: the next record begins there.
        let offset = if start <= data.len() { header.len.max(start) } else { header.len };
        self.current = Some(Current { seq, data, version: header.version, offset, sealed_len });
        self.pending.pop_front();
        Ok(())
    }

    /// Checks that segment `seq` follows the segment before it in the directory, as its
    /// header says; a segment its header names that is gone must be one the checkpoint covers.
    fn check_link(&self, seq: u64, header: &Header) -> Result<(), Corruption> {
        let Some(link) = header.prev else {
            return Ok(());
        };
        let before = self.present.iter().copied().filter(|&s| s < seq).max();
        if before == Some(link.seq) {
            return Ok(());
        }
        if let Some(found) = before
            && link.seq < found
        {
            // A segment the header does not know of: an error if the replay would read it.
            return if found >= self.from.segment {
                Err(Corruption::Predecessor { named: link.seq, found })
            } else {
                Ok(())
            };
        }
        // The segment the header names is not there (0: the log starts here).
        let covered = link.seq == 0
            || link.seq < self.from.segment
            || (link.seq == self.from.segment && self.from.offset >= link.len);
        if covered { Ok(()) } else { Err(Corruption::MissingSegment { seq: link.seq, len: link.len }) }
    }

    /// The length segment `seq` had when the next segment in the directory began, as that
    /// one's header says (version 2 and naming `seq`); `None` when nothing says.
    fn sealed_len(&self, seq: u64) -> Result<Option<u64>, WalError> {
        let Some(next) = self.present.iter().copied().find(|&s| s > seq) else {
            return Ok(None);
        };
        let name = segment::name(next);
        let head = self.storage.read_head(&name, HEADER_LEN).map_err(|source| WalError::Io {
            op: "reading the header of",
            path: self.storage.path(&name),
            source,
        })?;
        Ok(match segment::check_header(&head, next) {
            Ok(Header { prev: Some(link), .. }) if link.seq == seq => Some(link.len),
            _ => None,
        })
    }

    /// Reads the rest of the log (checking it, without handing out records) and reports what
    /// it found, changing nothing: a torn tail is reported in [`ReplayReport::truncated`] and
    /// left in place, and so is damage that [`OnDamage::Truncate`] reports in
    /// [`ReplayReport::damage`] (under [`OnDamage::Refuse`] damage is an error, as for
    /// [`finish`](Replay::finish)). No new segment is started and no log is opened: this is
    /// how a reader looks at a log it does not own (another process may be appending to it;
    /// what that process had not yet written whole when the segment was read is a torn tail
    /// here). Pair it with a [`ReadOnlyStorage`](crate::ReadOnlyStorage).
    ///
    /// # Errors
    ///
    /// Those of [`next_record`](Replay::next_record).
    pub fn finish_read_only(mut self) -> Result<ReplayReport, WalError> {
        while self.next_record()?.is_some() {}
        Ok(ReplayReport {
            records: self.records,
            bytes: self.bytes,
            truncated: self.truncation,
            damage: self.damage,
        })
    }

    /// Reads the rest of the log (checking it, without handing out records), cuts a torn tail
    /// off the newest segment (and, under `OnDamage::Truncate`, the log at its first damage),
    /// starts a new segment and opens the log for appending.
    ///
    /// # Errors
    ///
    /// Those of [`next_record`](Replay::next_record), and I/O errors of the repair and of
    /// creating the new segment.
    pub fn finish(mut self) -> Result<(Wal, ReplayReport), WalError> {
        while self.next_record()?.is_some() {}
        let storage = &self.storage;
        let io = |op, name: &str| {
            let path = storage.path(name);
            move |source| WalError::Io { op, path, source }
        };
        if let Some(cut) = &self.truncation {
            let name = segment::name(cut.segment);
            if self.remove_newest {
                storage.remove(&name).map_err(io("removing", &name))?;
                // Durable before a newer segment exists: if this one came back after a crash
                // it would be an older segment with a damaged header, which is an error.
                storage.sync_dir().map_err(io("syncing the removal of", &name))?;
                self.sealed.remove(&cut.segment);
            } else {
                storage.truncate(&name, cut.offset).map_err(io("truncating", &name))?;
            }
        }
        if let Some(damage) = &self.damage {
            let name = segment::name(damage.segment);
            if damage.offset > 0 {
                storage.truncate(&name, damage.offset).map_err(io("truncating", &name))?;
            }
            for &seq in &damage.removed_segments {
                let name = segment::name(seq);
                storage.remove(&name).map_err(io("removing", &name))?;
            }
            // Durable before the new segment names its predecessor: a removed segment that
            // came back would not be in the chain.
            storage.sync_dir().map_err(io("syncing the removals in", ""))?;
        }
        let prev = match self.sealed.last_key_value() {
            None => Link { seq: 0, len: 0 },
            Some((&seq, &Some(len))) => Link { seq, len },
            Some((&seq, &None)) => {
                let name = segment::name(seq);
                let len = storage.read(&name).map_err(io("reading", &name))?.len();
                Link { seq, len: to_u64(len) }
            }
        };
        let seq = self.next_seq;
        let file = segment::create(storage.as_ref(), seq, prev)?;
        let report = ReplayReport {
            records: self.records,
            bytes: self.bytes,
            truncated: self.truncation,
            damage: self.damage,
        };
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
