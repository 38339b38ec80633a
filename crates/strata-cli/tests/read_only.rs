//! `strata query` and `strata inspect` open the data directory read-only: beside a live engine
//! that holds its lock, and on a directory that is not writable, they answer and change no
//! byte, size or modification time of anything in it; a torn WAL tail is reported and left
//! for the next writing command (`strata write`) to cut.

mod common;

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hasher};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use common::{stdout, strata, tiered};

/// Every entry under `dir`, directories too: kind, size, modification time, hash of the bytes.
fn image(dir: &Path) -> BTreeMap<PathBuf, (bool, u64, SystemTime, u64)> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<PathBuf, (bool, u64, SystemTime, u64)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let mut hash = DefaultHasher::new();
            if meta.is_file() {
                hash.write(&std::fs::read(&path).unwrap());
            }
            let relative = path.strip_prefix(root).unwrap().to_owned();
            out.insert(relative, (meta.is_dir(), meta.len(), meta.modified().unwrap(), hash.finish()));
            if meta.is_dir() {
                walk(&path, root, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    let meta = std::fs::metadata(dir).unwrap();
    out.insert(PathBuf::new(), (true, meta.len(), meta.modified().unwrap(), 0));
    walk(dir, dir, &mut out);
    out
}

/// The reading commands this file runs, with what they print; `run` runs one (`strata` and
/// its arguments after the command's name) and returns its standard output.
fn reads_with(data: &common::Tiered, run: &dyn Fn(&str, &[&str]) -> String) -> Vec<String> {
    let (from, to) = ((data.start - 86_400).to_string(), (data.start + 86_400).to_string());
    let range = ["--metric", "cpu_load", "--from", &from, "--to", &to, "--format", "json"];
    let with = |extra: &[&str]| -> Vec<String> { range.iter().chain(extra).map(|s| s.to_string()).collect() };
    let runs: [Vec<String>; 4] = [
        with(&["--tier", "warm"]),
        with(&["--tier", "cold"]),
        with(&["--tier", "hot"]),
        with(&["--resolution", "1h", "--agg", "count,sum", "--aggregate"]),
    ];
    let mut out: Vec<String> =
        runs.iter().map(|args| run("query", &args.iter().map(String::as_str).collect::<Vec<_>>())).collect();
    out.push(run("inspect", &["--format", "json"]));
    out
}

fn reads(data: &common::Tiered) -> Vec<String> {
    reads_with(data, &|command, args| data.run(command, args))
}

fn newest_segment(data_dir: &Path) -> PathBuf {
    let mut segments: Vec<PathBuf> =
        std::fs::read_dir(data_dir.join("wal")).unwrap().map(|e| e.unwrap().path()).collect();
    segments.sort();
    segments.pop().unwrap()
}

#[test]
fn query_and_inspect_beside_a_live_engine_change_nothing_and_leave_a_torn_tail_to_write() {
    let data = tiered();
    let data_dir = Path::new(&data.data_dir);
    let before_live = reads(&data);

    // A live engine holds the directory, with points that only its WAL and memory hold.
    let mut config = strata::Config::from_file(Path::new(&data.config)).unwrap();
    config.data_dir = data_dir.to_owned();
    let live = strata::Engine::open(config).unwrap();
    let t = common::now() - 300;
    let options = strata::WriteOptions::cc_metric_store("fritz");
    let line = format!("cpu_load,hostname=f0109,type=node value=7.5 {t}");
    assert_eq!(live.write_lp(line.as_bytes(), &options).unwrap().accepted, 1);
    let refused = strata(&["write", "--data-dir", &data.data_dir, "--config", &data.config], "m v=1\n");
    assert_eq!(refused.status.code(), Some(2), "the live engine holds the lock");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("in use by another engine"));

    let before = image(data_dir);
    let beside = reads(&data);
    assert_eq!(image(data_dir), before, "query and inspect changed nothing");
    assert_eq!(beside[..2], before_live[..2], "warm and cold as before");
    assert!(
        beside[2].contains("f0109") && !before_live[2].contains("f0109"),
        "hot has the live engine's new point"
    );
    assert_ne!(beside[3], before_live[3], "the planned query counts it");

    // The live engine dies mid-write: a torn record after its last one.
    drop(live);
    let segment = newest_segment(data_dir);
    let len = std::fs::metadata(&segment).unwrap().len();
    let seq: u64 = segment.file_stem().unwrap().to_str().unwrap().parse().unwrap();
    {
        use std::io::Write as _;
        std::fs::OpenOptions::new().append(true).open(&segment).unwrap().write_all(&[0x33; 9]).unwrap();
    }
    let before = image(data_dir);
    let (from, to) = ((t - 60).to_string(), (t + 60).to_string());
    let query = ["query", "--data-dir", &data.data_dir, "--config", &data.config, "--metric", "cpu_load"];
    let query: Vec<&str> =
        query.iter().copied().chain(["--from", &from, "--to", &to, "--host", "f0109"]).collect();
    let read = strata(&query, "");
    assert_eq!(read.status.code(), Some(0));
    assert!(stdout(&read).contains("7.5"), "{}", stdout(&read));
    let note = String::from_utf8_lossy(&read.stderr);
    assert!(note.contains("torn tail") && note.contains("left in place"), "{note}");
    assert_eq!(image(data_dir), before, "the read-only query left the torn tail");
    assert_eq!(std::fs::metadata(&segment).unwrap().len(), len + 9);

    let write = strata(&["write", "--data-dir", &data.data_dir, "--config", &data.config], "");
    assert_eq!(write.status.code(), Some(0), "{}", String::from_utf8_lossy(&write.stderr));
    // (Its closing checkpoint then lets the cut segment go.)
    let cut = String::from_utf8_lossy(&write.stderr);
    assert!(
        cut.contains(&format!("cut a torn WAL tail left by a crash: 9 bytes at segment {seq} offset {len}")),
        "{cut}"
    );
}

