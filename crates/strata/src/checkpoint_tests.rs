//! Tests of `checkpoint.rs`.

use strata_wal::{FsStorage, SimOp, SimStorage};

use super::*;

/// [`load_newest`], the series table gathered back into the snapshot.
fn load(storage: &dyn Storage) -> Result<Option<(PathBuf, Snapshot)>, Error> {
    let mut keys = Vec::new();
    let loaded = load_newest(storage, Access::ReadWrite, &mut |id, key| {
        keys.push((id, key.clone()));
        Ok(())
    })?;
    Ok(loaded.map(|(path, mut snapshot)| {
        snapshot.series = SeriesTable::from_keys(&keys);
        (path, snapshot)
    }))
}

fn snapshot(segment: u64, value: f64) -> Snapshot {
    let key =
        crate::series::SeriesKey::from_parts("m", "value", [("hostname", "a")].into_iter(), None).unwrap();
    let mut bytes = Vec::new();
    crate::hot::encode(&[1, 2, 3], &[0.5, value, -0.0], &mut bytes);
    let chunk = Chunk { window: 0, body: Body::Sealed(Sealed { bytes: bytes.into(), points: 3 }) };
    Snapshot {
        position: Position { segment, offset: 99 },
        series: SeriesTable::from_keys(&[(0, key)]),
        chunks: vec![(0, vec![chunk])],
        evicted_until: -5,
        late: vec![(0, -7, 2.5)],
        pending: Some(Pending { flush: 4, late: vec![(0, -9, 1.25), (0, -8, 0.5)] }),
        streams: [("nats:a".to_owned(), 7), ("nats:b".to_owned(), u64::MAX)].into_iter().collect(),
    }
}

#[test]
fn round_trip_and_damage() {
    let dir = tempfile::tempdir().unwrap();
    let storage = FsStorage::new(dir.path()).unwrap();
    let snapshot = snapshot(3, 1.5);
    let path = write(&storage, &snapshot).unwrap();
    let (loaded_path, loaded) = load(&storage).unwrap().unwrap();
    assert_eq!(loaded_path, path);
    assert_eq!(loaded.position, snapshot.position);
    assert_eq!(loaded.series, snapshot.series);
    assert_eq!((loaded.evicted_until, &loaded.late), (-5, &snapshot.late));
    assert_eq!(loaded.pending, snapshot.pending);
    assert_eq!(loaded.streams, snapshot.streams);
    let file = std::fs::read(&path).unwrap();
    for cut in 0..file.len() {
        assert!(decode(&file[..cut]).is_err(), "cut at {cut}");
    }
    let mut flipped = file.clone();
    flipped[40] ^= 1;
    assert_eq!(decode(&flipped).unwrap_err(), DecodeError::Damaged(Malformed("checksum mismatch".into())));
    std::fs::write(&path, &flipped).unwrap();
    let err = load(&storage).unwrap_err();
    assert!(matches!(&err, Error::Corrupt { path: p, .. } if *p == path), "{err}");
}

/// Every operation a checkpoint write makes, to fail one at a time.
const OPS: [SimOp; 6] =
    [SimOp::Remove, SimOp::Create, SimOp::Append, SimOp::Sync, SimOp::Rename, SimOp::SyncDir];

/// A storage holding a durable checkpoint at segment 5 (written after one at segment 1)
/// and a durable leftover `.tmp` of an earlier interrupted write.
fn with_old_checkpoint() -> SimStorage {
    let sim = SimStorage::new();
    write(&sim, &snapshot(1, 1.0)).unwrap();
    write(&sim, &snapshot(5, 5.0)).unwrap();
    sim.write_file(&format!("{}{TMP}", name(Position { segment: 3, offset: 0 })), b"torn");
    sim
}

#[test]
fn a_power_loss_at_any_step_leaves_the_old_or_the_new_checkpoint() {
    let (old, new) = (snapshot(5, 5.0).position, snapshot(9, 9.0).position);
    let mut crashes = 0;
    for op in OPS {
        for nth in 1.. {
            let sim = with_old_checkpoint();
            let dir_syncs = sim.stats().dir_syncs;
            sim.fail_nth(op, nth);
            // The failed operation is the first that did not happen: the crash image is
            // the disk as a power loss just before it leaves it.
            let outcome = write(&sim, &snapshot(9, 9.0));
            let crashed = sim.crash();
            let loaded = load(&crashed)
                .unwrap_or_else(|e| panic!("{op:?} #{nth} failed, then the crash: {e}"))
                .unwrap_or_else(|| panic!("{op:?} #{nth} failed, then the crash: no checkpoint"));
            // The new checkpoint counts from the directory sync after its rename on.
            let want = if sim.stats().dir_syncs > dir_syncs { new } else { old };
            assert_eq!(loaded.1.position, want, "{op:?} #{nth} failed, then the crash");
            assert_eq!(loaded.1.late, snapshot(0, 0.0).late);
            assert!(crashed.names().iter().all(|n| !n.ends_with(TMP)), "open removes leftovers");
            crashes += 1;
            if outcome.is_ok() {
                // The fault never fired: this was the power loss after the whole write.
                assert_eq!(want, new);
                assert_eq!(sim.names(), [name(new)], "older checkpoints and leftovers removed");
                break;
            }
        }
    }
    assert!(crashes > OPS.len(), "every operation failed at least once");
}

#[test]
fn a_failed_write_leaves_the_old_checkpoint_and_does_not_block_the_next() {
    for op in OPS {
        let sim = with_old_checkpoint();
        sim.fail_nth(op, 1);
        let err = write(&sim, &snapshot(9, 9.0)).unwrap_err();
        assert!(err.to_string().contains("sim/"), "the error names the file: {err}");
        let crashed = sim.crash();
        assert_eq!(load(&crashed).unwrap().unwrap().1.position, snapshot(5, 5.0).position);
        write(&sim, &snapshot(9, 9.0)).unwrap();
        assert_eq!(load(&sim).unwrap().unwrap().1.position, snapshot(9, 9.0).position);
    }
}
