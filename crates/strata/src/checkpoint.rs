//! Checkpoints: the series table and every sealed chunk, written now and then so a restart
//! loads them and replays only the WAL written since.
//!
//! ```text
//! checkpoints/<segment:020>-<offset:020>.ckpt   named after the WAL position it covers
//! 0   8  magic b"STRATCKP"
//! 8   4  version u32 LE = 3 (1 and 2 still load)
//! 12  4  reserved u32 = 0
//! 16  16 WAL position: segment u64 LE, offset u64 LE; every record before it is included
//! 32  .. u32 series count, then per series: u32 id, series key (SeriesKey::encode)
//!     .. u32 count of series with chunks, then per series: u32 id, u32 chunk count, then per
//!        chunk: i64 window start, u32 points, u32 byte length, the sealed chunk's bytes
//!     .. (version 2) i64 evicted_until, u32 late point count, then per point: u32 id, i64 time,
//!        f64 value bits
//!     .. (version 3) u64 number of the warm flush cut but not committed (0: none), u32 its
//!        late point count, then per point: u32 id, i64 time, f64 value bits
//!     .. (version 3) u32 stream count, then per stream: u32 length + name, u64 last applied
//!        sequence
//! end 4  CRC32C of every byte before it, u32 LE
//! ```
//!
//! A checkpoint is written to `<name>.tmp`, synced, renamed to its name and the directory
//! synced; only then are older checkpoints and the WAL segments it covers removed. A crash at
//! any step leaves either the old checkpoint with its WAL, or the new one. All I/O goes
//! through a [`Storage`], so tests crash it at every step (`SimStorage`).

#![deny(clippy::indexing_slicing, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use strata_wal::{Position, Storage};

use crate::access::Access;
use crate::cut_guard::Pending;
use crate::decode::{Malformed, get_str, get_u32, get_u64};
use crate::error::{Error, io};
use crate::hot::{Body, Chunk, LatePoint, Sealed};
use crate::series::{SeriesId, SeriesTable};

const MAGIC: [u8; 8] = *b"STRATCKP";
/// Version 2 added the tier state (evicted_until and late points), version 3 the late points
/// of a warm flush waiting for its commit; older files still load.
const VERSION: u32 = 3;
/// The versions this build loads. Every version keeps the magic and the version in bytes
/// 0..12, so a build can name the version of any checkpoint before it parses the rest.
const READABLE_VERSIONS: std::ops::RangeInclusive<u32> = 1..=VERSION;
const SUFFIX: &str = ".ckpt";
/// Appended to a checkpoint's name while it is written.
const TMP: &str = ".tmp";

/// The contents of a checkpoint.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub(crate) position: Position,
    pub(crate) series: SeriesTable,
    pub(crate) chunks: Vec<(SeriesId, Vec<Chunk>)>,
    /// Windows before this are evicted to the tiers (`i64::MIN`: none).
    pub(crate) evicted_until: i64,
    /// Points waiting for the next warm flush.
    pub(crate) late: Vec<LatePoint>,
    /// A warm flush cut but not committed when the checkpoint was taken: its late points are
    /// in no other place once the WAL before the checkpoint is gone.
    pub(crate) pending: Option<Pending>,
    /// The last applied sequence per stream (`streams.rs`).
    pub(crate) streams: BTreeMap<String, u64>,
}

fn name(position: Position) -> String {
    format!("{:020}-{:020}{SUFFIX}", position.segment, position.offset)
}

fn parse_name(name: &str) -> Option<Position> {
    let (segment, offset) = name.strip_suffix(SUFFIX)?.split_once('-')?;
    Some(Position { segment: segment.parse().ok()?, offset: offset.parse().ok()? })
}

