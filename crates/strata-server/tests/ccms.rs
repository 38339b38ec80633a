//! cc-backend's conversation with the store, body for body as cc-backend 1.5.4 sends it
//! (`../shared/reference/cc-metric-store.md`), against points written through `/api/write`
//! and checked value by value against a model of what was written.

mod common;

use std::collections::BTreeMap;

use common::{TestServer, now_aligned};
use serde_json::{Value, json};

const CONFIG: &str = r#"
[metrics.cpu_load]
frequency = "10s"
[metrics.flops_any]
aggregation = "sum"
frequency = "10s"
[metrics.acc_utilization]
frequency = "10s"
[metrics.nfs_read]
aggregation = "sum"
frequency = "10s"
"#;

const SLOTS: i64 = 30;
const HOSTS: [&str; 2] = ["f0101", "f0102"];
const GPUS: [&str; 2] = ["00000000:49:00.0", "00000000:4a:00.0"];
const MOUNTS: [&str; 2] = ["/home", "/scratch"];

/// (metric, host, type-id) -> value per slot (None: not written).
type Model = BTreeMap<(String, String, String), Vec<Option<f64>>>;

fn value(host: usize, metric: usize, id: usize, slot: i64) -> Option<f64> {
    // Gaps in hardware-thread series, so sums and averages see missing members.
    if metric == 1 && (id as i64 + slot) % 7 == 3 {
        return None;
    }
    Some((host * 1000 + metric * 100 + id * 10) as f64 * 0.25 + slot as f64 * 0.5)
}

fn write_all(server: &TestServer, start: i64) -> Model {
    let mut model = Model::new();
    let mut body = String::new();
    for (h, host) in HOSTS.iter().enumerate() {
        let mut series: Vec<(usize, &str, &str, String)> = vec![(0, "cpu_load", "node", String::new())];
        series.extend((0..8).map(|i| (1, "flops_any", "hwthread", i.to_string())));
        series.extend(GPUS.iter().map(|g| (2, "acc_utilization", "accelerator", (*g).to_owned())));
        series.extend(MOUNTS.iter().map(|m| (3, "nfs_read", "filesystem", (*m).to_owned())));
        for (m, metric, kind, id) in series {
            let number = id.parse::<usize>().unwrap_or(m);
            let values: Vec<Option<f64>> = (0..SLOTS).map(|k| value(h, m, number, k)).collect();
            for (k, v) in values.iter().enumerate() {
                let Some(v) = v else { continue };
                let type_id = if id.is_empty() { String::new() } else { format!(",type-id={id}") };
                // cc-metric-collector leaves cluster out; ?cluster= fills it. `host` is accepted for hostname.
                let host_tag = if h == 0 { "hostname" } else { "host" };
                body.push_str(&format!(
                    "{metric},{host_tag}={host},type={kind}{type_id} value={v} {}\n",
                    start + k as i64 * 10
                ));
            }
            model.insert((metric.to_owned(), (*host).to_owned(), id), values);
        }
    }
    let response = server.post("/api/write?cluster=fritz", &body);
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(response.body.is_empty());
    model
}

/// Per slot, the model's values of `ids` combined as cc-metric-store does (sum or mean of those present).
fn combined(model: &Model, metric: &str, host: &str, ids: &[&str], sum: bool) -> Vec<Option<f64>> {
    let mut ids: Vec<&str> = ids.to_vec();
    ids.sort_unstable();
    (0..SLOTS as usize)
        .map(|k| {
            let present: Vec<f64> = ids
                .iter()
                .filter_map(|id| model[&(metric.to_owned(), host.to_owned(), (*id).to_owned())][k])
                .collect();
            if present.is_empty() {
                return None;
            }
            let total: f64 = present.iter().sum();
            Some(if sum { total } else { total / present.len() as f64 })
        })
        .collect()
}

fn data(element: &Value) -> Vec<Option<f64>> {
    element["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data in {element}"))
        .iter()
        .map(Value::as_f64)
        .collect()
}

fn stats_of(values: &[Option<f64>]) -> (f64, f64, f64) {
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    let avg = present.iter().sum::<f64>() / present.len() as f64;
    (
        avg,
        present.iter().copied().fold(f64::INFINITY, f64::min),
        present.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    )
}

