//! Wrong never in silence: a changed byte of a tier file or of the manifest is an error naming
//! it, never a changed answer, and a second engine on one tier store is refused at open.
//!
//! Every read of a tier file checks its length and CRC32C against the manifest entry before
//! Parquet parses it (Parquet pages carry no checksum); a version 2 manifest checks its own
//! CRC32C at load; the manifest's `owner` names the one engine that commits to the store.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use strata::tier::{FileEntry, Manifest};
use strata::{Engine, Error, ManualClock, Query, Resolution, Selector, Tier, WriteOptions};
use support::{Backend, HOUR, MIN, SEC, T0, Tiers};

/// Three hosts, two metrics, a point every 15 s.
fn write_span(engine: &Engine, from: i64, to: i64) {
    let mut body = String::new();
    let mut t = from;
    while t < to {
        for metric in ["cpu_load", "flops_any"] {
            for host in ["f0101", "f0102", "f0103"] {
                let value = (t / SEC % 997) as f64 * 0.25;
                body.push_str(&format!("{metric},hostname={host},type=node value={value} {t}\n"));
            }
        }
        t += 15 * SEC;
    }
    let options = WriteOptions { default_cluster: Some("fritz".into()), ..Default::default() };
    let report = engine.write_lp(body.as_bytes(), &options).unwrap();
    assert!(report.rejections.is_empty(), "{:?}", report.rejections.first());
}

/// The tier tests' config, merging two files of a level: the pass after the next flush reads
/// every file the first pass wrote (the rollup the warm file, the merges both).
fn config(dir: &std::path::Path) -> strata::Config {
    let mut config = support::config(dir);
    config.compactor.merge_fanin = 2;
    config
}

struct Setup {
    dir: tempfile::TempDir,
    tiers: Tiers,
    clock: Arc<ManualClock>,
}

impl Setup {
    /// Five hours written at 05:00 and one pass: one warm file (00:00 to 04:55) and one cold
    /// file (00:00 to 04:00) of one day; hot keeps the last two hours.
    fn new() -> (Setup, Engine) {
        let setup = Setup {
            dir: tempfile::tempdir().unwrap(),
            tiers: Tiers::new(Backend::Local),
            clock: Arc::new(ManualClock::new(T0 + 5 * HOUR)),
        };
        let engine = setup.open().unwrap();
        write_span(&engine, T0, T0 + 5 * HOUR);
        engine.compact().unwrap();
        let manifest = engine.manifest();
        assert_eq!((manifest.files(Tier::Warm).count(), manifest.files(Tier::Cold).count()), (1, 1));
        (setup, engine)
    }

    fn open(&self) -> Result<Engine, Error> {
        Engine::open_with_object_store(
            config(self.dir.path()),
            self.clock.clone(),
            self.tiers.store.clone(),
            "",
        )
    }

    fn live_manifest_path(&self, engine: &Engine) -> std::path::PathBuf {
        self.tiers.root.join(format!("_manifest/{:020}.json", engine.manifest().generation))
    }

    /// Every object in the store, with its bytes.
    fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        self.tiers
            .objects()
            .into_iter()
            .map(|p| (p.clone(), std::fs::read(self.tiers.root.join(&p)).unwrap()))
            .collect()
    }
}

fn only_file(engine: &Engine, tier: Tier) -> FileEntry {
    engine.manifest().files(tier).next().unwrap().clone()
}

/// CRC32C, bitwise: the test does not trust the crate the engine uses.
fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0x82f6_3b78 } else { crc >> 1 };
        }
    }
    !crc
}

/// `err` is the checksum mismatch of `file`: `Error::Corrupt` naming its full URL, with the
/// manifest's checksum and the one of the bytes now in the store. A Parquet decode error is
/// not enough: where the damage still decodes, only the checksum stands between it and a
/// changed answer.
fn assert_checksum_error(err: &Error, file: &FileEntry, found: u32, what: &str) {
    let Error::Corrupt { path, reason } = err else { panic!("{what}: not Error::Corrupt: {err}") };
    let path = path.to_string_lossy();
    assert!(path.ends_with(&format!("/{}", file.path)) && path.len() > file.path.len() + 1, "{what}: {path}");
    let (expected, found) = (format!("{:08x}", file.crc32c.unwrap()), format!("{found:08x}"));
    assert!(
        reason.contains("CRC32C") && reason.contains(&expected) && reason.contains(&found),
        "{what}: {reason}"
    );
    assert!(err.to_string().contains(&file.path), "{what}: {err}");
}

