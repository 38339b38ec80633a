//! A record: one payload the engine appended, framed so a reader can tell a whole record from a
//! torn or damaged one, and (version 2) where the segment's durable part ended when it was
//! written.
//!
//! ```text
//! version 2
//! offset  size  field
//! 0       4     len      payload length in bytes, u32 little-endian, at most MAX_RECORD_SIZE
//! 4       8     synced   u64 LE: how many bytes of this segment were durably synced (fdatasync
//!                        returned) when the record's group was written
//! 12      4     crc      CRC32C (Castagnoli) over the payload, then bytes 0..12, u32 LE
//! 16      len   payload  opaque bytes (the engine's encoded batch)
//!
//! version 1
//! 0       4     len      as above
//! 4       4     crc      CRC32C over the 4 len bytes, then the payload, u32 LE
//! 8       len   payload
//! ```
//!
//! Records follow each other with no padding, from the end of the segment header to the end of
//! the file. The checksum covers the length, so a damaged length is caught by the checksum
//! rather than sending the reader off to a wrong boundary. A crash can leave the records
//! written after the last sync torn, holding garbage, or landed out of order (a group is one
//! vectored write, and its pages reach the disk in any order); every byte before `synced` of a
//! whole record was acknowledged, so damage there is never a torn tail. A record whose `len` is
//! above `MAX_RECORD_SIZE` is damage, never an allocation.

#![deny(clippy::indexing_slicing, clippy::unwrap_used)]

use std::ops::Range;

use crate::error::Corruption;

/// Bytes before each payload in version 2: `len`, `synced` and `crc`.
pub(crate) const RECORD_HEADER_LEN: usize = 16;

/// Bytes before each payload in version 1: `len` and `crc`.
const RECORD_HEADER_LEN_V1: usize = 8;

/// The largest payload one record may hold, in bytes (64 MiB). A larger `append` is refused;
/// a larger `len` found on disk is damage.
pub const MAX_RECORD_SIZE: usize = 64 << 20;

/// A record framed on the appending thread, waiting for the log thread to fill in `synced`.
#[derive(Debug)]
pub(crate) struct Frame {
    /// The header, with `synced` and `crc` still zero until [`Frame::seal`].
    pub(crate) header: [u8; RECORD_HEADER_LEN],
    /// The payload, written after the header in the same call, never copied into one buffer
    /// with it (a write's payload is a megabyte or more).
    pub(crate) payload: Vec<u8>,
    /// CRC32C of the payload alone: the log thread extends it over the header.
    payload_crc: u32,
}

impl Frame {
    /// Frames a copy of `payload`; see [`Frame::owning`].
    pub(crate) fn new(payload: &[u8]) -> Frame {
        Frame::owning(payload.to_vec())
    }

    /// Frames `payload`: the payload's checksum, the costly part, is computed here, on the
    /// appending thread, so the log thread only fills in 12 bytes and hands the bytes to the OS.
    ///
    /// The caller has checked `payload.len() <= MAX_RECORD_SIZE`.
    pub(crate) fn owning(payload: Vec<u8>) -> Frame {
        debug_assert!(payload.len() <= MAX_RECORD_SIZE);
        let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
        let mut header = [0; RECORD_HEADER_LEN];
        if let Some(field) = header.get_mut(..4) {
            field.copy_from_slice(&len.to_le_bytes());
        }
        Frame { header, payload_crc: crc32c::crc32c(&payload), payload }
    }

    /// Fills in `synced`, the durable length of the segment the record goes to, and the
    /// checksum.
    pub(crate) fn seal(&mut self, synced: u64) {
        if let Some(field) = self.header.get_mut(4..12) {
            field.copy_from_slice(&synced.to_le_bytes());
        }
        let crc = crc32c::crc32c_append(self.payload_crc, self.header.get(..12).unwrap_or_default());
        if let Some(field) = self.header.get_mut(12..16) {
            field.copy_from_slice(&crc.to_le_bytes());
        }
    }

    pub(crate) fn len(&self) -> usize {
        RECORD_HEADER_LEN + self.payload.len()
    }
}

/// Frames `payload` as one whole version 2 record whose group saw `synced` bytes durable.
#[cfg(test)]
pub(crate) fn encode(payload: &[u8], synced: u64) -> Vec<u8> {
    let mut frame = Frame::new(payload);
    frame.seal(synced);
    let mut bytes = frame.header.to_vec();
    bytes.extend_from_slice(&frame.payload);
    bytes
}

/// A record that decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decoded {
    /// The payload's byte range within the segment; its end is the record's end.
    pub(crate) payload: Range<usize>,
    /// Version 2: the segment's durable length when the record was written.
    pub(crate) synced: Option<u64>,
}

/// The `N` bytes at `at`; `None` past the end.
fn array<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at + N).and_then(|b| <[u8; N]>::try_from(b).ok())
}