fn check_element(element: &Value, expected: &[Option<f64>], from: i64, resolution: i64) {
    assert_eq!(data(element), expected, "{element}");
    assert_eq!(element["from"], from);
    assert_eq!(element["to"], from + expected.len() as i64 * resolution);
    assert_eq!(element["resolution"], resolution);
    let (avg, min, max) = stats_of(expected);
    assert_eq!(
        (
            element["avg"].as_f64().unwrap(),
            element["min"].as_f64().unwrap(),
            element["max"].as_f64().unwrap()
        ),
        (avg, min, max)
    );
    assert!(element.get("error").is_none());
}

/// A request body exactly as cc-backend 1.5.4 builds it: every field present, nulls included.
fn request(from: i64, to: i64, queries: Value, for_all_nodes: Value, with_data: bool) -> Value {
    json!({"cluster": "fritz", "queries": queries, "for-all-nodes": for_all_nodes,
           "from": from, "to": to, "with-stats": true, "with-data": with_data})
}

#[test]
fn cc_backend_queries_answer_what_was_written() {
    let server = TestServer::start(CONFIG);
    let start = now_aligned(60) - 600;
    let end = start + SLOTS * 10;
    let model = write_all(&server, start);
    let query = |body: Value| {
        let response = server.get_json("/api/query?version=v2", &body);
        assert_eq!(response.status, 200, "{}", response.text());
        response.json()
    };

    // Node metrics: no type, native resolution.
    let answer = query(request(
        start,
        end,
        json!([
            {"metric": "cpu_load", "host": "f0101", "resolution": 0, "aggreg": false},
            {"metric": "cpu_load", "host": "f0102", "resolution": 0, "aggreg": false}
        ]),
        Value::Null,
        true,
    ));
    assert!(answer.get("queries").is_none(), "queries only when for-all-nodes made them: {answer}");
    for (i, host) in HOSTS.iter().enumerate() {
        let expected = model[&("cpu_load".to_owned(), (*host).to_owned(), String::new())].clone();
        check_element(&answer["results"][i][0], &expected, start, 10);
    }

    // Hardware threads per socket and per node, aggregated with the metric's `sum`.
    let sockets = [["0", "1", "2", "3"], ["4", "5", "6", "7"]];
    let all: Vec<&str> = sockets.concat();
    let answer = query(request(
        start,
        end,
        json!([
            {"metric": "flops_any", "host": "f0102", "type": "hwthread", "type-ids": sockets[0], "resolution": 0, "aggreg": true},
            {"metric": "flops_any", "host": "f0102", "type": "hwthread", "type-ids": sockets[1], "resolution": 0, "aggreg": true},
            {"metric": "flops_any", "host": "f0102", "type": "hwthread", "type-ids": all, "resolution": 0, "aggreg": true}
        ]),
        Value::Null,
        true,
    ));
    check_element(
        &answer["results"][0][0],
        &combined(&model, "flops_any", "f0102", &sockets[0], true),
        start,
        10,
    );
    check_element(
        &answer["results"][1][0],
        &combined(&model, "flops_any", "f0102", &sockets[1], true),
        start,
        10,
    );
    check_element(&answer["results"][2][0], &combined(&model, "flops_any", "f0102", &all, true), start, 10);
    assert!(data(&answer["results"][0][0]).iter().all(Option::is_some), "a socket always has a thread");

    // Accelerators per id; an id without data answers an error in its own position.
    let answer = query(request(
        start,
        end,
        json!([
            {"metric": "acc_utilization", "host": "f0101", "type": "accelerator",
             "type-ids": [GPUS[1], "00000000:ff:00.0", GPUS[0]], "resolution": 0, "aggreg": false}
        ]),
        Value::Null,
        true,
    ));
    let elements = answer["results"][0].as_array().unwrap();
    assert_eq!(elements.len(), 3);
    check_element(&elements[0], &combined(&model, "acc_utilization", "f0101", &[GPUS[1]], false), start, 10);
    assert!(elements[1]["error"].as_str().unwrap().contains("00000000:ff:00.0"), "{}", elements[1]);
    check_element(&elements[2], &combined(&model, "acc_utilization", "f0101", &[GPUS[0]], false), start, 10);

    // for-all-nodes: one generated query per host and metric, after the explicit ones.
    let answer = query(request(start, end, Value::Null, json!(["cpu_load", "flops_any"]), true));
    let generated = answer["queries"].as_array().unwrap();
    assert_eq!(generated.len(), 4);
    let mut seen = 0;
    for (q, result) in generated.iter().zip(answer["results"].as_array().unwrap()) {
        let (metric, host) = (q["metric"].as_str().unwrap(), q["host"].as_str().unwrap());
        let expected = match metric {
            "cpu_load" => model[&(metric.to_owned(), host.to_owned(), String::new())].clone(),
            _ => combined(&model, metric, host, &all, true),
        };
        check_element(&result[0], &expected, start, 10);
        seen += 1;
    }
    assert_eq!(seen, 4);

    // Stats only (job footprints): no data, stats over what would have been returned.
    let answer = query(request(
        start,
        end,
        json!([
            {"metric": "flops_any", "host": "f0101", "type": "hwthread", "type-ids": all, "resolution": 0, "aggreg": true}
        ]),
        Value::Null,
        false,
    ));
    let element = &answer["results"][0][0];
    assert!(element.get("data").is_none(), "{element}");
    let (avg, min, max) = stats_of(&combined(&model, "flops_any", "f0101", &all, true));
    assert_eq!(element["avg"].as_f64(), Some(avg));
    assert_eq!(element["min"].as_f64(), Some(min));
    assert_eq!(element["max"].as_f64(), Some(max));

    // Coarser resolution: 60 s buckets average the 10 s points; scale-by multiplies.
    let answer = query(request(
        start,
        end,
        json!([
            {"metric": "cpu_load", "host": "f0101", "resolution": 60, "aggreg": false, "scale-by": 2.0}
        ]),
        Value::Null,
        true,
    ));
    let points = &model[&("cpu_load".to_owned(), "f0101".to_owned(), String::new())];
    let expected: Vec<Option<f64>> =
        points.chunks(6).map(|c| Some(c.iter().flatten().sum::<f64>() / c.len() as f64 * 2.0)).collect();
    check_element(&answer["results"][0][0], &expected, start, 60);

    // Filesystem type-ids hold slashes: tag values only, never a path.
    let answer = query(request(
        start,
        end,
        json!([
            {"metric": "nfs_read", "host": "f0101", "type": "filesystem", "type-ids": ["/home", "../../etc/passwd", "/scratch"], "resolution": 0, "aggreg": false}
        ]),
        Value::Null,
        true,
    ));
    let elements = answer["results"][0].as_array().unwrap();
    check_element(&elements[0], &combined(&model, "nfs_read", "f0101", &["/home"], true), start, 10);
    assert!(elements[1]["error"].is_string(), "{}", elements[1]);
    check_element(&elements[2], &combined(&model, "nfs_read", "f0101", &["/scratch"], true), start, 10);

    // An unknown host or metric: an element with `error`, not a missing element.
    let answer = query(request(
        start,
        end,
        json!([
            {"metric": "cpu_load", "host": "nohost", "resolution": 0, "aggreg": false},
            {"metric": "nometric", "host": "f0101", "resolution": 0, "aggreg": false}
        ]),
        Value::Null,
        true,
    ));
    assert!(answer["results"][0][0]["error"].as_str().unwrap().contains("nohost"));
    assert!(answer["results"][1][0]["error"].as_str().unwrap().contains("nometric"));

    // POST and a trailing slash give the same answer as GET.
    let body = request(
        start,
        end,
        json!([{"metric": "cpu_load", "host": "f0101", "resolution": 0, "aggreg": false}]),
        Value::Null,
        true,
    );
    let get = query(body.clone());
    let post = server.request("POST", "/api/query/", &[], body.to_string().as_bytes());
    assert_eq!(post.status, 200, "{}", post.text());
    assert_eq!(post.json(), get);

    // Without padding, leading and trailing empty slots are cut and `from` moves.
    let mut body = request(
        start - 100,
        end + 100,
        json!([{"metric": "cpu_load", "host": "f0101", "resolution": 0}]),
        Value::Null,
        true,
    );
    let padded = query(body.clone());
    assert_eq!(data(&padded["results"][0][0]).len(), SLOTS as usize + 20);
    body["with-padding"] = json!(false);
    let cut = query(body);
    check_element(
        &cut["results"][0][0],
        &model[&("cpu_load".to_owned(), "f0101".to_owned(), String::new())],
        start,
        10,
    );
    server.stop().unwrap();
}