fn flip_and_check(tier: Tier) {
    for percent in [10, 30, 50] {
        let (setup, engine) = Setup::new();
        let file = only_file(&engine, tier);
        let path = setup.tiers.root.join(&file.path);
        let mut bytes = std::fs::read(&path).unwrap();
        assert_eq!(file.crc32c, Some(crc32c(&bytes)));
        let at = bytes.len() * percent / 100;
        bytes[at] ^= 0x10;
        std::fs::write(&path, &bytes).unwrap();
        let found = crc32c(&bytes);
        let what = format!("{tier} file, byte {at} ({percent}%) flipped");

        // Queries: at the tier's own resolution the tier serves [00:00, 03:00).
        let resolution = if tier == Tier::Warm { MIN } else { HOUR };
        let query = Query::new("cpu_load", T0, T0 + 3 * HOUR, Resolution::Every(resolution));
        let result = engine.query(&query);
        assert_checksum_error(&result.err().unwrap(), &file, found, &format!("{what}: query"));
        for metric in ["cpu_load", "flops_any"] {
            let err = engine.read_tier(tier, &Selector::metric(metric), T0, T0 + 5 * HOUR).unwrap_err();
            assert_checksum_error(&err, &file, found, &format!("{what}: read_tier {metric}"));
        }

        // The next pass reads the file (the rollup the warm one, the merge both) and fails on it.
        setup.clock.set(T0 + 6 * HOUR);
        write_span(&engine, T0 + 5 * HOUR, T0 + 6 * HOUR);
        let err = engine.compact().unwrap_err();
        assert_checksum_error(&err, &file, found, &format!("{what}: compaction"));
        assert!(engine.manifest().files.iter().any(|f| f.path == file.path), "the damaged file stays listed");
        assert!(engine.stats().tiers.status.last_error.unwrap().contains(&file.path));
    }
}

#[test]
fn a_flipped_byte_in_a_warm_file_is_an_error_naming_it() {
    flip_and_check(Tier::Warm);
}

#[test]
fn a_flipped_byte_in_a_cold_file_is_an_error_naming_it() {
    flip_and_check(Tier::Cold);
}

/// A file of another length than the manifest says (a truncated upload, an appended byte) is
/// refused by its length.
#[test]
fn a_truncated_file_is_an_error_naming_it() {
    let (setup, engine) = Setup::new();
    let file = only_file(&engine, Tier::Warm);
    let path = setup.tiers.root.join(&file.path);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
    let err = engine.read_tier(Tier::Warm, &Selector::metric("cpu_load"), T0, T0 + HOUR).unwrap_err();
    let Error::Corrupt { path: named, reason } = &err else { panic!("{err}") };
    assert!(named.to_string_lossy().ends_with(&file.path), "{err}");
    assert_eq!(reason, &format!("it is {} bytes long, the manifest says {}", bytes.len() - 1, bytes.len()));
}

/// A file read once is cached checked; the cache serves it without reading the store again.
#[test]
fn a_cached_file_was_checked_when_fetched() {
    let (setup, engine) = Setup::new();
    let file = only_file(&engine, Tier::Warm);
    let before = engine.read_tier(Tier::Warm, &Selector::metric("cpu_load"), T0, T0 + HOUR).unwrap();
    let path = setup.tiers.root.join(&file.path);
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    // Still the checked bytes from the cache: the same answer.
    let after = engine.read_tier(Tier::Warm, &Selector::metric("cpu_load"), T0, T0 + HOUR).unwrap();
    assert_eq!(format!("{before:?}"), format!("{after:?}"));
    // A reopened engine fetches it again, and refuses it.
    drop(engine);
    let engine = setup.open().unwrap();
    let err = engine.read_tier(Tier::Warm, &Selector::metric("cpu_load"), T0, T0 + HOUR).unwrap_err();
    assert_checksum_error(&err, &file, crc32c(&bytes), "reopened");
}

/// The manifest checks itself: one changed digit of a file's `max_time` (still valid JSON, a
/// plausible time) makes the open fail naming the manifest, and nothing in the store changes.
#[test]
fn a_changed_digit_in_the_manifest_fails_the_open() {
    let (setup, engine) = Setup::new();
    let live = setup.live_manifest_path(&engine);
    let file = only_file(&engine, Tier::Warm);
    engine.close().unwrap();
    let json = std::fs::read_to_string(&live).unwrap();
    let field = format!("\"max_time\": {}", file.max_time);
    assert_eq!(json.matches(&field).count(), 1, "{json}");
    // One digit of the time (the one of 10^11 ns, 100 s) goes one up or down: still a
    // time near the data, so only the checksum can tell.
    let mut digits = file.max_time.to_string().into_bytes();
    let at = digits.len() - 12;
    digits[at] = if digits[at] == b'9' { b'8' } else { digits[at] + 1 };
    let changed_time = String::from_utf8(digits).unwrap();
    let changed = json.replacen(&field, &format!("\"max_time\": {changed_time}"), 1);
    let differing = json.bytes().zip(changed.bytes()).filter(|(a, b)| a != b).count();
    assert_eq!((json.len(), differing), (changed.len(), 1), "one digit changed");
    std::fs::write(&live, &changed).unwrap();
    let before = setup.snapshot();

    let Err(err) = setup.open() else { panic!("a changed manifest opened") };
    let Error::Corrupt { path, reason } = &err else { panic!("not Error::Corrupt: {err}") };
    let name = live.strip_prefix(&setup.tiers.root).unwrap().to_string_lossy().into_owned();
    assert!(path.to_string_lossy().ends_with(&name), "{err}");
    assert!(reason.contains("checksum") && reason.contains("CRC32C"), "{err}");
    assert_eq!(setup.snapshot(), before, "a refused open touches nothing");

    // Its version changed to 1 (which has no checksum to check) is damage too.
    let downgraded = json.replacen("\"version\": 3,", "\"version\": 1,", 1);
    assert_ne!(downgraded, json);
    std::fs::write(&live, &downgraded).unwrap();
    let Err(err) = setup.open() else { panic!("a manifest whose version was changed opened") };
    assert!(
        matches!(&err, Error::Corrupt { reason, .. } if reason.contains("checksum field of version 2")),
        "{err}"
    );

    // Restored, it opens.
    std::fs::write(&live, &json).unwrap();
    setup.open().unwrap().close().unwrap();
}

