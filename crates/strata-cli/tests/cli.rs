//! The `strata` binary, run as an operator would.

mod common;

use common::{run_ok, stdout, strata};

#[test]
fn lp_parse_prints_one_json_object_per_line() {
    let input = "# a comment\n\
                 cpu,host=a\\ b,type=node value=1.5,n=-9223372036854775808i,u=18446744073709551615u,ok=t,s=\"x\\\"y\" 1700000000\r\n\
                 \n\
                 mem value=2\n\
                 bad line\n\
                 disk value=1e400 5\n";
    let output = strata(&["lp", "parse", "--precision", "s"], input);
    assert_eq!(output.status.code(), Some(1), "rejected lines give exit status 1");
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            r#"{"line":2,"measurement":"cpu","tags":{"host":"a b","type":"node"},"fields":{"value":{"float":1.5},"n":{"int":-9223372036854775808},"u":{"uint":18446744073709551615},"ok":{"bool":true},"s":{"string":"x\"y"}},"timestamp":1700000000000000000}"#,
            r#"{"line":4,"measurement":"mem","tags":{},"fields":{"value":{"float":2.0}},"timestamp":null}"#,
            r#"{"line":5,"column":9,"error":"field key \"line\" is not followed by '=' and a value"}"#,
            r#"{"line":6,"column":12,"error":"float field \"value\" is not finite: NaN and infinities cannot be stored"}"#,
        ]
    );
    let ok = strata(&["lp", "parse", "-"], "m f=1\n");
    assert_eq!(ok.status.code(), Some(0));
}

#[test]
fn gen_is_deterministic_and_parses() {
    let args = ["gen", "--hosts", "2", "--duration", "2m", "--seed", "7"];
    let a = strata(&args, "");
    let b = strata(&args, "");
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout);
    let text = stdout(&a);
    assert_eq!(text.lines().count(), 2 * 302 * 12);
    let parsed = strata(&["lp", "parse", "--precision", "s", "--summary"], &text);
    assert_eq!(parsed.status.code(), Some(0), "{}", String::from_utf8_lossy(&parsed.stderr));
}

#[test]
fn write_then_query() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let input = format!(
        "cpu_load,hostname=f0101,type=node value=1.25 {a}\ncpu_load,host=f0101,type=node value=2 {b}\ncpu_load,hostname=f0101 value=\"x\" {b}\n",
        a = now - 20,
        b = now - 10
    );
    let written =
        strata(&["write", "--data-dir", data_dir, "--precision", "s", "--cluster", "fritz"], &input);
    assert_eq!(written.status.code(), Some(1));
    let report = stdout(&written);
    assert!(report.starts_with("2 points accepted, 1 lines rejected"), "{report}");
    assert!(report.contains("line 3: field \"value\" is a string"), "{report}");

    let (from, to) = ((now - 60).to_string(), (now + 1).to_string());
    let csv = strata(
        &[
            "query",
            "--data-dir",
            data_dir,
            "--metric",
            "cpu_load",
            "--cluster",
            "fritz",
            "--host",
            "f0101",
            "--from",
            &from,
            "--to",
            &to,
            "--format",
            "csv",
        ],
        "",
    );
    assert!(csv.status.success(), "{}", String::from_utf8_lossy(&csv.stderr));
    assert_eq!(stdout(&csv), format!("time,value\n{},1.25\n{},2\n", now - 20, now - 10));
    let json = strata(
        &[
            "query",
            "--data-dir",
            data_dir,
            "--metric",
            "cpu_load",
            "--from",
            &from,
            "--to",
            &to,
            "--format",
            "json",
        ],
        "",
    );
    assert_eq!(
        stdout(&json),
        format!("[{{\"time\":{},\"value\":1.25}},\n {{\"time\":{},\"value\":2.0}}]\n", now - 20, now - 10)
    );
    let bad =
        strata(&["query", "--data-dir", data_dir, "--metric", "m", "--from", "yesterday", "--to", &to], "");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("neither Unix seconds nor an RFC 3339 time"));
}