#[test]
fn the_later_of_two_points_in_one_slot_wins_and_health_reports_per_node() {
    let server = TestServer::start(CONFIG);
    let slot = now_aligned(10) - 30;
    let body = format!(
        "cpu_load,hostname=h1,type=node value=1 {slot}\ncpu_load,hostname=h1,type=node value=7 {}\n",
        slot + 4
    );
    assert_eq!(server.post("/api/write?cluster=c", &body).status, 200);
    let answer = server.get_json(
        "/api/query",
        &request_in("c", slot, slot + 10, json!([{"metric": "cpu_load", "host": "h1", "resolution": 0}])),
    );
    assert_eq!(answer.json()["results"][0][0]["data"], json!([7.0]));

    let health = server.get_json(
        "/api/healthcheck",
        &json!({"cluster": "c", "nodes": ["h1", "h2"], "metric-names": ["cpu_load"]}),
    );
    assert_eq!(health.status, 200, "{}", health.text());
    let health = health.json();
    // One slot of the last ten has a point: more than 5 missing, so degraded; h2 has none.
    assert_eq!(health["h1"]["State"], "partial");
    assert_eq!(health["h1"]["HealthMetrics"], r#"{"degraded":["cpu_load"],"missing":[]}"#);
    assert_eq!(health["h2"]["State"], "failed");
    assert_eq!(health["h2"]["HealthMetrics"], r#"{"degraded":[],"missing":["cpu_load"]}"#);
    server.stop().unwrap();
}

fn request_in(cluster: &str, from: i64, to: i64, queries: Value) -> Value {
    json!({"cluster": cluster, "queries": queries, "for-all-nodes": null, "from": from, "to": to,
           "with-stats": true, "with-data": true})
}

/// Points older than hot.retention live only in the warm tier (1 min rows): a native-resolution
/// query over them is answered at the tier's resolution, and says so.
#[test]
fn a_range_only_warm_holds_is_answered_at_its_resolution() {
    let server = TestServer::start(
        "[hot]\nretention = \"1h\"\nchunk_duration = \"30m\"\n[compactor]\ninterval = \"1s\"\nlateness = \"1s\"\n[metrics.cpu_load]\nfrequency = \"10s\"\n",
    );
    let start = now_aligned(3600) - 3 * 3600;
    // 10 minutes at 10 s: six points per warm minute.
    let values: Vec<f64> = (0..60).map(|k| 1.0 + f64::from(k) * 0.25).collect();
    let body: String = values
        .iter()
        .enumerate()
        .map(|(k, v)| format!("cpu_load,hostname=w1,type=node value={v} {}\n", start + k as i64 * 10))
        .collect();
    let response = server.post("/api/write?cluster=fritz", &body);
    assert_eq!(response.status, 200, "{}", response.text());
    let body = request_in(
        "fritz",
        start,
        start + 600,
        json!([{"metric": "cpu_load", "host": "w1", "resolution": 0}]),
    );
    // Until the background compactor (every second) has written the old window to warm and
    // evicted it from memory, hot answers at full resolution.
    let mut answer = Value::Null;
    for _ in 0..600 {
        answer = server.get_json("/api/query", &body).json();
        if answer["results"][0][0]["resolution"] == 60 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let element = &answer["results"][0][0];
    assert_eq!(element["resolution"], 60, "{answer}");
    let expected: Vec<Option<f64>> = values.chunks(6).map(|c| Some(c.iter().sum::<f64>() / 6.0)).collect();
    assert_eq!(data(element), expected);
    assert_eq!(element["from"], start);
    assert_eq!(element["to"], start + 600);
    server.stop().unwrap();
}