/// Sets every entry under `dir` (and `dir`) to `mode` for directories, `mode & 0o666` for
/// files.
#[cfg(unix)]
fn chmod_all(dir: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            chmod_all(&path, mode);
        } else {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o666)).unwrap();
        }
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `program` (default: `strata`) run as user `nobody` (65534) through `setpriv`; `None`
/// where there is no `setpriv`.
#[cfg(unix)]
fn run_as_nobody(program: &str, args: &[&str]) -> Option<std::process::Output> {
    std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", program])
        .args(args)
        .output()
        .ok()
}

#[cfg(unix)]
fn as_nobody(args: &[&str]) -> Option<std::process::Output> {
    run_as_nobody(env!("CARGO_BIN_EXE_strata"), args)
}

#[cfg(unix)]
#[test]
fn query_and_inspect_read_a_directory_nobody_may_write() {
    let data = tiered();
    let data_dir = Path::new(&data.data_dir);
    let writable = reads(&data);
    chmod_all(data_dir, 0o555);
    // Root writes anyway: there, the commands run as `nobody` when `setpriv` allows, else
    // only what the test can see (nothing changed) is checked.
    let probe = data_dir.join("probe");
    let root = std::fs::write(&probe, b"").is_ok();
    let _ = std::fs::remove_file(&probe);
    let nobody = root && {
        // `nobody` must reach the binary, the directory and the config (the temporary
        // directory holding them is the test's own, mode 0700).
        use std::os::unix::fs::PermissionsExt as _;
        let parent = data_dir.parent().unwrap();
        std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o755)).unwrap();
        let ok = |o: Option<std::process::Output>| o.is_some_and(|o| o.status.success());
        ok(as_nobody(&["--version"]))
            && ok(run_as_nobody("cat", &[&data.config]))
            && ok(run_as_nobody("ls", &[&format!("{}/wal", data.data_dir)]))
    };
    let before = image(data_dir);
    let read_only = if nobody {
        let denied = as_nobody(&["write", "--data-dir", &data.data_dir, "--config", &data.config]).unwrap();
        assert_eq!(denied.status.code(), Some(2), "nobody cannot write here");
        reads_with(&data, &|command, args| {
            let mut all = vec![command, "--data-dir", &data.data_dir, "--config", &data.config];
            all.extend_from_slice(args);
            let output = as_nobody(&all).unwrap();
            let err = String::from_utf8_lossy(&output.stderr);
            assert!(output.status.success(), "strata {all:?} as nobody: {err}");
            stdout(&output)
        })
    } else {
        if root {
            eprintln!(
                "note: root without setpriv: the modes are not enforced; checking only that nothing changed"
            );
        }
        reads(&data)
    };
    assert_eq!(image(data_dir), before);
    assert_eq!(read_only, writable);
    chmod_all(data_dir, 0o755);
}
