//! `strata serve` against VictoriaMetrics over HTTP on loopback, in one run (issue 11's
//! benchmark): ingest of the anchors' workload (`../shared/reference/anchors.md`, 64 hosts x 1 h
//! at 10 s) in 20,000-line bodies from N parallel kept-alive clients, then the latency of the
//! three queries cc-backend 1.5.4 sends (`../shared/reference/cc-metric-store.md`) from 8
//! concurrent clients, beside VictoriaMetrics' `query_range` for the same points. Prints one
//! markdown table.
//!
//! A harness, not criterion. Both servers are child processes: the release `strata serve`
//! (`target/release/strata`, built beforehand: `cargo build --release -p strata-cli`) with
//! `durability = "sync"` and `default_frequency = "10s"` on a fresh data dir, and
//! `victoria-metrics` (Debian package) with `-retentionPeriod 100y`. The workload's hour ends two
//! minutes before the run starts, so strata keeps it in hot memory (`hot.retention` 6 h) and
//! answers at native resolution; the compactor runs as configured by default (it writes warm
//! rows of the minutes past `compactor.lateness` while the ingest runs).
//!
//! ```text
//! cargo build --release -p strata-cli
//! cargo bench -p strata-benches --bench serve                     # about 3 minutes
//! STRATA_BENCH_HOSTS=8 STRATA_BENCH_REQUESTS=100 cargo bench -p strata-benches --bench serve
//! just -f benches/justfile bench-serve                            # output saved to results/
//! ```
//!
//! Knobs (environment variables, defaults in brackets): `STRATA_BENCH_HOSTS` (64),
//! `STRATA_BENCH_CLIENTS` (4, ingest connections), `STRATA_BENCH_QUERY_CLIENTS` (8),
//! `STRATA_BENCH_REQUESTS` (400 per query and system), `STRATA_BENCH_CHUNK_LINES` (20000),
//! `STRATA_BIN` (`target/release/strata`), `STRATA_BENCH_DIR` (`target/tmp/strata-bench-serve`),
//! `STRATA_PORT` (18081), `VM_PORT` (18428), `STRATA_BENCH_WRITE_WORKERS` (2, the server's
//! `server.write_workers` default).

mod http;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use strata_benches::{env_or, machine, split_lines};
use strata_gen::GenConfig;

use crate::http::Conn;

