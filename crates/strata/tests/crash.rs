//! Crash test: a child process writes with `Durability::Sync` and is killed with SIGKILL at
//! random moments, many times over. After each kill the reopened engine must hold every point
//! of every acknowledged write with its exact value, and nothing that was never written.
//!
//! The child is this test binary run again with `STRATA_CRASH_CHILD` set (see `child`). It
//! prints the number of each batch once `write_lp` has returned for it.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use strata::{Config, Engine, Selector, WriteOptions};

const HOSTS: u64 = 10;
/// 2025-11-22T00:00:00Z in seconds; batch `b` writes time BASE + b.
const BASE: u64 = 1_763_769_600;

fn config(dir: &Path) -> Config {
    Config::from_toml(&format!(
        "data_dir = {dir:?}\n[hot]\nretention = \"3650d\"\nchunk_duration = \"1h\"\n[wal]\nsegment_size = \"256KiB\"\n{TIERS}"
    ))
    .unwrap()
}

/// The data is older than the default retentions; keep it hot, and no compaction on its own.
const TIERS: &str = "[warm]\nresolution = \"1m\"\nretention = \"3650d\"\n[cold]\nresolution = \"1h\"\nretention = \"3650d\"\n[compactor]\ninterval = \"1000d\"\n";

fn value(batch: u64, host: u64) -> f64 {
    // Few decimals and a sign, as metrics have; distinct for every point.
    (batch as f64 * 100.0 + host as f64) / 8.0 - 1000.0
}

fn body(batch: u64) -> String {
    (0..HOSTS).map(|h| format!("crash,hostname=h{h} value={} {}\n", value(batch, h), BASE + batch)).collect()
}

/// The child's work, when this binary runs as the child.
fn child(dir: &Path, start: u64) -> ! {
    let engine = Engine::open(config(dir)).expect("the child opens the engine");
    let mut out = std::io::stdout().lock();
    for batch in start.. {
        let options = WriteOptions { precision: strata::Precision::Seconds, ..WriteOptions::default() };
        let report = engine.write_lp(body(batch).as_bytes(), &options).expect("write");
        assert_eq!(report.accepted, HOSTS, "{:?}", report.rejections);
        writeln!(out, "{batch}").and_then(|()| out.flush()).expect("stdout");
        if batch % 29 == 0 {
            engine.checkpoint().expect("checkpoint");
        }
    }
    unreachable!()
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    if let Ok(dir) = std::env::var("STRATA_CRASH_CHILD") {
        let start = std::env::var("STRATA_CRASH_START").unwrap().parse().unwrap();
        child(Path::new(&dir), start);
    }
    let dir = tempfile::tempdir().unwrap();
    let mut next = 0u64;
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut kills_after_acks = 0;
    for round in 0..12 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "acknowledged_writes_survive_sigkill", "--nocapture", "--test-threads=1"])
            .env("STRATA_CRASH_CHILD", dir.path())
            .env("STRATA_CRASH_START", next.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .filter_map(|l| l.trim().parse::<u64>().ok())
                .collect::<Vec<_>>()
        });
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        // Kill between 20 ms and 400 ms after start: sometimes while opening, mostly mid-write.
        let wait = Duration::from_millis(20 + seed % 380);
        let started = Instant::now();
        while started.elapsed() < wait {
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let acked = reader.join().unwrap();
        if !acked.is_empty() {
            kills_after_acks += 1;
        }

        let engine = Engine::open(config(dir.path())).unwrap();
        let series = engine.read(&Selector::metric("crash"), 0, i64::MAX).unwrap();
        // Batches present, each with exactly its HOSTS points and their exact values.
        let mut present = std::collections::BTreeMap::<u64, u64>::new();
        for s in &series {
            let host: u64 = s.key.tag("hostname").unwrap().trim_start_matches('h').parse().unwrap();
            for (&t, &v) in s.times.iter().zip(&s.values) {
                let batch = (t / 1_000_000_000) as u64 - BASE;
                assert_eq!(
                    v.to_bits(),
                    value(batch, host).to_bits(),
                    "round {round}: batch {batch} host {host}"
                );
                *present.entry(batch).or_default() += 1;
            }
        }
        for (&batch, &points) in &present {
            assert_eq!(
                points, HOSTS,
                "round {round}: batch {batch} is partly there: a record is all or nothing"
            );
        }
        for batch in &acked {
            assert!(present.contains_key(batch), "round {round}: acknowledged batch {batch} is lost");
        }
        // Nothing beyond what the child was writing: at most the one batch in flight.
        let attempted = acked.last().map_or(next, |&b| b + 1);
        let highest = present.keys().next_back().copied();
        assert!(highest.is_none_or(|h| h <= attempted), "round {round}: batch {highest:?} was never written");
        assert_eq!(
            present.len() as u64,
            highest.map_or(0, |h| h + 1),
            "round {round}: a hole in the batches"
        );
        next = highest.map_or(0, |h| h + 1);
        drop(engine); // no clean close: the next child recovers from the WAL as it stands
    }
    eprintln!(
        "crash test: 12 SIGKILLs, {kills_after_acks} after acknowledged writes, {next} batches survived"
    );
    assert!(
        next > 0 && kills_after_acks >= 6,
        "the child wrote too little for the test to mean anything ({next} batches)"
    );
}
