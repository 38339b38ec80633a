//! `promtool check metrics` (Debian package `prometheus`) reads `/metrics` after writes, bad
//! lines and a query, when every family has samples.
//!
//! The exposition is OpenMetrics text (what `prometheus-client` writes). promtool 2.42 lints
//! it as Prometheus' 0.0.4 format, where a counter's HELP names `<name>_total`; OpenMetrics
//! names the family `<name>`. That one lint ("<name>_total no help text" for a counter whose
//! HELP is on `<name>`) is allowed; any other problem, or a parse error, fails.
//!
//! Without promtool the test prints why and passes, unless `CI=true`: there it fails.

mod common;

use std::io::Write as _;
use std::process::{Command, Stdio};

use common::{TestServer, now_aligned};

#[test]
fn promtool_accepts_the_metrics() {
    let server = TestServer::start("");
    let now = now_aligned(1);
    let body = format!("cpu_load,hostname=a value=1 {now}\ncpu_load,hostname=b value=2 {now}\nbad\n");
    assert_eq!(server.post("/api/write?cluster=c", &body).status, 400);
    let response = server.request("GET", "/metrics", &[], b"");
    assert_eq!(response.status, 200);
    assert!(response.header("content-type").unwrap().starts_with("application/openmetrics-text"));
    let text = response.text();
    assert!(text.contains("strata_points_accepted_total 2"), "{text}");
    assert!(text.contains("strata_lines_rejected_total{reason=\"syntax\"} 1"), "{text}");
    assert!(text.contains("strata_hot_series 2"), "{text}");
    assert!(text.contains("strata_series_per_metric{metric=\"cpu_load\"} 2"), "{text}");
    // The write was durable: at least one WAL sync, in a bucket or above the last.
    let syncs = |suffix: &str| -> u64 {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("strata_wal_sync_seconds_{suffix}")))
            .unwrap_or_else(|| panic!("no strata_wal_sync_seconds_{suffix}: {text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert!(syncs("count") >= 1, "{text}");
    assert_eq!(syncs("bucket{le=\"+Inf\"}"), syncs("count"), "{text}");
    assert!(text.contains("strata_object_store_errors_total{op=\"put\"} 0"), "{text}");
    // Points written "now" (second precision): the lag is under a minute, never negative.
    for host in ["a", "b"] {
        let line = text
            .lines()
            .find(|l| {
                l.starts_with(&format!("strata_host_ingest_lag_seconds{{cluster=\"c\",host=\"{host}\"}}"))
            })
            .unwrap_or_else(|| panic!("no lag for {host}: {text}"));
        let lag: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!((0.0..60.0).contains(&lag), "{line}");
    }
    server.stop().unwrap();

    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true, and promtool cannot run: {e}");
            eprintln!("skipping: promtool cannot run ({e}); apt-get install prometheus");
            return;
        }
    };
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let report =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    let problems: Vec<&str> = report
        .lines()
        .filter(|line| !line.trim().is_empty())
        .filter(|line| {
            let Some(name) = line.strip_suffix(" no help text").and_then(|n| n.strip_suffix("_total")) else {
                return true;
            };
            // Allowed only for a counter family that has its HELP under the OpenMetrics name.
            !(text.contains(&format!("# HELP {name} ")) && text.contains(&format!("# TYPE {name} counter")))
        })
        .collect();
    assert!(problems.is_empty(), "promtool: {problems:?}\n{text}");
    assert!(matches!(output.status.code(), Some(0 | 3)), "promtool failed: {report}\n{text}");
}
