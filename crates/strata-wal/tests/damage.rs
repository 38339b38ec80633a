//! Damage to acknowledged records is told from a torn tail: a bad record before the point a
//! later record says was durably synced, a damaged header of a segment holding records, a
//! segment missing from the chain, or one that lost bytes is refused (or, with
//! `OnDamage::Truncate`, cut and counted), never cut in silence. A torn tail written after the
//! last sync is still cut quietly, whatever the durability and however its pages landed.

mod common;

use std::path::Path;

use common::{Record, payload, payloads, reopen, segment_name};
use strata_wal::{
    Corruption, Durability, OnDamage, Position, SimStorage, Storage, Wal, WalError, WalOptions,
};

const HEADER_LEN: usize = 48;
const RECORD_HEADER_LEN: usize = 16;

fn truncating() -> WalOptions {
    WalOptions { on_damage: OnDamage::Truncate, ..WalOptions::default() }
}

/// A one-segment log of three records, each acknowledged (synced) before the next was written.
fn three_synced_records() -> (SimStorage, Vec<Record>) {
    let sim = SimStorage::new();
    let (wal, _, _) = reopen(sim.clone(), WalOptions::default(), Position::START).unwrap();
    let records = (0..3).map(|i| payload(7, i)).map(|p| (wal.append(&p).unwrap(), p)).collect();
    wal.close().unwrap();
    // What a power loss right now leaves: the three records, all synced.
    (sim.crash(), records)
}

/// Opens the log, replays it and finishes; the first error.
fn open_err(sim: &SimStorage, options: WalOptions) -> WalError {
    let mut replay = Wal::open(sim.clone(), options, Position::START).unwrap();
    loop {
        match replay.next_record() {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => return e,
        }
    }
    match replay.finish() {
        Ok((_, report)) => panic!("damage went unnoticed: {report:?}"),
        Err(e) => e,
    }
}

fn assert_corrupt(err: &WalError, seq: u64, at: u64) -> Corruption {
    let WalError::Corrupt { segment, offset, reason } = err else {
        panic!("expected Corrupt, got {err}");
    };
    assert_eq!(segment, &Path::new("sim").join(segment_name(seq)), "{err}");
    assert_eq!(*offset, at, "{err}");
    let text = err.to_string();
    assert!(text.contains(&segment_name(seq)) && text.contains(&format!("offset {at}")), "{text}");
    reason.clone()
}

#[test]
fn a_flipped_byte_in_an_acknowledged_record_followed_by_intact_ones_is_refused() {
    let (sim, records) = three_synced_records();
    let name = segment_name(1);
    let pristine = sim.file(&name).unwrap();
    let second = records[0].0.offset as usize;
    // Every byte of the first record, its header and payload: the second record says the
    // segment was synced past its end.
    for at in HEADER_LEN..second {
        let mut damaged = pristine.clone();
        damaged[at] ^= 0x20;
        sim.write_file(&name, &damaged);
        let err = open_err(&sim, WalOptions::default());
        assert_corrupt(&err, 1, HEADER_LEN as u64);
        assert_eq!(sim.file(&name).unwrap(), damaged, "byte {at}: nothing may change");
        assert_eq!(sim.names(), vec![name.clone()], "byte {at}: no segment may be added");
    }
    // The second record too: the third vouches for it.
    let mut damaged = pristine.clone();
    damaged[second + RECORD_HEADER_LEN + 3] ^= 0x20;
    sim.write_file(&name, &damaged);
    let reason = assert_corrupt(&open_err(&sim, WalOptions::default()), 1, second as u64);
    assert!(matches!(reason, Corruption::RecordChecksum { .. }), "{reason:?}");
}

