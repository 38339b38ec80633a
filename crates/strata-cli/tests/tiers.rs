//! `strata compact`, `strata inspect` and `strata query --tier`, on data written and compacted
//! with the CLI, checked against the aggregates of the points written.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use common::{Expected, close, expected, run_ok, strata, tiered};

/// Rows of `query --tier .. --format json` (several series: with key columns) by (host, time).
fn by_host_and_time(rows: &[serde_json::Value]) -> BTreeMap<(String, i64), (Expected, f64)> {
    rows.iter()
        .map(|r| {
            assert_eq!(r["metric"], "cpu_load");
            assert_eq!((r["cluster"].as_str(), r["type"].as_str()), (Some("fritz"), Some("node")));
            let float = |name: &str| r[name].as_f64().unwrap_or_else(|| panic!("{name} in {r}"));
            let agg = Expected {
                count: r["count"].as_u64().unwrap(),
                sum: float("sum"),
                min: float("min"),
                max: float("max"),
                last: float("last"),
            };
            ((r["hostname"].as_str().unwrap().to_owned(), r["time"].as_i64().unwrap()), (agg, float("avg")))
        })
        .collect()
}

fn assert_matches(tier: &str, key: &(String, i64), got: &(Expected, f64), want: &Expected) {
    let (agg, avg) = got;
    assert_eq!(
        (agg.count, agg.min, agg.max, agg.last),
        (want.count, want.min, want.max, want.last),
        "{tier} {key:?}"
    );
    assert!(close(agg.sum, want.sum), "{tier} {key:?}: sum {} != {}", agg.sum, want.sum);
    assert!(close(*avg, want.sum / want.count as f64), "{tier} {key:?}: avg {avg}");
}

#[test]
fn compact_then_query_warm_and_cold() {
    let data = tiered();
    assert!(data.reports[0].starts_with("as of "), "{}", data.reports[0]);
    assert!(data.reports[0].contains("(0 late points)"), "{}", data.reports[0]);
    // Two hours of one point a minute for three hosts, backfilled.
    assert!(data.reports[1].contains("(360 late points)"), "{}", data.reports[1]);

    // Warm: every minute with points, merged from both passes' rows.
    let warm = by_host_and_time(&data.query_json("warm", &[]));
    let want = expected(&data.points, 60);
    assert_eq!(warm.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>());
    for (key, got) in &warm {
        assert_matches("warm", key, got, &want[key]);
    }
    let first = (common::HOSTS[0].to_owned(), data.start);
    assert_eq!(warm[&first].0.count, 3, "the backfilled point joined the bucket");

    // Cold: hours rolled up (every hour before the one compaction reached); each is whole.
    let cold = by_host_and_time(&data.query_json("cold", &[]));
    let want = expected(&data.points, 3600);
    for host in common::HOSTS {
        let hours: Vec<i64> = cold.keys().filter(|(h, _)| h == host).map(|(_, t)| *t).collect();
        assert!(hours.len() >= 4, "{host}: cold hours {hours:?}");
        assert_eq!(hours.first(), Some(&data.start));
    }
    for (key, got) in &cold {
        assert_eq!(got.0.count, 180, "{key:?}: a rolled-up hour holds all its points");
        assert_matches("cold", key, got, &want[key]);
    }

    // One series: no key columns; --tier hot is the default and reads raw points.
    let (from, to) = (data.start.to_string(), (data.start + 120).to_string());
    let one = ["--metric", "cpu_load", "--host", "f0102", "--from", &from, "--to", &to, "--format", "csv"];
    let csv = data.run("query", &[&one[..], &["--tier", "warm"]].concat());
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert_eq!(lines[0], "time,count,sum,min,max,avg,last");
    assert!(lines[1].starts_with(&format!("{},3,", data.start)), "{csv}");
    let hot = data.run("query", &one);
    assert_eq!(hot, "time,value\n", "the first hours were evicted from hot");
}

