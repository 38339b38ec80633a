//! What the CLI's test binaries share: running `strata`, and a data directory whose warm and
//! cold tiers hold partial rows.
#![allow(dead_code, reason = "each test binary uses a part of this module")]

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Output, Stdio};

pub(crate) fn strata(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command may stop reading early (a line past its limit): the rest of the input is moot.
    if let Err(e) = child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    child.wait_with_output().unwrap()
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// Runs `strata`, asserts exit status 0, returns standard output.
pub(crate) fn run_ok(args: &[&str], stdin: &str) -> String {
    let output = strata(args, stdin);
    assert!(
        output.status.success(),
        "strata {args:?}: {:?}\n{}{}",
        output.status,
        stdout(&output),
        String::from_utf8_lossy(&output.stderr)
    );
    stdout(&output)
}

/// Small retentions, and no background pass: only `strata compact` compacts.
pub(crate) const CONFIG: &str = r#"
[hot]
retention = "2h"
chunk_duration = "30m"
[warm]
resolution = "1m"
retention = "1d"
[cold]
resolution = "1h"
retention = "3d"
[compactor]
interval = "1000d"
"#;

pub(crate) const HOSTS: [&str; 3] = ["f0101", "f0102", "f0103"];

/// A data directory after two writes and two compactions (see [`tiered`]).
pub(crate) struct Tiered {
    _dir: tempfile::TempDir,
    pub(crate) data_dir: String,
    pub(crate) config: String,
    /// Every point written: host, Unix seconds, value.
    pub(crate) points: Vec<(&'static str, i64, f64)>,
    /// The first point's time: an hour boundary.
    pub(crate) start: i64,
    /// What the two `strata compact` runs printed.
    pub(crate) reports: [String; 2],
}

impl Tiered {
    /// `strata <command> --data-dir .. --config .. <args>`.
    pub(crate) fn run(&self, command: &str, args: &[&str]) -> String {
        let mut all = vec![command, "--data-dir", &self.data_dir, "--config", &self.config];
        all.extend_from_slice(args);
        run_ok(&all, "")
    }

    /// `strata query --tier <tier> --format json` over every point, parsed.
    pub(crate) fn query_json(&self, tier: &str, extra: &[&str]) -> Vec<serde_json::Value> {
        let (from, to) = ((self.start - 86_400).to_string(), (self.start + 86_400).to_string());
        let mut args =
            vec!["--metric", "cpu_load", "--from", &from, "--to", &to, "--tier", tier, "--format", "json"];
        args.extend_from_slice(extra);
        let text = self.run("query", &args);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }
}

/// Wall-clock Unix seconds: `strata write` checks times against the wall clock.
pub(crate) fn now() -> i64 {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    i64::try_from(secs).unwrap()
}

/// Writes `cpu_load` of three hosts every 20 s, from the hour boundary 5 to 6 hours ago until 10
/// minutes ago, and compacts; then backfills the points at second 40 of each minute of the first
/// two hours (held back from the first write) and compacts again. Those are older than what
/// hot keeps after the first pass, so the second pass writes them as partial warm and cold rows
/// beside the first pass's rows of the same buckets.
pub(crate) fn tiered() -> Tiered {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data").to_str().unwrap().to_owned();
    let config = dir.path().join("strata.toml").to_str().unwrap().to_owned();
    std::fs::write(&config, CONFIG).unwrap();
    let now = now();
    let start = (now - 5 * 3600).div_euclid(3600) * 3600;
    // Up to the end of an hour that ended at least ten minutes ago: a pass rolls up every hour
    // it can, and then an hour is whole whenever the test runs (with points up to now - 10 min,
    // a run at hh:05-hh:10 rolled up an hour missing its last minutes).
    let end = (now - 600).div_euclid(3600) * 3600 - 20;
    let mut points = Vec::new();
    for (h, host) in HOSTS.iter().enumerate() {
        for (i, t) in (start..=end).step_by(20).enumerate() {
            // Decimals that binary floating point does not hold exactly, positive and negative.
            let value = ((i as i64 * 7919 + h as i64 * 131) % 20011) as f64 / 100.0 - 50.0;
            points.push((*host, t, value));
        }
    }
    let backfill = |t: i64| t % 60 == 40 && t < start + 2 * 3600;
    let lines = |keep: &dyn Fn(i64) -> bool| -> String {
        points
            .iter()
            .filter(|(_, t, _)| keep(*t))
            .map(|(host, t, v)| format!("cpu_load,hostname={host},type=node value={v} {t}\n"))
            .collect()
    };
    let write =
        ["write", "--data-dir", &data_dir, "--config", &config, "--precision", "s", "--cluster", "fritz"];
    let compact = ["compact", "--data-dir", &data_dir, "--config", &config];
    run_ok(&write, &lines(&|t| !backfill(t)));
    let first = run_ok(&compact, "");
    run_ok(&write, &lines(&backfill));
    let second = run_ok(&compact, "");
    Tiered { _dir: dir, data_dir, config, points, start, reports: [first, second] }
}

/// Count, sum, min, max and last of points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Expected {
    pub(crate) count: u64,
    pub(crate) sum: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
    pub(crate) last: f64,
}

/// The aggregates of `points` per (host, bucket start) for buckets of `resolution` seconds.
pub(crate) fn expected(points: &[(&str, i64, f64)], resolution: i64) -> BTreeMap<(String, i64), Expected> {
    let mut out: BTreeMap<(String, i64), Expected> = BTreeMap::new();
    let mut sorted = points.to_vec();
    sorted.sort_by_key(|(host, t, _)| (*host, *t));
    for (host, t, v) in sorted {
        let bucket = t.div_euclid(resolution) * resolution;
        out.entry((host.to_owned(), bucket))
            .and_modify(|e| {
                e.count += 1;
                e.sum += v;
                e.min = e.min.min(v);
                e.max = e.max.max(v);
                e.last = v;
            })
            .or_insert(Expected { count: 1, sum: v, min: v, max: v, last: v });
    }
    out
}

/// Sums agree to 1e-9 relative.
pub(crate) fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// Runs a python peer; its standard output, or `None` after printing why when the peer cannot
/// run here (exit status 3: a module, java or the peer itself missing). Under `CI=true` that
/// fails the test instead: CI installs every peer (`.ci/run`).
pub(crate) fn run_peer(command: &mut Command, test: &str, what: &str) -> Option<String> {
    let skip = |why: String| {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true, and {why}");
        eprintln!("skipping {test}: {why}");
    };
    let output = match command.output() {
        Ok(output) => output,
        Err(e) => {
            skip(format!("cannot run {what}: {e}"));
            return None;
        }
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    match output.status.code() {
        Some(0) => Some(String::from_utf8(output.stdout).unwrap()),
        Some(3) => {
            skip(stderr.trim().to_owned());
            None
        }
        _ => panic!("{what} failed: {:?}\n{stderr}", output.status),
    }
}

/// Starts `strata serve --config CONFIG` with its standard error to `stderr`, and returns once
/// it has started: its first two lines say where the data is and what it listens on.
pub(crate) fn start_serve(config: &std::path::Path, stderr: Stdio) -> std::process::Child {
    use std::io::{BufRead as _, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["serve", "--config"])
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for _ in 0..2 {
        lines.next().unwrap().unwrap();
    }
    child
}