#[test]
fn with_truncate_an_acknowledged_record_is_cut_and_the_loss_reported() {
    let (sim, records) = three_synced_records();
    let name = segment_name(1);
    let mut damaged = sim.file(&name).unwrap();
    let len = damaged.len() as u64;
    damaged[HEADER_LEN + RECORD_HEADER_LEN + 5] ^= 0x01;
    sim.write_file(&name, &damaged);

    let (wal, replayed, report) = reopen(sim.clone(), truncating(), Position::START).unwrap();
    assert!(replayed.is_empty());
    assert_eq!(report.truncated, None, "not a torn tail");
    let damage = report.damage.expect("the loss must be reported");
    assert_eq!((damage.segment, damage.offset), (1, HEADER_LEN as u64));
    assert_eq!(damage.dropped_bytes, len - HEADER_LEN as u64);
    assert_eq!(damage.dropped_records, 2, "the two whole records after the damaged one");
    assert!(damage.removed_segments.is_empty());
    assert!(matches!(damage.reason, Corruption::RecordChecksum { .. }));
    assert_eq!(sim.file(&name).unwrap().len(), HEADER_LEN, "cut at the damage");
    let after = wal.append(b"after").unwrap();
    wal.close().unwrap();

    // The log is clean again, and the records after the damage are gone for good.
    let (_, replayed, report) = reopen(sim, WalOptions::default(), Position::START).unwrap();
    assert_eq!(replayed, vec![(after, b"after".to_vec())]);
    assert_eq!((report.truncated, report.damage), (None, None));
    assert_eq!(records.len(), 3);
}

#[test]
fn a_flipped_byte_in_a_synced_segment_header_is_refused() {
    let (sim, _) = three_synced_records();
    let name = segment_name(1);
    let pristine = sim.file(&name).unwrap();
    for at in 0..HEADER_LEN {
        let mut damaged = pristine.clone();
        damaged[at] ^= 0x04;
        sim.write_file(&name, &damaged);
        // The version field too: a version 6 that fails its checksum is damage.
        assert_corrupt(&open_err(&sim, WalOptions::default()), 1, 0);
        assert_eq!(sim.file(&name).unwrap(), damaged, "byte {at}: nothing may change");
    }
    // Opened anyway: the segment goes, and its three records are counted.
    let mut damaged = pristine.clone();
    damaged[20] ^= 0x04;
    sim.write_file(&name, &damaged);
    let (wal, replayed, report) = reopen(sim.clone(), truncating(), Position::START).unwrap();
    assert!(replayed.is_empty());
    let damage = report.damage.unwrap();
    assert_eq!((damage.segment, damage.offset, damage.dropped_records), (1, 0, 3));
    assert_eq!(damage.dropped_bytes, pristine.len() as u64);
    assert_eq!(damage.removed_segments, vec![1]);
    wal.close().unwrap();
    assert_eq!(sim.names(), vec![segment_name(2)]);
}

/// A log of 12 records of 200 bytes over three segments (4 a segment), closed.
fn three_segments() -> (SimStorage, WalOptions, Vec<Record>) {
    let options = WalOptions { segment_size: 1024, ..WalOptions::default() };
    let sim = SimStorage::new();
    let (wal, _, _) = reopen(sim.clone(), options.clone(), Position::START).unwrap();
    let records: Vec<Record> =
        (0..12).map(|i| (wal.append(&[i as u8; 200]).unwrap(), vec![i as u8; 200])).collect();
    wal.close().unwrap();
    assert_eq!(records[11].0.segment, 3);
    (sim, options, records)
}

#[test]
fn a_missing_middle_segment_is_refused_naming_the_gap() {
    let (sim, options, records) = three_segments();
    let sealed_len = sim.file(&segment_name(2)).unwrap().len() as u64;
    sim.remove(&segment_name(2)).unwrap();
    let err = open_err(&sim, options.clone());
    let reason = assert_corrupt(&err, 3, 0);
    assert_eq!(reason, Corruption::MissingSegment { seq: 2, len: sealed_len });
    assert!(err.to_string().contains(&format!("segment {} ({sealed_len} bytes)", segment_name(2))), "{err}");
    assert_eq!(sim.names(), vec![segment_name(1), segment_name(3)], "nothing may change");

    // A checkpoint that covers segment 2 whole makes the gap one the log let go.
    let (_, replayed, _) = reopen(sim.clone(), options.clone(), records[7].0).unwrap();
    assert!(replayed == records[8..]);
}

