//! `strata serve` as a process: InfluxData's Python client (`influxdb-client`, pip) writes
//! through `/api/v2/write` (testdata/server/influx_write.py; half the points plain, half
//! gzip-compressed by the client), the points are read back through
//! `/api/query` and compared value by value; SIGTERM then stops the server with exit status 0,
//! and a restart on the same directory still answers them (the WAL and checkpoint were closed
//! cleanly).
//!
//! Without python3 or the module the test prints why and passes, unless `CI=true`: there it fails.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

struct Serve {
    child: Child,
    addr: String,
}

fn serve(config: &Path) -> Serve {
    serve_with(Command::new(env!("CARGO_BIN_EXE_strata")).args(["serve", "--config"]).arg(config))
}

fn serve_with(command: &mut Command) -> Serve {
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let data_line = lines.next().unwrap().unwrap();
    assert!(data_line.starts_with("strata serve: data directory "), "{data_line}");
    let listen = lines.next().unwrap().unwrap();
    let addr = listen.rsplit("http://").next().unwrap().to_owned();
    Serve { child, addr }
}

impl Serve {
    /// SIGTERM, then the exit status and what it printed on stderr.
    fn stop(mut self) -> (std::process::ExitStatus, String) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let status = self.child.wait().unwrap();
        let mut stderr = String::new();
        self.child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        (status, stderr)
    }

    /// One request on a new connection; the raw response.
    fn request(&self, method: &str, path: &str, body: &str) -> String {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).unwrap();
        raw
    }

    /// `GET /api/query` with a JSON body, as cc-backend sends it.
    fn query(&self, body: &Value) -> Value {
        let raw = self.request("GET", "/api/query?version=v2", &body.to_string());
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{raw}");
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {raw}"))
    }
}

/// Runs the Python writer; `None` (after printing why) when python3 or the module is missing outside CI.
fn write_with_python(url: &str, points: &Value) -> Option<()> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/server/influx_write.py");
    let skip = |why: String| {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true, and {why}");
        eprintln!("skipping the influxdb-client test: {why}");
    };
    let mut child = match Command::new("python3")
        .arg(&script)
        .arg(url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            skip(format!("cannot run python3: {e}"));
            return None;
        }
    };
    child.stdin.take().unwrap().write_all(points.to_string().as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    match output.status.code() {
        Some(0) => Some(()),
        Some(3) => {
            skip(stderr.trim().to_owned());
            None
        }
        _ => panic!("{} failed: {:?}\n{stderr}", script.display(), output.status),
    }
}

#[test]
fn with_no_config_it_runs_on_a_local_directory_and_says_where() {
    let dir = tempfile::tempdir().unwrap();
    // Only the port is overridden: two tests must not fight over 8081.
    let mut command = Command::new(env!("CARGO_BIN_EXE_strata"));
    command.args(["serve", "--listen", "127.0.0.1:0"]).current_dir(dir.path());
    let server = serve_with(&mut command);
    assert!(server.addr.starts_with("127.0.0.1:"), "{}", server.addr);
    let health = server.request("GET", "/health", "");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let (status, stderr) = server.stop();
    assert!(status.success(), "{status:?}: {stderr}");
    assert!(stderr.contains("authentication is off"), "the missing key is warned about: {stderr}");
    assert!(dir.path().join("strata-data").is_dir(), "the default data directory is ./strata-data");
}

#[test]
fn influxdb_client_writes_and_api_query_reads_back_value_by_value() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("strata.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\n[server]\nlisten = \"127.0.0.1:0\"\n[metrics.mem_used]\nfrequency = \"10s\"\n[metrics.cpu_user]\nfrequency = \"10s\"\n",
            dir.path().join("data")
        ),
    )
    .unwrap();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let start = now - now % 60 - 600;
    let slots = 24i64;
    let hosts = ["n01", "n02"];
    // Values with many decimals: compared bit for bit after JSON both ways.
    let value = |h: usize, id: i64, k: i64| (h as f64 + 1.0) * 1.1 + id as f64 * 0.37 + k as f64 / 7.0;
    let mut points = Vec::new();
    for (h, host) in hosts.iter().enumerate() {
        for k in 0..slots {
            let time = start + k * 10;
            points.push(json!({"measurement": "mem_used", "tags": {"cluster": "alex", "hostname": host, "type": "node"}, "value": value(h, 0, k), "time": time}));
            for id in 0..2 {
                points.push(json!({"measurement": "cpu_user", "tags": {"cluster": "alex", "hostname": host, "type": "core", "type-id": id.to_string()}, "value": value(h, id + 1, k), "time": time}));
            }
        }
    }
    let server = serve(&config);
    let Some(()) = write_with_python(&format!("http://{}", server.addr), &Value::Array(points)) else {
        let (status, _) = server.stop();
        assert!(status.success());
        return;
    };
    let ask = |server: &Serve| {
        let queries: Vec<Value> = hosts
            .iter()
            .flat_map(|host| {
                [
                    json!({"metric": "mem_used", "host": host, "resolution": 0, "aggreg": false}),
                    json!({"metric": "cpu_user", "host": host, "type": "core", "type-ids": ["0", "1"], "resolution": 0, "aggreg": false}),
                ]
            })
            .collect();
        server.query(&json!({"cluster": "alex", "queries": queries, "for-all-nodes": null,
                             "from": start, "to": start + slots * 10, "with-stats": true, "with-data": true}))
    };
    let check = |answer: &Value| {
        for (h, _) in hosts.iter().enumerate() {
            let results = &answer["results"];
            for (element, id) in
                [(&results[2 * h][0], 0), (&results[2 * h + 1][0], 1), (&results[2 * h + 1][1], 2)]
            {
                let data: Vec<f64> =
                    element["data"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
                let expected: Vec<f64> = (0..slots).map(|k| value(h, id, k)).collect();
                assert_eq!(data, expected, "host {h} id {id}: {element}");
                assert_eq!(element["from"], start);
                assert_eq!(element["resolution"], 10);
            }
        }
    };
    let answer = ask(&server);
    check(&answer);
    let (status, stderr) = server.stop();
    assert!(status.success(), "{status:?}: {stderr}");
    assert!(stderr.contains("SIGTERM") && stderr.contains("stopped cleanly"), "{stderr}");
    // After a clean stop, a restart on the same directory answers the same.
    let server = serve(&config);
    assert_eq!(ask(&server), answer);
    let (status, _) = server.stop();
    assert!(status.success());
}