#[test]
fn inspect_shows_each_tier() {
    let data = tiered();
    let json: serde_json::Value = serde_json::from_str(&data.run("inspect", &["--format", "json"])).unwrap();
    let total = data.points.len() as u64;
    let rfc3339 = |secs: i64| {
        humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs as u64)).to_string()
    };
    for tier in ["hot", "warm", "cold"] {
        let t = &json[tier];
        assert_eq!(t["series"], 3, "{tier}: {t}");
        assert_eq!(t["series_per_metric"], serde_json::json!({ "cpu_load": 3 }), "{tier}");
        assert_eq!(t["series_in_other_metrics"], 0, "{tier}");
        let per_point = t["bytes"].as_f64().unwrap() / t["points"].as_f64().unwrap();
        assert_eq!(t["bytes_per_point"].as_f64(), Some(per_point), "{tier}");
    }
    // Per tier, its metrics and tag keys: one metric of three series, three tag keys.
    let tag_keys = serde_json::json!([
        { "key": "cluster", "series": 3, "values": 1 },
        { "key": "hostname", "series": 3, "values": 3 },
        { "key": "type", "series": 3, "values": 1 },
    ]);
    for tier in ["hot", "warm", "cold"] {
        let t = &json[tier];
        assert_eq!(t["tag_keys"], tag_keys, "{tier}");
        let metrics = t["metrics"].as_array().unwrap();
        assert_eq!(metrics.len(), 1, "{tier}: {t}");
        assert_eq!(
            (&metrics[0]["metric"], &metrics[0]["series"]),
            (&serde_json::json!("cpu_load"), &serde_json::json!(3))
        );
        assert_eq!(metrics[0]["points"], t["points"], "{tier}: its one metric holds every point");
        assert_eq!(metrics[0]["rows"], t["rows"], "{tier}");
    }
    // Warm and cold files hold one metric, which gets all their bytes; hot's metric its series'
    // memory, less the store's own vectors.
    for tier in ["warm", "cold"] {
        assert_eq!(json[tier]["metrics"][0]["bytes"], json[tier]["bytes"], "{tier}");
    }
    let hot_metric_bytes = json["hot"]["metrics"][0]["bytes"].as_u64().unwrap();
    assert!(hot_metric_bytes > 0 && hot_metric_bytes <= json["hot"]["bytes"].as_u64().unwrap());

    let (hot, warm, cold) = (&json["hot"], &json["warm"], &json["cold"]);
    assert_eq!((hot["resolution"].as_str(), &hot["files"]), (Some("raw"), &serde_json::Value::Null));
    let hot_points = hot["points"].as_u64().unwrap();
    assert!(hot_points > 0 && hot_points < total, "hot keeps the last 2 to 2.5 h: {hot}");
    assert_eq!(hot["rows"], hot["points"]);

    assert_eq!(warm["resolution"], "1m");
    assert_eq!(warm["resolution_ns"], 60_000_000_000_i64);
    assert_eq!(warm["points"], total, "every point is in warm");
    assert_eq!(warm["oldest"].as_str(), Some(rfc3339(data.start).as_str()));
    // The backfill wrote a second file (per day); its partial rows count as rows.
    assert!(warm["files"].as_u64().unwrap() >= 2, "{warm}");
    let warm_buckets = expected(&data.points, 60).len() as u64;
    assert_eq!(warm["rows"], warm_buckets + 2 * 60 * 3, "one partial row per backfilled point");

    assert_eq!(cold["resolution"], "1h");
    assert_eq!(cold["oldest"].as_str(), Some(rfc3339(data.start).as_str()));
    assert_eq!(cold["points"].as_u64().unwrap() % 180, 0, "cold holds whole hours: {cold}");
    assert!(cold["max_files_per_day"].as_u64().unwrap() >= 1);

    let table = data.run("inspect", &[]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("tier  resolution  oldest"), "{table}");
    assert!(lines[1].starts_with("hot   raw "), "{table}");
    assert!(lines[2].starts_with("warm  1m "), "{table}");
    assert!(lines[3].starts_with("cold  1h "), "{table}");
    assert!(lines.iter().any(|l| l.split_whitespace().eq(["cpu_load", "3", "3", "3"])), "{table}");
    // Then per tier its metrics (series, rows, points, bytes) and tag keys with the most series.
    for tier in ["hot", "warm", "cold"] {
        let at = lines
            .iter()
            .position(|l| *l == format!("{tier}: the 1 of 1 metrics with the most series"))
            .unwrap_or_else(|| panic!("{table}"));
        assert!(lines[at + 1].split_whitespace().eq([
            "metric",
            "series",
            "rows",
            "points",
            "bytes",
            "bytes/point"
        ]));
        let row: Vec<&str> = lines[at + 2].split_whitespace().collect();
        assert_eq!(row[..2], ["cpu_load", "3"], "{table}");
        assert_eq!(row[3], json[tier]["points"].to_string(), "{table}");
        let keys = lines
            .iter()
            .position(|l| *l == format!("{tier}: the 3 of 3 tag keys with the most series"))
            .unwrap_or_else(|| panic!("{table}"));
        assert!(lines[keys + 3].split_whitespace().eq(["hostname", "3", "3"]), "{table}");
    }
}

