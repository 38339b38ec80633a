//! The peers' side: the spec the Python scripts read, running them, their timings and values,
//! and the check of every value against strata's.
//!
//! A peer script prints `timing engine=E query=Q runs=N p50_us=.. p90_us=.. min_us=..` per
//! query (repeated, caches warm), `first engine=E query=Q ...` for its first runs (a fresh
//! connection, or a restarted server: no cache of its own), and writes what it returned to `values-E-Q.csv` (`series,time_s,value`; the series is
//! the hostname for per-host queries, empty otherwise; time is the bucket start, or the
//! point's time for raw queries).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use strata::{Aggregate, QueryResult};

use crate::data::{Loaded, Shape};
use crate::{Case, SEC};

/// Values by (series, time in seconds).
pub(crate) type Values = BTreeMap<(String, i64), f64>;

/// One peer's figures for one query.
#[derive(Debug, Clone)]
pub(crate) struct Timing {
    pub(crate) engine: String,
    pub(crate) query: String,
    pub p50: Duration,
    pub p90: Duration,
    /// A first run (the peer's own caches empty), not a repeated one.
    pub first: bool,
}

/// The values of a strata result, keyed as the peers key theirs.
pub(crate) fn values_of(case: &Case, result: &QueryResult) -> Values {
    let mut out = Values::new();
    for s in &result.series {
        let label = match case.kind {
            "per_host" => s.key.as_ref().and_then(|k| k.tag("hostname")).unwrap_or_default().to_owned(),
            _ => String::new(),
        };
        for (t, v) in s.points(Aggregate::Avg) {
            out.insert((label.clone(), t.div_euclid(SEC)), v);
        }
    }
    out
}

/// Writes `spec.json` for the peer scripts: where the data is, what to ask and how often.
pub(crate) fn write_spec(work: &Path, cases: &[Case], shape: &Shape, loaded: &Loaded) -> PathBuf {
    let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    let queries: Vec<String> = cases
        .iter()
        .map(|c| {
            let q = &c.query;
            let tag = |name: &str| q.selector.tags.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
            let step = match q.resolution {
                strata::Resolution::Every(r) => r / SEC,
                _ => 0,
            };
            let files: Vec<String> = c.files.iter().map(|f| quote(&f.display().to_string())).collect();
            format!(
                "{{\"name\": {}, \"kind\": {}, \"metric\": {}, \"host\": {}, \"type_id\": {}, \"from\": {}, \"to\": {}, \"step\": {step}, \"runs\": {}, \"files\": [{}]}}",
                quote(c.name),
                quote(c.kind),
                quote(&q.selector.metric),
                tag("hostname").map_or("null".into(), quote),
                tag("type-id").map_or("null".into(), quote),
                q.from / SEC,
                q.to / SEC,
                c.runs.min(2000),
                files.join(", ")
            )
        })
        .collect();
    let chunks: Vec<String> = loaded.chunk_files.iter().map(|f| quote(&f.display().to_string())).collect();
    let spec = format!(
        "{{\"dir\": {}, \"start\": {}, \"end\": {}, \"points\": {}, \"series\": {}, \"chunks\": [{}],\n \"queries\": [\n  {}\n ]}}\n",
        quote(&work.display().to_string()),
        shape.end - (shape.cold_days * 86_400).max(shape.warm_hours * 3600),
        shape.end,
        loaded.points,
        shape.series(),
        chunks.join(", "),
        queries.join(",\n  ")
    );
    let path = work.join("spec.json");
    std::fs::write(&path, spec).expect("write the peers' spec");
    path
}

/// Runs `benches/peers/query_<peer>.py SPEC`, echoing its output, and returns its timings.
pub(crate) fn run(peer: &str, spec: &Path) -> Result<Vec<Timing>, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers").join(format!("query_{peer}.py"));
    if !script.exists() {
        return Err(format!("no script {}", script.display()));
    }
    let mut child = Command::new("python3")
        .arg(&script)
        .arg(spec)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run python3: {e}"))?;
    let mut timings = Vec::new();
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            println!("{line}");
            if let Some(t) = parse_timing(&line) {
                timings.push(t);
            }
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("{} exited with {status}", script.display()));
    }
    Ok(timings)
}

