//! Segments: rotation by size, removal of segments a checkpoint covers, and damage in a segment
//! that must be whole, which is an error and never skipped.

mod common;

use std::path::Path;

use common::{Record, payloads, reopen, segment_name};
use strata_wal::{Corruption, Position, SimStorage, Wal, WalError, WalOptions};

const HEADER_LEN: u64 = 48;
/// 4 records of 200 payload bytes fill a segment: 48 + 4 * 216 = 912 <= 1024 < 1128.
const SEGMENT_SIZE: u64 = 1024;

fn options() -> WalOptions {
    WalOptions { segment_size: SEGMENT_SIZE, ..WalOptions::default() }
}

fn record(i: usize) -> Vec<u8> {
    vec![i as u8; 200]
}

/// A log of `n` 200-byte records over `n / 4` segments, closed.
fn rotated_log(n: usize) -> (SimStorage, Vec<Record>) {
    let sim = SimStorage::new();
    let (wal, _, _) = reopen(sim.clone(), options(), Position::START).unwrap();
    let records = (0..n).map(|i| (wal.append(&record(i)).unwrap(), record(i))).collect();
    wal.close().unwrap();
    (sim, records)
}

#[test]
fn segments_rotate_by_size() {
    let (sim, records) = rotated_log(40);
    for (i, (position, _)) in records.iter().enumerate() {
        let expected = Position { segment: 1 + i as u64 / 4, offset: HEADER_LEN + (i as u64 % 4 + 1) * 216 };
        assert_eq!(*position, expected, "record {i}");
    }
    let names: Vec<String> = (1..=10).map(segment_name).collect();
    assert_eq!(sim.names(), names);
    assert!(sim.file(&names[0]).unwrap().len() as u64 <= SEGMENT_SIZE);
}

#[test]
fn a_record_larger_than_a_segment_goes_alone() {
    let sim = SimStorage::new();
    let (wal, _, _) = reopen(sim.clone(), options(), Position::START).unwrap();
    let small = wal.append(&record(0)).unwrap();
    let big = wal.append(&[7; 5000]).unwrap();
    let next = wal.append(&record(1)).unwrap();
    wal.close().unwrap();
    assert_eq!(small, Position { segment: 1, offset: HEADER_LEN + 216 });
    assert_eq!(big, Position { segment: 2, offset: HEADER_LEN + 5016 });
    assert_eq!(next, Position { segment: 3, offset: HEADER_LEN + 216 });
    let (_, replayed, _) = reopen(sim, options(), Position::START).unwrap();
    assert_eq!(payloads(&replayed), vec![record(0), vec![7; 5000], record(1)]);
}

#[test]
fn removal_keeps_what_a_checkpoint_does_not_cover() {
    let (sim, records) = rotated_log(40);
    // Segment 11 is now the current one.
    let (wal, _, _) = reopen(sim.clone(), options(), Position::START).unwrap();

    // Record 17 is the second of segment 5: segments 1 to 4 are covered, 5 is not.
    let checkpoint = records[17].0;
    assert_eq!(checkpoint.segment, 5);
    assert_eq!(wal.remove_segments_before(checkpoint).unwrap(), 4);
    assert_eq!(sim.names().first(), Some(&segment_name(5)));
    assert_eq!(wal.remove_segments_before(checkpoint).unwrap(), 0);

    // Record 19 ends segment 5: a checkpoint right after it covers the whole segment.
    let checkpoint = records[19].0;
    assert_eq!(wal.remove_segments_before(checkpoint).unwrap(), 1);
    assert_eq!(sim.names().first(), Some(&segment_name(6)));

    // Replaying from the checkpoint yields exactly the records after it.
    let appended = wal.append(b"new").unwrap();
    wal.close().unwrap();
    let (wal, replayed, _) = reopen(sim.clone(), options(), checkpoint).unwrap();
    let mut expected = records[20..].to_vec();
    expected.push((appended, b"new".to_vec()));
    assert!(replayed == expected);

    // A checkpoint past everything removes every segment but the one being written, 12.
    let far = Position { segment: u64::MAX, offset: 0 };
    wal.remove_segments_before(far).unwrap();
    assert_eq!(sim.names(), vec![segment_name(12)]);
    let last = wal.append(b"still works").unwrap();
    assert_eq!(last.segment, 12);
    wal.close().unwrap();
    // Replaying from the start is asking for records the log let go: segment 11 is missing.
    let err = replay_err(&sim);
    assert_corrupt(&err, 12, 0);
    assert!(err.to_string().contains(&format!("segment {} ", segment_name(11))), "{err}");
    // From a checkpoint that covers segment 11, segment 12 replays.
    let from = Position { segment: 12, offset: 0 };
    let (_, replayed, _) = reopen(sim, options(), from).unwrap();
    assert_eq!(replayed, vec![(last, b"still works".to_vec())]);
}

