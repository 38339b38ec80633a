//! A real `nats-server` on a loopback port, and a real client (Python's `nats-py`) publishing.
//! Missing either, a test prints why and passes, unless `CI=true`: there it fails.
#![allow(dead_code, reason = "each test binary uses a part of this module")]

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Prints why a test cannot run and returns, or fails under `CI=true`.
pub(crate) fn skip(why: &str) {
    assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true, and {why}");
    eprintln!("skipping: {why}");
}

/// A `nats-server` child process, killed on drop.
pub(crate) struct NatsServer {
    pub(crate) url: String,
    child: Child,
    _store: tempfile::TempDir,
}

impl NatsServer {
    /// Starts `nats-server` on a free loopback port (with JetStream when `jetstream`); `None`
    /// after [`skip`] when it is not installed.
    pub(crate) fn start(jetstream: bool) -> Option<NatsServer> {
        NatsServer::start_with(jetstream, None)
    }

    /// Like [`NatsServer::start`] with JetStream, and `mappings` (the body of a nats-server
    /// `mappings = { ... }` block, such as a `partition()` mapping) in a config file.
    pub(crate) fn start_with_mappings(mappings: &str) -> Option<NatsServer> {
        NatsServer::start_with(true, Some(mappings))
    }

    fn start_with(jetstream: bool, mappings: Option<&str>) -> Option<NatsServer> {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let store = tempfile::tempdir().unwrap();
        let mut command = Command::new("nats-server");
        command.args(["-a", "127.0.0.1", "-p", &port.to_string()]);
        if jetstream {
            command.arg("-js").arg("-sd").arg(store.path());
        }
        if let Some(mappings) = mappings {
            let conf = store.path().join("nats.conf");
            std::fs::write(&conf, format!("mappings = {{\n{mappings}\n}}\n")).unwrap();
            command.arg("-c").arg(&conf);
        }
        let child = match command.stdout(Stdio::null()).stderr(Stdio::null()).spawn() {
            Ok(child) => child,
            Err(e) => {
                skip(&format!("cannot run nats-server (apt-get install nats-server): {e}"));
                return None;
            }
        };
        let server = NatsServer { url: format!("nats://127.0.0.1:{port}"), child, _store: store };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not listen on {port} within 10 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(server)
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Publishes `messages` (subject, body) with nats-py: to core NATS, or, with `stream` = (name,
/// subjects), to a JetStream stream it creates, each publish acknowledged by the stream.
/// Returns the stream sequences, or `None` after [`skip`] when python3 or nats-py is missing.
pub(crate) fn publish(
    url: &str,
    messages: &[(String, String)],
    stream: Option<(&str, &str)>,
) -> Option<Vec<u64>> {
    const SCRIPT: &str = r#"
import asyncio, json, sys
import nats

async def main():
    url, path = sys.argv[1], sys.argv[2]
    messages = json.load(open(path))
    nc = await nats.connect(url)
    seqs = []
    if len(sys.argv) > 3:
        js = nc.jetstream()
        try:
            await js.stream_info(sys.argv[3])
        except nats.js.errors.NotFoundError:
            await js.add_stream(name=sys.argv[3], subjects=[sys.argv[4]])
        for subject, body in messages:
            ack = await js.publish(subject, body.encode())
            seqs.append(ack.seq)
    else:
        for subject, body in messages:
            await nc.publish(subject, body.encode())
        await nc.flush()
    await nc.close()
    print(json.dumps(seqs))

asyncio.run(main())
"#;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("messages.json");
    std::fs::write(&path, serde_json::to_vec(messages).unwrap()).unwrap();
    let mut command = Command::new("python3");
    command.arg("-c").arg(SCRIPT).arg(url).arg(&path);
    if let Some((name, subjects)) = stream {
        command.args([name, subjects]);
    }
    let output = match command.output() {
        Ok(output) => output,
        Err(e) => {
            skip(&format!("cannot run python3: {e}"));
            return None;
        }
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("No module named 'nats'") {
        skip("python module nats-py is missing (pip install nats-py)");
        return None;
    }
    assert!(output.status.success(), "the publisher failed: {stderr}");
    Some(serde_json::from_slice(&output.stdout).unwrap())
}

/// Waits up to 30 s for `done`, polling.
pub(crate) fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
