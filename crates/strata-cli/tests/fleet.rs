//! `strata query --fleet` and `strata inspect --fleet`: two nodes (`node_id` a and b) write to
//! one tier store, each under its own folder, and the fleet view answers over both as each
//! node answers for its own hosts.

mod common;

use std::collections::BTreeMap;

use common::{CONFIG, now, run_ok, strata};

/// (hostname, hour) -> (count, sum) from `strata query ... --format json`.
fn hourly(text: &str) -> BTreeMap<(String, i64), (u64, f64)> {
    let rows: Vec<serde_json::Value> = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
    rows.iter()
        .filter(|r| !r["count"].is_null())
        .map(|r| {
            (
                (r["hostname"].as_str().unwrap().to_owned(), r["time"].as_i64().unwrap()),
                (r["count"].as_u64().unwrap(), r["sum"].as_f64().unwrap()),
            )
        })
        .collect()
}

#[test]
fn the_fleet_view_answers_over_every_node() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("bucket");
    let start = (now() - 5 * 3600).div_euclid(3600) * 3600;
    let end = (now() - 600).div_euclid(3600) * 3600 - 20;
    let mut configs = Vec::new();
    for (node, hosts) in [("a", ["n1", "n2"]), ("b", ["n3", "n4"])] {
        let config = dir.path().join(format!("{node}.toml"));
        let text = format!("node_id = {node:?}\ndata_dir = {:?}\n{CONFIG}", dir.path().join(node));
        let text = text.replace(
            "[compactor]",
            &format!("[object_store]\nurl = \"file://{}\"\n[compactor]", store.display()),
        );
        std::fs::write(&config, text).unwrap();
        let config = config.to_str().unwrap().to_owned();
        let lines: String = hosts
            .iter()
            .flat_map(|h| {
                (start..=end)
                    .step_by(20)
                    .map(move |t| format!("cpu_load,hostname={h},type=node value={} {t}\n", t % 97))
            })
            .collect();
        run_ok(&["write", "--config", &config, "--precision", "s", "--cluster", "fritz"], &lines);
        run_ok(&["compact", "--config", &config], "");
        configs.push(config);
    }
    assert!(store.join("nodes/a/_manifest").is_dir() && store.join("nodes/b/_manifest").is_dir());

    let (from, to) = (start.to_string(), end.to_string());
    let query = |config: &str, fleet: bool| {
        let mut args = vec![
            "query",
            "--config",
            config,
            "--metric",
            "cpu_load",
            "--from",
            &from,
            "--to",
            &to,
            "--resolution",
            "1h",
            "--agg",
            "count,sum",
            "--format",
            "json",
        ];
        if fleet {
            args.push("--fleet");
        }
        let output = strata(&args, "");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        (hourly(&String::from_utf8(output.stdout).unwrap()), String::from_utf8(output.stderr).unwrap())
    };
    let (fleet, notes) = query(&configs[0], true);
    let (mut nodes, _) = query(&configs[0], false);
    nodes.extend(query(&configs[1], false).0);
    // The nodes answer their recent hours from hot; the fleet only what their tiers hold.
    let tiered: BTreeMap<_, _> = nodes.into_iter().filter(|(key, _)| fleet.contains_key(key)).collect();
    assert_eq!(fleet, tiered);
    let hosts: std::collections::BTreeSet<_> = fleet.keys().map(|(h, _)| h.as_str()).collect();
    assert_eq!(hosts.into_iter().collect::<Vec<_>>(), ["n1", "n2", "n3", "n4"]);
    assert!(fleet.len() >= 4 * 3, "{fleet:?}");
    assert!(notes.contains("served by cold at 1h"), "{notes}");

    let table = run_ok(&["inspect", "--fleet", "--config", &configs[1]], "");
    assert!(table.contains("2 node(s)") && table.lines().any(|l| l.starts_with("a ")), "{table}");
    let json: serde_json::Value = serde_json::from_str(&run_ok(
        &["inspect", "--fleet", "--config", &configs[1], "--format", "json"],
        "",
    ))
    .unwrap();
    let ids: Vec<_> =
        json["nodes"].as_array().unwrap().iter().map(|n| n["node_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["a", "b"]);
    assert!(!json["nodes"][0]["manifest"]["files"].as_array().unwrap().is_empty());

    let raw = strata(
        &["query", "--config", &configs[0], "--metric", "cpu_load", "--from", &from, "--to", &to, "--fleet"],
        "",
    );
    assert!(!raw.status.success() && String::from_utf8_lossy(&raw.stderr).contains("--resolution"));
}
