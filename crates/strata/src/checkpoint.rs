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
use std::io::Read;
use std::path::{Path, PathBuf};

use strata_wal::{LogFile, Position, Storage};

use crate::access::Access;
use crate::cut_guard::Pending;
use crate::decode::{Malformed, get_str, get_u32, get_u64};
use crate::error::{Error, io};
use crate::hot::{Body, Chunk, LatePoint, Sealed};
use crate::piecewise::{PieceError, Piecewise};
use crate::series::{SeriesId, SeriesKey, SeriesTable};

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
    // Any error from here on leaves the previous checkpoint in place and loadable.
    let final_name = name(snapshot.position);
    let tmp = format!("{final_name}{TMP}");
    // A write that failed earlier at the same position may have left this name behind.
    if let Err(e) = storage.remove(&tmp)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        return Err(io("remove", storage.path(&tmp))(e));
    }
    let file = storage.create(&tmp).map_err(io("create", storage.path(&tmp)))?;
    let mut out = Out { file, buf: Vec::with_capacity(OUT_BUFFER), crc: 0 };
    let written = put(&mut out, snapshot).and_then(|()| out.finish());
    let mut file = written.map_err(|e| match e {
        Put::Io(e) => io("write", storage.path(&tmp))(e),
        Put::Invariant(reason) => Error::Invariant(reason.into()),
    })?;
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

/// Bytes gathered before they are appended to the file: a checkpoint is written a piece at a
/// time, never held whole in memory (at 7 M points it is 12 MB, and the copy of memory it is
/// made from is already beside the store).
const OUT_BUFFER: usize = 1 << 20;

/// A checkpoint file being written: its bytes so far not appended, and their CRC32C.
struct Out {
    file: Box<dyn LogFile>,
    buf: Vec<u8>,
    crc: u32,
}

/// Why writing a checkpoint's bytes stopped.
enum Put {
    Io(std::io::Error),
    Invariant(&'static str),
}

impl Out {
    fn put(&mut self, bytes: &[u8]) -> Result<(), Put> {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= OUT_BUFFER { self.flush() } else { Ok(()) }
    }

    fn flush(&mut self) -> Result<(), Put> {
        self.crc = crc32c::crc32c_append(self.crc, &self.buf);
        self.file.append(&[&self.buf]).map_err(Put::Io)?;
        self.buf.clear();
        Ok(())
    }