/// A second engine (another data directory) on the same tier store is refused at open with the
/// owner error, before it deletes anything: here a file the first engine has uploaded and not
/// yet committed, which the second would take for an orphan.
#[test]
fn a_second_engine_on_the_same_store_is_refused() {
    let (setup, engine) = Setup::new();
    let owner = engine.manifest().owner.clone().unwrap();
    assert_eq!(std::fs::read_to_string(setup.dir.path().join("ENGINE_ID")).unwrap(), format!("{owner}\n"));
    let in_flight = setup.tiers.root.join("warm/day=2025-11-22/000000000002-L0-0123456789abcdef.parquet");
    std::fs::write(&in_flight, b"an upload whose commit is on its way").unwrap();
    let before = setup.snapshot();

    let other = tempfile::tempdir().unwrap();
    let opened = Engine::open_with_object_store(
        config(other.path()),
        setup.clock.clone(),
        setup.tiers.store.clone(),
        "",
    );
    let Err(err) = opened else { panic!("a second engine opened on the store") };
    let Error::NotOwner { url, owner: found, engine: id } = &err else {
        panic!("not Error::NotOwner: {err}")
    };
    let other_id = std::fs::read_to_string(other.path().join("ENGINE_ID")).unwrap();
    assert_eq!((found, format!("{id}\n")), (&owner, other_id));
    assert_ne!(found, id);
    let message = err.to_string();
    assert!(message.contains(url) && message.contains(&owner) && message.contains(id), "{message}");
    assert!(message.contains("point object_store.url elsewhere"), "{message}");
    assert_eq!(setup.snapshot(), before, "the refused engine touched the store");

    // The first engine goes on, and reopens as the owner.
    engine.compact().unwrap();
    drop(engine);
    std::fs::remove_file(&in_flight).unwrap();
    setup.open().unwrap().close().unwrap();
}

/// Each commit checks the live manifest is still this engine's: one another engine committed
/// meanwhile (here: rewritten with another owner) stops the commit with the owner error.
#[test]
fn a_commit_checks_the_owner() {
    let (setup, engine) = Setup::new();
    let live = setup.live_manifest_path(&engine);
    let mut manifest: Manifest = serde_json::from_slice(&std::fs::read(&live).unwrap()).unwrap();
    manifest.owner = Some("0123456789abcdef0123456789abcdef".into());
    std::fs::write(&live, manifest.to_json().unwrap()).unwrap();
    setup.clock.set(T0 + 6 * HOUR);
    write_span(&engine, T0 + 5 * HOUR, T0 + 6 * HOUR);
    let err = engine.compact().unwrap_err();
    assert!(
        matches!(&err, Error::NotOwner { owner, .. } if owner == "0123456789abcdef0123456789abcdef"),
        "{err}"
    );
}

/// Two data directories whose names are not UTF-8 and differ only there (`y\xff`, `y\xfe`):
/// the tier path was once built lossily, so both got `y\u{FFFD}/tiers`, a sibling outside
/// either, and one engine showed the other's data. object_store cannot address such a path
/// (it maps the bytes to other characters), so the open is refused with an error naming the
/// path, before anything is created.
#[cfg(unix)]
#[test]
fn a_data_dir_that_is_not_utf8_is_refused_before_anything_is_written() {
    use std::os::unix::ffi::OsStrExt as _;
    let root = tempfile::tempdir().unwrap();
    for name in [&b"y\xff"[..], &b"y\xfe"[..]] {
        let dir = root.path().join(std::ffi::OsStr::from_bytes(name));
        let clock = Arc::new(ManualClock::new(T0 + 5 * HOUR));
        // Set after parsing: TOML text cannot carry the name's bytes.
        let mut config = support::config(root.path());
        config.data_dir = dir;
        let err = Engine::open_with_clock(config, clock).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, Error::Config(_)), "{message}");
        assert!(message.contains("is not valid UTF-8") && message.contains("tiers"), "{message}");
    }
    let left: Vec<_> = std::fs::read_dir(root.path()).unwrap().collect();
    assert!(left.is_empty(), "nothing was created: {left:?}");
}