#[test]
fn a_missing_first_segment_without_a_checkpoint_is_refused() {
    let (sim, options, records) = three_segments();
    sim.remove(&segment_name(1)).unwrap();
    let reason = assert_corrupt(&open_err(&sim, options.clone()), 2, 0);
    assert!(matches!(reason, Corruption::MissingSegment { seq: 1, .. }));
    // A checkpoint in the middle of segment 1 does not cover it.
    let reason = assert_corrupt(&open_err_from(&sim, options.clone(), records[1].0), 2, 0);
    assert!(matches!(reason, Corruption::MissingSegment { seq: 1, .. }));

    // Opened anyway: the log is cut before the gap, every later segment counted.
    let options = WalOptions { on_damage: OnDamage::Truncate, ..options };
    let (wal, replayed, report) = reopen(sim.clone(), options, Position::START).unwrap();
    assert!(replayed.is_empty());
    let damage = report.damage.unwrap();
    assert_eq!((damage.segment, damage.offset, damage.dropped_records), (2, 0, 8));
    assert_eq!(damage.removed_segments, vec![2, 3]);
    wal.close().unwrap();
    assert_eq!(sim.names(), vec![segment_name(4)]);
}

fn open_err_from(sim: &SimStorage, options: WalOptions, from: Position) -> WalError {
    match reopen(sim.clone(), options, from) {
        Ok((_, _, report)) => panic!("damage went unnoticed: {report:?}"),
        Err(e) => e,
    }
}

#[test]
fn an_older_segment_cut_at_a_record_boundary_is_refused() {
    let (sim, options, records) = three_segments();
    let name = segment_name(1);
    let whole = sim.file(&name).unwrap();
    // Its last record gone, cleanly: every record left checks out.
    let cut = records[2].0.offset as usize;
    sim.write_file(&name, &whole[..cut]);
    let reason = assert_corrupt(&open_err(&sim, options.clone()), 1, cut as u64);
    assert_eq!(reason, Corruption::SealedLength { len: cut as u64, sealed: whole.len() as u64, next: 2 });
    // A record added to its end.
    let mut longer = whole.clone();
    longer.extend_from_slice(&whole[HEADER_LEN..HEADER_LEN + 216]);
    sim.write_file(&name, &longer);
    assert_corrupt(&open_err(&sim, options), 1, whole.len() as u64);
}

// ---- Torn tails: still cut quietly ---------------------------------------------------------

/// The bytes of a segment as written by a stream of appends, and after each append how many of
/// them a power loss keeps (synced) and how many had been written.
struct Stream {
    bytes: Vec<u8>,
    ends: Vec<u64>,
    /// Per append k: (synced, written) after it returned.
    after: Vec<(usize, usize)>,
}

fn stream(durability: Durability) -> Stream {
    let sim = SimStorage::new();
    let options = WalOptions { durability, ..WalOptions::default() };
    let (wal, _, _) = reopen(sim.clone(), options, Position::START).unwrap();
    let name = segment_name(1);
    let mut ends = Vec::new();
    let mut after = Vec::new();
    for i in 0..40 {
        ends.push(wal.append(&payload(3, i)).unwrap().offset);
        if durability == Durability::None && i % 9 == 8 {
            wal.sync().unwrap();
        }
        let synced = sim.crash().file(&name).unwrap().len();
        after.push((synced, sim.file(&name).unwrap().len()));
    }
    wal.close().unwrap();
    Stream { bytes: sim.file(&name).unwrap(), ends, after }
}