    /// Appends the checksum of every byte before it; returns the file, to sync.
    fn finish(mut self) -> Result<Box<dyn LogFile>, Put> {
        self.flush()?;
        self.file.append(&[&self.crc.to_le_bytes()]).map_err(Put::Io)?;
        Ok(self.file)
    }
}

/// The checkpoint's bytes before its checksum (layout in the module's docs).
fn put(out: &mut Out, snapshot: &Snapshot) -> Result<(), Put> {
    out.put(&MAGIC)?;
    out.put(&VERSION.to_le_bytes())?;
    out.put(&0u32.to_le_bytes())?;
    out.put(&snapshot.position.segment.to_le_bytes())?;
    out.put(&snapshot.position.offset.to_le_bytes())?;
    out.put(&snapshot.series.count().to_le_bytes())?;
    out.put(snapshot.series.bytes())?;
    out.put(&count(snapshot.chunks.len()).to_le_bytes())?;
    for (id, chunks) in &snapshot.chunks {
        out.put(&id.to_le_bytes())?;
        out.put(&count(chunks.len()).to_le_bytes())?;
        for chunk in chunks {
            let Body::Sealed(sealed) = &chunk.body else {
                return Err(Put::Invariant("a snapshot for a checkpoint holds an open chunk"));
            };
            out.put(&chunk.window.to_le_bytes())?;
            out.put(&sealed.points.to_le_bytes())?;
            out.put(&count(sealed.bytes.len()).to_le_bytes())?;
            out.put(&sealed.bytes)?;
        }
    }
    out.put(&snapshot.evicted_until.to_le_bytes())?;
    put_late(out, &snapshot.late)?;
    let pending = snapshot.pending.as_ref();
    out.put(&pending.map_or(0, |p| p.flush).to_le_bytes())?;
    put_late(out, pending.map_or(&[][..], |p| &p.late))?;
    out.put(&count(snapshot.streams.len()).to_le_bytes())?;
    for (stream, sequence) in &snapshot.streams {
        out.put(&count(stream.len()).to_le_bytes())?;
        out.put(stream.as_bytes())?;
        out.put(&sequence.to_le_bytes())?;
    }
    Ok(())
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

/// What a load does with each series of the table, as it is decoded (its `Snapshot::series`
/// stays empty: the table is not held beside the index it builds).
pub(crate) type Define<'d> = &'d mut dyn FnMut(SeriesId, &SeriesKey) -> Result<(), Malformed>;

/// Loads the newest checkpoint, if any, and (read-write only) removes leftover `.tmp` files of
/// an interrupted write; each series of its table goes to `define`. A damaged newest
/// checkpoint is an error: the WAL it covered may be gone, so falling back to an older one
/// could lose data.
pub(crate) fn load_newest(
    storage: &dyn Storage,
    access: Access,
    define: Define<'_>,
) -> Result<Option<(PathBuf, Snapshot)>, Error> {
    let Listing { mut checkpoints, tmps } = list(storage)?;
    for tmp in tmps.iter().filter(|_| access == Access::ReadWrite) {
        storage.remove(tmp).map_err(io("remove", storage.path(tmp)))?;
    }
    let Some((_, name)) = checkpoints.pop() else { return Ok(None) };
    let path = storage.path(&name);
    let snapshot = decode_file(|| storage.open_read(&name), define).map_err(|e| match e {
        PieceError::Io(e) => io("read", &path)(e),
        PieceError::Decode(e) => e.at(&path),
    })?;
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

/// A checkpoint file as `open` gives it (a reader from its start, and its length).
type Opened = std::io::Result<(Box<dyn Read + Send>, u64)>;

/// Decodes the checkpoint `open` reads, in two passes a piece at a time (`piecewise.rs`), so
/// the file is never held whole beside the chunks it loads: the first checks the magic, the
/// version and the checksum, the second decodes what the checksum vouched for.
fn decode_file(
    mut open: impl FnMut() -> Opened,
    define: Define<'_>,
) -> Result<Snapshot, PieceError<DecodeError>> {
    let (mut read, len) = open().map_err(PieceError::Io)?;
    let version = check(&mut *read, len)?;
    let (mut read, again) = open().map_err(PieceError::Io)?;
    if again != len {
        // A checkpoint is renamed into place whole and never changed: not a crash's leftover.
        let reason = format!("its length changed from {len} to {again} bytes while it was read");
        return Err(PieceError::Decode(reason.into()));
    }
    // The checksum is not decoded again.
    let mut source = Piecewise::new(&mut *read, len.saturating_sub(4));
    source.decode(|input| -> Result<(), DecodeError> {
        *input = input.get(12..).ok_or("shorter than a header")?;
        Ok(())
    })?;
    let decoded = decode_body(&mut source, version, define);
    decoded.map_err(|e| match e {
        PieceError::Io(e) => PieceError::Io(e),
        PieceError::Decode(e) => PieceError::Decode(DecodeError::from(e)),
    })
}

/// The first pass: the version of the checkpoint `read` holds, once its checksum is right.
fn check(read: &mut dyn Read, len: u64) -> Result<u32, PieceError<DecodeError>> {
    let mut source = Piecewise::new(read, len);
    // Magic and version first: a newer strata may lay out (or checksum) the rest differently,
    // and its checkpoint must be refused by its version, not as damage. A checkpoint is
    // renamed into place whole, so a torn version field is no crash's leftover.
    let header = source.decode(|input| -> Result<[u8; 12], DecodeError> {
        let (header, rest) = input.split_first_chunk::<12>().ok_or("shorter than a header")?;
        *input = rest;
        Ok(*header)
    })?;
    let (magic, version) = header.split_first_chunk::<8>().ok_or(PieceError::Decode("a header".into()))?;
    if magic != &MAGIC {
        return Err(PieceError::Decode("not a strata checkpoint (bad magic)".into()));
    }
    let version = get_u32(&mut &version[..]).map_err(|e| PieceError::Decode(e.into()))?;
    if !READABLE_VERSIONS.contains(&version) {
        return Err(PieceError::Decode(DecodeError::Version(version)));
    }
    if len < 16 {
        return Err(PieceError::Decode("shorter than a header and a checksum".into()));
    }
    let mut crc = crc32c::crc32c(&header);
    // The bytes between the header and the checksum, a piece at a time.
    while source.remaining() > 4 {
        let piece = usize::try_from(source.remaining() - 4).unwrap_or(usize::MAX);
        source.decode(|input| -> Result<(), DecodeError> {
            let take = piece.min(input.len());
            if take == 0 {
                return Err("short".into());
            }
            let (bytes, rest) = input.split_at(take);
            crc = crc32c::crc32c_append(crc, bytes);
            *input = rest;
            Ok(())
        })?;
    }
    let stored = source.decode(|input| get_u32(input).map_err(DecodeError::from))?;
    if crc != stored {
        return Err(PieceError::Decode("checksum mismatch".into()));
    }
    Ok(version)
}

/// The second pass: everything after the header, before the checksum.
fn decode_body(
    source: &mut Piecewise<'_>,
    version: u32,
    define: Define<'_>,
) -> Result<Snapshot, PieceError<Malformed>> {
    let mut snapshot = source.decode(|input| -> Result<Snapshot, Malformed> {
        let _reserved = get_u32(input)?;
        Ok(Snapshot {
            position: Position { segment: get_u64(input)?, offset: get_u64(input)? },
            evicted_until: i64::MIN,
            ..Snapshot::default()
        })
    })?;
    let series = source.decode(get_u32)?;
    for _ in 0..series {
        let (id, key) = source
            .decode(|input| -> Result<_, Malformed> { Ok((get_u32(input)?, SeriesKey::decode(input)?)) })?;
        define(id, &key).map_err(PieceError::Decode)?;
    }
    let with_chunks = source.decode(get_u32)? as usize;
    snapshot.chunks.reserve_exact(with_chunks.min(usize::try_from(source.remaining() / 8).unwrap_or(0)));
    for _ in 0..with_chunks {
        // One series' chunks at a time: a window that cuts them is grown and decoded again.
        snapshot.chunks.push(source.decode(|input| {
            let id = get_u32(input)?;
            let n = get_u32(input)? as usize;
            let mut chunks = Vec::with_capacity(n.min(input.len() / 16));
            for _ in 0..n {
                let window = get_u64(input)? as i64;
                let points = get_u32(input)?;
                let len = get_u32(input)? as usize;
                if len > input.len() {
                    return Err(Malformed(format!("a chunk of {len} bytes with {} left", input.len())));
                }
                let (data, rest) = input.split_at(len);
                *input = rest;
                chunks.push(Chunk { window, body: Body::Sealed(Sealed { bytes: data.into(), points }) });
            }
            Ok((id, chunks))
        })?);
    }
    source.decode(|input| -> Result<(), Malformed> {
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
            snapshot.streams.clear();
            for _ in 0..streams {
                let stream = get_str(input)?;
                snapshot.streams.insert(stream, get_u64(input)?);
            }
        }
        Ok(())
    })?;
    if source.remaining() > 0 {
        return Err(PieceError::Decode(
            format!("{} unexpected bytes after the chunks", source.remaining()).into(),
        ));
    }
    Ok(snapshot)
}

/// [`decode_file`] of bytes in memory.
#[cfg(test)]
fn decode(bytes: &[u8]) -> Result<Snapshot, DecodeError> {
    let owned = bytes.to_vec();
    let open = || -> Opened { Ok((Box::new(std::io::Cursor::new(owned.clone())), owned.len() as u64)) };
    decode_file(open, &mut |_, _| Ok(())).map_err(|e| match e {
        PieceError::Decode(e) => e,
        PieceError::Io(e) => DecodeError::Damaged(Malformed(e.to_string())),
    })
}

fn put_late(out: &mut Out, late: &[LatePoint]) -> Result<(), Put> {
    out.put(&count(late.len()).to_le_bytes())?;
    for &(id, time, value) in late {
        out.put(&id.to_le_bytes())?;
        out.put(&time.to_le_bytes())?;
        out.put(&value.to_bits().to_le_bytes())?;
    }
    Ok(())
}

fn get_late(input: &mut &[u8]) -> Result<Vec<LatePoint>, Malformed> {
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
#[path = "checkpoint_tests.rs"]
mod tests;
