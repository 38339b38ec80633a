//! What each storage promises about names: `rename` replaces atomically, and on `SimStorage`
//! only a directory sync makes creations and renames survive a power loss.

use strata_wal::{FsStorage, SimOp, SimStorage, Storage};

/// Creates `name` holding `data`, synced, but does not sync the directory.
fn put(storage: &dyn Storage, name: &str, data: &[u8]) {
    let mut file = storage.create(name).unwrap();
    file.append(&[data]).unwrap();
    file.sync_data().unwrap();
}

fn contents(storage: &SimStorage) -> Vec<(String, Vec<u8>)> {
    storage.names().into_iter().map(|n| (n.clone(), storage.file(&n).unwrap())).collect()
}

fn entry(name: &str, data: &[u8]) -> (String, Vec<u8>) {
    (name.to_owned(), data.to_vec())
}

#[test]
fn an_unsynced_rename_is_undone_by_a_crash() {
    let sim = SimStorage::new();
    put(&sim, "a", b"new");
    sim.sync_dir().unwrap();
    sim.rename("a", "b").unwrap();
    assert_eq!(contents(&sim), [entry("b", b"new")]);
    assert_eq!(contents(&sim.crash()), [entry("a", b"new")], "the file is back under its old name");
    sim.sync_dir().unwrap();
    assert_eq!(contents(&sim.crash()), [entry("b", b"new")]);
    assert_eq!(sim.stats().renames, 1);
}

#[test]
fn an_unsynced_replacement_brings_the_replaced_file_back() {
    let sim = SimStorage::new();
    put(&sim, "ckpt", b"old");
    put(&sim, "ckpt.tmp", b"new");
    sim.sync_dir().unwrap();
    sim.rename("ckpt.tmp", "ckpt").unwrap();
    assert_eq!(contents(&sim), [entry("ckpt", b"new")]);
    assert_eq!(contents(&sim.crash()), [entry("ckpt", b"old"), entry("ckpt.tmp", b"new")]);
    sim.sync_dir().unwrap();
    assert_eq!(contents(&sim.crash()), [entry("ckpt", b"new")]);
}

#[test]
fn a_file_created_and_renamed_without_a_directory_sync_vanishes() {
    let sim = SimStorage::new();
    put(&sim, "old", b"old");
    sim.sync_dir().unwrap();
    put(&sim, "tmp", b"new");
    sim.rename("tmp", "old").unwrap();
    // The name was durable with the old file; the new file's creation never was.
    assert_eq!(contents(&sim.crash()), [entry("old", b"old")]);
    put(&sim, "tmp2", b"newer");
    sim.rename("tmp2", "fresh").unwrap();
    assert_eq!(contents(&sim.crash()), [entry("old", b"old")]);
}

#[test]
fn an_open_file_follows_its_rename_and_only_synced_bytes_survive() {
    let sim = SimStorage::new();
    let mut file = sim.create("tmp").unwrap();
    file.append(&[b"synced"]).unwrap();
    sim.rename("tmp", "final").unwrap();
    file.sync_data().unwrap();
    file.append(&[b" lost"]).unwrap();
    sim.sync_dir().unwrap();
    assert_eq!(sim.file("final").unwrap(), b"synced lost");
    assert_eq!(contents(&sim.crash()), [entry("final", b"synced")]);
}

#[test]
fn a_removal_is_durable_at_once() {
    let sim = SimStorage::new();
    put(&sim, "a", b"1");
    put(&sim, "b", b"2");
    sim.sync_dir().unwrap();
    sim.remove("a").unwrap();
    assert_eq!(contents(&sim.crash()), [entry("b", b"2")]);
    // Removing the target of an unsynced rename: the renamed file's old name was durable.
    put(&sim, "c", b"3");
    sim.sync_dir().unwrap();
    sim.rename("c", "b").unwrap();
    sim.remove("b").unwrap();
    assert!(sim.names().is_empty());
    assert_eq!(contents(&sim.crash()), [entry("c", b"3")]);
}

#[test]
fn failed_renames_and_removals_change_nothing() {
    let sim = SimStorage::new();
    put(&sim, "a", b"1");
    put(&sim, "b", b"2");
    sim.sync_dir().unwrap();
    sim.fail_nth(SimOp::Rename, 2);
    sim.rename("a", "c").unwrap();
    assert!(sim.rename("c", "b").is_err());
    sim.fail_nth(SimOp::Remove, 1);
    assert!(sim.remove("b").is_err());
    assert_eq!(contents(&sim), [entry("b", b"2"), entry("c", b"1")]);
    assert_eq!(sim.stats().renames, 1);
    let missing = sim.rename("nothing", "x").unwrap_err();
    assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
    assert_eq!(sim.remove("nothing").unwrap_err().kind(), std::io::ErrorKind::NotFound);
}

#[test]
fn fs_rename_replaces_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FsStorage::new(dir.path().join("new/checkpoints")).unwrap();
    put(&fs, "ckpt", b"old");
    put(&fs, "ckpt.tmp", b"new");
    fs.rename("ckpt.tmp", "ckpt").unwrap();
    fs.sync_dir().unwrap();
    assert_eq!(fs.list().unwrap(), ["ckpt"]);
    assert_eq!(fs.read("ckpt").unwrap(), b"new");
    assert_eq!(fs.rename("gone", "x").unwrap_err().kind(), std::io::ErrorKind::NotFound);
}