/// Writes `snapshot` durably to `storage` (the checkpoint directory), then removes older
/// checkpoints and leftover `.tmp` files. Returns the path of the file written.
pub(crate) fn write(storage: &dyn Storage, snapshot: &Snapshot) -> Result<PathBuf, Error> {
    let mut out = Vec::with_capacity(1 << 20);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&snapshot.position.segment.to_le_bytes());
    out.extend_from_slice(&snapshot.position.offset.to_le_bytes());
    snapshot.series.put(&mut out);
    out.extend_from_slice(&count(snapshot.chunks.len()).to_le_bytes());
    for (id, chunks) in &snapshot.chunks {
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&count(chunks.len()).to_le_bytes());
        for chunk in chunks {
            let Body::Sealed(sealed) = &chunk.body else {
                return Err(Error::Invariant("a snapshot for a checkpoint holds an open chunk".into()));
            };
            out.extend_from_slice(&chunk.window.to_le_bytes());
            out.extend_from_slice(&sealed.points.to_le_bytes());
            out.extend_from_slice(&count(sealed.bytes.len()).to_le_bytes());
            out.extend_from_slice(&sealed.bytes);
        }
    }
    out.extend_from_slice(&snapshot.evicted_until.to_le_bytes());
    put_late(&mut out, &snapshot.late);
    let pending = snapshot.pending.as_ref();
    out.extend_from_slice(&pending.map_or(0, |p| p.flush).to_le_bytes());
    put_late(&mut out, pending.map_or(&[][..], |p| &p.late));
    out.extend_from_slice(&count(snapshot.streams.len()).to_le_bytes());
    for (stream, sequence) in &snapshot.streams {
        out.extend_from_slice(&count(stream.len()).to_le_bytes());
        out.extend_from_slice(stream.as_bytes());
        out.extend_from_slice(&sequence.to_le_bytes());
    }
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());

    // Any error from here on leaves the previous checkpoint in place and loadable.
    let final_name = name(snapshot.position);
    let tmp = format!("{final_name}{TMP}");
    // A write that failed earlier at the same position may have left this name behind.
    if let Err(e) = storage.remove(&tmp)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        return Err(io("remove", storage.path(&tmp))(e));
    }
    let mut file = storage.create(&tmp).map_err(io("create", storage.path(&tmp)))?;
    file.append(&[&out]).map_err(io("write", storage.path(&tmp)))?;
    // The bytes must be on disk before the name says they are complete.
    file.sync_data().map_err(io("sync", storage.path(&tmp)))?;
    drop(file);
    storage.rename(&tmp, &final_name).map_err(io("rename", storage.path(&tmp)))?;
    // Only now is the new checkpoint durable, and may the old one and the WAL go.
    storage.sync_dir().map_err(io("sync directory", storage.path("")))?;
    let Listing { checkpoints, tmps } = list(storage)?;
    let older = checkpoints.into_iter().filter(|(position, _)| *position < snapshot.position);
    for old in older.map(|(_, name)| name).chain(tmps) {
        storage.remove(&old).map_err(io("remove", storage.path(&old)))?;
    }
    Ok(storage.path(&final_name))
}

/// The files of a checkpoint directory that are ours.
struct Listing {
    /// Checkpoints by position, oldest first.
    checkpoints: Vec<(Position, String)>,
    /// Leftover `.tmp` files of interrupted writes.
    tmps: Vec<String>,
}

/// The checkpoints and leftovers in `storage`; other files are ignored.
fn list(storage: &dyn Storage) -> Result<Listing, Error> {
    let mut checkpoints = Vec::new();
    let mut tmps = Vec::new();
    for file_name in storage.list().map_err(io("list", storage.path("")))? {
        if file_name.ends_with(TMP) {
            tmps.push(file_name);
        } else if let Some(position) = parse_name(&file_name) {
            checkpoints.push((position, file_name));
        }
    }
    checkpoints.sort();
    Ok(Listing { checkpoints, tmps })
}

/// Loads the newest checkpoint, if any, and (read-write only) removes leftover `.tmp` files of
/// an interrupted write. A damaged newest checkpoint is an error: the WAL it covered may be
/// gone, so falling back to an older one could lose data.
pub(crate) fn load_newest(
    storage: &dyn Storage,
    access: Access,
) -> Result<Option<(PathBuf, Snapshot)>, Error> {
    let Listing { mut checkpoints, tmps } = list(storage)?;
    for tmp in tmps.iter().filter(|_| access == Access::ReadWrite) {
        storage.remove(tmp).map_err(io("remove", storage.path(tmp)))?;
    }
    let Some((_, name)) = checkpoints.pop() else { return Ok(None) };
    let path = storage.path(&name);
    let bytes = storage.read(&name).map_err(io("read", &path))?;
    let snapshot = decode(&bytes).map_err(|e| e.at(&path))?;
    Ok(Some((path, snapshot)))
}

/// Why a checkpoint's bytes do not load.
#[derive(Debug, PartialEq)]
enum DecodeError {
    Damaged(Malformed),
    /// A whole checkpoint of a version this build does not read.
    Version(u32),
}

impl DecodeError {
    /// The engine's error for the checkpoint at `path`.
    fn at(self, path: &Path) -> Error {
        match self {
            DecodeError::Damaged(reason) => Error::Corrupt { path: path.to_owned(), reason: reason.0 },
            DecodeError::Version(found) => Error::UnsupportedVersion {
                path: path.to_owned(),
                format: "checkpoint",
                found,
                supported: READABLE_VERSIONS,
            },
        }
    }
}

impl<T: Into<Malformed>> From<T> for DecodeError {
    fn from(reason: T) -> DecodeError {
        DecodeError::Damaged(reason.into())
    }
}

