//! The peers' figures and the printed table.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use strata_benches::median;

use crate::IngestResults;

/// The peers' figures from `STRATA_BENCH_PEERS` (this session), else the anchors'.
#[derive(Debug)]
pub(crate) struct Peers {
    source: String,
    values: BTreeMap<String, String>,
}

impl Peers {
    pub(crate) fn load() -> Peers {
        let anchors = [
            ("vm_points_per_s", "1270000"),
            ("vm_bytes_per_point", "1.74"),
            ("influx_points_per_s", "420000"),
            ("vm_version", "1.79.5"),
            ("influx_version", "1.6.7"),
        ];
        let mut values: BTreeMap<String, String> =
            anchors.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        // `cargo bench` runs this in `benches/`; a relative path may be meant from the root.
        let path = std::env::var_os("STRATA_BENCH_PEERS").map(PathBuf::from).and_then(|p| {
            let from_root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(&p);
            let found = [p.clone(), from_root].into_iter().find(|p| p.exists());
            if found.is_none() {
                println!(
                    "STRATA_BENCH_PEERS={} does not exist: the table shows the anchors' figures",
                    p.display()
                );
            }
            found
        });
        let Some(path) = path else {
            return Peers { source: "anchors.md (not this run)".to_owned(), values };
        };
        let path = path.display().to_string();
        values.remove("influx_bytes_per_point");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for line in text.lines() {
            if let Some((k, v)) = line.split_once('=') {
                values.insert(k.trim().to_owned(), v.trim().to_owned());
            }
        }
        Peers { source: format!("this session ({path})"), values }
    }

    pub(crate) fn get(&self, key: &str) -> Option<f64> {
        self.values.get(key)?.replace(',', "").parse().ok()
    }

    fn vm(&self) -> String {
        format!("VM {}", self.values.get("vm_version").map_or("?", String::as_str))
    }

    fn influx(&self) -> String {
        format!("InfluxDB {}", self.values.get("influx_version").map_or("?", String::as_str))
    }
}

#[derive(Debug, Default)]
pub(crate) struct Table {
    rows: Vec<[String; 5]>,
}

impl Table {
    fn row(&mut self, measurement: &str, strata: String, target: &str, peers: String, ratio: String) {
        self.rows.push([measurement.to_owned(), strata, target.to_owned(), peers, ratio]);
    }

    pub(crate) fn ingest(&mut self, r: &IngestResults, peers: &Peers, runs: usize, threads: usize) {
        let vm = peers.get("vm_points_per_s");
        let influx = peers.get("influx_points_per_s");
        let peer_text = format!("{} {}; {} {}", peers.vm(), mpts(vm), peers.influx(), mpts(influx));
        let versus = |x: f64| {
            format!(
                "{} VM, {} Influx",
                vm.map_or("-".to_owned(), |v| format!("{:.2}x", x / v)),
                influx.map_or("-".to_owned(), |v| format!("{:.2}x", x / v))
            )
        };
        let rates = |name| r.rates.get(name).map_or(&[][..], Vec::as_slice);
        // The median, and the range of the runs: the machine is shared and runs vary.
        let spread = |name| {
            let v = rates(name);
            let (lo, hi) = range(v);
            format!("{} ({:.2}-{:.2})", mpts(Some(median(v))), lo / 1e6, hi / 1e6)
        };
        let (lo, hi) = range(&r.canary);
        self.row(
            "machine canary: strata-lp parse, 1 thread, no engine",
            format!("{:.0} MB/s ({:.0}-{:.0})", median(&r.canary) / 1e6, lo / 1e6, hi / 1e6),
            "-",
            "influxdb-line-protocol crate 78 MB/s (anchors)".to_owned(),
            String::new(),
        );
        let headline = median(rates("sync"));
        self.row(
            &format!("ingest, sync + group commit, {threads} writers (median of {runs}, range)"),
            spread("sync"),
            ">= 5 M pts/s",
            peer_text,
            versus(headline),
        );
        let one = median(rates("sync-1"));
        self.row("ingest, sync, 1 writer", spread("sync-1"), "context", String::new(), versus(one));
        let none = median(rates("none"));
        self.row(
            &format!("ingest, durability none, {threads} writers"),
            spread("none"),
            "context",
            String::new(),
            versus(none),
        );
        if let Some(cli) = peers.get("strata_cli_points_per_s") {
            self.row(
                "ingest, `strata write` CLI, 1 writer, sync",
                mpts(Some(cli)),
                "context",
                String::new(),
                versus(cli),
            );
        }
        let replay = r.replay_points as f64 / median(&r.replay_secs);
        self.row(
            &format!("replay after drop ({:.2} M points in the WAL)", r.replay_points as f64 / 1e6),
            format!(
                "{} ({:.2}-{:.2}; {:.2} s)",
                mpts(Some(replay)),
                r.replay_points as f64 / range(&r.replay_secs).1 / 1e6,
                r.replay_points as f64 / range(&r.replay_secs).0 / 1e6,
                median(&r.replay_secs)
            ),
            ">= 10 M pts/s",
            String::new(),
            format!("{:.2}x target", replay / 10e6),
        );
        let open = median(&r.open_secs);
        self.row(
            "open after clean close (checkpoint load)",
            format!("{open:.3} s ({:.3}-{:.3})", range(&r.open_secs).0, range(&r.open_secs).1),
            "< 1 s",
            String::new(),
            format!("{:.2}x target", open),
        );
        self.row(
            "close (final checkpoint)",
            format!("{:.2} s", median(&r.close_secs)),
            "-",
            String::new(),
            String::new(),
        );
        let checkpoint = median(&r.checkpoint_bytes) / r.points as f64;
        let vm_bytes = peers.get("vm_bytes_per_point");
        let mut disk_peers = format!("{} {}", peers.vm(), bytes_pp(vm_bytes));
        if let Some(b) = peers.get("influx_bytes_per_point") {
            disk_peers += &format!("; {} {}", peers.influx(), bytes_pp(Some(b)));
        }
        if let Some(b) = peers.get("strata_cli_bytes_per_point") {
            disk_peers += &format!("; strata CLI data dir (checkpoint + WAL tail) {}", bytes_pp(Some(b)));
        }
        self.row(
            "checkpoint on disk, all chunks sealed",
            bytes_pp(Some(checkpoint)),
            "-",
            disk_peers,
            vm_bytes.map_or(String::new(), |v| format!("{:.2}x VM", checkpoint / v)),
        );
        self.row(
            "sealed chunks in memory after reopen",
            bytes_pp(Some(median(&r.reopened_sealed_bytes_per_point))),
            "-",
            String::new(),
            vm_bytes.map_or(String::new(), |v| {
                format!("{:.2}x VM", median(&r.reopened_sealed_bytes_per_point) / v)
            }),
        );
    }