/// Decodes the record of a segment of format `version` that starts at `offset`.
///
/// Returns the record, `None` at a clean end of the segment, or what is wrong with the record
/// found there.
pub(crate) fn decode(segment: &[u8], offset: usize, version: u32) -> Result<Option<Decoded>, Corruption> {
    let rest = segment.get(offset..).unwrap_or_default();
    if rest.is_empty() {
        return Ok(None);
    }
    let header_len = if version >= 2 { RECORD_HEADER_LEN } else { RECORD_HEADER_LEN_V1 };
    let Some(len_bytes) = array::<4>(rest, 0).filter(|_| rest.len() >= header_len) else {
        return Err(Corruption::TornRecordHeader { available: rest.len(), of: header_len });
    };
    let len = u32::from_le_bytes(len_bytes);
    // A u32 always fits a usize on the 32- and 64-bit targets strata builds for.
    let len_usize = usize::try_from(len).unwrap_or(usize::MAX);
    if len_usize > MAX_RECORD_SIZE {
        return Err(Corruption::RecordTooLarge { len: u64::from(len), max: MAX_RECORD_SIZE });
    }
    let available = rest.len() - header_len;
    let Some(payload) = rest.get(header_len..header_len + len_usize) else {
        return Err(Corruption::TornRecord { len: u64::from(len), available });
    };
    let (stored, computed, synced) = if version >= 2 {
        let head = rest.get(..12).unwrap_or_default();
        let stored = array::<4>(rest, 12).map(u32::from_le_bytes).unwrap_or_default();
        let synced = array::<8>(rest, 4).map(u64::from_le_bytes).unwrap_or_default();
        (stored, crc32c::crc32c_append(crc32c::crc32c(payload), head), Some(synced))
    } else {
        let stored = array::<4>(rest, 4).map(u32::from_le_bytes).unwrap_or_default();
        (stored, crc32c::crc32c_append(crc32c::crc32c(&len_bytes), payload), None)
    };
    if computed != stored {
        return Err(Corruption::RecordChecksum { stored, computed });
    }
    let start = offset + header_len;
    Ok(Some(Decoded { payload: start..start + len_usize, synced }))
}

/// What lies past a bad record: found by trying every byte offset from `from` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Scan {
    /// Whole records found (a record inside another's payload aside, they are the records
    /// that followed the bad one).
    pub(crate) records: u64,
    /// The largest `synced` any of them carries (version 2), 0 if none.
    pub(crate) synced: u64,
}

/// Looks for whole records in `segment` from byte `from` on, after a bad record: each offset
/// is tried, and after a whole record the search goes on at its end. A version 2 record that
/// claims more bytes synced than lie before it is no record.
pub(crate) fn scan(segment: &[u8], from: usize, version: u32) -> Scan {
    let mut found = Scan::default();
    let mut at = from;
    while at < segment.len() {
        match decode(segment, at, version) {
            Ok(Some(record)) if record.synced.is_none_or(|s| s <= at as u64) => {
                found.records += 1;
                found.synced = found.synced.max(record.synced.unwrap_or(0));
                at = record.payload.end;
            }
            Ok(None) => break,
            _ => at += 1,
        }
    }
    found
}

#[cfg(test)]
#[expect(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests may panic on what they check")]
mod tests {
    use super::*;

    #[test]
    fn encode_then_decode_round_trips() {
        let mut segment = vec![0xAA; 3];
        segment.extend(encode(b"hello", 3));
        segment.extend(encode(b"", 3));
        let first = decode(&segment, 3, 2).unwrap().unwrap();
        assert_eq!(&segment[first.payload.clone()], b"hello");
        assert_eq!(first.synced, Some(3));
        let second = decode(&segment, first.payload.end, 2).unwrap().unwrap();
        assert!(second.payload.is_empty());
        assert_eq!(second.payload.end, segment.len());
        assert_eq!(decode(&segment, segment.len(), 2), Ok(None));
    }

    #[test]
    fn layout_is_little_endian_len_synced_then_crc() {
        let frame = encode(b"abc", 48);
        assert_eq!(&frame[0..4], &3u32.to_le_bytes());
        assert_eq!(&frame[4..12], &48u64.to_le_bytes());
        let crc = crc32c::crc32c_append(crc32c::crc32c(b"abc"), &frame[..12]);
        assert_eq!(&frame[12..16], &crc.to_le_bytes());
        assert_eq!(&frame[16..], b"abc");
    }

    #[test]
    fn version_1_records_still_decode() {
        let mut frame = 3u32.to_le_bytes().to_vec();
        frame.extend_from_slice(&crc32c::crc32c(&[3, 0, 0, 0, b'a', b'b', b'c']).to_le_bytes());
        frame.extend_from_slice(b"abc");
        let record = decode(&frame, 0, 1).unwrap().unwrap();
        assert_eq!((record.payload, record.synced), (8..11, None));
    }

    #[test]
    fn damage_is_named() {
        let frame = encode(b"payload", 0);
        assert!(matches!(
            decode(&frame[..5], 0, 2),
            Err(Corruption::TornRecordHeader { available: 5, of: 16 })
        ));
        assert!(matches!(decode(&frame[..18], 0, 2), Err(Corruption::TornRecord { len: 7, available: 2 })));
        let mut flipped = frame.clone();
        flipped[17] ^= 1;
        assert!(matches!(decode(&flipped, 0, 2), Err(Corruption::RecordChecksum { .. })));
        let mut claim = frame.clone();
        claim[5] ^= 1;
        assert!(matches!(decode(&claim, 0, 2), Err(Corruption::RecordChecksum { .. })));
        let mut huge = frame;
        huge[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(decode(&huge, 0, 2), Err(Corruption::RecordTooLarge { .. })));
    }

    #[test]
    fn a_scan_finds_the_records_after_a_bad_one() {
        let mut segment = vec![0; 48];
        segment.extend(encode(b"first", 48));
        let second = segment.len();
        segment.extend(encode(b"second", 48));
        segment.extend(encode(b"third", second as u64));
        segment[second + 1] ^= 0xff;
        assert_eq!(scan(&segment, second, 2), Scan { records: 1, synced: second as u64 });
        assert_eq!(scan(&segment, 48, 2), Scan { records: 2, synced: second as u64 });
    }
}