fn decode(bytes: &[u8]) -> Result<Snapshot, DecodeError> {
    // Magic and version first: a newer strata may lay out (or checksum) the rest differently,
    // and its checkpoint must be refused by its version, not as damage. A checkpoint is
    // renamed into place whole, so a torn version field is no crash's leftover.
    let (magic, rest) = bytes.split_first_chunk::<8>().ok_or("shorter than a header")?;
    if magic != &MAGIC {
        return Err("not a strata checkpoint (bad magic)".into());
    }
    let version = get_u32(&mut &rest[..])?;
    if !READABLE_VERSIONS.contains(&version) {
        return Err(DecodeError::Version(version));
    }
    let (body, crc) = bytes.split_last_chunk::<4>().ok_or("shorter than a checksum")?;
    if crc32c::crc32c(body) != u32::from_le_bytes(*crc) {
        return Err("checksum mismatch".into());
    }
    let input = &mut body.get(12..).ok_or("shorter than a header")?;
    let _reserved = get_u32(input)?;
    let mut snapshot = Snapshot {
        position: Position { segment: get_u64(input)?, offset: get_u64(input)? },
        evicted_until: i64::MIN,
        ..Snapshot::default()
    };
    snapshot.series = SeriesTable::get(input)?;
    let with_chunks = get_u32(input)? as usize;
    for _ in 0..with_chunks {
        let id = get_u32(input)?;
        let n = get_u32(input)? as usize;
        let mut chunks = Vec::with_capacity(n.min(input.len() / 16));
        for _ in 0..n {
            let window = get_u64(input)? as i64;
            let points = get_u32(input)?;
            let len = get_u32(input)? as usize;
            if len > input.len() {
                return Err(format!("a chunk of {len} bytes with {} left", input.len()).into());
            }
            let (data, rest) = input.split_at(len);
            *input = rest;
            chunks.push(Chunk { window, body: Body::Sealed(Sealed { bytes: data.into(), points }) });
        }
        snapshot.chunks.push((id, chunks));
    }
    if version >= 2 {
        snapshot.evicted_until = get_u64(input)? as i64;
        snapshot.late = get_late(input)?;
    }
    if version >= 3 {
        let flush = get_u64(input)?;
        let late = get_late(input)?;
        if flush == 0 && !late.is_empty() {
            return Err(format!("{} late points of a pending flush numbered 0", late.len()).into());
        }
        snapshot.pending = (flush != 0).then_some(Pending { flush, late });
        let streams = get_u32(input)? as usize;
        if streams > input.len() / 12 {
            return Err(format!("{streams} streams claimed in {} bytes", input.len()).into());
        }
        for _ in 0..streams {
            let stream = get_str(input)?;
            snapshot.streams.insert(stream, get_u64(input)?);
        }
    }
    if !input.is_empty() {
        return Err(format!("{} unexpected bytes after the chunks", input.len()).into());
    }
    Ok(snapshot)
}

fn put_late(out: &mut Vec<u8>, late: &[LatePoint]) {
    out.extend_from_slice(&count(late.len()).to_le_bytes());
    for &(id, time, value) in late {
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&time.to_le_bytes());
        out.extend_from_slice(&value.to_bits().to_le_bytes());
    }
}

