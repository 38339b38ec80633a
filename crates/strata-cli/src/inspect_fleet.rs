//! `strata inspect --fleet`: every node under the shared object store, from its live manifest
//! alone (no tier file is read): what it has committed and up to when. With `--format json`,
//! each node's manifest as it is, the snapshot an outside reader (Spark, DuckDB) takes
//! (docs/FORMATS.md, "Reading a snapshot").

use std::io::Write;

use serde_json::json;
use strata::{Fleet, Tier};

use crate::output::{unix_seconds, write_table};

pub(crate) fn write_fleet(out: &mut impl Write, fleet: &Fleet, json: bool) -> anyhow::Result<()> {
    let nodes = fleet.nodes();
    if json {
        let nodes: Vec<_> =
            nodes.iter().map(|n| json!({ "node_id": n.id, "url": n.url, "manifest": n.manifest })).collect();
        let object = json!({ "url": fleet.url(), "nodes": nodes });
        writeln!(out, "{}", serde_json::to_string_pretty(&object)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "fleet at {}: {} node(s); hot data is in each node's memory, not in this view",
        fleet.url(),
        nodes.len()
    )?;
    let header: Vec<String> = [
        "node",
        "generation",
        "committed",
        "warm_files",
        "warm_rows",
        "warm_points",
        "cold_files",
        "cold_rows",
        "cold_points",
        "bytes",
        "warm_until",
        "cold_until",
    ]
    .map(str::to_owned)
    .to_vec();
    let time = |t: Option<i64>| t.map_or_else(|| "-".to_owned(), unix_seconds);
    let rows: Vec<Vec<String>> = nodes
        .iter()
        .map(|n| {
            let m = &n.manifest;
            let tier = |tier: Tier| {
                m.files(tier).fold((0u64, 0u64, 0u64), |(f, r, p), e| (f + 1, r + e.rows, p + e.points))
            };
            let (warm, cold) = (tier(Tier::Warm), tier(Tier::Cold));
            let bytes: u64 = m.files.iter().map(|f| f.bytes).sum();
            vec![
                n.id.clone(),
                m.generation.to_string(),
                time(m.committed_at),
                warm.0.to_string(),
                warm.1.to_string(),
                warm.2.to_string(),
                cold.0.to_string(),
                cold.1.to_string(),
                cold.2.to_string(),
                bytes.to_string(),
                time(m.warm_until),
                time(m.cold_until),
            ]
        })
        .collect();
    write_table(out, &header, &rows)
}
