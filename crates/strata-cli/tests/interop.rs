//! The tier folders as other tools read them: DuckDB and pyarrow (testdata/interop/read_tiers.py)
//! read the Hive-partitioned Parquet files without strata, merge partial rows, and must agree
//! with `strata query --tier`; and docs/FORMATS.md's snapshot query, run as written with DuckDB,
//! gives strata's hourly answer.
//!
//! Needs `python3` with `duckdb` and `pyarrow` (`pip install duckdb pyarrow`). Without them the
//! test prints why and passes, unless `CI=true`: there it fails.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::close;

/// (metric, hostname, time) -> (count, sum, min, max)
type Rows = BTreeMap<(String, String, i64), (u64, f64, f64, f64)>;
/// A row of the documented snapshot query: metric, hostname, hour, count, avg, min, max.
type HourRow = (String, String, i64, u64, f64, f64, f64);

fn rows(json: &[serde_json::Value]) -> Rows {
    json.iter()
        .map(|r| {
            let text = |name: &str| r[name].as_str().unwrap_or_else(|| panic!("{name} in {r}")).to_owned();
            let float = |name: &str| r[name].as_f64().unwrap_or_else(|| panic!("{name} in {r}"));
            (
                (text("metric"), text("hostname"), r["time"].as_i64().unwrap()),
                (r["count"].as_u64().unwrap(), float("sum"), float("min"), float("max")),
            )
        })
        .collect()
}

/// Runs the script; `None` (after printing why) when python3 or its modules are missing outside CI.
fn read_with_python(tiers: &Path) -> Option<serde_json::Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/interop/read_tiers.py");
    let stdout = run_python(Command::new("python3").arg(&script).arg(tiers), &script.display().to_string())?;
    Some(serde_json::from_str(&stdout).unwrap())
}

/// Runs python; its stdout, or `None` (after printing why) when python3 or its modules are
/// missing outside CI (exit status 3).
fn run_python(command: &mut Command, what: &str) -> Option<String> {
    common::run_peer(command, "the interop test", what)
}

#[test]
fn duckdb_and_pyarrow_read_the_tiers_as_strata_does() {
    let data = common::tiered();
    let Some(python) = read_with_python(&Path::new(&data.data_dir).join("tiers")) else { return };
    let inspect: serde_json::Value =
        serde_json::from_str(&data.run("inspect", &["--format", "json"])).unwrap();
    for tier in ["warm", "cold"] {
        let strata = rows(&data.query_json(tier, &[]));
        assert!(!strata.is_empty(), "{tier} is empty");
        // The folders hold partial rows, so the readers' GROUP BY has merging to do.
        assert!(inspect[tier]["rows"].as_u64().unwrap() > strata.len() as u64, "{tier}: no partial rows");
        for reader in ["duckdb", "pyarrow"] {
            let theirs = rows(python[reader][tier].as_array().unwrap());
            assert_eq!(
                theirs.keys().collect::<Vec<_>>(),
                strata.keys().collect::<Vec<_>>(),
                "{reader} {tier}: other buckets"
            );
            for (key, &(count, sum, min, max)) in &strata {
                let (c, s, lo, hi) = theirs[key];
                assert_eq!((c, lo, hi), (count, min, max), "{reader} {tier} {key:?}");
                assert!(close(s, sum), "{reader} {tier} {key:?}: sum {s} != {sum}");
            }
        }
    }
}

/// The Python block of docs/FORMATS.md's "Reading a snapshot", as written.
fn documented_snapshot_code() -> String {
    let formats =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/FORMATS.md")).unwrap();
    let section = &formats[formats.find("## Reading a snapshot").expect("FORMATS.md has the section")..];
    let start = section.find("```python\n").expect("with a python block") + "```python\n".len();
    let len = section[start..].find("```").unwrap();
    section[start..start + len].to_owned()
}

