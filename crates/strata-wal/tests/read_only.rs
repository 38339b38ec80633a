//! A read-only replay (`FsStorage::read_only` + `Replay::finish_read_only`) reads what the log
//! holds and changes nothing: a torn tail is reported and left for the next writable open to
//! cut, damage is refused or reported as configured, and a log another handle is appending to
//! reads as of the moment each segment is read.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{Record, payloads, reopen, segment_name};
use strata_wal::{
    Corruption, Durability, FsStorage, OnDamage, Position, ReplayReport, Wal, WalError, WalOptions,
};

/// Every file under `dir` with its bytes and modification time.
fn image(dir: &Path) -> BTreeMap<String, (Vec<u8>, std::time::SystemTime)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let modified = e.metadata().unwrap().modified().unwrap();
            (e.file_name().into_string().unwrap(), (std::fs::read(e.path()).unwrap(), modified))
        })
        .collect()
}

/// Replays the log in `dir` read-only.
fn replay_read_only(dir: &Path, options: WalOptions) -> Result<(Vec<Record>, ReplayReport), WalError> {
    let mut replay = Wal::open(FsStorage::read_only(dir), options, Position::START)?;
    let mut records = Vec::new();
    while let Some((position, payload)) = replay.next_record()? {
        records.push((position, payload.to_vec()));
    }
    Ok((records, replay.finish_read_only()?))
}

/// A closed log of three records, each synced when appended.
fn three_records(dir: &Path) -> Vec<Record> {
    let (wal, _, _) = reopen(FsStorage::new(dir).unwrap(), WalOptions::default(), Position::START).unwrap();
    let records: Vec<Record> = [vec![1u8; 100], vec![2; 50], vec![3; 70]]
        .into_iter()
        .map(|p| (wal.append(&p).unwrap(), p))
        .collect();
    wal.close().unwrap();
    records
}

fn append_bytes(path: &Path, bytes: &[u8]) {
    use std::io::Write as _;
    std::fs::OpenOptions::new().append(true).open(path).unwrap().write_all(bytes).unwrap();
}

#[test]
fn a_torn_tail_is_reported_and_left_then_cut_by_the_next_writable_open() {
    let dir = tempfile::tempdir().unwrap();
    let records = three_records(dir.path());
    // A crash while the next group was being written: part of a record header at the end.
    let segment = dir.path().join(segment_name(1));
    let len = std::fs::metadata(&segment).unwrap().len();
    append_bytes(&segment, &[0x55; 11]);
    let before = image(dir.path());

    let (replayed, report) = replay_read_only(dir.path(), WalOptions::default()).unwrap();
    assert_eq!(payloads(&replayed), payloads(&records));
    let torn = report.truncated.expect("the torn tail is reported");
    assert_eq!((torn.segment, torn.offset, torn.dropped_bytes), (1, len, 11));
    assert!(matches!(torn.reason, Corruption::TornRecordHeader { .. } | Corruption::TornRecord { .. }));
    assert_eq!(image(dir.path()), before, "a read-only replay changes no file");

    let (wal, again, report) =
        reopen(FsStorage::new(dir.path()).unwrap(), WalOptions::default(), Position::START).unwrap();
    assert_eq!(again, replayed);
    assert_eq!(report.truncated.map(|t| (t.segment, t.offset)), Some((1, len)));
    assert_eq!(std::fs::metadata(&segment).unwrap().len(), len, "the writable open cuts the tail");
    wal.close().unwrap();
}

#[test]
fn damage_is_refused_or_reported_and_nothing_changes() {
    let dir = tempfile::tempdir().unwrap();
    let records = three_records(dir.path());
    let segment = dir.path().join(segment_name(1));
    let mut bytes = std::fs::read(&segment).unwrap();
    // A byte in the second record's payload: the third record says it was synced.
    let at = records[0].0.offset as usize + 20;
    bytes[at] ^= 0x40;
    std::fs::write(&segment, &bytes).unwrap();
    let before = image(dir.path());

    let refused = replay_read_only(dir.path(), WalOptions::default()).unwrap_err();
    assert!(
        matches!(&refused, WalError::Corrupt { segment: s, offset, .. } if s == &segment && *offset == records[0].0.offset),
        "{refused}"
    );
    assert_eq!(image(dir.path()), before);

    let truncate = WalOptions { on_damage: OnDamage::Truncate, ..WalOptions::default() };
    let (replayed, report) = replay_read_only(dir.path(), truncate).unwrap();
    assert_eq!(payloads(&replayed), payloads(&records[..1]));
    let damage = report.damage.expect("the damage is reported");
    assert_eq!((damage.segment, damage.offset, damage.dropped_records), (1, records[0].0.offset, 1));
    assert_eq!(image(dir.path()), before, "reported, not cut");
}

#[test]
fn a_log_being_appended_to_reads_as_far_as_it_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let options = WalOptions { durability: Durability::Sync, ..WalOptions::default() };
    let (wal, _, _) = reopen(FsStorage::new(dir.path()).unwrap(), options.clone(), Position::START).unwrap();
    let first: Vec<Record> = (0..3u8).map(|i| (wal.append(&[i; 40]).unwrap(), vec![i; 40])).collect();

    let (replayed, report) = replay_read_only(dir.path(), options.clone()).unwrap();
    assert_eq!(replayed, first);
    assert_eq!((report.truncated, report.damage), (None, None));

    // The writer goes on, and a second reader sees the new record too.
    let fourth = wal.append(b"later").unwrap();
    let (replayed, _) = replay_read_only(dir.path(), options).unwrap();
    assert_eq!(replayed.last(), Some(&(fourth, b"later".to_vec())));
    wal.close().unwrap();
}

#[test]
fn a_missing_directory_reads_as_an_empty_log_and_is_not_created() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("wal");
    let (records, report) = replay_read_only(&dir, WalOptions::default()).unwrap();
    assert!(records.is_empty());
    assert_eq!(report.records, 0);
    assert!(!dir.exists());
}
