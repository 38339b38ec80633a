//! Bad input over HTTP: each answered with a 4xx and a message naming what is wrong, never a
//! 500, and the server keeps serving others meanwhile.

mod common;

use std::io::Write as _;
use std::net::TcpStream;
use std::time::Duration;

use base64::Engine as _;
use common::{TestServer, now_aligned, request};
use serde_json::json;

/// An Ed25519 key pair for test tokens: the PKCS#8 document jsonwebtoken signs with, and the
/// base64 of the raw public key as the config holds it.
fn test_key() -> (Vec<u8>, String) {
    let seed = [42u8; 32];
    let public = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key().to_bytes();
    // PKCS#8 v1 wrapping of an Ed25519 seed (RFC 8410): fixed prefix, then the 32 bytes.
    let mut pkcs8 =
        vec![0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
    pkcs8.extend_from_slice(&seed);
    (pkcs8, base64::engine::general_purpose::STANDARD.encode(public))
}

fn token(pkcs8: &[u8], claims: serde_json::Value) -> String {
    let key = jsonwebtoken::EncodingKey::from_ed_der(pkcs8);
    jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA), &claims, &key).unwrap()
}

fn assert_ccms_error(response: &common::Response, status: u16, needle: &str) {
    assert_eq!(response.status, status, "{}", response.text());
    let body = response.json();
    assert!(body["error"].as_str().unwrap().contains(needle), "{body} lacks {needle:?}");
    assert!(body["status"].is_string(), "{body}");
}

