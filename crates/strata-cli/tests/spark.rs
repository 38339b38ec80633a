//! Spark and DuckDB over a fleet (issue 15): two nodes, each with other hosts, hold a month of
//! points every 30 s as warm (minute) and cold (hour) rows, with partial rows of backfill in
//! both. Spark (pyspark in local mode) and DuckDB read each node's snapshot without strata
//! (`fleet_hourly.py`: the manifest's files and the row rule of docs/FORMATS.md) and compute
//! per-host hourly count, sum, min, max and average. They must equal strata's answer
//! (`strata query` per node), which must equal the points': counts, min and max exactly, sums
//! and averages to 1e-12 relative. `strata query --fleet`, over both nodes' tiers at once,
//! must give the same answer.
//!
//! Needs `python3` with `pyspark` and `duckdb`, and `java` (Debian's `openjdk-17-jre-headless`);
//! `.ci/run` installs them. Without one the test prints why and passes, unless `CI=true`:
//! there it fails, Spark not starting included.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use common::{expected, run_ok, run_peer};

/// 2025-11-01T00:00:00Z: the first point.
const T0: i64 = 1_761_955_200;
const DAY: i64 = 86_400;
/// The engine clock of every command: 40 minutes into the day after the month, so warm holds
/// the last 35 minutes past cold's last whole hour (rows the rule takes from warm).
const NOW: i64 = T0 + 30 * DAY + 40 * 60;
/// Points are written up to here: before the warm flush's bound (`NOW` minus the lateness).
const END: i64 = NOW - 10 * 60;
const STEP: i64 = 30;
const NODES: [(&str, [&str; 2]); 2] = [("a", ["f0101", "f0102"]), ("b", ["f0201", "f0202"])];

/// Per (host, hour): count, sum, min, max, avg.
type Hourly = BTreeMap<(String, i64), (u64, f64, f64, f64, f64)>;

/// Relative agreement to 1e-12.
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