fn get_late(input: &mut &[u8]) -> Result<Vec<LatePoint>, DecodeError> {
    let late = get_u32(input)? as usize;
    if late > input.len() / 20 {
        return Err(format!("{late} late points claimed in {} bytes", input.len()).into());
    }
    let mut points = Vec::with_capacity(late);
    for _ in 0..late {
        points.push((get_u32(input)?, get_u64(input)? as i64, f64::from_bits(get_u64(input)?)));
    }
    Ok(points)
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests may panic")]
mod tests {
    use strata_wal::{FsStorage, SimOp, SimStorage};

    use super::*;

    fn snapshot(segment: u64, value: f64) -> Snapshot {
        let key = crate::series::SeriesKey::from_parts("m", "value", [("hostname", "a")].into_iter(), None)
            .unwrap();
        let mut bytes = Vec::new();
        crate::hot::encode(&[1, 2, 3], &[0.5, value, -0.0], &mut bytes);
        let chunk = Chunk { window: 0, body: Body::Sealed(Sealed { bytes: bytes.into(), points: 3 }) };
        Snapshot {
            position: Position { segment, offset: 99 },
            series: SeriesTable::from_keys(&[(0, key)]),
            chunks: vec![(0, vec![chunk])],
            evicted_until: -5,
            late: vec![(0, -7, 2.5)],
            pending: Some(Pending { flush: 4, late: vec![(0, -9, 1.25), (0, -8, 0.5)] }),
            streams: [("nats:a".to_owned(), 7), ("nats:b".to_owned(), u64::MAX)].into_iter().collect(),
        }
    }

    #[test]
    fn round_trip_and_damage() {
        let dir = tempfile::tempdir().unwrap();
        let storage = FsStorage::new(dir.path()).unwrap();
        let snapshot = snapshot(3, 1.5);
        let path = write(&storage, &snapshot).unwrap();
        let (loaded_path, loaded) = load_newest(&storage, Access::ReadWrite).unwrap().unwrap();
        assert_eq!(loaded_path, path);
        assert_eq!(loaded.position, snapshot.position);
        assert_eq!(loaded.series, snapshot.series);
        assert_eq!((loaded.evicted_until, &loaded.late), (-5, &snapshot.late));
        assert_eq!(loaded.pending, snapshot.pending);
        assert_eq!(loaded.streams, snapshot.streams);
        let file = std::fs::read(&path).unwrap();
        for cut in 0..file.len() {
            assert!(decode(&file[..cut]).is_err(), "cut at {cut}");
        }
        let mut flipped = file.clone();
        flipped[40] ^= 1;
        assert_eq!(
            decode(&flipped).unwrap_err(),
            DecodeError::Damaged(Malformed("checksum mismatch".into()))
        );
        std::fs::write(&path, &flipped).unwrap();
        let err = load_newest(&storage, Access::ReadWrite).unwrap_err();
        assert!(matches!(&err, Error::Corrupt { path: p, .. } if *p == path), "{err}");
    }

    /// Every operation a checkpoint write makes, to fail one at a time.
    const OPS: [SimOp; 6] =
        [SimOp::Remove, SimOp::Create, SimOp::Append, SimOp::Sync, SimOp::Rename, SimOp::SyncDir];

    /// A storage holding a durable checkpoint at segment 5 (written after one at segment 1)
    /// and a durable leftover `.tmp` of an earlier interrupted write.
    fn with_old_checkpoint() -> SimStorage {
        let sim = SimStorage::new();
        write(&sim, &snapshot(1, 1.0)).unwrap();
        write(&sim, &snapshot(5, 5.0)).unwrap();
        sim.write_file(&format!("{}{TMP}", name(Position { segment: 3, offset: 0 })), b"torn");
        sim
    }

    #[test]
    fn a_power_loss_at_any_step_leaves_the_old_or_the_new_checkpoint() {
        let (old, new) = (snapshot(5, 5.0).position, snapshot(9, 9.0).position);
        let mut crashes = 0;
        for op in OPS {
            for nth in 1.. {
                let sim = with_old_checkpoint();
                let dir_syncs = sim.stats().dir_syncs;
                sim.fail_nth(op, nth);
                // The failed operation is the first that did not happen: the crash image is
                // the disk as a power loss just before it leaves it.
                let outcome = write(&sim, &snapshot(9, 9.0));
                let crashed = sim.crash();
                let loaded = load_newest(&crashed, Access::ReadWrite)
                    .unwrap_or_else(|e| panic!("{op:?} #{nth} failed, then the crash: {e}"))
                    .unwrap_or_else(|| panic!("{op:?} #{nth} failed, then the crash: no checkpoint"));
                // The new checkpoint counts from the directory sync after its rename on.
                let want = if sim.stats().dir_syncs > dir_syncs { new } else { old };
                assert_eq!(loaded.1.position, want, "{op:?} #{nth} failed, then the crash");
                assert_eq!(loaded.1.late, snapshot(0, 0.0).late);
                assert!(crashed.names().iter().all(|n| !n.ends_with(TMP)), "open removes leftovers");
                crashes += 1;
                if outcome.is_ok() {
                    // The fault never fired: this was the power loss after the whole write.
                    assert_eq!(want, new);
                    assert_eq!(sim.names(), [name(new)], "older checkpoints and leftovers removed");
                    break;
                }
            }
        }
        assert!(crashes > OPS.len(), "every operation failed at least once");
    }

    #[test]
    fn a_failed_write_leaves_the_old_checkpoint_and_does_not_block_the_next() {
        for op in OPS {
            let sim = with_old_checkpoint();
            sim.fail_nth(op, 1);
            let err = write(&sim, &snapshot(9, 9.0)).unwrap_err();
            assert!(err.to_string().contains("sim/"), "the error names the file: {err}");
            let crashed = sim.crash();
            assert_eq!(
                load_newest(&crashed, Access::ReadWrite).unwrap().unwrap().1.position,
                snapshot(5, 5.0).position
            );
            write(&sim, &snapshot(9, 9.0)).unwrap();
            assert_eq!(
                load_newest(&sim, Access::ReadWrite).unwrap().unwrap().1.position,
                snapshot(9, 9.0).position
            );
        }
    }
}