/// `strata write f.lp | true`: the reader is gone before the summary is printed. The command
/// ends without a panic (it used to exit 101 with "failed printing to stdout").
#[test]
fn a_closed_stdout_is_not_a_panic() {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let input: String = (0..2000).map(|i| format!("m,hostname=h{} value={i} {now}\n", i % 50)).collect();
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["write", "--data-dir", dir.path().to_str().unwrap(), "--precision", "s"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close the reading end first: the summary meets a broken pipe.
    drop(child.stdout.take());
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    // The points were stored all the same.
    let check = strata(&["inspect", "--data-dir", dir.path().to_str().unwrap(), "--format", "json"], "");
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
}

/// A line longer than a write may be is refused without reading it whole: the error names the
/// line, and the summary says what was stored before it.
#[test]
fn a_line_past_max_write_size_is_named_and_what_came_before_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("strata.toml");
    let data = dir.path().join("data");
    std::fs::write(&config, format!("data_dir = {data:?}\n[limits]\nmax_write_size = \"64KiB\"\n")).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let before: String = (0..3).map(|i| format!("m,hostname=h{i} value={i} {now}\n")).collect();
    // 10 MiB on one line (a field value of digits), then a line that is never read.
    let input = format!("{before}m value={} {now}\nm value=9 {now}\n", "1".repeat(10 << 20));
    let output = strata(&["write", "--config", config.to_str().unwrap(), "--precision", "s"], &input);
    let (out, err) = (stdout(&output), String::from_utf8_lossy(&output.stderr).into_owned());
    assert_eq!(output.status.code(), Some(2), "{out}{err}");
    assert!(out.starts_with("3 points accepted, 0 lines rejected"), "{out}");
    assert!(
        err.contains("the write stopped after storing 3 points")
            && err.contains("line 4 is longer than 32768 bytes"),
        "{err}"
    );
}

/// The series of one line with two fields differ only in their field: the output names it.
#[test]
fn query_output_names_the_field_when_series_differ_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    run_ok(&["write", "--data-dir", data_dir, "--precision", "s"], &format!("m,hostname=a v=1,w=2 {now}\n"));
    let (from, to) = ((now - 60).to_string(), (now + 1).to_string());
    let csv = run_ok(
        &["query", "--data-dir", data_dir, "--metric", "m", "--from", &from, "--to", &to, "--format", "csv"],
        "",
    );
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("metric,field,hostname,time,"), "{csv}");
    assert!(lines[1].starts_with("m,v,a,") && lines[2].starts_with("m,w,a,"), "{csv}");
}

/// A full disk: the write stops with the OS error, says how many points were stored before it
/// (once, not repeated by the close), and a reopen with room again finds exactly those points.
/// Needs a small tmpfs (`mount`, as root); skipped with a note where mounting is not allowed.
#[test]
fn a_full_disk_stops_the_write_and_keeps_what_was_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().join("disk");
    std::fs::create_dir(&mount).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1M", "tmpfs"])
        .arg(&mount)
        .output();
    if !mounted.as_ref().is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: cannot mount a 1 MiB tmpfs here (needs root): {mounted:?}");
        return;
    }
    struct Unmount<'a>(&'a std::path::Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(self.0).status();
        }
    }
    let _unmount = Unmount(&mount);
    let data = mount.join("data");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    // 200,000 points: several MB in the WAL, far past the 1 MiB disk.
    let input: String = (0..200_000)
        .map(|i| format!("mem_used,hostname=h{},type=node value={i} {}\n", i % 100, now - 3600 + i / 100))
        .collect();
    // Writes of 64 KiB, so several are acknowledged before the disk is full.
    let config = dir.path().join("strata.toml");
    std::fs::write(&config, format!("data_dir = {data:?}\n[limits]\nmax_write_size = \"128KiB\"\n")).unwrap();
    let output = strata(&["write", "--config", config.to_str().unwrap(), "--precision", "s"], &input);
    let (out, err) = (stdout(&output), String::from_utf8_lossy(&output.stderr).into_owned());
    assert_eq!(output.status.code(), Some(2), "{out}{err}");
    let stored: u64 = out.split(' ').next().unwrap().parse().unwrap_or_else(|_| panic!("{out}"));
    assert!(stored > 0 && stored < 200_000, "{out}");
    assert!(err.contains(&format!("the write stopped after storing {stored} points")), "{err}");
    assert!(err.contains("No space left on device"), "names the OS error: {err}");
    assert_eq!(err.matches("error:").count(), 1, "one error, stated once: {err}");

    // Room again: every acknowledged point is there, nothing more.
    let grown = std::process::Command::new("mount").args(["-o", "remount,size=64M"]).arg(&mount).status();
    assert!(grown.unwrap().success());
    let inspect = run_ok(&["inspect", "--config", config.to_str().unwrap()], "");
    let hot = inspect.lines().find(|l| l.starts_with("hot ")).unwrap();
    let points: u64 = hot.split_whitespace().nth(6).unwrap().parse().unwrap();
    assert_eq!(points, stored, "{inspect}");
}