#[test]
fn replay_from_a_checkpoint_skips_what_it_covers() {
    let (sim, records) = rotated_log(12);
    // A checkpoint in the middle of segment 2 and one at its end.
    for k in [5, 7] {
        let (wal, replayed, report) = reopen(sim.clone(), options(), records[k].0).unwrap();
        assert!(replayed == records[k + 1..], "from record {k}");
        assert_eq!(report.records, (records.len() - k - 1) as u64);
        wal.close().unwrap();
    }
}

/// Opens the log and replays it to the end (or the first error).
fn replay_err(sim: &SimStorage) -> WalError {
    let mut replay = Wal::open(sim.clone(), options(), Position::START).unwrap();
    loop {
        match replay.next_record() {
            Ok(Some(_)) => {}
            Ok(None) => panic!("damage went unnoticed"),
            Err(first) => {
                // Asking again gives the same answer, and finish refuses too.
                let again = replay.next_record().unwrap_err().to_string();
                assert_eq!(first.to_string(), again);
                assert_eq!(replay.finish().unwrap_err().to_string(), again);
                return first;
            }
        }
    }
}

fn assert_corrupt(err: &WalError, seq: u64, at: u64) -> Corruption {
    let WalError::Corrupt { segment, offset, reason } = err else {
        panic!("expected Corrupt, got {err}");
    };
    assert_eq!(segment, &Path::new("sim").join(segment_name(seq)));
    assert_eq!(*offset, at);
    let text = err.to_string();
    assert!(text.contains(&segment_name(seq)) && text.contains(&at.to_string()), "{text}");
    reason.clone()
}

#[test]
fn a_damaged_byte_in_an_older_segment_is_an_error() {
    let (sim, records) = rotated_log(12);
    let name = segment_name(2);
    let pristine = sim.file(&name).unwrap();
    // Every byte of segment 2 (of 3), header and records: never skipped, never truncated.
    for at in 0..pristine.len() {
        let mut damaged = pristine.clone();
        damaged[at] ^= 0x10;
        sim.write_file(&name, &damaged);
        let err = replay_err(&sim);
        let record_start = if at < HEADER_LEN as usize {
            0
        } else {
            // The record holding byte `at`: the last one starting at or before it.
            records[4..8]
                .iter()
                .map(|(p, _)| p.offset - 216)
                .filter(|&start| start <= at as u64)
                .max()
                .unwrap()
        };
        assert_corrupt(&err, 2, record_start);
        assert_eq!(sim.file(&name).unwrap(), damaged, "an older segment was changed");
    }
}

#[test]
fn a_torn_older_segment_is_an_error() {
    let (sim, records) = rotated_log(12);
    let name = segment_name(1);
    let pristine = sim.file(&name).unwrap();
    sim.write_file(&name, &pristine[..pristine.len() - 1]);
    let reason = assert_corrupt(&replay_err(&sim), 1, records[2].0.offset);
    assert!(matches!(reason, Corruption::TornRecord { len: 200, available: 199 }));
}

#[test]
fn a_header_that_is_wrong_but_whole_is_an_error_even_when_newest() {
    let (sim, _) = rotated_log(4);
    // Segment 1's bytes under the name of segment 2: a header that passes its checksum but
    // names another segment is no torn write, so it is not dropped.
    sim.write_file(&segment_name(2), &sim.file(&segment_name(1)).unwrap());
    let reason = assert_corrupt(&replay_err(&sim), 2, 0);
    assert!(matches!(reason, Corruption::SeqMismatch { expected: 2, found: 1 }));

    // A header of a future format version.
    let mut v3 = sim.file(&segment_name(1)).unwrap();
    v3[8] = 3;
    let crc = crc32c(&v3[..24]);
    v3[24..28].copy_from_slice(&crc.to_le_bytes());
    sim.write_file(&segment_name(2), &v3);
    let err = replay_err(&sim);
    assert!(
        matches!(&err, WalError::UnsupportedVersion { found: 3, segment, supported }
        if segment.ends_with(segment_name(2)) && *supported == (1..=2)),
        "{err}"
    );
    assert!(err.to_string().ends_with(&format!(
        "{} is format version 3, written by a newer strata; this build reads versions up to 2: upgrade strata",
        segment_name(2)
    )), "{err}");
}

/// CRC32C, bitwise: the tests check the format without trusting the crate's own checksum.
fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0x82f6_3b78 } else { crc >> 1 };
        }
    }
    !crc
}