fn parse_timing(line: &str) -> Option<Timing> {
    let (first, rest) = match line.strip_prefix("timing ") {
        Some(rest) => (false, rest),
        None => (true, line.strip_prefix("first ")?),
    };
    let fields: BTreeMap<&str, &str> = rest.split_whitespace().filter_map(|kv| kv.split_once('=')).collect();
    let us = |name: &str| -> Option<Duration> {
        fields.get(name)?.parse::<f64>().ok().map(|us| Duration::from_secs_f64(us / 1e6))
    };
    Some(Timing {
        engine: (*fields.get("engine")?).to_owned(),
        query: (*fields.get("query")?).to_owned(),
        p50: us("p50_us")?,
        p90: us("p90_us")?,
        first,
    })
}

/// The values a peer wrote for a query, if it wrote them.
pub(crate) fn read_values(work: &Path, engine: &str, query: &str) -> Option<Values> {
    let text = std::fs::read_to_string(work.join(format!("values-{engine}-{query}.csv"))).ok()?;
    let mut out = Values::new();
    for line in text.lines() {
        let mut parts = line.split(',');
        let (Some(series), Some(t), Some(v)) = (parts.next(), parts.next(), parts.next()) else { continue };
        if let (Ok(t), Ok(v)) = (t.parse::<i64>(), v.parse::<f64>()) {
            out.insert((series.to_owned(), t), v);
        }
    }
    Some(out)
}

/// Compares every value of every peer with strata's; prints the differences and a few values.
pub(crate) fn print_checks(
    cases: &[Case],
    strata: &BTreeMap<&str, Values>,
    peers: &BTreeMap<(String, String), Values>,
) {
    println!("Values, compared with strata's (every bucket or point each returned):");
    println!();
    println!("| query | peer | compared | only strata | only peer | max abs diff | max rel diff |");
    println!("|---|---|---|---|---|---|---|");
    for case in cases {
        let Some(ours) = strata.get(case.name) else { continue };
        for ((engine, query), theirs) in peers {
            if query != case.name {
                continue;
            }
            let (mut compared, mut abs, mut rel) = (0usize, 0f64, 0f64);
            for (key, a) in ours {
                if let Some(b) = theirs.get(key) {
                    compared += 1;
                    let d = (a - b).abs();
                    abs = abs.max(d);
                    rel = rel.max(d / a.abs().max(b.abs()).max(1e-300));
                }
            }
            let only_ours = ours.keys().filter(|k| !theirs.contains_key(*k)).count();
            let only_theirs = theirs.keys().filter(|k| !ours.contains_key(*k)).count();
            println!(
                "| {} | {engine} | {compared} | {only_ours} | {only_theirs} | {abs:.3e} | {rel:.3e} |",
                case.name
            );
        }
    }
    println!();
    println!("Sample values (series, bucket start or point time):");
    println!();
    println!("| query | series | time (s) | strata | DuckDB | VictoriaMetrics |");
    println!("|---|---|---|---|---|---|");
    for case in cases {
        let Some(ours) = strata.get(case.name) else { continue };
        let keys: Vec<&(String, i64)> = ours.keys().collect();
        let picks = [0, keys.len() / 2, keys.len().saturating_sub(1)];
        for &i in &picks {
            let Some(key) = keys.get(i) else { continue };
            let peer = |engine: &str| {
                peers
                    .get(&(engine.to_owned(), case.name.to_owned()))
                    .and_then(|v| v.get(*key))
                    .map_or_else(|| "-".to_owned(), |v| format!("{v:.6}"))
            };
            println!(
                "| {} | {} | {} | {:.6} | {} | {} |",
                case.name,
                if key.0.is_empty() { "-" } else { &key.0 },
                key.1,
                ours[*key],
                peer("duckdb"),
                peer("vm")
            );
        }
    }
}
