//! Shared test support: an in-process S3 server, a fault-injecting object store, the two
//! backends the tier tests run on, and a reference model of written points.
#![allow(dead_code, unreachable_pub, reason = "each test binary uses a part; pub is for the test crate")]

pub mod faulty;
pub mod s3;
pub mod sim_store;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::ObjectStore;
use strata::{Agg, Config};

/// Where a test's tiers live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Local,
    S3,
}

/// A tier store for one test: the engine is opened over `store` (faults injectable), and
/// `root` is the directory whose files are the store's objects (for both backends).
pub struct Tiers {
    pub store: Arc<faulty::FaultyStore>,
    pub root: PathBuf,
    pub server: Option<s3::S3Server>,
    _dir: tempfile::TempDir,
}

impl Tiers {
    pub fn new(backend: Backend) -> Tiers {
        let dir = tempfile::tempdir().unwrap();
        match backend {
            Backend::Local => {
                let root = dir.path().join("tiers");
                std::fs::create_dir_all(&root).unwrap();
                let local = object_store::local::LocalFileSystem::new_with_prefix(&root).unwrap();
                Tiers { store: faulty::FaultyStore::new(Arc::new(local)), root, server: None, _dir: dir }
            }
            Backend::S3 => {
                let server = s3::spawn(dir.path(), "strata");
                // An embedder's own S3 client: strata's build of reqwest has no TLS crypto
                // provider of its own (Cargo.toml), so the embedder installs one.
                let _ = rustls::crypto::ring::default_provider().install_default();
                let s3 = object_store::aws::AmazonS3Builder::new()
                    .with_endpoint(&server.endpoint)
                    .with_allow_http(true)
                    .with_access_key_id(&server.access_key)
                    .with_secret_access_key(&server.secret_key)
                    .with_region("us-east-1")
                    .with_bucket_name(&server.bucket)
                    .with_virtual_hosted_style_request(false)
                    .with_retry(object_store::RetryConfig { max_retries: 1, ..Default::default() })
                    .build()
                    .unwrap();
                let store: Arc<dyn ObjectStore> = Arc::new(s3);
                Tiers {
                    store: faulty::FaultyStore::new(store),
                    root: dir.path().join("strata"),
                    server: Some(server),
                    _dir: dir,
                }
            }
        }
    }

    /// Object paths under the store's root, sorted; s3s-fs's own metadata files left out.
    pub fn objects(&self) -> Vec<String> {
        let mut out = Vec::new();
        walk(&self.root, &self.root, &mut out);
        out.sort();
        out
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(root, &path, out);
        } else {
            let name = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
            if !name.starts_with('.') && !name.contains("/.") {
                out.push(name);
            }
        }
    }
}

pub const SEC: i64 = 1_000_000_000;
pub const MIN: i64 = 60 * SEC;
pub const HOUR: i64 = 3600 * SEC;
pub const DAY: i64 = 24 * HOUR;
/// 2025-11-22T00:00:00Z.
pub const T0: i64 = 1_763_769_600 * SEC;

/// Small tiers so a test covers days in a few thousand points.
pub fn config(data_dir: &Path) -> Config {
    Config::from_toml(&format!(
        r#"
        data_dir = {data_dir:?}
        [hot]
        retention = "2h"
        chunk_duration = "30m"
        [warm]
        resolution = "1m"
        retention = "1d"
        [cold]
        resolution = "1h"
        retention = "3d"
        [compactor]
        lateness = "5m"
        interval = "1000d"
        merge_fanin = 3
        [object_store]
        timeout = "2s"
        "#
    ))
    .unwrap()
}

pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// A metric-like value: up to 2 decimals, either sign.
    pub fn value(&mut self) -> f64 {
        (self.below(2_000_000) as f64 - 1_000_000.0) / 100.0
    }
}

/// What was acknowledged: (metric, host) -> time -> value, the latest write of a time winning.
#[derive(Debug, Default, Clone)]
pub struct Model(pub BTreeMap<(String, String), BTreeMap<i64, f64>>);

impl Model {
    pub fn insert(&mut self, metric: &str, host: &str, time: i64, value: f64) {
        self.0.entry((metric.to_owned(), host.to_owned())).or_default().insert(time, value);
    }

    /// The aggregate of every bucket of `res` starting in `[from, to)` with points, per series.
    pub fn buckets(&self, res: i64, from: i64, to: i64) -> BTreeMap<(String, String), BTreeMap<i64, Agg>> {
        let mut out: BTreeMap<(String, String), BTreeMap<i64, Agg>> = BTreeMap::new();
        for (series, points) in &self.0 {
            for (&t, &v) in points {
                let b = t.div_euclid(res) * res;
                if b < from || b >= to {
                    continue;
                }
                out.entry(series.clone())
                    .or_default()
                    .entry(b)
                    .and_modify(|a| a.push_sorted(t, v))
                    .or_insert_with(|| Agg::point(t, v));
            }
        }
        out
    }
}

/// Compares a tier's rows with the model's buckets, bit for bit (the double-double sum makes
/// any grouping of these values exact).
pub fn assert_tier_matches(
    engine: &strata::Engine,
    tier: strata::Tier,
    metric: &str,
    model: &Model,
    res: i64,
    from: i64,
    to: i64,
) {
    let got = engine.read_tier(tier, &strata::Selector::metric(metric), from, to).unwrap();
    let mut got_map: BTreeMap<(String, String), BTreeMap<i64, Agg>> = BTreeMap::new();
    for s in got {
        let host = s.key.tag("hostname").unwrap().to_owned();
        let rows = got_map.entry((metric.to_owned(), host)).or_default();
        for (t, a) in s.times.into_iter().zip(s.aggs) {
            assert!(rows.insert(t, a).is_none(), "two rows for one bucket");
        }
    }
    let want: BTreeMap<_, _> =
        model.buckets(res, from, to).into_iter().filter(|((m, _), _)| m == metric).collect();
    assert_eq!(
        got_map.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{tier} series of {metric}"
    );
    for (series, rows) in &want {
        let got_rows = &got_map[series];
        assert_eq!(got_rows.len(), rows.len(), "{tier} buckets of {series:?} in [{from}, {to})");
        for (t, a) in rows {
            let g = got_rows.get(t).unwrap_or_else(|| panic!("{tier}: no bucket {t} for {series:?}"));
            assert_eq!(
                (g.count, g.sum.to_bits(), g.min, g.max, g.first, g.first_time, g.last, g.last_time),
                (a.count, a.sum.to_bits(), a.min, a.max, a.first, a.first_time, a.last, a.last_time),
                "{tier} bucket {t} of {series:?}: got {g:?}, want {a:?}"
            );
        }
    }
}

/// Copies the directory tree `from` to `to` (a data directory or a fixture, to open a copy).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