/// What a power loss can leave of `written` bytes of which `synced` were synced: the unsynced
/// part cut anywhere, or with a page of it never written (pages land in any order).
fn torn_images(bytes: &[u8], synced: usize, written: usize) -> Vec<Vec<u8>> {
    let unsynced = written - synced;
    let mut images = Vec::new();
    // j = 8: all of it landed (nothing torn).
    for j in 0..=8 {
        images.push(bytes[..synced + unsynced * j / 8].to_vec());
    }
    for j in 0..6 {
        let mut image = bytes[..written].to_vec();
        let start = synced + unsynced * j / 6;
        let end = (start + 512).min(written);
        image[start..end].fill(0);
        images.push(image);
    }
    // The first unsynced record's header lost, everything after it landed.
    let mut image = bytes[..written].to_vec();
    let end = (synced + RECORD_HEADER_LEN).min(written);
    image[synced..end].fill(0xff);
    images.push(image);
    images
}

fn torn_tails_are_cut_quietly(durability: Durability) {
    let s = stream(durability);
    let options = WalOptions { durability, ..WalOptions::default() };
    let mut vouched = 0;
    for k in 0..s.ends.len() {
        let (synced, mut written) = s.after[k];
        if durability == Durability::Sync {
            // Every append was synced before it returned: the next one is in flight.
            assert_eq!((synced, written), (s.ends[k] as usize, s.ends[k] as usize));
            written = s.ends.get(k + 1).map_or(written, |&e| e as usize);
        }
        let durable = s.ends.iter().filter(|&&e| e as usize <= synced).count();
        for image in torn_images(&s.bytes, synced, written) {
            let sim = SimStorage::new();
            sim.write_file(&segment_name(1), &image);
            let (wal, replayed, report) = reopen(sim, options.clone(), Position::START)
                .unwrap_or_else(|e| panic!("{durability:?}, append {k}: a torn tail refused: {e}"));
            wal.close().unwrap();
            assert_eq!(report.damage, None);
            assert!(replayed.len() >= durable, "{durability:?}, append {k}: an acknowledged record lost");
            let expected: Vec<Vec<u8>> = (0..replayed.len() as u32).map(|i| payload(3, i)).collect();
            assert!(payloads(&replayed) == expected, "{durability:?}, append {k}: not a prefix");

            // The same image with a flipped byte in the last synced record: when a whole
            // record after it says it was synced, that is damage, never a torn tail.
            let Some(last) = s.ends.iter().position(|&e| e as usize == synced) else { continue };
            let first_unsynced_end = s.ends.get(last + 1).map_or(usize::MAX, |&e| e as usize);
            if first_unsynced_end > image.len()
                || image[synced..first_unsynced_end] != s.bytes[synced..first_unsynced_end]
            {
                continue;
            }
            let start = if last == 0 { HEADER_LEN } else { s.ends[last - 1] as usize };
            let mut damaged = image.clone();
            damaged[start + RECORD_HEADER_LEN] ^= 0x80;
            let sim = SimStorage::new();
            sim.write_file(&segment_name(1), &damaged);
            assert_corrupt(&open_err(&sim, options.clone()), 1, start as u64);
            vouched += 1;
        }
    }
    // Under interval durability the log thread's own syncs decide what is unsynced.
    if !matches!(durability, Durability::Interval(_)) {
        assert!(vouched > 0, "{durability:?}: no image had a record vouching for the synced part");
    }
}

#[test]
fn a_torn_tail_under_sync_durability_is_cut_quietly() {
    let s = stream(Durability::Sync);
    assert!(s.after.iter().all(|&(synced, written)| synced == written));
    torn_tails_are_cut_quietly(Durability::Sync);
}

#[test]
fn a_torn_tail_under_no_durability_is_cut_quietly() {
    torn_tails_are_cut_quietly(Durability::None);
}

#[test]
fn a_torn_tail_under_interval_durability_is_cut_quietly() {
    torn_tails_are_cut_quietly(Durability::Interval(std::time::Duration::from_millis(1)));
}