fn main() {
    let hosts: usize = env_or("STRATA_BENCH_HOSTS", 64);
    let clients: usize = env_or("STRATA_BENCH_CLIENTS", 4).max(1);
    let query_clients: usize = env_or("STRATA_BENCH_QUERY_CLIENTS", 8).max(1);
    let requests: usize = env_or("STRATA_BENCH_REQUESTS", 400).max(1);
    let chunk_lines: usize = env_or("STRATA_BENCH_CHUNK_LINES", 20_000);
    let workers: usize = env_or("STRATA_BENCH_WRITE_WORKERS", 2).max(1);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("benches/ has a parent").to_owned();
    let bin =
        std::env::var_os("STRATA_BIN").map_or_else(|| root.join("target/release/strata"), PathBuf::from);
    let dir = std::env::var_os("STRATA_BENCH_DIR")
        .map_or_else(|| root.join("target/tmp/strata-bench-serve"), PathBuf::from);
    let strata_addr: SocketAddr = ([127, 0, 0, 1], env_or("STRATA_PORT", 18081)).into();
    let vm_addr: SocketAddr = ([127, 0, 0, 1], env_or("VM_PORT", 18428)).into();
    assert!(bin.exists(), "{} is missing: cargo build --release -p strata-cli", bin.display());
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("bench dir");

    // The workload: the anchors' hosts, the hour that ended two minutes ago (minute-aligned).
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_secs() as i64;
    let start = (now - 3600 - 120) / 60 * 60;
    let end = start + 3600;
    let config = GenConfig { hosts, duration_secs: 3600, interval_secs: 10, start, ..GenConfig::default() };
    let data = strata_gen::generate(config).expect("the workload config is valid");
    let chunks = split_lines(&data, chunk_lines);
    let points = memchr::memchr_iter(b'\n', &data).count() as u64;
    println!("# machine: {}", machine());
    println!(
        "# workload: {hosts} hosts x 1 h at 10 s from {start} to {end}, {points} points, {} bytes, {} bodies of {chunk_lines} lines; {clients} ingest clients, {query_clients} query clients, {requests} requests per query; strata write_workers = {workers}",
        data.len(),
        chunks.len()
    );

    // strata first, then VictoriaMetrics: one server ingests at a time; both stay up for the
    // queries, which alternate between them.
    let strata = start_strata(&bin, &dir, strata_addr, workers);
    let cpu0 = cpu_secs(strata.id());
    let s_ingest = ingest(strata_addr, "/api/write?cluster=fritz", &chunks, clients);
    let s_cpu = cpu_secs(strata.id()) - cpu0;
    let metrics = text(strata_addr, "/metrics");
    let accepted = metric(&metrics, "strata_points_accepted_total");
    let write_sum = metric(&metrics, "strata_server_write_seconds_sum");
    let write_count = metric(&metrics, "strata_server_write_seconds_count");
    println!(
        "# strata: {:.2} s, {} retries (503); accepted {accepted} points; engine write calls {write_count}, {write_sum:.2} s in all ({:.1} ms mean); client request time {:.2} s in all; server CPU {s_cpu:.1} s",
        s_ingest.secs,
        s_ingest.retries,
        1e3 * write_sum / write_count.max(1.0),
        s_ingest.request_secs
    );
    if accepted as u64 != points {
        println!("# WARNING: strata accepted {accepted} of {points} points (strata.err in the bench dir)");
    }

    let vm = start_vm(&dir, vm_addr);
    let cpu0 = cpu_secs(vm.id());
    let v_ingest = ingest(vm_addr, "/write?precision=s", &chunks, clients);
    let v_cpu = cpu_secs(vm.id()) - cpu0;
    println!(
        "# victoria-metrics: {:.2} s, {} retries; client request time {:.2} s in all; server CPU {v_cpu:.1} s",
        v_ingest.secs, v_ingest.retries, v_ingest.request_secs
    );
    wait_searchable(vm_addr, end, points);

    // The three queries cc-backend sends, and the PromQL that reads the same points.
    let type_ids: Vec<String> = (0..72).map(|t| t.to_string()).collect();
    let body = |queries: Value, all: Value| {
        serde_json::json!({"cluster": "fritz", "from": start, "to": end, "with-stats": true,
            "with-data": true, "queries": queries, "for-all-nodes": all})
        .to_string()
    };
    let range = |expr: &str| {
        format!(
            "/api/v1/query_range?query={}&start={start}&end={}&step=10s&nocache=1",
            encode(expr),
            end - 10
        )
    };
    let cases = [
        (
            "node metric (cpu_load of f0101, no type, native)",
            body(
                serde_json::json!([{"metric": "cpu_load", "host": "f0101", "resolution": 0, "aggreg": false}]),
                Value::Null,
            ),
            range(r#"cpu_load_value{hostname="f0101"}"#),
        ),
        (
            "hwthread scope to node (cpu_user of f0101, 72 ids, aggreg)",
            body(
                serde_json::json!([{"metric": "cpu_user", "host": "f0101", "type": "hwthread",
                    "type-ids": type_ids, "resolution": 0, "aggreg": true}]),
                Value::Null,
            ),
            range(r#"avg(cpu_user_value{hostname="f0101",type="hwthread"})"#),
        ),
        (
            "for-all-nodes (cpu_load, every host)",
            body(Value::Null, serde_json::json!(["cpu_load"])),
            range(r#"cpu_load_value{cluster="fritz"}"#),
        ),
    ];

    let mut rows = Vec::new();
    for (name, strata_body, vm_path) in &cases {
        let s_answer = json(strata_addr, "GET", "/api/query", strata_body.as_bytes());
        let v_answer = json(vm_addr, "GET", vm_path, b"");
        let (s_n, s_sum) = strata_values(&s_answer);
        let (v_n, v_sum) = vm_values(&v_answer);
        println!(
            "# {name}: strata {s_n} values (sum {s_sum:.6}), victoria-metrics {v_n} values (sum {v_sum:.6}); relative difference of the sums {:.1e}",
            ((s_sum - v_sum) / v_sum).abs()
        );
        // Reported, not asserted: a mismatch must not throw away the run's figures.
        if s_n != v_n || ((s_sum - v_sum) / v_sum).abs() > 1e-9 {
            println!("# WARNING: {name}: the two answers differ; its latencies compare unequal work");
        }
        let s_lat =
            latency(strata_addr, "GET", "/api/query", strata_body.as_bytes(), query_clients, requests);
        let v_lat = latency(vm_addr, "GET", vm_path, b"", query_clients, requests);
        rows.push((*name, s_n, s_lat, v_lat));
    }

    let s_rate = points as f64 / s_ingest.secs;
    let v_rate = points as f64 / v_ingest.secs;
    println!();
    println!("| measure | strata serve | VictoriaMetrics | strata / VM | goal |");
    println!("|---|---|---|---|---|");
    println!(
        "| HTTP ingest, {clients} clients, M points/s | {:.2} | {:.2} | {:.2}x | 3x |",
        s_rate / 1e6,
        v_rate / 1e6,
        s_rate / v_rate
    );
    println!(
        "| server CPU per M points, s | {:.2} | {:.2} | {:.2}x | |",
        s_cpu / (points as f64 / 1e6),
        v_cpu / (points as f64 / 1e6),
        s_cpu / v_cpu
    );
    for (name, n, s, v) in &rows {
        for (label, p) in [("p50", 50.0), ("p99", 99.0)] {
            let (a, b) = (percentile(s, p), percentile(v, p));
            let goal = if label == "p99" { "<= 1x" } else { "" };
            println!(
                "| {name}, {n} values, {label} ms | {:.2} | {:.2} | {:.2}x | {goal} |",
                a * 1e3,
                b * 1e3,
                a / b
            );
        }
    }
    println!();
    println!(
        "engine write calls (strata_server_write_seconds, WAL sync included): {:.2} s of the clients' {:.2} s of request time ({:.0}%); ingest wall time {:.2} s",
        write_sum,
        s_ingest.request_secs,
        100.0 * write_sum / s_ingest.request_secs,
        s_ingest.secs
    );
    drop(vm);
    drop(strata);
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------------
// Servers

/// A child process killed (and waited for) when dropped.
#[derive(Debug)]
struct Server(std::process::Child);

impl Server {
    fn id(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn log_file(path: &Path) -> Stdio {
    Stdio::from(std::fs::File::create(path).expect("log file"))
}

fn start_strata(bin: &Path, dir: &Path, addr: SocketAddr, workers: usize) -> Server {
    let config = dir.join("strata.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\n\n[wal]\ndurability = \"sync\"\n\n[server]\nlisten = \"{addr}\"\ndefault_frequency = \"10s\"\nwrite_workers = {workers}\n",
            dir.join("strata-data")
        ),
    )
    .expect("config file");
    let child = Command::new(bin)
        .args(["serve", "--config"])
        .arg(&config)
        .stdout(log_file(&dir.join("strata.log")))
        .stderr(log_file(&dir.join("strata.err")))
        .spawn()
        .expect("start strata serve");
    let server = Server(child);
    wait_up(addr, "/health");
    server
}

fn start_vm(dir: &Path, addr: SocketAddr) -> Server {
    let child = Command::new("victoria-metrics")
        .arg("-storageDataPath")
        .arg(dir.join("vm-data"))
        .args(["-httpListenAddr", &addr.to_string(), "-retentionPeriod", "100y", "-loggerLevel", "ERROR"])
        .stdout(log_file(&dir.join("vm.log")))
        .stderr(log_file(&dir.join("vm.err")))
        .spawn()
        .expect("start victoria-metrics (apt-get install -y victoria-metrics)");
    let server = Server(child);
    wait_up(addr, "/health");
    server
}

fn wait_up(addr: SocketAddr, path: &str) {
    for _ in 0..300 {
        if Conn::new(addr).request("GET", path, b"").is_ok_and(|r| r.status == 200) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{addr} did not answer {path} in 30 s");
}

/// User and system CPU seconds of process `pid` (`/proc/<pid>/stat`, 100 ticks a second).
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

// ---------------------------------------------------------------------------------------------
// Ingest

#[derive(Debug)]
struct Ingest {
    secs: f64,
    /// Sum over the clients of their requests' times.
    request_secs: f64,
    /// Bodies answered 503 and sent again.
    retries: usize,
}

/// Posts every chunk once, `clients` connections taking the next chunk from a shared index.
fn ingest(addr: SocketAddr, path: &str, chunks: &[&[u8]], clients: usize) -> Ingest {
    let next = AtomicUsize::new(0);
    let retries = AtomicUsize::new(0);
    let request_secs = Mutex::new(0.0);
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..clients {
            s.spawn(|| {
                let mut conn = Conn::new(addr);
                let mut busy = 0.0;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(chunk) = chunks.get(i) else { break };
                    loop {
                        let t = Instant::now();
                        let r = conn.request("POST", path, chunk).expect("write request");
                        busy += t.elapsed().as_secs_f64();
                        if r.status == 503 {
                            retries.fetch_add(1, Ordering::Relaxed);
                            std::thread::sleep(Duration::from_millis(50));
                            continue;
                        }
                        assert!(
                            (200..300).contains(&r.status),
                            "{addr}{path}: HTTP {}: {}",
                            r.status,
                            String::from_utf8_lossy(&r.body)
                        );
                        break;
                    }
                }
                *request_secs.lock().expect("no panics holding it") += busy;
            });
        }
    });
    let secs = t0.elapsed().as_secs_f64();
    Ingest {
        secs,
        request_secs: request_secs.into_inner().expect("no panics holding it"),
        retries: retries.into_inner(),
    }
}

/// Waits until VictoriaMetrics counts every point (its writes become searchable after a flush).
fn wait_searchable(addr: SocketAddr, end: i64, points: u64) {
    let expr = r#"sum(count_over_time({__name__=~".+"}[2h]))"#;
    let path = format!("/api/v1/query?query={}&time={end}&nocache=1", encode(expr));
    let mut seen = 0;
    for _ in 0..240 {
        let _ = Conn::new(addr).request("GET", "/internal/force_flush", b"");
        let answer = json(addr, "GET", &path, b"");
        seen = answer["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0) as u64;
        if seen == points {
            return;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!("VictoriaMetrics shows {seen} points, {points} were posted");
}

// ---------------------------------------------------------------------------------------------
// Queries

fn text(addr: SocketAddr, path: &str) -> String {
    let r = Conn::new(addr).request("GET", path, b"").expect("request");
    assert_eq!(r.status, 200, "{addr}{path}");
    String::from_utf8(r.body).expect("UTF-8 answer")
}

fn json(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> Value {
    let r = Conn::new(addr).request(method, path, body).expect("request");
    assert_eq!(r.status, 200, "{addr}{path}: {}", String::from_utf8_lossy(&r.body));
    serde_json::from_slice(&r.body).expect("JSON answer")
}

/// The value of an unlabelled sample `name` in OpenMetrics text; 0 when absent.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Non-null values in a cc-metric-store answer, and their sum.
fn strata_values(answer: &Value) -> (usize, f64) {
    let mut out = (0, 0.0);
    for per_query in answer["results"].as_array().into_iter().flatten() {
        for element in per_query.as_array().into_iter().flatten() {
            assert!(element.get("error").is_none_or(Value::is_null), "strata: {element}");
            for v in element["data"].as_array().into_iter().flatten().filter_map(Value::as_f64) {
                out.0 += 1;
                out.1 += v;
            }
        }
    }
    out
}

/// Values in a Prometheus `query_range` answer, and their sum.
fn vm_values(answer: &Value) -> (usize, f64) {
    let mut out = (0, 0.0);
    for series in answer["data"]["result"].as_array().into_iter().flatten() {
        for pair in series["values"].as_array().into_iter().flatten() {
            if let Some(v) = pair[1].as_str().and_then(|v| v.parse::<f64>().ok()) {
                out.0 += 1;
                out.1 += v;
            }
        }
    }
    out
}

/// `requests` requests from `clients` kept-alive connections (each warmed by one untimed
/// request); seconds from sending to the whole body read.
fn latency(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
    clients: usize,
    requests: usize,
) -> Vec<f64> {
    let next = AtomicUsize::new(0);
    let all = Mutex::new(Vec::with_capacity(requests));
    std::thread::scope(|s| {
        for _ in 0..clients {
            s.spawn(|| {
                let mut conn = Conn::new(addr);
                let warm = conn.request(method, path, body).expect("query");
                assert_eq!(warm.status, 200, "{addr}{path}");
                let mut mine = Vec::new();
                while next.fetch_add(1, Ordering::Relaxed) < requests {
                    let t = Instant::now();
                    let r = conn.request(method, path, body).expect("query");
                    mine.push(t.elapsed().as_secs_f64());
                    assert_eq!(r.status, 200, "{addr}{path}");
                }
                all.lock().expect("no panics holding it").extend(mine);
            });
        }
    });
    all.into_inner().expect("no panics holding it")
}

/// Nearest-rank percentile.
fn percentile(values: &[f64], p: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((v.len() as f64 * p / 100.0).ceil() as usize).max(1);
    v.get(rank - 1).copied().unwrap_or(f64::NAN)
}

/// Percent-encodes a query-string value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