    pub(crate) fn memory(&mut self, case: &str, m: &BTreeMap<String, f64>, pco: Option<f64>, peers: &Peers) {
        let get = |k: &str| m.get(k).copied().unwrap_or(f64::NAN);
        let points = get("points");
        let growth = (get("rss_after") - get("rss_before")) / points;
        let peak = (get("peak") - get("rss_before")) / points;
        self.row(
            &format!("RSS growth / point, {case}"),
            format!("{growth:.1} B/pt (peak {peak:.1})"),
            "-",
            "raw i64+f64 = 16 B/pt".to_owned(),
            format!("{:.2}x raw", growth / 16.0),
        );
        let (open, sealed) = (get("open_points"), get("sealed_points"));
        let sealed_text = if sealed > 0.0 {
            format!(
                "{} ({:.0}% sealed)",
                bytes_pp(Some(get("sealed_bytes") / sealed)),
                100.0 * sealed / (open + sealed)
            )
        } else {
            format!("none sealed ({open:.0} points open)")
        };
        let mut peer = format!("{} on disk {}", peers.vm(), bytes_pp(peers.get("vm_bytes_per_point")));
        let mut ratio = String::new();
        if let Some(pco) = pco {
            peer += &format!("; pco {pco:.2} B/pt (anchors)");
            if sealed > 0.0 {
                ratio = format!("{:.2}x pco", get("sealed_bytes") / sealed / pco);
            }
        }
        self.row(&format!("sealed chunk bytes / point, {case}"), sealed_text, "-", peer, ratio);
        self.row(
            &format!("checkpoint bytes / point, {case}"),
            bytes_pp(Some(get("checkpoint_bytes") / points)),
            "-",
            String::new(),
            String::new(),
        );
    }

    pub(crate) fn series(&mut self, m: &BTreeMap<String, f64>) {
        let get = |k: &str| m.get(k).copied().unwrap_or(f64::NAN);
        let n = get("series");
        let gross = (get("rss_after") - get("rss_before")) / n;
        // One point per series: 16 bytes of data.
        let net = gross - 16.0;
        self.row(
            &format!("RSS / series beyond its point, {:.0} k series", n / 1e3),
            format!(
                "{net:.0} B (gross {gross:.0}, peak {:.0}; key text {:.0} B)",
                (get("peak") - get("rss_before")) / n,
                get("key_bytes")
            ),
            "<= 200 B",
            "Prometheus head ~3 kB (published)".to_owned(),
            format!("{:.2}x target", net / 200.0),
        );
    }

    pub(crate) fn churn(&mut self, m: &BTreeMap<String, f64>) {
        let get = |k: &str| m.get(k).copied().unwrap_or(f64::NAN);
        let (n, live) = (get("series"), get("live"));
        let per = |k: &str, count: f64| get(k) / count;
        self.row(
            &format!("series churn: {:.0} k one-point series retire, {live:.0} stay", n / 1e3),
            format!(
                "index {:.0} -> {:.0} B/live series, checkpoint {:.0} -> {:.0} B/live series, RSS {:.0} -> {:.0} MB",
                per("index_full", n + live),
                per("index_lean", live),
                per("checkpoint_full", n + live),
                per("checkpoint_lean", live),
                get("rss_full") / 1e6,
                get("rss_lean") / 1e6
            ),
            "shrink to the live series",
            String::new(),
            format!(
                "index {:.4}x, checkpoint {:.4}x of before",
                get("index_lean") / get("index_full"),
                get("checkpoint_lean") / get("checkpoint_full")
            ),
        );
    }

    pub(crate) fn print(&self, peers: &Peers) {
        println!();
        println!("peers: {}", peers.source);
        let header = ["measurement", "strata", "target", "peers", "ratio"];
        let mut widths = header.map(str::len);
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.len());
            }
        }
        let line = |cells: &[String; 5]| {
            let padded: Vec<String> = cells.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
            println!("| {} |", padded.join(" | "));
        };
        line(&header.map(str::to_owned));
        line(&widths.map(|w| "-".repeat(w)));
        for row in &self.rows {
            line(row);
        }
    }
}

/// The smallest and largest of `values`.
fn range(values: &[f64]) -> (f64, f64) {
    values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| (lo.min(x), hi.max(x)))
}

fn mpts(rate: Option<f64>) -> String {
    rate.map_or("-".to_owned(), |r| format!("{:.2} M pts/s", r / 1e6))
}

fn bytes_pp(bytes: Option<f64>) -> String {
    bytes.map_or("-".to_owned(), |b| format!("{b:.2} B/pt"))
}
