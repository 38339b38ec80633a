//! A crash in the middle of a write leaves the newest segment ending in a torn or damaged
//! record. Replay must keep every record before it, cut the file there and say so, and the log
//! must go on working afterwards. Tried at every byte of the last record.

mod common;

use common::{Record, payloads, reopen, segment_name};
use strata_wal::{Corruption, FsStorage, Position, SimStorage, WalOptions};

const HEADER_LEN: usize = 48;

/// A one-segment log of `K` records, the last of 40 bytes; returns the segment's bytes and the
/// records.
fn written_log() -> (Vec<u8>, Vec<Record>) {
    let sim = SimStorage::new();
    let (wal, _, _) = reopen(sim.clone(), WalOptions::default(), Position::START).unwrap();
    let sizes = [100, 0, 17, 300, 40];
    let records: Vec<Record> = sizes
        .iter()
        .enumerate()
        .map(|(i, &size)| {
            let p: Vec<u8> = (0..size).map(|b| (b * 31 + i * 7) as u8).collect();
            (wal.append(&p).unwrap(), p)
        })
        .collect();
    wal.close().unwrap();
    let segment = sim.file(&segment_name(1)).unwrap();
    assert_eq!(segment.len() as u64, records.last().unwrap().0.offset);
    (segment, records)
}

/// Opens a log whose only segment is `segment`, checks that exactly `kept` replay and that the
/// file was cut to `cut_at`, then appends one more record and checks a second reopen.
fn reopen_damaged(segment: &[u8], kept: &[Record], cut_at: u64) -> Option<strata_wal::Truncation> {
    let sim = SimStorage::new();
    sim.write_file(&segment_name(1), segment);
    let (wal, replayed, report) = reopen(sim.clone(), WalOptions::default(), Position::START).unwrap();
    assert!(replayed == kept, "records before the damage must all replay");
    assert_eq!(
        sim.file(&segment_name(1)).map(|f| f.len() as u64),
        Some(cut_at).filter(|&at| at > 0),
        "segment not cut where the damage starts"
    );

    let after = wal.append(b"after the repair").unwrap();
    assert_eq!(after.segment, 2, "appends go to a fresh segment after open");
    wal.close().unwrap();
    let (wal, again, second) = reopen(sim, WalOptions::default(), Position::START).unwrap();
    let mut expected = payloads(kept);
    expected.push(b"after the repair".to_vec());
    assert_eq!(payloads(&again), expected);
    assert_eq!(second.truncated, None, "the repair must leave a clean log");
    wal.close().unwrap();
    report.truncated
}

#[test]
fn a_cut_anywhere_in_the_last_record_is_repaired() {
    let (segment, records) = written_log();
    let kept = &records[..records.len() - 1];
    let start = kept.last().unwrap().0.offset as usize;
    for cut in start..segment.len() {
        let truncated = reopen_damaged(&segment[..cut], kept, start as u64);
        if cut == start {
            // The whole record is gone: a clean end, nothing to cut.
            assert_eq!(truncated, None);
            continue;
        }
        let t = truncated.unwrap_or_else(|| panic!("cut at {cut} not reported"));
        assert_eq!(
            (t.segment, t.offset, t.dropped_bytes),
            (1, start as u64, (cut - start) as u64),
            "cut at {cut}"
        );
        let torn = matches!(t.reason, Corruption::TornRecordHeader { .. } | Corruption::TornRecord { .. });
        assert!(torn, "cut at {cut}: {:?}", t.reason);
    }
}

#[test]
fn a_damaged_byte_anywhere_in_the_last_record_is_repaired() {
    let (segment, records) = written_log();
    let kept = &records[..records.len() - 1];
    let start = kept.last().unwrap().0.offset as usize;
    for at in start..segment.len() {
        let mut damaged = segment.clone();
        damaged[at] ^= 0x5a;
        let t = reopen_damaged(&damaged, kept, start as u64)
            .unwrap_or_else(|| panic!("damage at {at} not reported"));
        assert_eq!(
            (t.segment, t.offset, t.dropped_bytes),
            (1, start as u64, (segment.len() - start) as u64),
            "damage at {at}"
        );
    }
}

#[test]
fn a_torn_header_of_the_newest_segment_removes_it() {
    let (segment, _) = written_log();
    for cut in 0..HEADER_LEN {
        let t = reopen_damaged(&segment[..cut], &[], 0).unwrap();
        assert_eq!((t.segment, t.offset, t.dropped_bytes), (1, 0, cut as u64));
        assert!(matches!(t.reason, Corruption::TornHeader { len } if len == cut));
    }
    // Damage that fails the magic or the checksum is what a crash right after creating the
    // segment leaves, too.
    for at in 0..HEADER_LEN {
        let mut damaged = segment[..HEADER_LEN].to_vec();
        damaged[at] ^= 0x01;
        let t = reopen_damaged(&damaged, &[], 0).unwrap();
        assert_eq!((t.offset, t.dropped_bytes), (0, HEADER_LEN as u64));
        let reason_fits = matches!(t.reason, Corruption::BadMagic { .. } | Corruption::HeaderChecksum { .. });
        assert!(reason_fits, "damage at {at}: {:?}", t.reason);
    }
}

#[test]
fn a_torn_file_on_disk_is_truncated_durably() {
    let dir = tempfile::tempdir().unwrap();
    let storage = || FsStorage::new(dir.path()).unwrap();
    let (wal, _, _) = reopen(storage(), WalOptions::default(), Position::START).unwrap();
    let first = wal.append(b"kept").unwrap();
    let second = wal.append(b"torn by the crash").unwrap();
    wal.close().unwrap();

    let path = dir.path().join(segment_name(1));
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(second.offset - 3).unwrap();
    drop(file);

    let (wal, replayed, report) = reopen(storage(), WalOptions::default(), Position::START).unwrap();
    assert_eq!(replayed, vec![(first, b"kept".to_vec())]);
    let t = report.truncated.unwrap();
    assert_eq!((t.segment, t.offset), (1, first.offset));
    assert_eq!(t.dropped_bytes, second.offset - 3 - first.offset);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), first.offset);
    wal.close().unwrap();
}
