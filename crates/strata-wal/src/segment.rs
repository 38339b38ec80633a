//! A segment: one append-only file of the log, `<seq>.wal` with `seq` written as 20 decimal
//! digits (`00000000000000000001.wal`), so names sort in log order.
//!
//! ```text
//! offset  size  field
//! 0       8     magic     b"STRATWAL"
//! 8       4     version   format version, u32 little-endian, = 2
//! 12      4     reserved  u32, = 0 (a reader rejects anything else)
//! 16      8     seq       this segment's sequence number, u64 LE, equal to the one in its name
//! 24      4     crc       CRC32C (Castagnoli) of bytes 0..24, u32 LE
//! -- version 2 only:
//! 28      8     prev      sequence number of the segment before this one in the log, u64 LE
//!                         (0: none, the log starts here)
//! 36      8     prev_len  that segment's length in bytes when this one was created (0: none)
//! 44      4     crc       CRC32C of bytes 0..44, u32 LE
//! 48      ...   records   back to back to the end of the file (see `record.rs`)
//! ```
//!
//! Version 1 ends its header at byte 28 (records follow there) and has no `prev`. Every
//! version keeps bytes 0..28, so a reader can tell which version wrote a segment.
//!
//! Sequence numbers start at 1 and grow by one for each segment the log starts; removed
//! segments leave gaps. A gap is not always damage (a checkpoint lets segments go, and the
//! number of a newest segment removed for its torn header is never reused), so version 2 says
//! which segment comes before each one, and how long it was: replay then tells a segment that
//! is missing, or that lost or gained bytes, from one that was let go. A segment is written by
//! appends only; the log starts the next one when the current one would grow past
//! `WalOptions::segment_size` (a single larger record still goes in, alone in its segment), and
//! every time the log is opened.
//!
//! Creating a segment writes its header, syncs the file's data and then the directory, before
//! any record is written to it. So a crash can leave at most the newest segment with a torn
//! header, and only with no record in it: a damaged header followed by records is damage.

#![deny(clippy::indexing_slicing, clippy::unwrap_used)]

use crate::error::{Corruption, WalError};
use crate::storage::{LogFile, Storage};

/// Bytes of the header every version starts with (all of version 1's).
pub(crate) const COMMON_HEADER_LEN: usize = 28;

/// Bytes of a version 2 header.
pub(crate) const HEADER_LEN: usize = 48;

/// The first eight bytes of every segment.
pub(crate) const MAGIC: [u8; 8] = *b"STRATWAL";

/// The format version this build writes.
pub const FORMAT_VERSION: u32 = 2;

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

/// The segment before another in the log, as the later one's header records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Link {
    /// Its sequence number; 0 when the log starts with the later segment.
    pub(crate) seq: u64,
    /// Its length in bytes when the later one was created.
    pub(crate) len: u64,
}

/// A header that checked out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) version: u32,
    /// Where the records start.
    pub(crate) len: usize,
    /// The segment before this one (version 2; `None` for version 1, which does not say).
    pub(crate) prev: Option<Link>,
}

