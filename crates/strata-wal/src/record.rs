//! A record: one payload the engine appended, framed so a reader can tell a whole record from a
//! torn or damaged one.
//!
//! ```text
//! offset  size  field
//! 0       4     len      payload length in bytes, u32 little-endian, at most MAX_RECORD_SIZE
//! 4       4     crc      CRC32C (Castagnoli) over the 4 len bytes, then the payload, u32 LE
//! 8       len   payload  opaque bytes (the engine's encoded batch)
//! ```
//!
//! Records follow each other with no padding, from the end of the segment header to the end of
//! the file. The checksum covers the length, so a damaged length is caught by the checksum
//! rather than sending the reader off to a wrong boundary. A crash can leave the last record of
//! the newest segment torn (the file ends inside it) or holding garbage; a record whose `len` is
//! above `MAX_RECORD_SIZE` is damage, never an allocation.

#![deny(clippy::indexing_slicing, clippy::unwrap_used)]

use std::ops::Range;

use crate::error::Corruption;

/// Bytes before each payload: `len` and `crc`.
pub(crate) const RECORD_HEADER_LEN: usize = 8;

/// The largest payload one record may hold, in bytes (64 MiB). A larger `append` is refused;
/// a larger `len` found on disk is damage.
pub const MAX_RECORD_SIZE: usize = 64 << 20;

/// The CRC32C a record carries: over the little-endian length, then the payload.
fn checksum(len_bytes: [u8; 4], payload: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&len_bytes), payload)
}

/// Frames `payload` as one record: header, then a copy of the payload.
///
/// The caller has checked `payload.len() <= MAX_RECORD_SIZE`; the frame is built (and its
/// checksum computed) on the appending thread, so the log thread only copies bytes to the OS.
pub(crate) fn encode(payload: &[u8]) -> Vec<u8> {
    debug_assert!(payload.len() <= MAX_RECORD_SIZE);
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let len_bytes = len.to_le_bytes();
    let mut frame = Vec::with_capacity(RECORD_HEADER_LEN + payload.len());
    frame.extend_from_slice(&len_bytes);
    frame.extend_from_slice(&checksum(len_bytes, payload).to_le_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// Decodes the record that starts at `offset` of `segment`.
///
/// Returns the payload's byte range within `segment` (its end is the record's end), `None` at a
/// clean end of the segment, or what is wrong with the record found there.
pub(crate) fn decode(segment: &[u8], offset: usize) -> Result<Option<Range<usize>>, Corruption> {
    let rest = segment.get(offset..).unwrap_or_default();
    if rest.is_empty() {
        return Ok(None);
    }
    let (Some(len_bytes), Some(crc_bytes)) = (
        rest.get(0..4).and_then(|b| <[u8; 4]>::try_from(b).ok()),
        rest.get(4..8).and_then(|b| <[u8; 4]>::try_from(b).ok()),
    ) else {
        return Err(Corruption::TornRecordHeader { available: rest.len() });
    };
    let len = u32::from_le_bytes(len_bytes);
    let stored = u32::from_le_bytes(crc_bytes);
    // A u32 always fits a usize on the 32- and 64-bit targets strata builds for.
    let len_usize = usize::try_from(len).unwrap_or(usize::MAX);
    if len_usize > MAX_RECORD_SIZE {
        return Err(Corruption::RecordTooLarge { len: u64::from(len), max: MAX_RECORD_SIZE });
    }
    let available = rest.len() - RECORD_HEADER_LEN;
    let Some(payload) = rest.get(RECORD_HEADER_LEN..RECORD_HEADER_LEN + len_usize) else {
        return Err(Corruption::TornRecord { len: u64::from(len), available });
    };
    let computed = checksum(len_bytes, payload);
    if computed != stored {
        return Err(Corruption::RecordChecksum { stored, computed });
    }
    let start = offset + RECORD_HEADER_LEN;
    Ok(Some(start..start + len_usize))
}

#[cfg(test)]
#[expect(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests may panic on what they check")]
mod tests {
    use super::*;

    #[test]
    fn encode_then_decode_round_trips() {
        let mut segment = vec![0xAA; 3];
        segment.extend(encode(b"hello"));
        segment.extend(encode(b""));
        let first = decode(&segment, 3).unwrap().unwrap();
        assert_eq!(&segment[first.clone()], b"hello");
        let second = decode(&segment, first.end).unwrap().unwrap();
        assert!(second.is_empty());
        assert_eq!(second.end, segment.len());
        assert_eq!(decode(&segment, segment.len()), Ok(None));
    }

    #[test]
    fn layout_is_little_endian_len_then_crc() {
        let frame = encode(b"abc");
        assert_eq!(&frame[0..4], &3u32.to_le_bytes());
        let crc = crc32c::crc32c(&[3, 0, 0, 0, b'a', b'b', b'c']);
        assert_eq!(&frame[4..8], &crc.to_le_bytes());
        assert_eq!(&frame[8..], b"abc");
    }

    #[test]
    fn damage_is_named() {
        let frame = encode(b"payload");
        assert!(matches!(decode(&frame[..5], 0), Err(Corruption::TornRecordHeader { available: 5 })));
        assert!(matches!(decode(&frame[..10], 0), Err(Corruption::TornRecord { len: 7, available: 2 })));
        let mut flipped = frame.clone();
        flipped[9] ^= 1;
        assert!(matches!(decode(&flipped, 0), Err(Corruption::RecordChecksum { .. })));
        let mut huge = frame;
        huge[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(decode(&huge, 0), Err(Corruption::RecordTooLarge { .. })));
    }
}
