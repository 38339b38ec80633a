//! A segment: one append-only file of the log, `<seq>.wal` with `seq` written as 20 decimal
//! digits (`00000000000000000001.wal`), so names sort in log order.
//!
//! ```text
//! offset  size  field
//! 0       8     magic     b"STRATWAL"
//! 8       4     version   format version, u32 little-endian, = 1
//! 12      4     reserved  u32, = 0 (a reader of version 1 rejects anything else)
//! 16      8     seq       this segment's sequence number, u64 LE, equal to the one in its name
//! 24      4     crc       CRC32C (Castagnoli) of bytes 0..24, u32 LE
//! 28      ...   records   back to back to the end of the file (see `record.rs`)
//! ```
//!
//! Sequence numbers start at 1 and grow by one for each segment the log starts; removed
//! segments leave gaps at the front. A segment is written by appends only; the log starts the
//! next one when the current one would grow past `WalOptions::segment_size` (a single larger
//! record still goes in, alone in its segment), and every time the log is opened.
//!
//! Creating a segment writes its header, syncs the file's data and then the directory, before
//! any record is written to it. So a crash can leave at most the newest segment with a torn
//! header, and only with no record in it.

#![deny(clippy::indexing_slicing, clippy::unwrap_used)]

use crate::error::{Corruption, WalError};
use crate::storage::{LogFile, Storage};

/// Bytes of a segment header.
pub(crate) const HEADER_LEN: usize = 28;

/// The first eight bytes of every segment.
pub(crate) const MAGIC: [u8; 8] = *b"STRATWAL";

/// The format version this build writes.
pub const FORMAT_VERSION: u32 = 1;

/// The format versions this build reads. Every version keeps the 28-byte header above (magic,
/// version, reserved, seq, crc), so any build can tell which version wrote a segment; an older
/// version is either read here or refused with [`WalError::UnsupportedVersion`], never taken
/// for damage.
pub const READABLE_VERSIONS: std::ops::RangeInclusive<u32> = 1..=FORMAT_VERSION;

/// The file name of segment `seq`.
pub fn name(seq: u64) -> String {
    format!("{seq:020}.wal")
}

/// The sequence number in a segment's file name, `None` for any other file.
pub(crate) fn parse_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".wal")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The header of segment `seq`.
pub(crate) fn encode_header(seq: u64) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    let mut body = Vec::with_capacity(HEADER_LEN);
    body.extend_from_slice(&MAGIC);
    body.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    body.extend_from_slice(&0u32.to_le_bytes());
    body.extend_from_slice(&seq.to_le_bytes());
    let crc = crc32c::crc32c(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    header.copy_from_slice(&body);
    header
}

/// What is wrong with a segment header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HeaderError {
    /// What a crash while creating the segment can leave: too short, or bytes that fail the
    /// magic or the checksum.
    Damaged(Corruption),
    /// A header that passes its checksum but says something this reader refuses: no crash
    /// writes that, so it is never dropped as a torn tail.
    Invalid(Corruption),
    /// A well-formed header of another format version.
    Version(u32),
}

/// The `N` bytes at `at`; `None` past the end.
fn array<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at + N).and_then(|b| <[u8; N]>::try_from(b).ok())
}

/// Checks the header at the start of `file`, the contents of segment `seq`.
pub(crate) fn check_header(file: &[u8], seq: u64) -> Result<(), HeaderError> {
    let torn = || HeaderError::Damaged(Corruption::TornHeader { len: file.len() });
    let magic: [u8; 8] = array(file, 0).ok_or_else(torn)?;
    let version = u32::from_le_bytes(array(file, 8).ok_or_else(torn)?);
    let reserved = u32::from_le_bytes(array(file, 12).ok_or_else(torn)?);
    let found_seq = u64::from_le_bytes(array(file, 16).ok_or_else(torn)?);
    let stored = u32::from_le_bytes(array(file, 24).ok_or_else(torn)?);
    if magic != MAGIC {
        return Err(HeaderError::Damaged(Corruption::BadMagic { found: magic }));
    }
    let computed = crc32c::crc32c(file.get(..24).unwrap_or_default());
    if computed != stored {
        return Err(HeaderError::Damaged(Corruption::HeaderChecksum { stored, computed }));
    }
    // Checked after the checksum: a torn header of the newest segment is dropped as a crash's
    // leftover, whereas a whole header of another version is refused with the versions named.
    if !READABLE_VERSIONS.contains(&version) {
        return Err(HeaderError::Version(version));
    }
    if reserved != 0 {
        return Err(HeaderError::Invalid(Corruption::Reserved { found: reserved }));
    }
    if found_seq != seq {
        return Err(HeaderError::Invalid(Corruption::SeqMismatch { expected: seq, found: found_seq }));
    }
    Ok(())
}

/// Creates segment `seq` and makes its header durable: header written, file data synced, then
/// the directory synced, so that a later crash keeps the file and its header.
pub(crate) fn create(storage: &dyn Storage, seq: u64) -> Result<Box<dyn LogFile>, WalError> {
    let name = name(seq);
    let io = |op| {
        let path = storage.path(&name);
        move |source| WalError::Io { op, path, source }
    };
    let mut file = storage.create(&name).map_err(io("creating"))?;
    file.append(&[&encode_header(seq)]).map_err(io("writing the header of"))?;
    file.sync_data().map_err(io("syncing"))?;
    storage.sync_dir().map_err(io("syncing the directory entry of"))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_in_log_order_and_parse_back() {
        assert_eq!(name(1), "00000000000000000001.wal");
        assert_eq!(parse_name(&name(u64::MAX)), Some(u64::MAX));
        assert!(name(9) < name(10));
        for other in ["1.wal", "0000000000000000000x.wal", "00000000000000000001.tmp", ""] {
            assert_eq!(parse_name(other), None, "{other}");
        }
    }

    #[test]
    fn header_layout() {
        let h = encode_header(7);
        assert_eq!(&h[0..8], b"STRATWAL");
        assert_eq!(&h[8..12], &1u32.to_le_bytes());
        assert_eq!(&h[12..16], &[0; 4]);
        assert_eq!(&h[16..24], &7u64.to_le_bytes());
        assert_eq!(&h[24..28], &crc32c::crc32c(&h[..24]).to_le_bytes());
        assert_eq!(check_header(&h, 7), Ok(()));
    }

    #[test]
    fn header_damage_is_told_from_a_header_that_is_wrong() {
        let h = encode_header(7);
        assert!(matches!(
            check_header(&h[..27], 7),
            Err(HeaderError::Damaged(Corruption::TornHeader { len: 27 }))
        ));
        let mut flipped = h;
        flipped[17] ^= 1;
        assert!(matches!(
            check_header(&flipped, 7),
            Err(HeaderError::Damaged(Corruption::HeaderChecksum { .. }))
        ));
        assert!(matches!(
            check_header(&h, 8),
            Err(HeaderError::Invalid(Corruption::SeqMismatch { expected: 8, found: 7 }))
        ));
        let mut v2 = h;
        v2[8] = 2;
        let crc = crc32c::crc32c(&v2[..24]);
        v2[24..].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(check_header(&v2, 7), Err(HeaderError::Version(2)));
    }
}