/// The header of segment `seq`, whose predecessor in the log is `prev`.
pub(crate) fn encode_header(seq: u64, prev: Link) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    let mut body = Vec::with_capacity(HEADER_LEN);
    body.extend_from_slice(&MAGIC);
    body.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    body.extend_from_slice(&0u32.to_le_bytes());
    body.extend_from_slice(&seq.to_le_bytes());
    let crc = crc32c::crc32c(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    body.extend_from_slice(&prev.seq.to_le_bytes());
    body.extend_from_slice(&prev.len.to_le_bytes());
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

/// How many bytes the header of `file` takes, going by its version field alone (which may be
/// damaged): what a crash while creating the segment can have left at most.
pub(crate) fn header_len_claimed(file: &[u8]) -> usize {
    match array::<4>(file, 8).map(u32::from_le_bytes) {
        Some(1) => COMMON_HEADER_LEN,
        _ => HEADER_LEN,
    }
}

/// Checks the header at the start of `file`, the contents of segment `seq`.
pub(crate) fn check_header(file: &[u8], seq: u64) -> Result<Header, HeaderError> {
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
    let mut header = Header { version, len: COMMON_HEADER_LEN, prev: None };
    if version >= 2 {
        let prev = u64::from_le_bytes(array(file, 28).ok_or_else(torn)?);
        let prev_len = u64::from_le_bytes(array(file, 36).ok_or_else(torn)?);
        let stored = u32::from_le_bytes(array(file, 44).ok_or_else(torn)?);
        let computed = crc32c::crc32c(file.get(..44).unwrap_or_default());
        if computed != stored {
            return Err(HeaderError::Damaged(Corruption::HeaderChecksum { stored, computed }));
        }
        header = Header { version, len: HEADER_LEN, prev: Some(Link { seq: prev, len: prev_len }) };
    }
    if reserved != 0 {
        return Err(HeaderError::Invalid(Corruption::Reserved { found: reserved }));
    }
    if found_seq != seq {
        return Err(HeaderError::Invalid(Corruption::SeqMismatch { expected: seq, found: found_seq }));
    }
    Ok(header)
}

/// Creates segment `seq`, whose predecessor is `prev`, and makes its header durable: header
/// written, file data synced, then the directory synced, so that a later crash keeps the file
/// and its header.
pub(crate) fn create(storage: &dyn Storage, seq: u64, prev: Link) -> Result<Box<dyn LogFile>, WalError> {
    let name = name(seq);
    let io = |op| {
        let path = storage.path(&name);
        move |source| WalError::Io { op, path, source }
    };
    let mut file = storage.create(&name).map_err(io("creating"))?;
    file.append(&[&encode_header(seq, prev)]).map_err(io("writing the header of"))?;
    file.sync_data().map_err(io("syncing"))?;
    storage.sync_dir().map_err(io("syncing the directory entry of"))?;
    Ok(file)
}

#[cfg(test)]
#[expect(clippy::indexing_slicing, reason = "tests may panic on what they check")]
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
        let h = encode_header(7, Link { seq: 5, len: 1234 });
        assert_eq!(&h[0..8], b"STRATWAL");
        assert_eq!(&h[8..12], &2u32.to_le_bytes());
        assert_eq!(&h[12..16], &[0; 4]);
        assert_eq!(&h[16..24], &7u64.to_le_bytes());
        assert_eq!(&h[24..28], &crc32c::crc32c(&h[..24]).to_le_bytes());
        assert_eq!(&h[28..36], &5u64.to_le_bytes());
        assert_eq!(&h[36..44], &1234u64.to_le_bytes());
        assert_eq!(&h[44..48], &crc32c::crc32c(&h[..44]).to_le_bytes());
        let prev = Some(Link { seq: 5, len: 1234 });
        assert_eq!(check_header(&h, 7), Ok(Header { version: 2, len: 48, prev }));
    }

    #[test]
    fn a_version_1_header_is_read() {
        let mut h = encode_header(7, Link { seq: 0, len: 0 })[..28].to_vec();
        h[8] = 1;
        let crc = crc32c::crc32c(&h[..24]);
        h[24..28].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(check_header(&h, 7), Ok(Header { version: 1, len: 28, prev: None }));
        assert_eq!(header_len_claimed(&h), 28);
    }

    #[test]
    fn header_damage_is_told_from_a_header_that_is_wrong() {
        let h = encode_header(7, Link { seq: 6, len: 100 });
        assert!(matches!(
            check_header(&h[..47], 7),
            Err(HeaderError::Damaged(Corruption::TornHeader { len: 47 }))
        ));
        let mut flipped = h;
        flipped[30] ^= 1;
        assert!(matches!(
            check_header(&flipped, 7),
            Err(HeaderError::Damaged(Corruption::HeaderChecksum { .. }))
        ));
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
        let mut v3 = h;
        v3[8] = 3;
        let crc = crc32c::crc32c(&v3[..24]);
        v3[24..28].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(check_header(&v3[..28], 7), Err(HeaderError::Version(3)));
    }
}
