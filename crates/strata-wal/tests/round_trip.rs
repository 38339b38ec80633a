//! Many writers, one log: what is appended comes back, in order, at the positions returned,
//! and concurrent appends share syncs.

mod common;

use std::sync::Mutex;
use std::time::Duration;

use common::{Record, assert_increasing, payload, reopen};
use strata_wal::{Durability, FsStorage, Position, SimStorage, Wal, WalOptions};

#[test]
fn wal_is_send_and_sync() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Wal>();
}

#[test]
fn concurrent_appends_replay_exactly_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    // Small segments, so the run also crosses segment boundaries.
    let options = WalOptions { segment_size: 64 << 10, ..WalOptions::default() };
    let storage = || FsStorage::new(dir.path()).unwrap();
    let (wal, first, report) = reopen(storage(), options.clone(), Position::START).unwrap();
    assert!(first.is_empty());
    assert_eq!(report.truncated, None);

    let appended = Mutex::new(Vec::<Record>::new());
    std::thread::scope(|s| {
        for thread in 0..4 {
            let (wal, appended) = (&wal, &appended);
            s.spawn(move || {
                let mut mine = Vec::new();
                for i in 0..100 {
                    let payload = payload(thread, i);
                    let position = wal.append(&payload).unwrap();
                    mine.push((position, payload));
                }
                // One writer's records are acknowledged in the order it appended them.
                assert_increasing(&mine);
                appended.lock().unwrap().extend(mine);
            });
        }
    });
    let empty = wal.append(b"").unwrap();
    wal.close().unwrap();

    let mut expected = appended.into_inner().unwrap();
    expected.push((empty, Vec::new()));
    expected.sort();
    let (wal, replayed, report) = reopen(storage(), options, Position::START).unwrap();
    assert_increasing(&replayed);
    assert_eq!(replayed.len(), expected.len());
    assert!(replayed == expected, "replay differs from what was appended");
    assert_eq!(report.records, 401);
    assert_eq!(report.bytes, expected.iter().map(|(_, p)| p.len() as u64).sum::<u64>());
    let segments = std::fs::read_dir(dir.path()).unwrap().count();
    assert!(segments > 3, "expected rotation, found {segments} files");
    wal.close().unwrap();
}

#[test]
fn group_commit_shares_syncs() {
    const THREADS: u32 = 8;
    const PER_THREAD: u32 = 200;
    let sim = SimStorage::new();
    // A sync that takes as long as a fast disk's, so writers queue up behind it.
    sim.set_sync_latency(Duration::from_micros(200));
    let (wal, _) = Wal::open(sim.clone(), WalOptions::default(), Position::START).unwrap().finish().unwrap();
    let before = sim.stats();
    let positions = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for thread in 0..THREADS {
            let (wal, positions) = (&wal, &positions);
            s.spawn(move || {
                for i in 0..PER_THREAD {
                    let position = wal.append(&payload(thread, i)).unwrap();
                    positions.lock().unwrap().push(position);
                }
            });
        }
    });
    let after = sim.stats();
    wal.close().unwrap();

    let appends = u64::from(THREADS * PER_THREAD);
    let syncs = after.syncs - before.syncs;
    let writes = after.appends - before.appends;
    eprintln!("{appends} appends: {writes} write calls, {syncs} syncs");
    // With Durability::Sync every group is synced once; fewer than one sync per two appends
    // means groups held several records on average.
    assert!(syncs * 2 < appends, "{syncs} syncs for {appends} appends");
    assert!(writes * 2 < appends, "{writes} writes for {appends} appends");
    let mut positions = positions.into_inner().unwrap();
    positions.sort();
    positions.dedup();
    assert_eq!(positions.len() as u64, appends, "two appends got one position");

    let (_, replayed, _) = reopen(sim, WalOptions::default(), Position::START).unwrap();
    assert_eq!(replayed.len() as u64, appends);
}

#[test]
fn every_durability_round_trips_through_a_clean_close() {
    for durability in [Durability::Sync, Durability::Interval(Duration::from_millis(5)), Durability::None] {
        let sim = SimStorage::new();
        let options = WalOptions { durability, ..WalOptions::default() };
        let (wal, _, _) = reopen(sim.clone(), options.clone(), Position::START).unwrap();
        let appended: Vec<Record> = (0..50)
            .map(|i| {
                let p = payload(0, i);
                (wal.append(&p).unwrap(), p)
            })
            .collect();
        wal.close().unwrap();
        // A clean close syncs: even a power loss right after it loses nothing.
        let (_, replayed, _) = reopen(sim.crash(), options, Position::START).unwrap();
        assert!(replayed == appended, "{durability:?}");
    }
}

#[test]
fn sequence_numbers_follow_log_order() {
    let storage = strata_wal::SimStorage::new();
    let (wal, _) = Wal::open(storage, WalOptions::default(), Position::START).unwrap().finish().unwrap();
    let wal = std::sync::Arc::new(wal);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let wal = wal.clone();
            std::thread::spawn(move || {
                (0..50).map(|i| wal.append_sequenced(&[t, i]).unwrap()).collect::<Vec<_>>()
            })
        })
        .collect();
    let mut all: Vec<(Position, u64)> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    all.sort();
    let sequences: Vec<u64> = all.iter().map(|&(_, s)| s).collect();
    assert_eq!(sequences, (0..200).collect::<Vec<u64>>(), "sorted by position, sequences are 0..n in order");
}
