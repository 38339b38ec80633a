//! Failed writes and syncs poison the log: the writers of the failed group and every later
//! append get an error, and a reopen finds everything that was acknowledged.

mod common;

use common::{Record, payload, payloads, reopen};
use strata_wal::{MAX_RECORD_SIZE, Position, SimOp, SimStorage, WalError, WalOptions};

/// A log with ten acknowledged records.
fn ten_records(options: &WalOptions) -> (SimStorage, strata_wal::Wal, Vec<Record>) {
    let sim = SimStorage::new();
    let (wal, _, _) = reopen(sim.clone(), options.clone(), Position::START).unwrap();
    let acked = (0..10)
        .map(|i| {
            let p = payload(0, i);
            (wal.append(&p).unwrap(), p)
        })
        .collect();
    (sim, wal, acked)
}

fn assert_poisoned(result: Result<impl std::fmt::Debug, WalError>, cause: &str) {
    match result {
        Err(WalError::Poisoned { cause: text }) => {
            assert!(text.contains(cause), "cause {text:?} does not mention {cause:?}");
        }
        other => panic!("expected Poisoned, got {other:?}"),
    }
}

#[test]
fn a_failed_sync_poisons_and_loses_nothing_acknowledged() {
    let options = WalOptions::default();
    let (sim, wal, acked) = ten_records(&options);
    sim.fail_nth(SimOp::Sync, 1);

    assert_poisoned(wal.append(b"unlucky"), "injected fault: Sync failed");
    // The disk works again, but the log cannot know what the failed sync lost: it refuses.
    assert_poisoned(wal.append(b"later"), "injected fault: Sync failed");
    assert_poisoned(wal.sync(), "syncing");
    let close = wal.close();
    assert!(matches!(close, Err(WalError::Poisoned { .. })), "{close:?}");

    // Power loss: the unsynced record is gone, the acknowledged ones are all there.
    let (_, replayed, _) = reopen(sim.crash(), options.clone(), Position::START).unwrap();
    assert!(replayed == acked);

    // Without a power loss the failed record may come back: it was written, only not synced.
    let (wal, replayed, _) = reopen(sim.clone(), options.clone(), Position::START).unwrap();
    assert!(replayed[..10] == acked[..]);
    assert!(payloads(&replayed[10..]) == [b"unlucky".to_vec()]);
    // And the reopened log accepts writes again.
    wal.append(b"after reopen").unwrap();
    wal.close().unwrap();
}

#[test]
fn a_failed_write_poisons_and_its_torn_record_is_cut_at_reopen() {
    let options = WalOptions::default();
    let (sim, wal, acked) = ten_records(&options);
    sim.fail_nth(SimOp::Append, 1);
    // The failing write leaves half its bytes behind, as a short write on a full disk does.
    assert_poisoned(wal.append(&[1; 1000]), "appending to");
    assert_poisoned(wal.append(b"later"), "injected fault: Append failed");
    drop(wal);

    let (wal, replayed, report) = reopen(sim, options, Position::START).unwrap();
    assert!(replayed == acked);
    let t = report.truncated.expect("the half-written record must be cut");
    assert_eq!((t.segment, t.offset, t.dropped_bytes), (1, acked[9].0.offset, 508));
    wal.close().unwrap();
}

#[test]
fn a_failure_while_starting_a_segment_poisons() {
    let options = WalOptions { segment_size: 4096, ..WalOptions::default() };
    let (sim, wal, mut acked) = ten_records(&options);
    sim.fail_nth(SimOp::Create, 1);
    let err = loop {
        let p = payload(1, acked.len() as u32);
        match wal.append(&p) {
            Ok(position) => acked.push((position, p)),
            Err(e) => break e,
        }
    };
    assert_poisoned(Err::<(), _>(err), "creating");
    drop(wal);
    let (_, replayed, _) = reopen(sim.crash(), options, Position::START).unwrap();
    // The full segment was synced before the next was started, so all of it survives.
    assert!(replayed == acked, "a record acknowledged before the failure was lost");
}

#[test]
fn a_failed_repair_fails_the_open() {
    let (sim, wal, _) = ten_records(&WalOptions::default());
    wal.close().unwrap();
    let mut segment = sim.file(&common::segment_name(1)).unwrap();
    segment.truncate(segment.len() - 1);
    sim.write_file(&common::segment_name(1), &segment);
    sim.fail_nth(SimOp::Truncate, 1);
    let err = reopen(sim.clone(), WalOptions::default(), Position::START).unwrap_err();
    assert!(matches!(err, WalError::Io { op: "truncating", .. }), "{err}");
    // Nothing was started: a second try repairs the log.
    let (_, replayed, report) = reopen(sim, WalOptions::default(), Position::START).unwrap();
    assert_eq!(replayed.len(), 9);
    assert!(report.truncated.is_some());
}

#[test]
fn an_oversized_append_is_refused_without_poisoning() {
    let (_sim, wal, _) = ten_records(&WalOptions::default());
    let too_big = vec![0u8; MAX_RECORD_SIZE + 1];
    let err = wal.append(&too_big).unwrap_err();
    assert!(
        matches!(err, WalError::RecordTooLarge { size, max } if size == MAX_RECORD_SIZE + 1 && max == MAX_RECORD_SIZE),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&MAX_RECORD_SIZE.to_string()) && text.contains(&(MAX_RECORD_SIZE + 1).to_string()),
        "{text}"
    );
    wal.append(b"fine").unwrap();
    wal.close().unwrap();
}
