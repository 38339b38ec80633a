//! The README's embedding example, compiled by `cargo test` and kept identical to the README's
//! code block by `tests/readme.rs`. Run it with `cargo run -p strata --example embed`.

use std::time::{SystemTime, UNIX_EPOCH};

// Unformatted so that the code between the markers reads as it does in the README.
#[rustfmt::skip]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("strata-embed-{}", std::process::id()));
    let now_ns = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos())?;
    let (from_ns, to_ns) = (1_795_316_000_000_000_000, 1_795_317_000_000_000_000);
    let month_ago_ns = now_ns - 30 * 86_400_000_000_000;
    // README begin
use strata::{Aggregate, Config, Engine, Query, Resolution, Selector, WriteOptions};

let engine = Engine::open(Config::with_data_dir(&dir))?;

// cc-metric-collector output: second timestamps, cluster from the write.
let body = b"cpu_load,hostname=f0101,type=node value=4.25 1795316600\n";
let report = engine.write_lp(body, &WriteOptions::cc_metric_store("fritz"))?;
println!("{} points stored, {} lines rejected", report.accepted, report.rejected);
for rejection in &report.rejections {
    println!("{rejection}"); // e.g. line 17, column 42: integer field "x" overflows i64
}

let selector = Selector::metric("cpu_load").tag("cluster", "fritz").tag("hostname", "f0101");
for series in engine.read(&selector, from_ns, to_ns)? {
    println!("{}: {:?}", series.key, series.values); // raw points, from memory
}

// Any range at any resolution: hot, warm (1 min) and cold (1 h) stitched by the planner.
let mut query = Query::new("cpu_load", month_ago_ns, now_ns, Resolution::Every(3_600_000_000_000));
query.aggregates = vec![Aggregate::Avg, Aggregate::Max];
let result = engine.query(&query)?;
println!("served by {:?}", result.served);      // which tier answered which part
let batches = result.to_batches()?;              // Arrow record batches, one per series
engine.close()?;
    // README end
    println!("{} record batches", batches.len());
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