#[test]
fn compact_as_of_a_time_and_its_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let report = run_ok(&["compact", "--data-dir", data_dir, "--now", "2025-11-22T00:00:00Z"], "");
    assert_eq!(
        report,
        "as of 2025-11-22T00:00:00Z\n\
         warm: 0 rows in 0 files (0 late points); written up to 2025-11-21T23:55:00Z\n\
         cold: 0 rows in 0 files; rolled up to 2025-11-21T23:00:00Z\n\
         merges: 0 files into 0\n\
         retention: 0 files expired, 0 files deleted\n\
         hot: 0 points evicted, 0 of them early (hot.max_memory); 0 idle series retired\n"
    );
    let missing = dir.path().join("missing.toml");
    let failed = strata(&["compact", "--data-dir", data_dir, "--config", missing.to_str().unwrap()], "");
    assert_eq!(failed.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.starts_with("error: cannot read config file") && stderr.contains("missing.toml"),
        "{stderr}"
    );
    let bad = strata(&["compact", "--data-dir", data_dir, "--now", "soon"], "");
    assert_eq!(bad.status.code(), Some(2), "clap refuses the time");
}

/// `--resolution` goes through the planner: the same buckets as the tier holds, a scope
/// aggregate across hosts, and stats over the range.
#[test]
fn query_across_tiers_with_a_resolution() {
    let data = tiered();
    let (from, to) = (data.start.to_string(), (data.start + 7200).to_string());
    let base = ["--metric", "cpu_load", "--from", &from, "--to", &to, "--format", "json"];
    let hourly = data
        .run("query", &[&base[..], &["--resolution", "1h", "--agg", "count,sum,min,max,avg,last"]].concat());
    let rows: Vec<serde_json::Value> = serde_json::from_str(&hourly).unwrap();
    let got = by_host_and_time(&rows);
    let want = expected(&data.points, 3600);
    assert_eq!(got.len(), 2 * common::HOSTS.len(), "{hourly}");
    for (key, got) in &got {
        assert_matches("planned", key, got, &want[key]);
    }

    // One series for all hosts: counts add, the avg is the mean of the hosts' averages.
    let scoped = data
        .run("query", &[&base[..], &["--resolution", "1h", "--agg", "count,avg", "--aggregate"]].concat());
    let rows: Vec<serde_json::Value> = serde_json::from_str(&scoped).unwrap();
    assert_eq!(rows.len(), 2, "{scoped}");
    let hour = data.start;
    let per_host: Vec<&Expected> = common::HOSTS.iter().map(|h| &want[&(h.to_string(), hour)]).collect();
    assert_eq!(rows[0]["count"].as_u64(), Some(per_host.iter().map(|e| e.count).sum::<u64>()));
    let mean = per_host.iter().map(|e| e.sum / e.count as f64).sum::<f64>() / per_host.len() as f64;
    assert!(close(rows[0]["avg"].as_f64().unwrap(), mean), "{scoped}");

    // Stats over the range: exact min and max over both hours of one host.
    let stats =
        data.run("query", &[&base[..], &["--host", "f0101", "--resolution", "1h", "--stats"]].concat());
    let rows: Vec<serde_json::Value> = serde_json::from_str(&stats).unwrap();
    let mine: Vec<&Expected> = [hour, hour + 3600].iter().map(|t| &want[&("f0101".to_owned(), *t)]).collect();
    assert_eq!(rows[0]["min"].as_f64(), Some(mine.iter().map(|e| e.min).fold(f64::INFINITY, f64::min)));
    assert_eq!(rows[0]["max"].as_f64(), Some(mine.iter().map(|e| e.max).fold(f64::NEG_INFINITY, f64::max)));

    // --tier and --resolution do not mix.
    let out = strata(
        &[
            "query",
            "--data-dir",
            "x",
            "--metric",
            "m",
            "--from",
            "0",
            "--to",
            "1",
            "--tier",
            "warm",
            "--resolution",
            "1m",
        ],
        "",
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("use one or the other"));
}

