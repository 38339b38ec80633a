//! The tier folders as other tools read them: DuckDB and pyarrow (testdata/interop/read_tiers.py)
//! read the Hive-partitioned Parquet files without strata, merge partial rows, and must agree
//! with `strata query --tier`.
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
    let skip = |why: String| {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true, and {why}");
        eprintln!("skipping the interop test: {why}");
    };
    let output = match Command::new("python3").arg(&script).arg(tiers).output() {
        Ok(output) => output,
        Err(e) => {
            skip(format!("cannot run python3: {e}"));
            return None;
        }
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    match output.status.code() {
        Some(0) => Some(serde_json::from_slice(&output.stdout).unwrap()),
        Some(3) => {
            skip(stderr.trim().to_owned());
            None
        }
        _ => panic!("{} failed: {:?}\n{stderr}", script.display(), output.status),
    }
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
