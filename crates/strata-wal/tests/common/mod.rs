//! Helpers shared by the test binaries.

#![allow(dead_code, reason = "each test binary uses a part of these")]

use strata_wal::{Position, ReplayReport, Storage, Wal, WalError, WalOptions};

/// A replayed or acknowledged record.
pub(crate) type Record = (Position, Vec<u8>);

/// Opens the log, replays every record after `from`, and finishes the replay.
pub(crate) fn reopen(
    storage: impl Storage,
    options: WalOptions,
    from: Position,
) -> Result<(Wal, Vec<Record>, ReplayReport), WalError> {
    let mut replay = Wal::open(storage, options, from)?;
    let mut records = Vec::new();
    while let Some((position, payload)) = replay.next_record()? {
        records.push((position, payload.to_vec()));
    }
    let (wal, report) = replay.finish()?;
    Ok((wal, records, report))
}

/// The payloads of records.
pub(crate) fn payloads(records: &[Record]) -> Vec<Vec<u8>> {
    records.iter().map(|(_, p)| p.clone()).collect()
}

/// Payload `i` of writer `thread`: its first eight bytes name the two, its size varies from
/// 8 bytes to a few KiB, and its other bytes differ from record to record.
pub(crate) fn payload(thread: u32, i: u32) -> Vec<u8> {
    let size = 8 + (i as usize * 7919 + thread as usize * 104_729) % 3000;
    let mut bytes = Vec::with_capacity(size);
    bytes.extend_from_slice(&thread.to_le_bytes());
    bytes.extend_from_slice(&i.to_le_bytes());
    let mut x = u64::from(thread) << 32 | u64::from(i) | 1;
    while bytes.len() < size {
        // xorshift: cheap bytes that differ between records.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.push(x as u8);
    }
    bytes
}

/// Which writer and index a payload made by [`payload`] belongs to.
pub(crate) fn owner(payload: &[u8]) -> (u32, u32) {
    let word = |at: usize| u32::from_le_bytes(payload[at..at + 4].try_into().unwrap());
    (word(0), word(4))
}

/// Segment file name of `seq`, as the log writes it.
pub(crate) fn segment_name(seq: u64) -> String {
    format!("{seq:020}.wal")
}

/// Asserts that positions strictly increase.
pub(crate) fn assert_increasing(records: &[Record]) {
    for pair in records.windows(2) {
        assert!(pair[0].0 < pair[1].0, "positions out of order: {} then {}", pair[0].0, pair[1].0);
    }
}