/// A flipped byte in a warm file: `strata query --tier warm` fails (exit status 2) naming the
/// file and its checksums, instead of printing changed rows.
#[test]
fn query_of_a_damaged_warm_file_fails_naming_it() {
    let data = tiered();
    let warm = std::path::Path::new(&data.data_dir).join("tiers/warm");
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    for day in std::fs::read_dir(&warm).unwrap() {
        for file in std::fs::read_dir(day.unwrap().path()).unwrap() {
            files.push(file.unwrap().path());
        }
    }
    files.sort();
    let damaged = &files[0];
    let mut bytes = std::fs::read(damaged).unwrap();
    let at = bytes.len() * 3 / 10;
    bytes[at] ^= 0x10;
    std::fs::write(damaged, &bytes).unwrap();

    let (from, to) = ((data.start - 86_400).to_string(), (data.start + 86_400).to_string());
    let output = strata(
        &[
            "query",
            "--data-dir",
            &data.data_dir,
            "--config",
            &data.config,
            "--metric",
            "cpu_load",
            "--from",
            &from,
            "--to",
            &to,
            "--tier",
            "warm",
        ],
        "",
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let name = damaged.strip_prefix(&warm).unwrap().to_string_lossy().into_owned();
    assert!(stderr.contains(&name) && stderr.contains("CRC32C"), "{stderr}");
    assert!(common::stdout(&output).is_empty(), "no rows printed: {}", common::stdout(&output));
}

/// The integrity issue's "counted twice": data written in ten time slices, late points for
/// earlier slices in each, and `strata compact --now …` after every slice SIGKILLed at a random
/// moment. Afterwards a clean pass moves everything down the tiers, and every host and hour
/// must count each point written exactly once (the tiers held up to 21% too many before).
#[test]
fn compactions_killed_while_late_points_arrive_count_nothing_twice() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data").to_str().unwrap().to_owned();
    let config = dir.path().join("strata.toml").to_str().unwrap().to_owned();
    std::fs::write(&config, format!("{}lateness = \"1m\"\nmerge_fanin = 2\n", common::CONFIG)).unwrap();
    let start = (common::now() - 5 * 3600).div_euclid(3600) * 3600;
    let slice = 20 * 60;
    let mut points: Vec<(&str, i64, f64)> = Vec::new();
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut random = move |below: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % below
    };
    let mut kills = 0;
    for i in 0..10i64 {
        let (from, to) = (start + i * slice, start + (i + 1) * slice);
        let mut batch: Vec<(&str, i64, f64)> = Vec::new();
        for (h, host) in common::HOSTS.iter().enumerate() {
            for t in (from..to).step_by(20) {
                batch.push((host, t, ((t / 20 * 31 + h as i64 * 7) % 1000) as f64 / 4.0));
            }
            // Late points for the slice before last: its buckets were flushed already.
            if i >= 2 {
                for t in (from - 2 * slice..from - slice).step_by(300) {
                    batch.push((host, t + 5, -((t / 300 % 97) as f64) - 0.5));
                }
            }
        }
        let lines: String = batch
            .iter()
            .map(|(host, t, v)| format!("cpu_load,hostname={host},type=node value={v} {t}\n"))
            .collect();
        let now = to.to_string();
        let write =
            ["write", "--data-dir", &data_dir, "--config", &config, "--precision", "s", "--cluster", "fritz"];
        run_ok(&[&write[..], &["--now", &now]].concat(), &lines);
        points.extend(batch);
        let mut pass = Command::new(env!("CARGO_BIN_EXE_strata"))
            .args(["compact", "--data-dir", &data_dir, "--config", &config, "--now", &now])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // One pass dies within 10 ms (before it can end), the others anywhere.
        std::thread::sleep(Duration::from_millis(random(if i == 5 { 10 } else { 120 })));
        if pass.try_wait().unwrap().is_none() {
            pass.kill().unwrap();
            kills += 1;
        }
        pass.wait().unwrap();
    }
    // A clean pass well after the last slice moves everything down the tiers.
    let end = (start + 10 * slice + 3 * 3600).to_string();
    run_ok(&["compact", "--data-dir", &data_dir, "--config", &config, "--now", &end], "");
    let (from, to) = (start.to_string(), (start + 4 * 3600).to_string());
    let hourly = run_ok(
        &[
            "query",
            "--data-dir",
            &data_dir,
            "--config",
            &config,
            "--metric",
            "cpu_load",
            "--from",
            &from,
            "--to",
            &to,
            "--format",
            "json",
            "--resolution",
            "1h",
            "--agg",
            "count,sum,min,max,avg,last",
        ],
        "",
    );
    let rows: Vec<serde_json::Value> = serde_json::from_str(&hourly).unwrap();
    let got = by_host_and_time(&rows);
    let want = expected(&points, 3600);
    assert_eq!(got.len(), want.len(), "{hourly}");
    for (key, want) in &want {
        let got = got.get(key).unwrap_or_else(|| panic!("no row for {key:?}"));
        // `last` is the latest time's value: a late point is never the last of its hour here.
        assert_matches(&format!("after {kills} killed passes"), key, got, want);
    }
    assert!(kills > 0, "at least one pass was killed before it ended");
}

