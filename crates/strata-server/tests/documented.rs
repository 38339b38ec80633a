//! Every configuration key is in docs/CONFIG.md and every `/metrics` family in
//! docs/OPERATIONS.md. The keys come from the parser itself: a key it does not know is refused
//! with the list of the keys it expects, per section.

mod common;

use std::collections::BTreeSet;

use common::{TestServer, now_aligned};
use strata_server::FileConfig;

fn doc(name: &str) -> String {
    std::fs::read_to_string(format!("{}/../../docs/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The keys a section takes, from the error an unknown key in `toml` gets.
fn expected_keys(toml: &str) -> Vec<String> {
    let err = FileConfig::from_toml(toml).expect_err(toml).to_string();
    let line = err
        .lines()
        .find(|l| l.contains("unknown field `not_a_key`"))
        .unwrap_or_else(|| panic!("{toml:?}: {err}"));
    // serde: "expected one of `a`, `b`, `c`", or "expected `a` or `b`" for two.
    let list = line.split(", expected").nth(1);
    let list = list.unwrap_or_else(|| panic!("{toml:?}: the error lists no keys: {err}"));
    let keys: Vec<String> = list.split('`').skip(1).step_by(2).map(str::to_owned).collect();
    assert!(!keys.is_empty(), "{toml:?}: no keys in {err}");
    keys
}

#[test]
fn every_config_key_is_in_config_md() {
    let config_md = doc("CONFIG.md");
    // The engine's keys; `[server]` and `[nats]` are taken out before the engine parses.
    let mut top = expected_keys("not_a_key = 1");
    top.extend(["server".to_owned(), "nats".to_owned()]);
    let mut keys = BTreeSet::new();
    for key in &top {
        let section = match key.as_str() {
            "metrics" => "[metrics.m]".to_owned(),
            "nats" => "[nats]\nurl = \"nats://127.0.0.1:4222\"".to_owned(),
            other => format!("[{other}]"),
        };
        let prefix = if key == "metrics" { "metrics.<name>".to_owned() } else { key.clone() };
        match FileConfig::from_toml(&format!("{section}\nnot_a_key = 1")) {
            // A key that is not a section (data_dir) fails on its type, not on a field name.
            Err(e) if e.to_string().contains("not_a_key") => {
                for field in expected_keys(&format!("{section}\nnot_a_key = 1")) {
                    keys.insert(format!("{prefix}.{field}"));
                }
            }
            _ => {
                keys.insert(key.clone());
            }
        }
    }
    for list in ["subscriptions", "jetstream"] {
        for field in
            expected_keys(&format!("[nats]\nurl = \"nats://127.0.0.1:4222\"\n[[nats.{list}]]\nnot_a_key = 1"))
        {
            keys.insert(format!("nats.{list}[].{field}"));
        }
    }
    // A list of tables is documented by its fields (`nats.jetstream[].stream`).
    let lists: Vec<String> =
        keys.iter().filter(|k| keys.iter().any(|o| o.starts_with(&format!("{k}[].")))).cloned().collect();
    keys.retain(|k| !lists.contains(k));
    // Checks that the probing found the sections, so an empty list cannot pass.
    for expected in
        ["wal.durability", "server.listen", "nats.url", "metrics.<name>.kind", "nats.jetstream[].batch"]
    {
        assert!(keys.contains(expected), "{expected} not found among {keys:?}");
    }
    let missing: Vec<&String> = keys.iter().filter(|k| !config_md.contains(&format!("`{k}`"))).collect();
    assert!(missing.is_empty(), "docs/CONFIG.md does not document {missing:?}");
}

#[test]
fn every_metrics_family_is_in_operations_md() {
    let operations_md = doc("OPERATIONS.md");
    let server = TestServer::start("");
    let now = now_aligned(1);
    server.post("/api/write?cluster=c", &format!("cpu_load,hostname=a value=1 {now}\nbad\n"));
    let text = server.request("GET", "/metrics", &[], b"").text();
    server.stop().unwrap();
    let families: BTreeSet<&str> =
        text.lines().filter_map(|l| l.strip_prefix("# TYPE ")).filter_map(|l| l.split(' ').next()).collect();
    assert!(families.len() >= 10, "{text}");
    let missing: Vec<&&str> = families
        .iter()
        .filter(|f| {
            // OpenMetrics names a counter's family without `_total`; the docs name the sample.
            !operations_md.contains(&format!("`{f}`")) && !operations_md.contains(&format!("`{f}_total`"))
        })
        .collect();
    assert!(missing.is_empty(), "docs/OPERATIONS.md does not document {missing:?}");
}