/// Points every 30 s of the node's hosts, positive decimals that binary floating point does
/// not hold exactly.
fn points(hosts: &[&'static str], node: usize) -> Vec<(&'static str, i64, f64)> {
    let mut out = Vec::new();
    for (h, host) in hosts.iter().enumerate() {
        for (i, t) in (T0..END).step_by(STEP as usize).enumerate() {
            let value = ((i as i64 * 7919 + (node * 2 + h) as i64 * 131) % 20011) as f64 / 100.0 + 0.01;
            out.push((*host, t, value));
        }
    }
    out
}

/// Backfill: the points at second 30 of the node's first two days (node a) or of days 10 and
/// 11 (node b), written after the first pass, so both tiers get partial rows of those buckets.
fn held_back(node: usize, t: i64) -> bool {
    let first = T0 + node as i64 * 9 * DAY;
    t % 60 == 30 && (first..first + 2 * DAY).contains(&t)
}

/// A node's data directory and config: `node_id` is its name, so its tiers are at
/// `<root>/nodes/<name>` of the store all nodes share, `<root>`.
struct Node {
    data_dir: String,
    config: String,
}

impl Node {
    fn new(root: &Path, name: &str) -> Node {
        let config = root.join(format!("{name}.toml"));
        std::fs::write(
            &config,
            format!(
                r#"
                node_id = "{name}"
                [hot]
                retention = "2h"
                chunk_duration = "1h"
                [warm]
                resolution = "1m"
                retention = "40d"
                [cold]
                resolution = "1h"
                retention = "400d"
                [compactor]
                interval = "1000d"
                [object_store]
                url = "file://{}"
                "#,
                root.display()
            ),
        )
        .unwrap();
        let data_dir = root.join("data").join(name);
        Node { data_dir: data_dir.to_str().unwrap().to_owned(), config: config.to_str().unwrap().to_owned() }
    }

    fn run(&self, command: &str, args: &[&str], stdin: &str) -> String {
        let mut all = vec![command, "--data-dir", &self.data_dir, "--config", &self.config];
        all.extend_from_slice(args);
        run_ok(&all, stdin)
    }

    /// Writes the points `keep` selects, as of `NOW`, and runs a compaction pass.
    fn write_and_compact(&self, points: &[(&str, i64, f64)], keep: &dyn Fn(i64) -> bool) {
        let lines: String = points
            .iter()
            .filter(|(_, t, _)| keep(*t))
            .map(|(host, t, v)| format!("cpu_load,hostname={host},type=node value={v} {t}\n"))
            .collect();
        let now = NOW.to_string();
        self.run("write", &["--precision", "s", "--cluster", "fritz", "--now", &now], &lines);
        self.run("compact", &["--now", &now], "");
    }

    /// `strata query` of the month, per host and hour: of this node, or with `fleet` of every
    /// node's tiers (`--fleet`).
    fn hourly(&self, fleet: bool) -> Hourly {
        let (from, to) = (T0.to_string(), NOW.to_string());
        let mut args = vec![
            "--metric",
            "cpu_load",
            "--from",
            &from,
            "--to",
            &to,
            "--resolution",
            "1h",
            "--agg",
            "count,sum,min,max,avg",
            "--format",
            "json",
        ];
        if fleet {
            args.push("--fleet");
        }
        let text = self.run("query", &args, "");
        let rows: Vec<serde_json::Value> =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        rows.iter()
            .map(|r| {
                let float = |name: &str| r[name].as_f64().unwrap_or_else(|| panic!("{name} in {r}"));
                let key = (r["hostname"].as_str().unwrap().to_owned(), r["time"].as_i64().unwrap());
                (key, (r["count"].as_u64().unwrap(), float("sum"), float("min"), float("max"), float("avg")))
            })
            .collect()
    }

    /// The live manifest's warm files of the backfill's flush: the partial rows are there.
    fn second_flush_warm_files(&self, root: &Path, name: &str) -> usize {
        let dir = root.join("nodes").join(name).join("_manifest");
        let mut generations: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        generations.sort();
        let live: serde_json::Value =
            serde_json::from_slice(&std::fs::read(generations.last().unwrap()).unwrap()).unwrap();
        live["files"].as_array().unwrap().iter().filter(|f| f["tier"] == "warm" && f["flush"] == 2).count()
    }
}

/// Checks `theirs` against `want`: the same hosts and hours, counts, min and max exactly, sums
/// and averages to 1e-12 relative.
fn assert_hourly(who: &str, theirs: &Hourly, want: &Hourly) {
    assert_eq!(theirs.len(), want.len(), "{who}: hours");
    for ((key, t), (key_w, w)) in theirs.iter().zip(want) {
        assert_eq!(key, key_w, "{who}: other hosts or hours");
        assert_eq!((t.0, t.2, t.3), (w.0, w.2, w.3), "{who} {key:?}: count, min, max");
        assert!(close(t.1, w.1), "{who} {key:?}: sum {} != {}", t.1, w.1);
        assert!(close(t.4, w.4), "{who} {key:?}: avg {} != {}", t.4, w.4);
    }
}

/// Runs `fleet_hourly.py` with `engine`; `None` when it cannot run here (outside CI).
fn read_without_strata(root: &Path, engine: &str) -> Option<Hourly> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fleet_hourly.py");
    let mut python = Command::new("python3");
    python.arg(&script).arg(root).arg("cpu_load").arg(engine);
    let started = Instant::now();
    let stdout = run_peer(&mut python, "the Spark test", &format!("{} {engine}", script.display()))?;
    eprintln!("{engine}: {:.1} s", started.elapsed().as_secs_f64());
    let rows: Vec<(String, i64, u64, f64, f64, f64, f64)> = serde_json::from_str(&stdout).unwrap();
    Some(
        rows.into_iter().map(|(host, hour, c, s, lo, hi, avg)| ((host, hour), (c, s, lo, hi, avg))).collect(),
    )
}

#[test]
fn spark_and_duckdb_read_a_fleet_s_snapshots_as_strata_answers() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let started = Instant::now();
    let mut all_points = Vec::new();
    let mut strata = Hourly::new();
    let mut nodes = Vec::new();
    for (n, (name, hosts)) in NODES.iter().enumerate() {
        let node = Node::new(root, name);
        let points = points(hosts, n);
        node.write_and_compact(&points, &|t| !held_back(n, t));
        node.write_and_compact(&points, &|t| held_back(n, t));
        assert!(
            node.second_flush_warm_files(root, name) >= 2,
            "node {name}: backfill written as partial rows"
        );
        for (key, row) in node.hourly(false) {
            assert!(strata.insert(key.clone(), row).is_none(), "{key:?} answered by two nodes");
        }
        all_points.extend(points);
        nodes.push(node);
    }
    eprintln!("two nodes written and compacted: {:.1} s", started.elapsed().as_secs_f64());

    // strata's answer is the points'.
    let points: Hourly = expected(&all_points, 3600)
        .into_iter()
        .map(|(key, e)| (key, (e.count, e.sum, e.min, e.max, e.sum / e.count as f64)))
        .collect();
    assert_eq!(points.len(), 4 * (30 * 24 + 1));
    assert_hourly("strata", &strata, &points);
    assert_hourly("strata query --fleet", &nodes[0].hourly(true), &points);

    for engine in ["duckdb", "spark"] {
        if let Some(theirs) = read_without_strata(root, engine) {
            assert_hourly(engine, &theirs, &strata);
        }
    }
}
