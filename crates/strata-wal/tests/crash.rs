//! Power loss, simulated: `SimStorage::crash` keeps only what was synced (and only files whose
//! creation was made durable). What each durability promises must hold across it.

mod common;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{Record, assert_increasing, owner, payload, reopen};
use strata_wal::{Durability, Position, SimStorage, WalOptions};

#[test]
fn sync_durability_keeps_every_acknowledged_record_across_power_loss() {
    let sim = SimStorage::new();
    sim.set_sync_latency(Duration::from_micros(50));
    let options = WalOptions { segment_size: 32 << 10, ..WalOptions::default() };
    let (wal, _, _) = reopen(sim.clone(), options.clone(), Position::START).unwrap();

    let acked = Mutex::new(Vec::<Record>::new());
    // The power fails while four writers are busy: taken by writer 0 half-way through.
    let at_crash = Mutex::new(None);
    std::thread::scope(|s| {
        for thread in 0..4 {
            let (wal, acked, at_crash, sim) = (&wal, &acked, &at_crash, &sim);
            s.spawn(move || {
                for i in 0..150 {
                    let p = payload(thread, i);
                    let position = wal.append(&p).unwrap();
                    acked.lock().unwrap().push((position, p));
                    if thread == 0 && i == 75 {
                        // What was acknowledged before the crash, then the crash.
                        let before = acked.lock().unwrap().clone();
                        *at_crash.lock().unwrap() = Some((before, sim.crash()));
                    }
                }
            });
        }
    });
    wal.close().unwrap();
    let (acked_before, crashed) = at_crash.into_inner().unwrap().unwrap();
    let all_acked: BTreeMap<Position, Vec<u8>> = acked.into_inner().unwrap().into_iter().collect();

    let (_, replayed, _) = reopen(crashed, options, Position::START).unwrap();
    assert_increasing(&replayed);
    let survived: BTreeMap<Position, Vec<u8>> = replayed.iter().cloned().collect();
    for (position, p) in &acked_before {
        assert!(
            survived.get(position) == Some(p),
            "acknowledged record at {position} lost or changed by the crash"
        );
    }
    // Nothing but whole records that were appended, at the positions they were given...
    for (position, p) in &survived {
        assert!(all_acked.get(position) == Some(p), "garbage at {position}");
    }
    // ...and of each writer a prefix of its records: no hole.
    let mut next = [0u32; 4];
    for (_, p) in &replayed {
        let (thread, i) = owner(p);
        assert_eq!(i, next[thread as usize], "hole in writer {thread}'s records");
        next[thread as usize] += 1;
    }
    assert!(replayed.len() >= acked_before.len());
}

#[test]
fn no_durability_leaves_a_prefix_after_power_loss() {
    let sim = SimStorage::new();
    // Small segments: each full one is synced, so much of the log survives, but not the tail.
    let options = WalOptions { durability: Durability::None, segment_size: 8 << 10, ..WalOptions::default() };
    let (wal, _, _) = reopen(sim.clone(), options.clone(), Position::START).unwrap();
    let appended: Vec<Record> = (0..300)
        .map(|i| {
            let p = payload(1, i);
            (wal.append(&p).unwrap(), p)
        })
        .collect();

    let crashed = sim.crash();
    let (_, replayed, report) = reopen(crashed, options.clone(), Position::START).unwrap();
    assert!(replayed[..] == appended[..replayed.len()], "not a prefix of what was appended");
    assert!(!replayed.is_empty(), "full segments are synced at rotation");
    assert!(
        replayed.len() < appended.len(),
        "nothing was synced since the last rotation, so the tail should be gone"
    );
    // The lost tail was never synced, so nothing torn was left to cut either.
    assert_eq!(report.truncated, None);

    // Wal::sync makes it all durable, whatever the durability.
    wal.sync().unwrap();
    let (_, replayed, _) = reopen(sim.crash(), options, Position::START).unwrap();
    assert!(replayed == appended);
    wal.close().unwrap();
}

#[test]
fn interval_durability_syncs_in_the_background() {
    let sim = SimStorage::new();
    let options =
        WalOptions { durability: Durability::Interval(Duration::from_millis(5)), ..WalOptions::default() };
    let (wal, _, _) = reopen(sim.clone(), options.clone(), Position::START).unwrap();
    let syncs_at_start = sim.stats().syncs;
    let appended: Vec<Record> = (0..20)
        .map(|i| {
            let p = payload(2, i);
            (wal.append(&p).unwrap(), p)
        })
        .collect();
    // No one asks for a sync; the log thread must do it on its own. Wait for it (a generous
    // bound, not a timing check: the interval is 5 ms).
    let give_up = Instant::now() + Duration::from_secs(10);
    while Instant::now() < give_up {
        let (_, replayed, _) = reopen(sim.crash(), options.clone(), Position::START).unwrap();
        if replayed.len() == appended.len() {
            assert!(replayed == appended);
            assert!(sim.stats().syncs > syncs_at_start);
            wal.close().unwrap();
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("the interval sync never made the records durable");
}