/// `strata query --agg increase,rate` of a counter (`[metrics.<name>] kind = "counter"`) with
/// a reset exactly on a minute boundary: the same per-minute increases from warm as computed
/// from the points; a gauge refuses them, naming the key to set.
#[test]
fn query_increase_and_rate_of_a_counter() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let config = dir.path().join("strata.toml");
    std::fs::write(
        &config,
        "[hot]\nretention = \"1h\"\nchunk_duration = \"30m\"\n[metrics.ib_recv]\nkind = \"counter\"\n",
    )
    .unwrap();
    let (data_dir, config) = (data_dir.to_str().unwrap(), config.to_str().unwrap());
    let now = std::time::SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let start = (now - 3 * 3600) / 3600 * 3600;
    // A point every 10 s for an hour, +100 each, restarting at minute 30 from 5.
    let value = |i: i64| if i < 180 { 100 * i } else { 100 * (i - 180) + 5 };
    let mut input = String::new();
    for i in 0..360 {
        input.push_str(&format!("ib_recv,hostname=n1 value={} {}\n", value(i), start + 10 * i));
        input.push_str(&format!("cpu_load,hostname=n1 value=1 {}\n", start + 10 * i));
    }
    run_ok(&["write", "--data-dir", data_dir, "--config", config, "--precision", "s"], &input);
    run_ok(&["compact", "--data-dir", data_dir, "--config", config], "");
    let (from, to) = (start.to_string(), (start + 3600).to_string());
    let query = |metric: &str| {
        strata(
            &[
                "query",
                "--data-dir",
                data_dir,
                "--config",
                config,
                "--metric",
                metric,
                "--from",
                &from,
                "--to",
                &to,
                "--resolution",
                "1m",
                "--agg",
                "increase,rate",
                "--format",
                "json",
            ],
            "",
        )
    };
    let out = query("ib_recv");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("warm"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.len(), 60);
    for (minute, row) in rows.iter().enumerate() {
        // The first minute has no pair before it; the others add the one across their start,
        // the reset (5) at minute 30.
        let want = match minute {
            0 => 500.0,
            30 => 5.0 + 500.0,
            _ => 600.0,
        };
        assert_eq!(row["increase"].as_f64(), Some(want), "minute {minute}: {row}");
        assert_eq!(row["rate"].as_f64(), Some(want / 60.0), "minute {minute}: {row}");
    }
    let out = query("cpu_load");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[metrics.cpu_load] kind = \"counter\""), "{err}");
}