#[test]
fn malformed_requests_get_4xx_naming_the_fault() {
    let server = TestServer::start("[server]\nbody_limit = \"4KiB\"\nmax_query_points = 1000\n");
    let now = now_aligned(60);
    assert_ccms_error(&server.post("/api/query", "{\"cluster\": "), 400, "invalid JSON body");
    assert_ccms_error(&server.post("/api/query", ""), 400, "body is empty");
    assert_ccms_error(
        &server.post("/api/query", &json!({"cluster": "c", "from": 1, "to": 2, "queries": [{"metric": "m", "host": "h", "colour": 1}]}).to_string()),
        400,
        "unknown field `colour`",
    );
    assert_ccms_error(
        &server.post("/api/query", &json!({"cluster": "c", "from": now, "to": now - 60}).to_string()),
        400,
        "must be before to",
    );
    assert_ccms_error(
        &server.post("/api/query", &json!({"cluster": "c", "from": "yesterday", "to": now}).to_string()),
        400,
        "invalid type",
    );
    // Query limits name the key.
    assert_ccms_error(
        &server.post(
            "/api/query",
            &json!({"cluster": "c", "from": now - 86_400, "to": now,
            "queries": [{"metric": "m", "host": "h", "resolution": 0}]})
            .to_string(),
        ),
        422,
        "server.max_query_points",
    );
    // Bodies past the limit: 413, by Content-Length and after gzip decoding.
    let huge = "m,hostname=h value=1 1\n".repeat(400);
    assert_ccms_error(&server.post("/api/write?cluster=c", &huge), 413, "server.body_limit");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(huge.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    let response = server.request("POST", "/api/v2/write?bucket=b", &[("Content-Encoding", "gzip")], &gz);
    assert_eq!(response.status, 413, "{}", response.text());
    assert!(response.json()["message"].as_str().unwrap().contains("server.body_limit"));
    // Wrong content encodings.
    let response = server.request("POST", "/write?db=d", &[("Content-Encoding", "br")], b"m value=1");
    assert_eq!(response.status, 415, "{}", response.text());
    assert!(response.json()["error"].as_str().unwrap().contains("\"br\" is not supported"));
    let response =
        server.request("POST", "/api/v2/write?bucket=b", &[("Content-Encoding", "gzip")], b"m value=1");
    assert_eq!(response.status, 400, "{}", response.text());
    assert_eq!(response.json()["code"], "invalid");
    assert!(response.json()["message"].as_str().unwrap().contains("not valid gzip"));
    // Line protocol errors name the line; the valid lines are stored.
    let body =
        format!("m,hostname=h value=1 {now}\nm,hostname=h value=\"text\" {now}\nm,hostname=h value= {now}\n");
    assert_ccms_error(&server.post("/api/write?cluster=c", &body), 400, "line 3");
    let response = server.post("/api/v2/write?bucket=b&precision=s", &body);
    assert_eq!(response.status, 400);
    let message = response.json()["message"].as_str().unwrap().to_owned();
    assert!(message.starts_with("partial write") && message.contains("line 2"), "{message}");
    let response = server.post("/api/v2/write?bucket=b&precision=fortnights", &body);
    assert_eq!(response.status, 400);
    // Unknown paths: 404 in JSON.
    assert_ccms_error(&server.post("/api/nothing", ""), 404, "/api/nothing");
    // Nothing above was a server error; the counters saw it.
    let metrics = server.request("GET", "/metrics", &[], b"").text();
    assert!(
        metrics.contains("strata_server_requests_rejected_total{reason=\"body_too_large\"} 2"),
        "{metrics}"
    );
    assert!(metrics.contains("strata_lines_rejected_total{reason=\"not_numeric\"} 2"), "{metrics}");
    server.stop().unwrap();
}

#[test]
fn tokens_are_checked_when_a_key_is_configured() {
    let (pkcs8, public) = test_key();
    let server = TestServer::start(&format!("[server]\njwt_public_key = \"{public}\"\n"));
    let now = now_aligned(1);
    let body = format!("m,hostname=h value=1 {now}\n");
    let write = |auth: Option<String>| {
        let headers: Vec<(&str, &str)> =
            auth.as_deref().map(|a| vec![("Authorization", a)]).unwrap_or_default();
        server.request("POST", "/api/write?cluster=c", &headers, body.as_bytes())
    };
    assert_ccms_error(&write(None), 401, "missing Authorization header");
    assert_ccms_error(&write(Some("Bearer not.a.token".into())), 401, "invalid token");
    let expired = token(&pkcs8, json!({"sub": "cc-backend", "exp": now - 60}));
    assert_ccms_error(&write(Some(format!("Bearer {expired}"))), 401, "expired");
    let (other, _) = {
        let mut k = test_key();
        k.0[20] ^= 1;
        k
    };
    let forged = token(&other, json!({"sub": "cc-backend"}));
    assert_ccms_error(&write(Some(format!("Bearer {forged}"))), 401, "signature");
    // cc-metric-store's own tokens carry no exp: accepted, as is a token whose exp is ahead.
    assert_eq!(write(Some(format!("Bearer {}", token(&pkcs8, json!({"sub": "a"}))))).status, 200);
    let valid = token(&pkcs8, json!({"sub": "a", "exp": now + 3600}));
    assert_eq!(write(Some(format!("Bearer {valid}"))).status, 200);
    // InfluxDB clients send "Token": the same check.
    let response = server.request(
        "POST",
        "/api/v2/write?bucket=b&precision=s",
        &[("Authorization", &format!("Token {valid}"))],
        body.as_bytes(),
    );
    assert_eq!(response.status, 204, "{}", response.text());
    let response = server.request("POST", "/api/v2/write?bucket=b", &[], body.as_bytes());
    assert_eq!(response.status, 401);
    assert_eq!(response.json()["code"], "unauthorized");
    // Health and metrics need no token.
    assert_eq!(server.request("GET", "/health", &[], b"").status, 200);
    assert_eq!(server.request("GET", "/metrics/", &[], b"").status, 200);
    server.stop().unwrap();
}

#[test]
fn a_client_sending_one_byte_a_second_is_cut_off_while_others_are_served() {
    let server = TestServer::start("[server]\nbody_timeout = \"2s\"\n");
    let mut slow = TcpStream::connect(server.addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let body = b"m,hostname=h value=1\n";
    write!(slow, "POST /api/write?cluster=c HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", body.len())
        .unwrap();
    let trickle = std::thread::spawn(move || {
        for byte in body {
            if slow.write_all(&[*byte]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_secs(1));
            let mut peek = [0u8; 1];
            slow.set_nonblocking(true).unwrap();
            let answered = matches!(slow.peek(&mut peek), Ok(n) if n > 0);
            slow.set_nonblocking(false).unwrap();
            if answered {
                break;
            }
        }
        common::read_response(&mut slow)
    });
    // Meanwhile others are served.
    let now = now_aligned(1);
    for i in 0..3 {
        let response = request(
            server.addr,
            "POST",
            "/api/write?cluster=c",
            &[],
            format!("m,hostname=h{i} value=1 {now}\n").as_bytes(),
        );
        assert_eq!(response.status, 200, "{}", response.text());
        std::thread::sleep(Duration::from_millis(300));
    }
    let response = trickle.join().unwrap();
    assert_ccms_error(&response, 408, "server.body_timeout");
    assert_eq!(response.header("connection"), Some("close"));
    server.stop().unwrap();
}

/// Many writers against one worker and no waiting room: each write is either stored (200) or
/// refused whole with 503 and `Retry-After`, and the refused lines are counted: nothing is
/// dropped silently, however the race goes.
#[test]
fn a_full_queue_answers_503_and_counts_every_refused_line() {
    let server = TestServer::start("[server]\nwrite_workers = 1\nqueue_depth = 0\n");
    let now = now_aligned(1);
    let (writers, lines) = (8usize, 2000usize);
    let addr = server.addr;
    let handles: Vec<_> = (0..writers)
        .map(|w| {
            std::thread::spawn(move || {
                let body: String = (0..lines)
                    .map(|i| format!("q,hostname=w{w},type=core,type-id={i} value={i} {now}\n"))
                    .collect();
                request(addr, "POST", "/api/write?cluster=c", &[], body.as_bytes())
            })
        })
        .collect();
    let (mut stored, mut refused) = (0u64, 0u64);
    for handle in handles {
        let response = handle.join().unwrap();
        match response.status {
            200 => stored += lines as u64,
            503 => {
                assert!(response.header("retry-after").is_some_and(|s| s.parse::<u64>().unwrap() >= 1));
                assert!(response.json()["error"].as_str().unwrap().contains("queue is full"));
                refused += lines as u64;
            }
            other => panic!("status {other}: {}", response.text()),
        }
    }
    eprintln!("{stored} lines stored, {refused} refused with 503");
    let metrics = server.request("GET", "/metrics", &[], b"").text();
    assert!(metrics.contains(&format!("strata_points_accepted_total {stored}\n")), "{metrics}");
    if refused > 0 {
        assert!(
            metrics.contains(&format!(
                "strata_server_lines_rejected_total{{reason=\"queue_full\"}} {refused}\n"
            )),
            "{metrics}"
        );
    }
    server.stop().unwrap();
}

/// Headers that never end: the connection is closed after server.header_timeout, and the
/// server answers others meanwhile.
#[test]
fn headers_that_never_end_are_cut_off() {
    use std::io::Read as _;
    let server = TestServer::start("[server]\nheader_timeout = \"1s\"\n");
    let mut slow = TcpStream::connect(server.addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    slow.write_all(b"POST /api/write?cluster=c HTTP/1.1\r\nHost: x\r\n").unwrap();
    assert_eq!(server.request("GET", "/health", &[], b"").status, 200);
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest);
    assert!(started.elapsed() < Duration::from_secs(20), "the connection stayed open");
    let text = String::from_utf8_lossy(&rest);
    assert!(text.is_empty() || text.starts_with("HTTP/1.1 408"), "{text}");
    server.stop().unwrap();
}

#[test]
fn a_selector_matching_too_many_series_names_the_limit() {
    let server = TestServer::start("[server]\nmax_query_series = 2\n");
    let now = now_aligned(60);
    let body: String =
        (0..3).map(|i| format!("flops_any,hostname=h,type=hwthread,type-id={i} value=1 {now}\n")).collect();
    assert_eq!(server.post("/api/write?cluster=c", &body).status, 200);
    let query = |ids: &[&str]| {
        json!({"cluster": "c", "from": now, "to": now + 60, "queries": [
            {"metric": "flops_any", "host": "h", "type": "hwthread", "type-ids": ids, "aggreg": true, "resolution": 0}]})
    };
    assert_eq!(server.get_json("/api/query", &query(&["0", "1"])).status, 200);
    assert_ccms_error(
        &server.get_json("/api/query", &query(&["0", "1", "2"])),
        422,
        "server.max_query_series (2)",
    );
    server.stop().unwrap();
}

#[test]
fn a_query_past_its_deadline_gets_422_and_the_server_serves_on() {
    // 1 ms: any query over a few thousand series in an unoptimized test build takes longer.
    let server = TestServer::start("[server]\nquery_timeout = \"1ms\"\n");
    let now = now_aligned(60);
    let mut body = String::new();
    for host in 0..40 {
        for id in 0..40 {
            for slot in 0..5 {
                let t = now - 600 + slot * 60;
                body.push_str(&format!(
                    "cpu_user,hostname=h{host},type=hwthread,type-id={id} value={slot} {t}\n"
                ));
            }
        }
    }
    assert_eq!(server.post("/api/write?cluster=c", &body).status, 200);
    let query = json!({"cluster": "c", "from": now - 3600, "to": now, "for-all-nodes": ["cpu_user"]});
    assert_ccms_error(&server.get_json("/api/query", &query), 422, "server.query_timeout");
    let health = server.request("GET", "/health", &[], b"");
    assert_eq!(health.status, 200, "{}", health.text());
    server.stop().unwrap();
}