#[test]
fn the_documented_snapshot_query_gives_strata_s_answer() {
    let data = common::tiered();
    // The documented code, then its answer as JSON after a marker (it prints a table first).
    let code = format!(
        "import sys\ntry:\n    import duckdb\nexcept ImportError as e:\n    print(e, file=sys.stderr); sys.exit(3)\n{}\n\
         print('JSON:' + json.dumps([[m, h, int(t.timestamp()), int(c), a, lo, hi] for m, h, t, c, a, lo, hi in hourly.fetchall()]))\n",
        documented_snapshot_code()
    );
    let mut python = Command::new("python3");
    python.arg("-c").arg(&code).current_dir(&data.data_dir);
    let Some(stdout) = run_python(&mut python, "FORMATS.md's snapshot code") else { return };
    let json = stdout.lines().find_map(|l| l.strip_prefix("JSON:")).unwrap_or_else(|| panic!("{stdout}"));
    let answer: Vec<HourRow> = serde_json::from_str(json).unwrap();
    // strata's warm rows (every point written is in warm), merged per hour.
    let mut hours = Rows::new();
    for ((metric, host, time), (count, sum, min, max)) in rows(&data.query_json("warm", &[])) {
        let hour =
            hours.entry((metric, host, time.div_euclid(3600) * 3600)).or_insert((0, 0.0, f64::MAX, f64::MIN));
        *hour = (hour.0 + count, hour.1 + sum, hour.2.min(min), hour.3.max(max));
    }
    let theirs: Rows = answer
        .into_iter()
        .filter(|(metric, ..)| metric == "cpu_load")
        .map(|(m, h, t, count, avg, min, max)| ((m, h, t), (count, avg, min, max)))
        .collect();
    assert!(hours.len() >= 3 * 3, "{hours:?}");
    assert_eq!(theirs.keys().collect::<Vec<_>>(), hours.keys().collect::<Vec<_>>());
    for (key, &(count, sum, min, max)) in &hours {
        let (c, avg, lo, hi) = theirs[key];
        assert_eq!((c, lo, hi), (count, min, max), "{key:?}");
        assert!(close(avg, sum / count as f64), "{key:?}: avg {avg} != {}", sum / count as f64);
    }
}

/// DuckDB reads tier files of schema versions 2 (`time` in nanoseconds) and 3 (microseconds)
/// in one file list, in either order: the two format fixtures hold the same workload, so each
/// version's files give the same rows, and both together give each row twice.
#[test]
fn duckdb_reads_tier_versions_2_and_3_in_one_file_list() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/formats");
    let warm = |fixture: &str| -> String {
        let dir = fixtures.join(fixture).join("tiers/warm/day=2025-11-22");
        let file = std::fs::read_dir(&dir).unwrap().next().unwrap().unwrap().path();
        file.to_str().unwrap().to_owned()
    };
    let (v2, v3) = (warm("wal2-ckpt3-manifest3-tier2"), warm("wal2-ckpt3-manifest3-tier3"));
    let code = format!(
        "import sys, json\ntry:\n    import duckdb\nexcept ImportError as e:\n    print(e, file=sys.stderr); sys.exit(3)\n\
         q = lambda files: duckdb.sql(f\"SELECT hostname, type_id, epoch_ns(time), count, sum FROM read_parquet({{files}}) ORDER BY ALL\").fetchall()\n\
         print(json.dumps([q([{v2:?}]), q([{v3:?}]), q([{v2:?}, {v3:?}]), q([{v3:?}, {v2:?}])]))\n"
    );
    let mut python = Command::new("python3");
    python.arg("-c").arg(&code);
    let Some(stdout) = run_python(&mut python, "DuckDB over both tier versions") else { return };
    type Rows = Vec<(String, Option<String>, i64, u64, f64)>;
    let [v2, v3, both, reversed]: [Rows; 4] = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v2.len(), 6 * 115, "one row per series and minute");
    assert_eq!(v3, v2);
    let twice: Rows = v2.iter().flat_map(|r| [r.clone(), r.clone()]).collect();
    assert_eq!((both, reversed), (twice.clone(), twice));
}
